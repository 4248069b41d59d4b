/**
 * Watching Junction run, end to end: real Prosody and Synapse, the real core with its HTTP
 * listener. Prosody is killed and started again: /health turns 503 naming the XMPP network (since
 * when, and the refused connection as the last error), /metrics shows it disconnected, the status
 * page (rendered by headless Chromium) says so; then everything turns back. Synapse is stopped
 * and started too (noticed while the rooms are quiet). The log says the
 * refused connection with its cause, not once per attempt.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MatrixAdapter } from "../../bridges/matrix/adapter.ts";
import { XmppAdapter } from "../../bridges/xmpp/adapter.ts";
import { runJunction, type RunningJunction } from "../../core/app.ts";
import { dumpDom, screenshot } from "../harness/chromium.ts";
import { matrixPerson, type MatrixPerson } from "../harness/matrix-person.ts";
import { freePort } from "../harness/ports.ts";
import { trackTempDir } from "../harness/process.ts";
import { startProsody, type ProsodyServer } from "../harness/prosody.ts";
import { until } from "../harness/until.ts";
import { startTestSynapse, type TestSynapse } from "./matrix-synapse.fixture.ts";
import { Person } from "./xmpp.fixture.ts";

const MUC = "watch@conference.localhost";
const ALIAS = "#watch:localhost";

let prosody: ProsodyServer;
let syn: TestSynapse;
let junction: RunningJunction;
let alice: MatrixPerson;
let roomId: string;
let bob: Person;
let base: string;
const lines: Record<string, unknown>[] = [];

interface Health { status: string; problems?: { network: string; room?: string; state: string; since: string; lastError?: string }[] }

async function health(): Promise<{ code: number; body: Health }> {
  const res = await fetch(`${base}/health`);
  return { code: res.status, body: await res.json() as Health };
}

async function metrics(): Promise<string> {
  const res = await fetch(`${base}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

/** One sample's value from the exposition text, 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    const m = /^(\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = (m[2] ?? "").split(",");
    if (want.every((w) => have.includes(w))) return Number(m[3]);
  }
  return 0;
}

beforeAll(async () => {
  [prosody, syn] = await Promise.all([startProsody(), startTestSynapse()]);
  await prosody.registerUser("bob", "pw");
  const a = await syn.registerUser("alice", "Alice");
  alice = matrixPerson(syn.url, a.userId, a.token);
  roomId = (await alice.request("POST", "/client/v3/createRoom", { preset: "public_chat", room_alias_name: "watch", name: "Watch" }) as { room_id: string }).room_id;
  bob = new Person(prosody, "bob", MUC);
  await bob.join();
  const dir = mkdtempSync(join(tmpdir(), "junction-watch-"));
  trackTempDir(dir);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const log = pino({ level: "debug" }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
  const xmpp = new XmppAdapter({
    server: prosody.componentService, component: prosody.componentDomain, secret: prosody.componentSecret, nick: "Junction", history: 0,
  }, log.child({ network: "xmpp" }));
  const matrix = new MatrixAdapter(syn.matrixConfig, log.child({ network: "matrix" }));
  junction = await runJunction({
    store: { path: join(dir, "junction.db") },
    http: { listen: { host: "127.0.0.1", port }, publicUrl: base },
    links: { watch: { xmpp: [MUC], matrix: [ALIAS] } },
  }, [xmpp, matrix], log);
  await until("both networks ready", () => junction.connected().get("xmpp") === true && junction.connected().get("matrix") === true, 30_000);
}, 180_000);

afterAll(async () => {
  await bob?.stop();
  await alice?.stop();
  await junction?.stop();
  await prosody?.stop();
  await syn?.stop();
});

describe("metrics, health and the status page", () => {
  it("all well: /health is 200, /metrics counts a message each way", async () => {
    const h = await until("health 200", async () => { const r = await health(); return r.code === 200 ? r : undefined; }, 20_000);
    expect(h.body).toEqual({ status: "ok", problems: [] });
    await alice.send(roomId, { msgtype: "m.text", body: "hello from matrix" });
    await bob.waitFor((el) => el.is("message") && el.getChildText("body") === "hello from matrix", 15_000);
    const m = await until("the delivery counted", async () => {
      const t = await metrics();
      return sample(t, "junction_events_out_total", { network: "xmpp", kind: "message", outcome: "delivered" }) >= 1 ? t : undefined;
    });
    expect(sample(m, "junction_events_in_total", { network: "matrix", kind: "message" })).toBeGreaterThanOrEqual(1);
    expect(sample(m, "junction_network_connected", { network: "xmpp" })).toBe(1);
    expect(sample(m, "junction_network_connected", { network: "matrix" })).toBe(1);
    expect(sample(m, "junction_rooms", { network: "xmpp", state: "joined" })).toBe(1);
    expect(sample(m, "junction_rooms", { network: "matrix", state: "joined" })).toBe(1);
    expect(sample(m, "junction_delivery_seconds_count", { network: "xmpp" })).toBeGreaterThanOrEqual(1);
    expect(sample(m, "junction_bridge_hop_seconds_count", { network: "xmpp" })).toBeGreaterThanOrEqual(1); // a histogram (buckets, sum, count)
    expect(sample(m, "junction_bridge_hop_seconds_bucket", { network: "xmpp", le: "+Inf" })).toBe(sample(m, "junction_bridge_hop_seconds_count", { network: "xmpp" }));
    expect(sample(m, "junction_puppets", { network: "xmpp" })).toBeGreaterThanOrEqual(1);
    expect(m).toContain("junction_outbox_depth");
    expect(m).toMatch(/junction_progress_total\{network="xmpp",operation="join"\} 1/);
  });

  it("Prosody killed: /health is 503 naming xmpp, /metrics shows it down, the status page says so; back again after a restart", async () => {
    const killedAt = Date.now();
    await prosody.kill();
    const down = await until("health 503", async () => { const r = await health(); return r.code === 503 && r.body.problems?.[0]?.lastError ? r : undefined; }, 20_000);
    expect(down.body.status).toBe("degraded");
    expect(down.body.problems).toHaveLength(1); // the network once, not again for each of its rooms
    const p = down.body.problems![0]!;
    expect(p.network).toBe("xmpp");
    expect(p.state).toBe("disconnected");
    expect(Date.parse(p.since)).toBeGreaterThanOrEqual(killedAt - 1000);
    expect(p.lastError).toMatch(/connection refused\. Is the XMPP server running/);
    expect(sample(await metrics(), "junction_network_connected", { network: "xmpp" })).toBe(0);

    // Matrix keeps working: what Alice says waits in the outbox for XMPP.
    await alice.send(roomId, { msgtype: "m.text", body: "said while xmpp is down" });
    await until("the outbox holds it", async () => sample(await metrics(), "junction_outbox_depth", {}) >= 1, 15_000);

    const dom = await dumpDom(`${base}/`);
    expect(dom).toContain("<title>Junction status</title>");
    expect(dom).toMatch(/id="verdict">1 problem: xmpp disconnected/);
    expect(dom).toMatch(/<td>xmpp<\/td><td>disconnected<\/td>/);
    expect(dom).toContain(MUC);
    expect(dom).toContain(roomId);
    expect(dom).toMatch(/<td>matrix<\/td><td>connected<\/td>/);
    expect(dom).toContain("<h3>watch</h3>");
    expect(dom).not.toContain(prosody.componentSecret);
    expect(dom).not.toContain("<script");
    await screenshot(`${base}/`, "status-page-xmpp-down.png");

    // Some attempts later, the refusal is still said a handful of times, not once per attempt.
    await new Promise((r) => setTimeout(r, 4000));
    const refused = lines.filter((l) => typeof l.msg === "string" && l.msg.includes("connection refused"));
    const warned = refused.filter((l) => l.level === 40);
    expect(refused.length).toBeGreaterThanOrEqual(3);
    expect(warned.length).toBeLessThan(refused.length);
    expect(warned.map((l) => l.attempts)).toEqual(refused.map((l) => l.attempts).filter((n) => [1, 2, 4, 8, 16].includes(n as number)));
    expect(lines.filter((l) => l.msg === "XMPP stream error" && (l.level as number) >= 40)).toEqual([]);

    await prosody.restart();
    const up = await until("health 200 again", async () => { const r = await health(); return r.code === 200 ? r : undefined; }, 60_000);
    expect(up.body).toEqual({ status: "ok", problems: [] });
    const m = await metrics();
    expect(sample(m, "junction_network_connected", { network: "xmpp" })).toBe(1);
    expect(sample(m, "junction_rooms", { network: "xmpp", state: "joined" })).toBe(1);
    await until("the held message delivered", async () => sample(await metrics(), "junction_events_out_total", { network: "xmpp", kind: "message", outcome: "delivered" }) >= 2, 30_000);
    const dom2 = await dumpDom(`${base}/`);
    expect(dom2).toContain("All networks connected and all linked rooms joined.");
    expect(dom2).toMatch(/<td>xmpp<\/td><td>connected<\/td>/);
    await screenshot(`${base}/`, "status-page-all-well.png");
  }, 150_000);

  it("Synapse stopped while the rooms are quiet: noticed within seconds, named by /health, and back after a start", async () => {
    const stoppedAt = Date.now();
    await syn.stop({ keepData: true });
    const down = await until("health names matrix", async () => {
      const r = await health();
      return r.code === 503 && r.body.problems?.some((p) => p.network === "matrix" && p.lastError) ? r : undefined;
    }, 40_000, 500);
    const p = down.body.problems!.find((q) => q.network === "matrix")!;
    expect(p).toMatchObject({ network: "matrix", state: "disconnected" });
    expect(p.lastError).toMatch(/unreachable/);
    expect(Date.parse(p.since)).toBeGreaterThanOrEqual(stoppedAt - 1000);
    expect(down.body.problems!.filter((q) => q.network === "xmpp")).toEqual([]);
    expect(sample(await metrics(), "junction_network_connected", { network: "matrix" })).toBe(0);
    await syn.start();
    await until("health 200 after Synapse is back", async () => (await health()).code === 200, 90_000, 500);
    expect(sample(await metrics(), "junction_network_connected", { network: "matrix" })).toBe(1);
  }, 180_000);

  it("a request naming another host (DNS rebinding) gets nothing", async () => {
    const { request } = await import("node:http");
    const code = await new Promise<number>((resolve, reject) => {
      request(`${base}/metrics`, { headers: { host: "attacker.example" } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on("error", reject).end();
    });
    expect(code).toBe(404);
  });
});
