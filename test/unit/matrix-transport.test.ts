import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import pino from "pino";
import { Homeserver } from "../../bridges/matrix/client.ts";
import { AppserviceServer } from "../../bridges/matrix/transactions.ts";
import type { Transaction } from "../../bridges/matrix/types.ts";

const log = pino({ level: "silent" });
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function fakeHomeserver(handler: (req: IncomingMessage, body: string) => [number, unknown]): Promise<string> {
  const server: Server = createServer(async (req, res) => {
    let body = "";
    for await (const c of req) body += c;
    const [status, json] = handler(req, body);
    res.writeHead(status, { "content-type": "application/json" });
    res.end(typeof json === "string" ? json : JSON.stringify(json));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  closers.push(() => new Promise((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("matrix client", () => {
  it("waits out a 429 for retry_after_ms, then succeeds; masquerades with user_id", async () => {
    const seen: string[] = [];
    let calls = 0;
    const url = await fakeHomeserver((req) => {
      seen.push(req.url!);
      return ++calls === 1 ? [429, { errcode: "M_LIMIT_EXCEEDED", error: "slow down", retry_after_ms: 120 }] : [200, { event_id: "$x" }];
    });
    const waits: number[] = [];
    const hs = new Homeserver(url, "as", log, () => {}, async (ms) => { waits.push(ms); });
    const res = await hs.request("PUT", "/_matrix/client/v3/rooms/!r:x/send/m.room.message/t1", { as: "@g:x", body: { body: "x" } });
    expect(res).toEqual({ event_id: "$x" });
    expect(waits).toEqual([120]);
    expect(seen[1]).toContain("user_id=%40g%3Ax");
  });

  it("gives up on an endless 429 after a bounded number of waits", async () => {
    const url = await fakeHomeserver(() => [429, { errcode: "M_LIMIT_EXCEEDED", error: "no" }]);
    const waits: number[] = [];
    const hs = new Homeserver(url, "as", log, () => {}, async (ms) => { waits.push(ms); });
    await expect(hs.request("GET", "/x")).rejects.toMatchObject({ errcode: "M_LIMIT_EXCEEDED" });
    expect(waits.length).toBeGreaterThan(0);
    expect(waits.every((w) => w >= 100)).toBe(true);
  });

  it("an unreachable homeserver is NotReadyError and reported", async () => {
    let told = 0;
    const hs = new Homeserver("http://127.0.0.1:9", "as", log, () => { told++; });
    await expect(hs.request("GET", "/_matrix/client/versions")).rejects.toMatchObject({ name: "NotReadyError" });
    expect(told).toBe(1);
  });

  it("Matrix errors keep their errcode; a bare 502 means unavailable", async () => {
    const url = await fakeHomeserver((req) => (req.url!.startsWith("/a") ? [403, { errcode: "M_FORBIDDEN", error: "not in room" }] : [502, "<html>bad gateway</html>"]));
    const hs = new Homeserver(url, "as", log, () => {});
    await expect(hs.request("GET", "/a")).rejects.toMatchObject({ errcode: "M_FORBIDDEN", statusCode: 403 });
    await expect(hs.request("GET", "/b")).rejects.toMatchObject({ name: "NotReadyError" });
  });
});

describe("appservice transaction endpoint", () => {
  async function server(onTransaction: (id: string, t: Transaction) => Promise<void>) {
    const s = new AppserviceServer({ host: "127.0.0.1", port: 0, hsToken: "hs", log, onTransaction });
    const addr = await s.listen();
    closers.push(() => s.close());
    return `http://127.0.0.1:${addr.port}`;
  }
  const put = (url: string, path: string, body: unknown, token?: string) =>
    fetch(url + path, { method: "PUT", body: JSON.stringify(body), headers: token ? { authorization: `Bearer ${token}` } : {} });

  it("checks hs_token (header or legacy query)", async () => {
    const url = await server(async () => {});
    expect((await put(url, "/_matrix/app/v1/transactions/1", { events: [] })).status).toBe(401);
    expect((await put(url, "/_matrix/app/v1/transactions/1", { events: [] }, "wrong")).status).toBe(403);
    expect((await put(url, "/transactions/1?access_token=hs", { events: [] })).status).toBe(200);
  });

  it("answers 200 only after the handler resolved, 500 when it failed", async () => {
    let release!: () => void;
    const got: string[] = [];
    let fail = true;
    const url = await server(async (id, t) => {
      got.push(`${id}:${t.events.length}`);
      if (fail) { fail = false; throw new Error("commit failed"); }
      await new Promise<void>((r) => { release = r; });
    });
    const ev = { type: "m.room.message", event_id: "$1", room_id: "!r:x", sender: "@a:x", origin_server_ts: 1, content: { body: "x" } };
    expect((await put(url, "/_matrix/app/v1/transactions/7", { events: [ev] }, "hs")).status).toBe(500);
    let answered = false;
    const second = put(url, "/_matrix/app/v1/transactions/7", { events: [ev] }, "hs").then((r) => { answered = true; return r; });
    await new Promise((r) => setTimeout(r, 100));
    expect(answered).toBe(false);
    release();
    expect((await second).status).toBe(200);
    expect(got).toEqual(["7:1", "7:1"]);
  });

  it("answers ping, refuses user and room queries, rejects non-JSON", async () => {
    const url = await server(async () => {});
    const auth = { authorization: "Bearer hs" };
    expect((await fetch(`${url}/_matrix/app/v1/ping`, { method: "POST", body: "{}", headers: auth })).status).toBe(200);
    expect((await fetch(`${url}/_matrix/app/v1/users/%40a%3Ax`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${url}/_matrix/app/v1/rooms/%23a%3Ax`, { headers: auth })).status).toBe(404);
    expect((await put(url, "/_matrix/app/v1/transactions/9", "x", "hs")).status).toBe(200); // a JSON string: no events
    expect((await fetch(`${url}/_matrix/app/v1/transactions/9`, { method: "PUT", body: "{not json", headers: auth })).status).toBe(400);
  });
});
