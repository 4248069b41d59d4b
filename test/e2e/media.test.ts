/**
 * Media fetching under attack, end to end (issue 11, item 12): a real XMPP person on Prosody posts
 * out-of-band links in a room linked to a Matrix room on a real Synapse; Junction runs in its own
 * process as operators start it. The links point at a loopback HTTP server holding a secret
 * (directly, in another spelling, and through a redirect from a host that is allowed), at the
 * cloud metadata address, and at a server that sends a chunked body forever. Nothing of the secret
 * may reach Matrix, Junction's memory stays bounded, and the room keeps bridging.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { xml } from "@xmpp/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnJunction, type JunctionProcess } from "../harness/junction-process.ts";
import { matrixPerson, type MatrixEvent, type MatrixPerson } from "../harness/matrix-person.ts";
import { startProsody, type ProsodyServer } from "../harness/prosody.ts";
import { until } from "../harness/until.ts";
import { newPerson, type Person } from "../harness/xmpp-person.ts";
import { startTestSynapse, type TestSynapse } from "./matrix-synapse.fixture.ts";

const SECRET = `SECRET-${randomBytes(12).toString("hex")}`;
const MAX_BYTES = 8 * 1024 * 1024;

interface Http { url: string; port: number; hits: string[]; server: Server }
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Http> {
  const hits: string[] = [];
  const server = createServer((req, res) => { hits.push(req.url ?? ""); handler(req, res); });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, port, hits, server };
}

let prosody: ProsodyServer;
let syn: TestSynapse;
let junction: JunctionProcess;
let bob: Person; // on XMPP
let alice: MatrixPerson; // on Matrix
let roomId: string;
let muc: string;
let secret: Http; // loopback, not allowed
let allowed: Http; // loopback, allowed by media.allowHosts: a file, and a redirect to the secret
let endless: Http; // loopback, allowed: a chunked body that never ends
let endlessBytes = 0;
let endlessClosed = 0;

beforeAll(async () => {
  secret = await serve((_req, res) => { res.writeHead(200, { "content-type": "text/plain" }); res.end(SECRET); });
  allowed = await serve((req, res) => {
    if (req.url === "/to-secret") { res.writeHead(302, { location: `${secret.url}/secret.txt` }); return res.end(); }
    if (req.url === "/busy") { res.writeHead(503); return res.end(); }
    if (req.url === "/to-secret-v6") { res.writeHead(301, { location: `http://[::ffff:127.0.0.1]:${secret.port}/secret.txt` }); return res.end(); }
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("a harmless file");
  });
  endless = await serve((_req, res) => {
    res.writeHead(200, { "content-type": "application/octet-stream" });
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const pump = () => {
      for (let more = true; more;) {
        more = res.write(chunk);
        endlessBytes += chunk.length;
      }
    };
    res.on("drain", pump);
    res.on("close", () => { endlessClosed++; res.off("drain", pump); });
    pump();
  });
  [prosody, syn] = await Promise.all([startProsody(), startTestSynapse()]);
  muc = `media@${prosody.mucDomain}`;
  const a = await syn.registerUser("alice", "Alice");
  alice = matrixPerson(syn.url, a.userId, a.token);
  roomId = await alice.createRoom({ alias: "media", preset: "public_chat", name: "Media" });
  bob = await newPerson(prosody, "bob");
  await bob.join(muc, "bob", { maxHistory: 0 });
  junction = await spawnJunction({
    xmpp: { server: prosody.componentService, component: prosody.componentDomain, secret: prosody.componentSecret, nick: "Junction" },
    matrix: { ...syn.matrixConfig, listen: `${syn.matrixConfig.listen.host}:${syn.matrixConfig.listen.port}` },
    // The allowed and endless servers are on loopback, so they are listed; the secret one is not.
    media: { allowHosts: [`127.0.0.1:${allowed.port}`, `127.0.0.1:${endless.port}`], maxBytes: MAX_BYTES },
    links: { media: { xmpp: [muc], matrix: ["#media:localhost"] } },
  }, 2);
  // Both ways work before the attacks start.
  await bob.say(muc, "hello before");
  await sees("the first message", (ev) => ev.content.body === "hello before");
}, 240_000);

afterAll(async () => {
  await junction?.stop();
  await bob?.stop();
  await alice?.stop();
  await Promise.allSettled([prosody?.stop(), syn?.stop()]);
  for (const s of [secret, allowed, endless]) { s?.server.closeAllConnections(); s?.server.close(); }
});

const fromBridge = (ev: MatrixEvent) => String(ev.sender).startsWith("@_junction_xmpp_");
function sees(what: string, match: (ev: MatrixEvent) => boolean, timeoutMs = 20_000): Promise<MatrixEvent> {
  return until(what, () => alice.timeline(roomId).find((ev) => fromBridge(ev) && match(ev)), timeoutMs);
}

/** Bob posts a link the way XMPP clients share files: the URL as body and as an OOB element. */
async function bobShares(url: string): Promise<void> {
  await bob.say(muc, url, xml("x", { xmlns: "jabber:x:oob" }, xml("url", {}, url)));
}

/** What Alice sees instead of the file: a line with the link, and no file event. */
async function seesNoteFor(url: string, reason: RegExp): Promise<MatrixEvent> {
  const note = await sees(`a note for ${url}`, (ev) => typeof ev.content.body === "string" && ev.content.body.includes(url));
  expect(note.content.msgtype).toBe("m.text");
  expect(note.content.url).toBeUndefined();
  expect(String(note.content.body)).toMatch(/not copied by the bridge/);
  expect(String(note.content.body)).toMatch(reason);
  return note;
}

/** Everything Alice can see, files included: the secret is in none of it. */
async function assertSecretNeverReachedMatrix(): Promise<void> {
  const events = alice.timeline(roomId);
  expect(JSON.stringify(events)).not.toContain(SECRET);
  for (const ev of events) {
    if (typeof ev.content.url === "string" && ev.content.url.startsWith("mxc://")) {
      const file = await alice.downloadMedia(ev.content.url);
      expect(Buffer.from(file.data).toString("latin1")).not.toContain(SECRET);
    }
  }
}

describe("media links from a hostile room member", () => {
  it("a link to a loopback server holding a secret: not fetched; Matrix sees the link, not the file", async () => {
    const url = `${secret.url}/secret.txt`;
    await bobShares(url);
    const note = await seesNoteFor(url, /could not be fetched/);
    expect(String(note.content.body)).not.toMatch(/loopback|127\.0\.0\.1 is/);
    expect(secret.hits).toEqual([]);
  });

  it("other spellings of loopback, and the metadata address: refused before any connection", async () => {
    for (const url of [`http://[::ffff:127.0.0.1]:${secret.port}/a`, `http://2130706433:${secret.port}/b`, `http://localhost:${secret.port}/c`, "http://169.254.169.254/latest/meta-data/"]) {
      await bobShares(url);
      await seesNoteFor(url, /could not be fetched/);
    }
    expect(secret.hits).toEqual([]);
  });

  it("an allowed host that redirects to the secret: the redirect is checked like the first hop", async () => {
    for (const path of ["/to-secret", "/to-secret-v6"]) {
      const url = `${allowed.url}${path}`;
      await bobShares(url);
      await seesNoteFor(url, /could not be fetched/);
      expect(allowed.hits).toContain(path);
    }
    expect(secret.hits).toEqual([]);
  });

  it("an endless chunked body is cut off at media.maxBytes; Junction's memory stays bounded", async () => {
    const before = junction.rssMiB();
    let peak = before;
    const sampler = setInterval(() => { peak = Math.max(peak, junction.rssMiB()); }, 50);
    try {
      const url = `${endless.url}/forever.bin`;
      await bobShares(url);
      await seesNoteFor(url, /too large to copy/);
      await until("Junction to hang up on the endless body", () => endlessClosed > 0, 10_000);
    } finally {
      clearInterval(sampler);
    }
    const sent = endlessBytes;
    await new Promise((r) => setTimeout(r, 500));
    console.log(`endless body: ${(sent / 2 ** 20).toFixed(1)} MiB written before Junction hung up (cap ${MAX_BYTES / 2 ** 20} MiB); Junction RSS ${before.toFixed(0)} → peak ${peak.toFixed(0)} MiB`);
    expect(sent, "read up to the cap").toBeGreaterThanOrEqual(MAX_BYTES);
    expect(endlessBytes - sent, "nothing more is read after the cut").toBeLessThan(4 * 1024 * 1024);
    // The cap plus socket buffers: nowhere near the hundreds of MiB an unbounded read reaches.
    expect(peak - before).toBeLessThan(100);
  });

  it("a server that keeps failing (503) is tried three times, then the file goes as a link", async () => {
    const url = `${allowed.url}/busy`;
    await bobShares(url);
    await seesNoteFor(url, /the server answered HTTP 503/);
    expect(allowed.hits.filter((h) => h === "/busy")).toHaveLength(3);
  });

  it("an allowed host's file is still copied as a file", async () => {
    const url = `${allowed.url}/harmless.txt`;
    await bobShares(url);
    const file = await sees("the harmless file", (ev) => ev.content.body === "harmless.txt" && typeof ev.content.url === "string");
    const got = await alice.downloadMedia(String(file.content.url));
    expect(Buffer.from(got.data).toString()).toBe("a harmless file");
  });

  it("nothing of the secret reached Matrix, and the room keeps bridging both ways", async () => {
    await assertSecretNeverReachedMatrix();
    await bob.say(muc, "still here after all that");
    await sees("a message after the attacks", (ev) => ev.content.body === "still here after all that");
    await alice.say(roomId, "hello from matrix");
    await bob.waitFor((el) => el.is("message") && el.attrs.from === `${muc}/Alice` && el.getChildText("body") === "hello from matrix", 15_000, "Alice's message on XMPP");
  });
});
