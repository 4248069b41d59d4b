/**
 * To Matrix: what Synapse itself accepts from one sender into one room, against Junction carrying
 * a burst from XMPP rooms into linked Matrix rooms (order checked in every room), and Junction's
 * own share of each hop (commit to send start, from its metrics).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { buildAdapters } from "../bridges/registry.ts";
import { generateRegistration } from "../bridges/matrix/registration.ts";
import { parseConfig } from "../config/load.ts";
import { runJunction } from "../core/app.ts";
import { registerPerson } from "../test/harness/matrix-person.ts";
import { freePort } from "../test/harness/ports.ts";
import type { ProsodyServer } from "../test/harness/prosody.ts";
import { startSynapse } from "../test/harness/synapse.ts";
import { newPerson } from "../test/harness/xmpp-person.ts";

export interface MatrixBenchResult {
  synapseDirectPerSecond: number;
  junctionPerSecond: number;
  rooms: number;
  perRoom: number;
  inOrder: boolean;
  received: number;
  hopP50Ms: number;
  hopP99Ms: number;
}

export async function benchMatrix(prosody: ProsodyServer, opts: { rooms: number; perRoom: number }): Promise<MatrixBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), "junction-bench-matrix-"));
  const listenPort = await freePort();
  const matrix = { homeserver: "http://127.0.0.1:1", domain: "localhost", listen: `127.0.0.1:${listenPort}`, registration: join(dir, "registration.yaml") };
  const draft = parseConfig({ matrix, xmpp: { server: prosody.componentService, component: prosody.componentDomain, secret: prosody.componentSecret }, links: { x: { xmpp: ["x@y.z"], matrix: ["!a:b"] } } }, { baseDir: dir });
  writeFileSync(matrix.registration, generateRegistration(draft.matrix!));
  const synapse = await startSynapse({ registration: matrix.registration });
  const alice = await registerPerson(synapse, "bench-alice");
  const log = pino({ level: "warn" });
  try {
    // Synapse alone: one sender, one room, each send awaited (what a room's ordered queue does).
    const direct = await alice.createRoom({ preset: "public_chat" });
    const n = opts.perRoom;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await alice.say(direct, `direct ${i}`);
    const synapseDirectPerSecond = (n / (performance.now() - t0)) * 1000;

    const links: Record<string, { xmpp: string; matrix: string }> = {};
    const roomIds: string[] = [];
    for (let r = 0; r < opts.rooms; r++) {
      roomIds.push(await alice.createRoom({ preset: "public_chat", alias: `bench${r}` }));
      links[`l${r}`] = { xmpp: `mbench${r}@${prosody.mucDomain}`, matrix: `#bench${r}:localhost` };
    }
    const config = parseConfig({ ...draft, matrix: { ...matrix, homeserver: synapse.url }, links }, { baseDir: dir });
    const app = await runJunction({ ...config, store: { path: join(dir, "junction.db") } }, await buildAdapters(config, log), log);
    try {
      await waitFor(() => app.connected().get("matrix") === true && app.connected().get("xmpp") === true, 60_000, "Junction ready");
      const bob = await newPerson(prosody, "bench-bob");
      for (let r = 0; r < opts.rooms; r++) await bob.join(`mbench${r}@${prosody.mucDomain}`, "bob", { maxHistory: 0 });
      // Warm-up: bob's ghost is registered and joined in every room before the clock starts.
      for (let r = 0; r < opts.rooms; r++) await bob.say(`mbench${r}@${prosody.mucDomain}`, "warm-up");
      await waitFor(() => roomIds.every((id) => bodies(alice.timeline(id)).includes("warm-up")), 60_000, "warm-up");
      const start = performance.now();
      for (let i = 0; i < n; i++) for (let r = 0; r < opts.rooms; r++) await bob.say(`mbench${r}@${prosody.mucDomain}`, `burst ${i}`);
      await waitFor(() => roomIds.every((id) => burst(alice.timeline(id)).length >= n), 300_000, "burst");
      const elapsed = performance.now() - start;
      const inOrder = roomIds.every((id) => burst(alice.timeline(id)).every((b, i) => b === `burst ${i}`));
      const received = roomIds.reduce((s, id) => s + burst(alice.timeline(id)).length, 0);
      const hop = (await app.metrics.hop.get()).values.filter((v) => v.labels.network === "matrix");
      const q = (p: number) => (hop.find((v) => (v.labels as Record<string, unknown>).quantile === p)?.value ?? NaN) * 1000;
      await bob.stop();
      return {
        synapseDirectPerSecond, junctionPerSecond: (received / elapsed) * 1000 / opts.rooms, rooms: opts.rooms, perRoom: n,
        inOrder, received, hopP50Ms: q(0.5), hopP99Ms: q(0.99),
      };
    } finally {
      await app.stop();
    }
  } finally {
    await alice.stop();
    await synapse.stop();
  }
}

const bodies = (events: readonly { content: Record<string, unknown> }[]) => events.map((e) => String(e.content.body ?? ""));
const burst = (events: readonly { content: Record<string, unknown> }[]) => bodies(events).filter((b) => b.startsWith("burst "));

async function waitFor(ok: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
