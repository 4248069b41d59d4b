/**
 * The media HTTP client against real HTTP servers on loopback: refusals happen before any request
 * reaches a refused server, redirects are checked hop by hop, the byte cap counts bytes read, and
 * every wait is bounded. (Loopback is refused by default, so each test allows what it needs.)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MediaHttp, type MediaLimits } from "../../core/media/http.ts";
import { isMediaFailure, type MediaFailure } from "../../core/media/errors.ts";
import { AddressPolicy } from "../../core/media/policy.ts";
import { failureOf } from "../../core/errors.ts";

interface TestServer { url: string; port: number; hits: IncomingMessage[]; server: Server }

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  const hits: IncomingMessage[] = [];
  const server = createServer((req, res) => { hits.push(req); handler(req, res); });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, port, hits, server };
}

const LIMITS: MediaLimits = { maxBytes: 1024 * 1024, connectMs: 2000, headersMs: 1000, totalMs: 4000 };
const client = (allow: string[], limits = LIMITS) => new MediaHttp(new AddressPolicy(allow), limits);

async function failure(p: Promise<unknown>): Promise<MediaFailure> {
  try {
    await p;
  } catch (err) {
    if (isMediaFailure(err)) return err;
    throw err;
  }
  throw new Error("expected the fetch to fail");
}

let secret: TestServer;
let files: TestServer;
let endless: TestServer;
let stall: TestServer;
const open: MediaHttp[] = [];
const make = (allow: string[], limits = LIMITS) => { const c = client(allow, limits); open.push(c); return c; };

beforeAll(async () => {
  secret = await serve((_req, res) => res.end("TOP-SECRET"));
  files = await serve((req, res) => {
    const u = new URL(req.url!, "http://x");
    if (u.pathname === "/cat.png") {
      res.writeHead(200, { "content-type": "image/png; charset=binary", "content-disposition": "attachment; filename*=UTF-8''k%C3%A4tzchen.png" });
      return res.end("PNGDATA");
    }
    if (u.pathname === "/to-secret") { res.writeHead(302, { location: `${secret.url}/` }); return res.end(); }
    if (u.pathname === "/to-ftp") { res.writeHead(301, { location: "ftp://example.org/x" }); return res.end(); }
    if (u.pathname === "/loop") { res.writeHead(307, { location: "/loop" }); return res.end(); }
    if (u.pathname === "/to-endless") { res.writeHead(302, { location: `${endless.url}/` }); return res.end(); }
    if (u.pathname === "/headers") { res.end(JSON.stringify(req.headers)); return; }
    if (u.pathname === "/gone") { res.writeHead(410); return res.end(); }
    if (u.pathname === "/busy") { res.writeHead(503); return res.end(); }
    if (u.pathname === "/huge") { res.writeHead(200, { "content-length": String(50 * 1024 * 1024) }); return res.write("x"); }
    if (u.pathname === "/put") {
      let n = 0;
      req.on("data", (c: Buffer) => { n += c.length; });
      req.on("end", () => { res.writeHead(201); res.end(`got ${n}`); });
      return;
    }
    res.writeHead(404);
    res.end();
  });
  endless = await serve((_req, res) => {
    res.writeHead(200, { "content-type": "application/octet-stream" }); // chunked, no length
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    const pump = () => { while (res.write(chunk)); };
    res.on("drain", pump);
    res.on("close", () => res.off("drain", pump));
    pump();
  });
  stall = await serve((req, res) => {
    if (req.url === "/body") { res.writeHead(200); res.write("a little"); } // then nothing, ever
    // otherwise: no answer at all
  });
});

afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  for (const s of [secret, files, endless, stall]) { s?.server.closeAllConnections(); s?.server.close(); }
});

describe("the address policy applies to what is connected", () => {
  it("refuses a loopback address in the URL before sending anything", async () => {
    const f = await failure(make([]).get(`${secret.url}/`));
    expect(f).toMatchObject({ kind: "refused", permanent: true });
    expect(failureOf(f)).toBe("permanent"); // the outbox gives up on it
    expect(f.message).toMatch(/127\.0\.0\.1.*loopback.*media\.allowHosts/);
    expect(f.publicReason).not.toMatch(/127|loopback/);
    expect(secret.hits).toHaveLength(0);
  });

  it("refuses a name that resolves to loopback (localhost), and [::1] and ::ffff:127.0.0.1 in the URL", async () => {
    const c = make([]);
    expect(await failure(c.get(`http://localhost:${secret.port}/`))).toMatchObject({ kind: "refused" });
    expect(await failure(c.get(`http://[::1]:${secret.port}/`))).toMatchObject({ kind: "refused" });
    expect(await failure(c.get(`http://[::ffff:127.0.0.1]:${secret.port}/`))).toMatchObject({ kind: "refused" });
    expect(await failure(c.get(`http://2130706433:${secret.port}/`))).toMatchObject({ kind: "refused" });
    expect(await failure(c.get(`http://0x7f.1:${secret.port}/`))).toMatchObject({ kind: "refused" });
    expect(secret.hits).toHaveLength(0);
  });

  it("checks the socket's own address: an allowance for another port does not let a name through", async () => {
    // localhost resolves to 127.0.0.1, which is allowed on files' port only: the lookup lets the
    // address pass (the port is not known yet), the check on the connected socket refuses it.
    const f = await failure(make([`127.0.0.1:${files.port}`]).get(`http://localhost:${secret.port}/`));
    expect(f).toMatchObject({ kind: "refused" });
    expect(secret.hits).toHaveLength(0);
  });

  it("fetches from an allowed host, with the type and the file name it gives", async () => {
    const media = await make([`127.0.0.1:${files.port}`]).get(`${files.url}/cat.png`);
    expect(Buffer.from(media.data).toString()).toBe("PNGDATA");
    expect(media.mime).toBe("image/png");
    expect(media.name).toBe("kätzchen.png");
  });

  it("checks every redirect hop: an allowed host cannot send us to a refused one", async () => {
    const f = await failure(make([`127.0.0.1:${files.port}`]).get(`${files.url}/to-secret`));
    expect(f).toMatchObject({ kind: "refused", permanent: true });
    expect(secret.hits).toHaveLength(0);
    expect(files.hits.some((h) => h.url === "/to-secret")).toBe(true);
  });

  it("bounds redirects and refuses other schemes", async () => {
    const c = make([`127.0.0.1:${files.port}`]);
    expect(await failure(c.get(`${files.url}/loop`))).toMatchObject({ kind: "redirect", permanent: true });
    expect(files.hits.filter((h) => h.url === "/loop")).toHaveLength(6);
    expect(await failure(c.get(`${files.url}/to-ftp`))).toMatchObject({ kind: "scheme", permanent: true });
    for (const url of ["file:///etc/passwd", "ftp://example.org/", "gopher://127.0.0.1:70/", "not a url"]) {
      expect(await failure(c.get(url))).toMatchObject({ kind: "scheme", permanent: true });
    }
  });

  it("does not carry Authorization to another origin on a redirect", async () => {
    const c = make([`127.0.0.1:${files.port}`, `127.0.0.1:${endless.port}`, "localhost"]);
    const same = JSON.parse(Buffer.from((await c.get(`${files.url}/headers`, { headers: { authorization: "Bearer T" } })).data).toString());
    expect(same.authorization).toBe("Bearer T");
    const server = await serve((_req, res) => { res.writeHead(302, { location: `http://localhost:${files.port}/headers` }); res.end(); });
    try {
      const c2 = make([`127.0.0.1:${server.port}`, "localhost"]);
      const moved = JSON.parse(Buffer.from((await c2.get(`${server.url}/`, { headers: { authorization: "Bearer T" } })).data).toString());
      expect(moved.authorization).toBeUndefined();
    } finally {
      server.server.close();
    }
  });
});

describe("size and time are bounded", () => {
  it("cuts off an endless chunked body at maxBytes", async () => {
    const before = process.memoryUsage().rss;
    const t0 = Date.now();
    const f = await failure(make([`127.0.0.1:${files.port}`, `127.0.0.1:${endless.port}`]).get(`${files.url}/to-endless`));
    expect(f).toMatchObject({ kind: "too-large", permanent: true });
    expect(f.message).toMatch(/more than 1048576 bytes/);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
  });

  it("refuses a declared Content-Length over the cap without reading it", async () => {
    expect(await failure(make([`127.0.0.1:${files.port}`]).get(`${files.url}/huge`))).toMatchObject({ kind: "too-large" });
  });

  it("classifies HTTP answers: 404 and 410 are permanent, 503 transient", async () => {
    const c = make([`127.0.0.1:${files.port}`]);
    expect(await failure(c.get(`${files.url}/nothing`))).toMatchObject({ kind: "status", status: 404, permanent: true });
    expect(await failure(c.get(`${files.url}/gone`))).toMatchObject({ kind: "status", status: 410, permanent: true });
    const busy = await failure(c.get(`${files.url}/busy`));
    expect(busy).toMatchObject({ kind: "unavailable", status: 503, permanent: false });
    expect(failureOf(busy)).toBe("transient"); // retried within the cap
  });

  it("times out a server that never answers, and one that stops sending the body (transient)", async () => {
    const c = make([`127.0.0.1:${stall.port}`]);
    let t0 = Date.now();
    expect(await failure(c.get(`${stall.url}/`))).toMatchObject({ kind: "timeout", permanent: false });
    expect(Date.now() - t0).toBeLessThan(3000);
    t0 = Date.now();
    expect(await failure(c.get(`${stall.url}/body`))).toMatchObject({ kind: "timeout", permanent: false });
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it("times out the whole exchange even while bytes keep coming", async () => {
    const slow = await serve((_req, res) => {
      res.writeHead(200);
      const t = setInterval(() => res.write("x"), 100);
      res.on("close", () => clearInterval(t));
    });
    try {
      const t0 = Date.now();
      const f = await failure(make([`127.0.0.1:${slow.port}`], { ...LIMITS, totalMs: 1500 }).get(`${slow.url}/`));
      expect(f).toMatchObject({ kind: "timeout", permanent: false });
      expect(Date.now() - t0).toBeLessThan(3000);
    } finally {
      slow.server.closeAllConnections();
      slow.server.close();
    }
  });

  it("a connection refused is transient", async () => {
    const gone = await serve(() => undefined);
    const port = gone.port;
    await new Promise((r) => gone.server.close(r));
    expect(await failure(make([`127.0.0.1:${port}`]).get(`http://127.0.0.1:${port}/`))).toMatchObject({ kind: "network", permanent: false });
  });
});

describe("the upload PUT", () => {
  it("writes to the slot's host (our server's), and times out when it does not answer", async () => {
    const c = make([]);
    await c.put(`${files.url}/put`, new Uint8Array(1000), { "content-type": "text/plain" });
    const put = files.hits.find((h) => h.method === "PUT");
    expect(put?.headers["content-length"]).toBe("1000");
    const t0 = Date.now();
    expect(await failure(c.put(`${stall.url}/`, new Uint8Array(10), {}))).toMatchObject({ kind: "timeout", permanent: false });
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(await failure(c.put(`${files.url}/nothing`, new Uint8Array(1), {}))).toMatchObject({ kind: "status", status: 404 });
  });
});

describe("data: URLs", () => {
  it("decodes them, under the same cap", async () => {
    const c = make([], { ...LIMITS, maxBytes: 10 });
    expect(Buffer.from((await c.get("data:text/plain;base64,aGVsbG8=")).data).toString()).toBe("hello");
    expect(await failure(c.get(`data:text/plain;base64,${Buffer.alloc(100).toString("base64")}`))).toMatchObject({ kind: "too-large" });
  });
});
