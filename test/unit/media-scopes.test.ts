/**
 * A file service's scope (XMPP's upload service, learned from a slot's GET URL): URLs under its
 * path are fetched from its private address; anything else that host serves is refused like any
 * private address, through redirects, dot segments and encoded slashes too.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MediaScope } from "../../core/adapter.ts";
import { isMediaFailure } from "../../core/media/errors.ts";
import { mediaHttp } from "../../core/media/fetcher.ts";
import { inScope } from "../../core/media/policy.ts";
import { filesScope } from "../../bridges/xmpp/slot.ts";
import { FakeAdapter } from "../support/fake-adapter.ts";

describe("where an upload service keeps files, from its slot's GET URL (filesScope)", () => {
  const sha1 = "3f786850e387550fdab836ed7e6dc881de23001b";
  it("Prosody's mod_http_file_share and mod_http_upload: the path without the slot's <id>/<name>", () => {
    expect(filesScope("https://upload.example.org:5281/file_share/1b2c-3d/cat.png")).toEqual({ host: "upload.example.org:5281", path: "/file_share/" });
    expect(filesScope("http://127.0.0.1:5280/upload/Zx9q/notes.txt")).toEqual({ host: "127.0.0.1:5280", path: "/upload/" });
    // Behind a proxy that adds a path (http_external_url = "https://example.org/xmpp/"): not all of /xmpp/.
    expect(filesScope("https://example.org/xmpp/file_share/1b2c/cat.png")).toEqual({ host: "example.org:443", path: "/xmpp/file_share/" });
  });

  it("ejabberd's mod_http_upload: without the per-person directory, so everyone's files", () => {
    expect(filesScope(`https://example.org/upload/${sha1}/Ab12/report.pdf`)).toEqual({ host: "example.org:443", path: "/upload/" });
    expect(filesScope(`http://[::1]:5443/upload/${sha1}/r/f`)).toEqual({ host: "[::1]:5443", path: "/upload/" });
    expect(filesScope(`http://files.example.org/${sha1}/r/f`)).toEqual({ host: "files.example.org:80", path: `/${sha1}/` });
  });

  it("a service that keeps files at its root: its whole host and port", () => {
    expect(filesScope("https://files.example.org/1b2c/cat.png")).toEqual({ host: "files.example.org:443", path: "/" });
  });

  it("none for a URL that is not http(s), or on a link-local address (a metadata service), however spelled", () => {
    expect(filesScope("ftp://files.example.org/a/b/c")).toBeUndefined();
    expect(filesScope("not a url")).toBeUndefined();
    expect(filesScope("http://169.254.169.254/latest/meta-data/x")).toBeUndefined();
    expect(filesScope("http://0xa9fea9fe/latest/meta-data/x")).toBeUndefined();
    expect(filesScope("http://[::ffff:169.254.169.254]/latest/meta-data/x")).toBeUndefined();
    expect(filesScope("http://[fe80::1]/a/b/c")).toBeUndefined();
  });
});

describe("whether a URL is under a scope (inScope)", () => {
  const scopes: MediaScope[] = [{ host: "upload.localhost:5281", path: "/file_share/" }, { host: "127.0.0.1:5280", path: "/upload/" }];
  const ok = (u: string) => inScope(scopes, new URL(u));
  it("the same host, port and path prefix", () => {
    expect(ok("https://upload.localhost:5281/file_share/abc/cat.png")).toBe(true);
    expect(ok("https://UPLOAD.localhost.:5281/file_share/abc/cat.png")).toBe(true);
    expect(ok("http://127.0.0.1:5280/upload/abc/cat.png")).toBe(true);
  });
  it("not another path, port, host or spelling of the address", () => {
    expect(ok("https://upload.localhost:5281/metrics")).toBe(false);
    expect(ok("https://upload.localhost:5281/file_share")).toBe(false);
    expect(ok("https://upload.localhost:5281/file_sharex/a")).toBe(false);
    expect(ok("https://upload.localhost/file_share/abc/cat.png")).toBe(false);
    expect(ok("https://other.localhost:5281/file_share/abc/cat.png")).toBe(false);
    expect(ok("http://127.0.0.2:5280/upload/abc/cat.png")).toBe(false);
    expect(ok("http://localhost:5280/upload/abc/cat.png")).toBe(false);
  });
  it("not a way out of the prefix: dot segments (plain or encoded), encoded slashes or backslashes", () => {
    expect(ok("https://upload.localhost:5281/file_share/../metrics")).toBe(false);
    expect(ok("https://upload.localhost:5281/file_share/%2e%2e/metrics")).toBe(false);
    expect(ok("https://upload.localhost:5281/file_share/..%2fmetrics")).toBe(false);
    expect(ok("https://upload.localhost:5281/file_share/..%2Fmetrics")).toBe(false);
    expect(ok("https://upload.localhost:5281/file_share/..%5cmetrics")).toBe(false);
    expect(ok("https://upload.localhost:5281/file_share\\..\\metrics")).toBe(false);
  });
});

class WithScope extends FakeAdapter {
  scopes: MediaScope[] = [];
  get mediaScopes(): readonly MediaScope[] { return this.scopes; }
}

describe("the media client with a scope, against a server on loopback", () => {
  let server: Server;
  let base = "";
  const hits: string[] = [];
  const adapter = new WithScope("xmpp");
  const http = mediaHttp(undefined, [adapter]);
  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      hits.push(req.url!);
      if (req.url === "/file_share/x/to-secret") return res.writeHead(302, { location: "/secret" }).end();
      if (req.url === "/file_share/x/to-inside") return res.writeHead(302, { location: "/file_share/y/cat.txt" }).end();
      res.writeHead(200, { "content-type": "text/plain" }).end(req.url!.startsWith("/file_share/") ? "a file" : "TOP-SECRET");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    base = `http://127.0.0.1:${port}`;
    adapter.scopes = [{ host: `127.0.0.1:${port}`, path: "/file_share/" }];
  });
  afterAll(async () => {
    await http.close();
    await new Promise((r) => server.close(r));
  });
  const refused = async (url: string) => {
    const err = await http.get(url).then(() => undefined, (e: unknown) => e);
    expect(isMediaFailure(err), `${url} refused`).toBe(true);
    return err as Error;
  };

  it("fetches a file under the path, and follows a redirect that stays under it", async () => {
    expect(Buffer.from((await http.get(`${base}/file_share/x/cat.txt`)).data).toString()).toBe("a file");
    expect(Buffer.from((await http.get(`${base}/file_share/x/to-inside`)).data).toString()).toBe("a file");
  });

  it("refuses the rest of that host before any request reaches it, a redirect out of the path included", async () => {
    hits.length = 0;
    for (const path of ["/secret", "/file_share/../secret", "/file_share/..%2fsecret", "/"]) {
      expect((await refused(`${base}${path}`)).message).toMatch(/loopback/);
    }
    expect(hits).toEqual([]);
    expect((await refused(`${base}/file_share/x/to-secret`)).message).toMatch(/loopback/);
    expect(hits).toEqual(["/file_share/x/to-secret"]);
  });

  it("without a scope, the host is refused on every path", async () => {
    const saved = adapter.scopes;
    adapter.scopes = [];
    try {
      await refused(`${base}/file_share/x/cat.txt`);
    } finally {
      adapter.scopes = saved;
    }
  });
});
