/** XMPP to XMPP: Junction linking two MUCs against a do-nothing puppeting relay, same Prosody, same run. */
import { startProsody, type ProsodyServer } from "../test/harness/prosody.ts";
import { spawnJunction } from "../test/harness/junction-process.ts";
import { spawnRelay } from "./relay.ts";
import { measureLatency, measureThroughput, type LatencyResult, type ThroughputResult } from "./xmpp-raw.ts";

export interface XmppBenchResult {
  relay: { throughput: ThroughputResult[]; latency: LatencyResult[] };
  junction: { throughput: ThroughputResult[]; latency: LatencyResult[] };
  /** Junction as it was before (opts.beforeRoot), in the same rounds; throughput and CPU only. */
  before: { throughput: ThroughputResult[]; latency: LatencyResult[] };
}

export interface XmppBenchOptions {
  rounds: number;
  count: number;
  /** 0: no latency run. */
  latencyMs: number;
  /** Only these contenders (default both). */
  only?: "relay" | "junction";
  /** A checkout of an older Junction (bench/before.sh) measured as a third contender. */
  beforeRoot?: string;
}

type Contender = "relay" | "junction" | "before";

/** MUC archives off: the benchmark measures the bridge, not Prosody's archive appends. */
const NO_MAM = `  modules_disabled = { "muc_mam" }`;

export async function benchXmpp(opts: XmppBenchOptions): Promise<XmppBenchResult> {
  const out: XmppBenchResult = { relay: { throughput: [], latency: [] }, junction: { throughput: [], latency: [] }, before: { throughput: [], latency: [] } };
  const before: Contender[] = opts.beforeRoot && opts.only !== "relay" ? ["before"] : [];
  const who: Contender[] = opts.only ? [opts.only, ...before] : ["relay", "junction", ...before];
  for (let round = 0; round < opts.rounds; round++) {
    // A fresh Prosody per contender and round: whoever ran second would otherwise meet a server
    // that has warmed up (or filled up) for the first.
    // Junction and the Junction before alternate which goes first: the machine drifts within an hour.
    const order = round % 2 === 1 && who.includes("before") ? who.map((w) => (w === "junction" ? "before" : w === "before" ? "junction" : w)) : who;
    for (const w of order) {
      const prosody = await startProsody({ logLevel: "warn", extraMucConfig: NO_MAM });
      const roomA = `bench-${w}-${round}-a@${prosody.mucDomain}`;
      const roomB = `bench-${w}-${round}-b@${prosody.mucDomain}`;
      const contender = w === "relay"
        ? await spawnRelay({ service: prosody.componentService, domain: prosody.componentDomain, secret: prosody.componentSecret, roomA, roomB })
        : await startJunction(prosody, roomA, roomB, w === "before" ? opts.beforeRoot : undefined);
      try {
        await new Promise((r) => setTimeout(r, 300));
        out[w].throughput.push(await measureThroughput({ prosody, roomA, roomB, count: opts.count, warmup: 300, pid: contender.pid }));
        if (opts.latencyMs > 0 && w !== "before") out[w].latency.push(await measureLatency({ prosody, roomA, roomB, rate: 100, durationMs: opts.latencyMs }));
      } finally {
        await contender.stop();
        await prosody.stop();
      }
      const t = out[w].throughput.at(-1)!;
      const l = out[w].latency.at(-1);
      process.stderr.write(`  xmpp round ${round + 1} ${w}: ${t.perSecond.toFixed(0)} msg/s, ${((t.cpuMs ?? NaN) / t.received).toFixed(3)} ms CPU/msg${l ? `, p99 ${l.p99.toFixed(1)} ms` : ""}\n`);
    }
  }
  return out;
}

async function startJunction(prosody: ProsodyServer, roomA: string, roomB: string, root?: string): Promise<{ pid: number; stop(): Promise<void> }> {
  const j = await spawnJunction({
    xmpp: { server: prosody.componentService, component: prosody.componentDomain, secret: prosody.componentSecret, nick: "Junction" },
    links: { bench: { xmpp: [roomA, roomB] } },
  }, 1, root ? { root } : {});
  return { pid: j.pid, stop: () => j.stop() };
}

/**
 * `node bench/xmpp-bench.ts [junction|relay] [rounds] [count]`: throughput and CPU only, for
 * profiling (JUNCTION_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=DIR" profiles Junction). With
 * BENCH_BEFORE=DIR (bench/before.sh [COMMIT]) that checkout runs in the same rounds, order
 * alternating: a quick A/B of a change's CPU per message.
 */
if (import.meta.url === `file://${process.argv[1]}`) {
  const only = process.argv[2] === "relay" || process.argv[2] === "junction" ? process.argv[2] : undefined;
  const r = await benchXmpp({ rounds: Number(process.argv[3] ?? 1), count: Number(process.argv[4] ?? 4000), latencyMs: 0, ...(only ? { only } : {}), ...(process.env.BENCH_BEFORE ? { beforeRoot: process.env.BENCH_BEFORE } : {}) });
  console.log(JSON.stringify(r));
  process.exit(0);
}
