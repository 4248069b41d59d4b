/**
 * /, /metrics and /health on the real core with in-memory networks: who may read them (a public
 * URL asks for the admin token; a local one checks the Host header), what /health names, and
 * that the status page escapes what people wrote. And the pieces: progress lines, the XMPP
 * connection failure explanations and how often they repeat.
 */
import { mkdtempSync } from "node:fs";
import { request } from "node:http";
import { Writable } from "node:stream";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { PermanentDeliveryError, type AdapterStatus } from "../../core/adapter.ts";
import { isPublicUrl } from "../../core/admin-http.ts";
import { runJunction, type RunningJunction } from "../../core/app.ts";
import { createLogger, isPretty } from "../../core/log.ts";
import { Progress } from "../../core/progress.ts";
import { ago, escapeHtml } from "../../core/status-page.ts";
import { explainPingFailure } from "../../bridges/matrix/ping.ts";
import { explainConnectFailure, FailureReporter } from "../../bridges/xmpp/connect-failure.ts";
import { joinRefusal } from "../../bridges/xmpp/join-refusal.ts";
import { freePort } from "../harness/ports.ts";
import { until } from "../harness/until.ts";
import { FakeAdapter } from "../support/fake-adapter.ts";

const HOSTILE_ROOM = `<script>alert("room")</script>@muc`;
const HOSTILE_REASON = `<img src=x onerror=alert(1)> & "quoted"`;

class StatusAdapter extends FakeAdapter {
  report: AdapterStatus = { rooms: [] };
  status(): AdapterStatus { return this.report; }
}

let running: RunningJunction | undefined;
afterEach(async () => { await running?.stop(); running = undefined; });

async function start(publicUrl: (port: number) => string, adminToken?: string) {
  const port = await freePort();
  const xmpp = new StatusAdapter("xmpp");
  const matrix = new StatusAdapter("matrix");
  const dir = mkdtempSync(join(tmpdir(), "junction-obs-"));
  running = await runJunction({
    store: { path: join(dir, "j.db") },
    http: { listen: { host: "127.0.0.1", port }, publicUrl: publicUrl(port), ...(adminToken ? { adminToken } : {}) },
    links: { lobby: { xmpp: [HOSTILE_ROOM], matrix: ["!m:hs"] } },
  }, [xmpp, matrix], pino({ level: "silent" }));
  return { xmpp, matrix, base: `http://127.0.0.1:${port}`, port, j: running };
}

function get(url: string, headers: Record<string, string> = {}): Promise<{ code: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => { body += d.toString(); });
      res.on("end", () => resolve({ code: res.statusCode ?? 0, body, headers: res.headers }));
    }).on("error", reject).end();
  });
}

describe("on a local URL", () => {
  it("answers without a token, but only to a Host header that names the listener", async () => {
    const { base, port } = await start((p) => `http://127.0.0.1:${p}`);
    expect((await get(`${base}/health`)).code).toBe(200);
    expect((await get(`${base}/metrics`, { host: `localhost:${port}` })).code).toBe(200);
    expect((await get(`${base}/`, { host: "rebound.example:80" })).code).toBe(404);
    expect((await get(`${base}/metrics`, { host: "rebound.example" })).code).toBe(404);
    expect((await get(`${base}/metricsx`)).code).toBe(404);
    expect((await get(`${base}/nothing`)).code).toBe(404);
  });

  it("/health names a room not joined, with since and the adapter's reason; the page escapes it", async () => {
    const { base, xmpp, matrix } = await start((p) => `http://127.0.0.1:${p}`);
    xmpp.report = { rooms: [{ room: HOSTILE_ROOM, joined: false, error: HOSTILE_REASON }] };
    const h = await get(`${base}/health`);
    expect(h.code).toBe(503);
    const body = JSON.parse(h.body) as { status: string; problems: Record<string, unknown>[] };
    expect(body.status).toBe("degraded");
    expect(body.problems).toEqual([{ network: "xmpp", link: "lobby", room: HOSTILE_ROOM, state: "not joined", since: expect.stringMatching(/^\d{4}-/), lastError: HOSTILE_REASON }]);

    // A permanent failure with a hostile reason, as a destination might word it.
    matrix.failWith = () => new PermanentDeliveryError(HOSTILE_REASON);
    await xmpp.say(HOSTILE_ROOM, "hi", "x1");
    await until("the failure recorded", () => running!.store.outbox.failed().length > 0 || undefined);
    const page = await get(`${base}/`);
    expect(page.code).toBe(200);
    expect(page.headers["content-security-policy"]).toContain("default-src 'none'");
    expect(page.body).toContain('<meta http-equiv="refresh"');
    expect(page.body).not.toContain("<script>");
    expect(page.body).not.toContain("<img");
    expect(page.body).toContain("&lt;script&gt;alert(&quot;room&quot;)&lt;/script&gt;@muc");
    expect(page.body).toContain("&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quoted&quot;");
    expect(page.body).toMatch(/Recent permanent failures<\/h2>\n<table>/);
    const m = await get(`${base}/metrics`);
    expect(m.body).toMatch(/junction_delivery_failures_total\{network="matrix",cause="permanent"\} 1/);
    expect(m.body).toMatch(/junction_rooms\{network="xmpp",state="not_joined"\} 1/);

    xmpp.report = { rooms: [{ room: HOSTILE_ROOM, joined: true }] };
    expect((await get(`${base}/health`)).code).toBe(200);
  });

  it("a network that is not connected is named once, with the adapter's last error, not again per room", async () => {
    const { base, xmpp } = await start((p) => `http://localhost:${p}`);
    xmpp.report = { lastError: "connection refused", rooms: [{ room: HOSTILE_ROOM, joined: false }] };
    xmpp.host.setReady(false);
    const body = JSON.parse((await get(`${base}/health`)).body) as { problems: unknown[] };
    expect(body.problems).toEqual([{ network: "xmpp", state: "disconnected", since: expect.any(String), lastError: "connection refused" }]);
  });
});

describe("on a public URL", () => {
  it("asks for the admin token (bearer or ?token=); /health says only ok or degraded without it", async () => {
    const token = "0123456789abcdef-admin";
    const { base } = await start(() => "https://junction.example.org", token);
    expect((await get(`${base}/metrics`)).code).toBe(401);
    expect((await get(`${base}/`)).code).toBe(401);
    expect((await get(`${base}/?token=wrong`)).code).toBe(401);
    expect((await get(`${base}/metrics`, { authorization: "Bearer wrong" })).code).toBe(401);
    expect((await get(`${base}/metrics`, { authorization: `Bearer ${token}` })).code).toBe(200);
    const page = await get(`${base}/?token=${token}`);
    expect(page.code).toBe(200);
    expect(page.body).not.toContain(token);
    const bare = await get(`${base}/health`);
    expect(bare.code).toBe(200);
    expect(JSON.parse(bare.body)).toEqual({ status: "ok" });
    expect(JSON.parse((await get(`${base}/health?token=${token}`)).body)).toEqual({ status: "ok", problems: [] });
  });

  it("without an admin token configured, refuses with what to set", async () => {
    const { base } = await start(() => "https://junction.example.org");
    const r = await get(`${base}/metrics`);
    expect(r.code).toBe(403);
    expect(r.body).toContain("http.adminToken");
  });

  it("tells public from local URLs", () => {
    expect(isPublicUrl("https://junction.example.org")).toBe(true);
    expect(isPublicUrl("http://203.0.113.5:8080")).toBe(true);
    expect(isPublicUrl("http://127.0.0.1:8080")).toBe(false);
    expect(isPublicUrl("http://[::1]:8080")).toBe(false);
    expect(isPublicUrl("http://192.168.1.10")).toBe(false);
    expect(isPublicUrl("http://bridge.localhost")).toBe(false);
  });
});

describe("pieces", () => {
  it("escapes the five HTML characters and says times as ago", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    expect(ago(undefined, 0)).toBe("never");
    expect(ago(0, 5_000)).toBe("5 s ago");
    expect(ago(0, 3 * 3600_000)).toBe("3 h ago");
  });

  it("logs a long operation at its start, at most every 5 s, and at its end, with counts", () => {
    const out: Record<string, unknown>[] = [];
    let now = 0;
    const p = new Progress(pino({ level: "info" }, { write: (s: string) => { out.push(JSON.parse(s) as Record<string, unknown>); } }), undefined, () => now);
    p.report("matrix", "join", 0, 40);
    for (let i = 1; i <= 40; i++) { now += 500; p.report("matrix", "join", i, 40); }
    expect(out.map((l) => l.msg)).toEqual([
      "matrix: joining linked rooms: 0 of 40", "matrix: joining linked rooms: 10 of 40", "matrix: joining linked rooms: 20 of 40",
      "matrix: joining linked rooms: 30 of 40", "matrix: joining linked rooms: done, 40 of 40",
    ]);
    expect(out.at(-1)).toMatchObject({ done: 40, total: 40, elapsedMs: 20_000 });
    out.length = 0;
    p.report("xmpp", "catch-up", 0, 1);
    p.report("xmpp", "catch-up", 1, 1);
    expect(out).toEqual([]); // a one-step run says nothing
  });

  it("explains each connection failure with what to check", () => {
    const c = { service: "xmpp://127.0.0.1:5347", domain: "bridge.example.org" };
    const e = (message: string, extra: Record<string, unknown> = {}) => explainConnectFailure(Object.assign(new Error(message), extra), c);
    expect(e("connect ECONNREFUSED 127.0.0.1:5347", { code: "ECONNREFUSED" }).message).toMatch(/Is the XMPP server running.*component_ports/);
    expect(e("host-unknown", { condition: "host-unknown" }).message).toContain('Component "bridge.example.org"');
    expect(e("not-authorized", { condition: "not-authorized" }).message).toMatch(/xmpp.secret does not match/);
    // Prosody's words on its component port and on its client port (found by test/e2e/troubleshooting).
    expect(e("host-unknown - bridge.example.org does not match any configured external components").kind).toBe("host-unknown");
    expect(e("host-unknown - This server does not serve bridge.example.org").message).toMatch(/answered like its client port.*component_ports/);
    // ejabberd 23.01: its client port answers invalid-namespace; an undeclared component, not-authorized like a wrong secret.
    expect(e("invalid-namespace", { condition: "invalid-namespace" }).kind).toBe("client-port");
    expect(e("not-authorized", { condition: "not-authorized" }).message).toMatch(/no ejabberd_service listener has bridge\.example\.org in its hosts/);
    expect(e("conflict").kind).toBe("conflict");
    expect(e("getaddrinfo ENOTFOUND nowhere", { code: "ENOTFOUND" }).kind).toBe("dns");
  });

  it("says what a room's join refusal means and who fixes it", () => {
    expect(joinRefusal("registration-required")).toMatch(/^the room refused the bot's join \(registration-required\): the room is members-only/);
    expect(joinRefusal("item-not-found")).toMatch(/the room is locked .*muc_room_locking = false/);
    expect(joinRefusal("forbidden")).toMatch(/banned/);
    expect(joinRefusal("some-new-condition")).toBe("the room refused the bot's join (some-new-condition): check the room exists and lets the bridge's domain in");
  });

  it("says which half of the registration the homeserver has wrong when the appservice ping fails", () => {
    const c = { registration: "/etc/junction/registration.yaml", url: "http://10.0.0.5:9000", listen: "127.0.0.1:9000" };
    // Synapse 1.163's answers (found by test/e2e/troubleshooting).
    expect(explainPingFailure("M_CONNECTION_FAILED: ConnectionRefusedError: Connection was refused by other side: 111: Connection refused.", c))
      .toMatch(/^the homeserver cannot reach Junction at the registration's url http:\/\/10\.0\.0\.5:9000 .*matrix\.listen, 127\.0\.0\.1:9000/);
    expect(explainPingFailure("M_BAD_STATUS: HTTP 403 Forbidden", c)).toMatch(/^the homeserver calls Junction with an hs_token that is not the one in \/etc\/junction\/registration\.yaml/);
    expect(explainPingFailure("M_UNKNOWN: something else", c)).toMatch(/^appservice ping failed \(M_UNKNOWN: something else\)/);
  });

  it("repeats a failure only at attempts 1, 2, 4, 8 …, and a new kind at once", () => {
    const out: Record<string, unknown>[] = [];
    const r = new FailureReporter(pino({ level: "info" }, { write: (s: string) => { out.push(JSON.parse(s) as Record<string, unknown>); } }));
    const c = { service: "xmpp://127.0.0.1:5347", domain: "b.example" };
    const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    for (let i = 0; i < 20; i++) r.failed(refused, c, 1000);
    expect(out.map((l) => l.attempts)).toEqual([1, 2, 4, 8, 16]);
    expect(String(out[1]!.msg)).toMatch(/still, after 2 attempts/);
    r.failed(Object.assign(new Error("not-authorized"), { condition: "not-authorized" }), c, 1000);
    expect(out).toHaveLength(6);
    expect(String(out[5]!.msg)).toMatch(/refused the component handshake/);
    expect(r.last).toMatch(/refused the component handshake/);
    r.connected();
    expect(r.last).toBeUndefined();
  });

  it("prints readable lines for a person (log.format: pretty, or auto on a terminal), JSON otherwise", () => {
    expect(isPretty("auto", true)).toBe(true);
    expect(isPretty("auto", false)).toBe(false);
    expect(isPretty("json", true)).toBe(false);
    expect(isPretty("pretty", false)).toBe(true);
    let out = "";
    const destination = new Writable({ write(chunk: Buffer, _enc, cb) { out += chunk.toString(); cb(); } });
    const log = createLogger("info", { format: "pretty", destination });
    log.warn({ network: "xmpp", secret: "hunter2" }, "cannot connect to the XMPP server");
    expect(out).toMatch(/^\[\d\d:\d\d:\d\d\] WARN: cannot connect to the XMPP server/);
    expect(out).toContain('"network":"xmpp"');
    expect(out).not.toContain("hunter2");
    expect(out).not.toMatch(/^\{/);
  });
});
