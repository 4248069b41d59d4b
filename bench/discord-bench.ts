/**
 * To Discord, with the emulator's realistic limits (test/discord-emulator/ratelimit.ts: a webhook
 * executes 5 messages per 2 s): a burst from XMPP into one channel through its one webhook, how
 * fast it arrives against what the limit allows, in order or not, and how many requests were
 * answered 429 (each one a request the X-RateLimit-* headers said not to make). Then one XMPP
 * burst into a room linked to both a Matrix room and a Discord channel: each destination's time
 * against the same burst into a room linked to that destination alone (the queues are per room,
 * so neither may slow the other).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { generateRegistration } from "../bridges/matrix/registration.ts";
import { buildAdapters } from "../bridges/registry.ts";
import { parseConfig } from "../config/load.ts";
import { runJunction } from "../core/app.ts";
import { DEFAULT_LIMITS } from "../test/discord-emulator/ratelimit.ts";
import { startDiscordEmulator, type DiscordEmulator } from "../test/discord-emulator/index.ts";
import { registerPerson, type MatrixPerson } from "../test/harness/matrix-person.ts";
import { freePort } from "../test/harness/ports.ts";
import type { ProsodyServer } from "../test/harness/prosody.ts";
import { startSynapse } from "../test/harness/synapse.ts";
import { until } from "../test/harness/until.ts";
import { newPerson, type Person } from "../test/harness/xmpp-person.ts";

export interface DiscordBurst {
  count: number;
  arrived: number;
  inOrder: boolean;
  perSecond: number;
  /** What the webhook bucket allows for this many messages: the first window at once, then limit per window. */
  allowedPerSecond: number;
  /** Webhook executes made, and how many of them were answered 429. */
  requests: number;
  rateLimited: number;
}

export interface Together {
  count: number;
  matrixAloneMs: number;
  matrixTogetherMs: number;
  discordAloneMs: number;
  discordTogetherMs: number;
  inOrder: boolean;
}

export interface DiscordBenchResult { burst: DiscordBurst; together?: Together }

const EXECUTE = "POST /webhooks/:webhook/:token";

export async function benchDiscord(prosody: ProsodyServer, opts: { burst: number; together: number; matrix: boolean }): Promise<DiscordBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), "junction-bench-discord-"));
  const emu = await startDiscordEmulator({ channels: ["alone", "both"], heartbeatIntervalMs: 5000 });
  const [alone, both] = emu.channels.map((c) => c.id) as [string, string];
  const muc = (name: string) => `dbench-${name}@${prosody.mucDomain}`;
  const log = pino({ level: "warn" });
  let synapse: Awaited<ReturnType<typeof startSynapse>> | undefined;
  let alice: MatrixPerson | undefined;
  const x = await newPerson(prosody, "dbench-x");
  try {
    const base = {
      xmpp: { server: prosody.componentService, component: prosody.componentDomain, secret: prosody.componentSecret, nick: "Junction" },
      discord: { token: emu.token, api: emu.api, cdn: emu.cdn },
    };
    const links: Record<string, Record<string, string>> = { alone: { xmpp: muc("alone"), discord: alone } };
    let extra: Record<string, unknown> = {};
    const matrixRooms: Record<string, string> = {};
    if (opts.matrix) {
      const listen = `127.0.0.1:${await freePort()}`;
      const matrix = { homeserver: "http://127.0.0.1:1", domain: "localhost", listen, registration: join(dir, "registration.yaml") };
      const draft = parseConfig({ ...base, matrix, links: { x: { xmpp: ["x@y.z"], matrix: ["!a:b"] } } }, { baseDir: dir });
      writeFileSync(matrix.registration, generateRegistration(draft.matrix!));
      synapse = await startSynapse({ registration: matrix.registration });
      alice = await registerPerson(synapse, "dbench-alice");
      for (const name of ["monly", "both"]) matrixRooms[name] = await alice.createRoom({ preset: "public_chat", alias: `dbench${name}` });
      links.monly = { xmpp: muc("monly"), matrix: "#dbenchmonly:localhost" };
      links.both = { xmpp: muc("both"), matrix: "#dbenchboth:localhost", discord: both };
      extra = { matrix: { ...matrix, homeserver: synapse.url } };
    }
    const config = parseConfig({ ...base, ...extra, links }, { baseDir: dir });
    const app = await runJunction({ ...config, store: { path: join(dir, "junction.db") } }, await buildAdapters(config, log), log);
    try {
      await until("Junction ready", () => [...app.connected().values()].every(Boolean) && app.connected().size === (opts.matrix ? 3 : 2), 60_000);
      for (const name of Object.keys(links)) await x.join(muc(name), "x", { maxHistory: 0 });
      // Warm-up: the webhook, the puppet and the ghost exist before the clock starts.
      for (const name of Object.keys(links)) await x.say(muc(name), "warm-up");
      await until("warm-up on Discord", () => [alone, ...(opts.matrix ? [both] : [])].every((c) => onDiscord(emu, c, "warm-up").length === 1), 60_000);
      if (alice) await until("warm-up on Matrix", () => Object.values(matrixRooms).every((id) => onMatrix(alice!, id, "warm-up").length === 1), 60_000);
      // A fresh window for the webhook bucket.
      await sleep(DEFAULT_LIMITS["webhook.execute"]!.windowMs + 100);

      const burst = await discordBurst(emu, x, muc("alone"), alone, opts.burst);
      let together: Together | undefined;
      if (alice) {
        const n = opts.together;
        await sleep(DEFAULT_LIMITS["webhook.execute"]!.windowMs + 100);
        const matrixAloneMs = await timed(x, muc("monly"), "m", n, () => onMatrix(alice!, matrixRooms.monly!, "m ").length >= n);
        const discordAloneMs = await timed(x, muc("alone"), "d", n, () => onDiscord(emu, alone, "d ").length >= n);
        await sleep(DEFAULT_LIMITS["webhook.execute"]!.windowMs + 100);
        const t0 = performance.now();
        for (let i = 0; i < n; i++) await x.say(muc("both"), `b ${i}`);
        const [matrixTogetherMs, discordTogetherMs] = await Promise.all([
          until("together on Matrix", () => onMatrix(alice!, matrixRooms.both!, "b ").length >= n && performance.now() - t0, 600_000, 10),
          until("together on Discord", () => onDiscord(emu, both, "b ").length >= n && performance.now() - t0, 600_000, 10),
        ]);
        const want = Array.from({ length: n }, (_, i) => `b ${i}`);
        const inOrder = same(onMatrix(alice, matrixRooms.both!, "b "), want) && same(onDiscord(emu, both, "b "), want);
        together = { count: n, matrixAloneMs, matrixTogetherMs, discordAloneMs, discordTogetherMs, inOrder };
      }
      return { burst, ...(together ? { together } : {}) };
    } finally {
      await app.stop();
    }
  } finally {
    await x.stop();
    await alice?.stop();
    await synapse?.stop();
    await emu.stop();
  }
}

async function discordBurst(emu: DiscordEmulator, x: Person, room: string, channel: string, count: number): Promise<DiscordBurst> {
  const before = emu.stats().routes[EXECUTE] ?? { requests: 0, rateLimited: 0 };
  const arrivals: { content: string; at: number }[] = [];
  const onCreate = (m: { channelId: string; webhookId: string | null; content: string }): void => {
    if (m.channelId === channel && m.webhookId && m.content.startsWith("burst ")) arrivals.push({ content: m.content, at: performance.now() });
  };
  emu.events.on("messageCreate", onCreate);
  const t0 = performance.now();
  try {
    for (let i = 0; i < count; i++) await x.say(room, `burst ${i}`);
    const { limit, windowMs } = DEFAULT_LIMITS["webhook.execute"]!;
    const floorMs = (Math.ceil(count / limit) - 1) * windowMs;
    await until("the Discord burst", () => arrivals.length >= count, floorMs * 3 + 60_000, 50).catch(() => undefined);
    await sleep(500); // a late duplicate would show here
  } finally {
    emu.events.off("messageCreate", onCreate);
  }
  const after = emu.stats().routes[EXECUTE] ?? { requests: 0, rateLimited: 0 };
  const { limit, windowMs } = DEFAULT_LIMITS["webhook.execute"]!;
  const floorMs = (Math.ceil(count / limit) - 1) * windowMs;
  const last = arrivals.at(-1)?.at ?? t0;
  return {
    count,
    arrived: arrivals.length,
    inOrder: same(arrivals.map((a) => a.content), Array.from({ length: count }, (_, i) => `burst ${i}`)),
    perSecond: arrivals.length > 1 ? (arrivals.length / (last - t0)) * 1000 : 0,
    allowedPerSecond: (count / Math.max(floorMs, 1)) * 1000,
    requests: after.requests - before.requests,
    rateLimited: after.rateLimited - before.rateLimited,
  };
}

/** Sends `n` messages into `room` and resolves with the ms until `done` holds. */
async function timed(x: Person, room: string, prefix: string, n: number, done: () => boolean): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await x.say(room, `${prefix} ${i}`);
  await until(`${prefix} burst`, done, 600_000, 10);
  return performance.now() - t0;
}

const onDiscord = (emu: DiscordEmulator, channel: string, prefix: string) =>
  emu.seen(channel).filter((m) => m.webhookId && m.content.startsWith(prefix)).map((m) => m.content);
const onMatrix = (p: MatrixPerson, roomId: string, prefix: string) =>
  p.timeline(roomId).map((e) => String(e.content.body ?? "")).filter((b) => b.startsWith(prefix));
const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((v, i) => v === b[i]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
