/**
 * Watching Junction run while Discord goes away, end to end: the Discord emulator's gateway and
 * REST go down (startOutage: live connections cut, upgrades refused with 503, REST 502) and come
 * back; a real Prosody holds the other side of the link. /health turns 503 naming discord (since
 * when, with the gateway's last error), /metrics shows it disconnected, and both turn back when
 * Discord returns, with what was said on XMPP meanwhile delivered.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DiscordAdapter } from "../../bridges/discord/adapter.ts";
import { XmppAdapter } from "../../bridges/xmpp/adapter.ts";
import { runJunction, type RunningJunction } from "../../core/app.ts";
import { startDiscordEmulator, type DiscordEmulator } from "../discord-emulator/index.ts";
import { freePort } from "../harness/ports.ts";
import { trackTempDir } from "../harness/process.ts";
import { startProsody, type ProsodyServer } from "../harness/prosody.ts";
import { until } from "../harness/until.ts";
import { newPerson, type Person } from "../harness/xmpp-person.ts";

let prosody: ProsodyServer;
let emu: DiscordEmulator;
let junction: RunningJunction;
let x: Person;
let base: string;
let room: string;

interface Health { status: string; problems?: { network: string; room?: string; state: string; since: string; lastError?: string }[] }

async function health(): Promise<{ code: number; body: Health }> {
  const res = await fetch(`${base}/health`);
  return { code: res.status, body: await res.json() as Health };
}

async function connected(network: string): Promise<number | undefined> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = new RegExp(`^junction_network_connected\\{network="${network}"\\} (\\d+)$`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
}

beforeAll(async () => {
  [prosody, emu] = await Promise.all([startProsody(), startDiscordEmulator({ channels: ["watch"], heartbeatIntervalMs: 5000 })]);
  room = `watch-discord@${prosody.mucDomain}`;
  x = await newPerson(prosody, "watcher");
  await x.join(room, "x", { maxHistory: 0 });
  const dir = mkdtempSync(join(tmpdir(), "junction-watch-discord-"));
  trackTempDir(dir);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const log = pino({ level: "warn" });
  junction = await runJunction({
    store: { path: join(dir, "junction.db") },
    http: { listen: { host: "127.0.0.1", port }, publicUrl: base },
    links: { watch: { xmpp: [room], discord: [emu.channel.id] } },
  }, [
    new XmppAdapter({ server: prosody.componentService, component: prosody.componentDomain, secret: prosody.componentSecret, nick: "Junction", history: 0 }, log.child({ network: "xmpp" })),
    new DiscordAdapter({ token: emu.token, api: emu.api, cdn: emu.cdn, everyone: [], catchUp: 500 }, log.child({ network: "discord" })),
  ], log);
  await until("both networks ready", () => junction.connected().get("xmpp") === true && junction.connected().get("discord") === true, 30_000);
}, 120_000);

afterAll(async () => {
  await x?.stop();
  await junction?.stop();
  await emu?.stop();
  await prosody?.stop();
});

it("Discord's gateway down: /health is 503 naming discord and /metrics shows it disconnected; both recover when it returns", async () => {
  await until("health 200", async () => (await health()).code === 200, 20_000);
  expect(await connected("discord")).toBe(1);

  const downAt = Date.now();
  emu.startOutage({ resumable: true });
  const down = await until("health 503 naming discord", async () => {
    const r = await health();
    return r.code === 503 && r.body.problems?.some((p) => p.network === "discord") ? r : undefined;
  }, 20_000, 200);
  expect(down.body.status).toBe("degraded");
  const p = down.body.problems!.find((q) => q.network === "discord")!;
  expect(p.state).toBe("disconnected");
  expect(Date.parse(p.since)).toBeGreaterThanOrEqual(downAt - 1000);
  expect(p.lastError).toMatch(/gateway/);
  // Only Discord is named: XMPP and its room are fine, and Discord's channel is not named again.
  expect(down.body.problems!.map((q) => q.network)).toEqual(["discord"]);
  expect(await connected("discord")).toBe(0);
  expect(await connected("xmpp")).toBe(1);

  // Said on XMPP while Discord is away: waits, then arrives.
  await x.say(room, "said while discord is down");

  emu.endOutage();
  const up = await until("health 200 again", async () => { const r = await health(); return r.code === 200 ? r : undefined; }, 60_000, 200);
  expect(up.body).toEqual({ status: "ok", problems: [] });
  expect(await connected("discord")).toBe(1);
  await until("the held message on Discord", () => emu.seen(emu.channel.id).some((m) => m.content === "said while discord is down"), 30_000);
}, 120_000);

it("a short drop (the gateway connection cut, then resumed) turns /health back to 200 by itself", async () => {
  emu.dropGateway({ resumable: false });
  await until("health 200 after the re-identify", async () => (await health()).code === 200 && (await connected("discord")) === 1, 30_000, 200);
  await x.say(room, "after the drop");
  await until("a message after the drop on Discord", () => emu.seen(emu.channel.id).some((m) => m.content === "after the drop"), 30_000);
}, 60_000);
