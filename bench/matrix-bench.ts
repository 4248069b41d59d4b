/**
 * To Matrix: what Synapse itself accepts from one sender into one room, against Junction carrying
 * a burst from XMPP rooms into linked Matrix rooms (order checked in every room), and Junction's
 * own share of each hop (commit to send start, from its metrics).
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { parse } from "yaml";
import { buildAdapters } from "../bridges/registry.ts";
import { generateRegistration } from "../bridges/matrix/registration.ts";
import { parseConfig } from "../config/load.ts";
import { runJunction } from "../core/app.ts";
import { registerPerson } from "../test/harness/matrix-person.ts";
import { freePort } from "../test/harness/ports.ts";
import type { ProsodyServer } from "../test/harness/prosody.ts";
import { startSynapse } from "../test/harness/synapse.ts";
import { newPerson } from "../test/harness/xmpp-person.ts";
import { until } from "../test/harness/until.ts";

export interface MatrixBenchResult {
  /** One sender, one room, each send awaited: what Synapse itself accepts. */
  directOneRoom: number;
  /** A burst from XMPP bridged into one Matrix room. */
  junctionOneRoom: number;
  /** Four senders into four rooms at once, against a burst into four linked rooms. */
  directFourRooms: number;
  junctionFourRooms: number;
  inOrder: boolean;
  received: number;
  expected: number;
  /** Junction's own share of a hop (commit to send start) at a steady 5 msg/s, each direction. */
  hopToMatrix: { p50: number; p99: number };
  hopToXmpp: { p50: number; p99: number };
}

export async function benchMatrix(prosody: ProsodyServer, opts: { perRoom: number }): Promise<MatrixBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), "junction-bench-matrix-"));
  const listenPort = await freePort();
  const matrix = { homeserver: "http://127.0.0.1:1", domain: "localhost", listen: `127.0.0.1:${listenPort}`, registration: join(dir, "registration.yaml") };
  const draft = parseConfig({ matrix, xmpp: { server: prosody.componentService, component: prosody.componentDomain, secret: prosody.componentSecret }, links: { x: { xmpp: ["x@y.z"], matrix: ["!a:b"] } } }, { baseDir: dir });
  writeFileSync(matrix.registration, generateRegistration(draft.matrix!));
  const synapse = await startSynapse({ registration: matrix.registration });
  const alice = await registerPerson(synapse, "bench-alice");
  const log = pino({ level: "warn" });
  const n = opts.perRoom;
  try {
    const asToken = (parse(readFileSync(matrix.registration, "utf8")) as { as_token: string }).as_token;
    const links: Record<string, { xmpp: string; matrix: string }> = {};
    const roomIds: string[] = [];
    for (let r = 0; r < 5; r++) {
      roomIds.push(await alice.createRoom({ preset: "public_chat", alias: `bench${r}` }));
      links[`l${r}`] = { xmpp: `mbench${r}@${prosody.mucDomain}`, matrix: `#bench${r}:localhost` };
    }
    const muc = (r: number) => `mbench${r}@${prosody.mucDomain}`;
    const config = parseConfig({ ...draft, matrix: { ...matrix, homeserver: synapse.url }, links }, { baseDir: dir });
    const app = await runJunction({ ...config, store: { path: join(dir, "junction.db") } }, await buildAdapters(config, log), log);
    const bob = await newPerson(prosody, "bench-bob");
    try {
      await until("Junction ready", () => app.connected().get("matrix") === true && app.connected().get("xmpp") === true, 60_000);
      for (let r = 0; r < 5; r++) await bob.join(muc(r), "bob", { maxHistory: 0 });
      // Warm-up: bob's ghost is registered and joined in every room before the clock starts.
      for (let r = 0; r < 5; r++) await bob.say(muc(r), "warm-up");
      await until("warm-up", () => roomIds.every((id) => bodies(alice.timeline(id)).includes("warm-up")), 60_000);
      app.metrics.hop.reset(); // the warm-up registered and joined ghosts; the hop is measured after

      // The hop, at a rate far below what Synapse takes, so that no queue forms.
      for (let i = 0; i < 50; i++) { await bob.say(muc(4), `steady ${i}`); await sleep(200); }
      await until("steady to Matrix", () => bodies(alice.timeline(roomIds[4]!)).filter((b) => b.startsWith("steady ")).length >= 50, 60_000);
      for (let i = 0; i < 50; i++) { await alice.say(roomIds[4]!, `back ${i}`); await sleep(200); }
      await until("steady to XMPP", () => bob.messages(muc(4)).filter((m) => (m.getChildText("body") ?? "").startsWith("back ")).length >= 50, 60_000);
      const hop = await quantiles(app);

      // What Synapse itself accepts, measured the same way Junction sends: an appservice user
      // (a ghost of ours, so Junction also receives and drops the homeserver's pushes of it),
      // each PUT awaited, in the same rooms. Alternating with Junction's bursts, medians taken.
      const direct = await directSenders(synapse.url, asToken, roomIds.slice(0, 4));
      const directOne: number[] = [];
      const directFour: number[] = [];
      const junctionOne: number[] = [];
      let sent0 = 0;
      for (let round = 0; round < 2; round++) {
        directOne.push(await rate(n, () => direct.send(0, n)));
        junctionOne.push(await rate(n, async () => {
          for (let i = 0; i < n; i++) await bob.say(muc(0), `burst ${sent0 + i}`);
          sent0 += n;
          await until("burst into one room", () => burst(alice.timeline(roomIds[0]!)).length >= sent0, 300_000);
        }));
        directFour.push(await rate(4 * n, () => Promise.all([0, 1, 2, 3].map((r) => direct.send(r, n)))));
      }
      const junctionFourRooms = await rate(4 * n, async () => {
        for (let i = 0; i < n; i++) for (let r = 0; r < 4; r++) await bob.say(muc(r), `burst ${r === 0 ? sent0 + i : i}`);
        await until("burst into four rooms", () => roomIds.slice(0, 4).every((id, r) => burst(alice.timeline(id)).length >= (r === 0 ? sent0 + n : n)), 300_000);
      });
      const directOneRoom = median(directOne);
      const junctionOneRoom = median(junctionOne);
      const directFourRooms = median(directFour);
      const inOrder = roomIds.slice(0, 4).every((id) => burst(alice.timeline(id)).every((b, i) => b === `burst ${i}`));
      const received = roomIds.slice(0, 4).reduce((s, id) => s + burst(alice.timeline(id)).length, 0);
      return { directOneRoom, junctionOneRoom, directFourRooms, junctionFourRooms, inOrder, received, expected: sent0 + 4 * n, ...hop };
    } finally {
      await bob.stop();
      await app.stop();
    }
  } finally {
    await alice.stop();
    await synapse.stop();
  }
}

/**
 * Appservice users of our namespace sending into rooms, one awaited PUT at a time, with the same
 * content shape Junction sends: an explicit empty `m.mentions` (so bridged text that happens to
 * contain someone's name pings nobody) costs Synapse 3-4 ms per event in push-rule evaluation.
 */
async function directSenders(url: string, asToken: string, rooms: string[]) {
  const call = async (method: string, path: string, user: string | undefined, body: unknown) => {
    const q = user ? `${path.includes("?") ? "&" : "?"}user_id=${encodeURIComponent(user)}` : "";
    const res = await fetch(`${url}${path}${q}`, { method, headers: { authorization: `Bearer ${asToken}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    const json = await res.json() as Record<string, unknown>;
    if (!res.ok && json.errcode !== "M_USER_IN_USE") throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const users = rooms.map((_, r) => `@_junction_benchdirect${r}:localhost`);
  for (const [r, room] of rooms.entries()) {
    await call("POST", "/_matrix/client/v3/register", undefined, { type: "m.login.application_service", username: `_junction_benchdirect${r}` });
    await call("POST", `/_matrix/client/v3/join/${encodeURIComponent(room)}`, users[r], {});
  }
  let txn = 0;
  return {
    async send(r: number, count: number) {
      for (let i = 0; i < count; i++) {
        await call("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(rooms[r]!)}/send/m.room.message/direct-${++txn}`, users[r], { msgtype: "m.text", body: `direct ${i}`, "m.mentions": { user_ids: [] } });
      }
    },
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function rate(count: number, work: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await work();
  return (count / (performance.now() - t0)) * 1000;
}

/** The hop's quantiles in ms, from its histogram, interpolated within a bucket as Prometheus's histogram_quantile does. */
async function quantiles(app: Awaited<ReturnType<typeof runJunction>>) {
  const values = (await app.metrics.hop.get()).values;
  const q = (network: string, p: number): number => {
    const le = (v: (typeof values)[number]) => (v.labels as Record<string, unknown>).le;
    const buckets = values
      .filter((v) => v.metricName === "junction_bridge_hop_seconds_bucket" && v.labels.network === network)
      .map((v) => ({ le: le(v) === "+Inf" ? Infinity : Number(le(v)), count: v.value }))
      .sort((a, b) => a.le - b.le);
    const total = buckets.at(-1)?.count ?? 0;
    if (total === 0) return NaN;
    const rank = p * total;
    let below = 0;
    let lower = 0;
    for (const b of buckets) {
      if (b.count >= rank && b.le === Infinity) return lower * 1000; // above the top bucket: its bound, as Prometheus answers
      if (b.count >= rank) return (lower + ((b.le - lower) * (rank - below)) / Math.max(b.count - below, 1)) * 1000;
      below = b.count;
      lower = b.le;
    }
    return NaN;
  };
  return { hopToMatrix: { p50: q("matrix", 0.5), p99: q("matrix", 0.99) }, hopToXmpp: { p50: q("xmpp", 0.5), p99: q("xmpp", 0.99) } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bodies = (events: readonly { content: Record<string, unknown> }[]) => events.map((e) => String(e.content.body ?? ""));
const burst = (events: readonly { content: Record<string, unknown> }[]) => bodies(events).filter((b) => b.startsWith("burst "));

