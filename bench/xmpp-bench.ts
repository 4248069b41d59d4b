/** XMPP to XMPP: Junction linking two MUCs against a do-nothing relay, same Prosody, same run. */
import { startProsody, type ProsodyServer } from "../test/harness/prosody.ts";
import { spawnJunction } from "../test/harness/junction-process.ts";
import { spawnRelay } from "./relay.ts";
import { measureLatency, measureThroughput, type LatencyResult, type ThroughputResult } from "./xmpp-raw.ts";

export interface XmppBenchResult {
  relay: { throughput: ThroughputResult[]; latency: LatencyResult[] };
  junction: { throughput: ThroughputResult[]; latency: LatencyResult[] };
}

export async function benchXmpp(opts: { rounds: number; count: number; latencyMs: number }): Promise<XmppBenchResult> {
  const out: XmppBenchResult = { relay: { throughput: [], latency: [] }, junction: { throughput: [], latency: [] } };
  for (let round = 0; round < opts.rounds; round++) {
    // A fresh Prosody per contender and round: with MUC MAM on, Prosody gets slower as its
    // archives grow (measured: 1,300 then 870 then 700 msg/s for the same relay in one run), so
    // whoever ran second would be measured on a slower server.
    for (const who of ["relay", "junction"] as const) {
      const prosody = await startProsody({ logLevel: "warn" });
      const roomA = `bench-${who}-${round}-a@${prosody.mucDomain}`;
      const roomB = `bench-${who}-${round}-b@${prosody.mucDomain}`;
      const stop = who === "relay"
        ? (await spawnRelay({ service: prosody.componentService, domain: prosody.componentDomain, secret: prosody.componentSecret, roomA, roomB })).stop
        : await startJunction(prosody, roomA, roomB);
      try {
        await new Promise((r) => setTimeout(r, 300));
        out[who].throughput.push(await measureThroughput({ prosody, roomA, roomB, count: opts.count, warmup: 300 }));
        out[who].latency.push(await measureLatency({ prosody, roomA, roomB, rate: 100, durationMs: opts.latencyMs }));
      } finally {
        await stop();
        await prosody.stop();
      }
      process.stderr.write(`  xmpp round ${round + 1} ${who}: ${out[who].throughput.at(-1)!.perSecond.toFixed(0)} msg/s, p99 ${out[who].latency.at(-1)!.p99.toFixed(1)} ms\n`);
    }
  }
  return out;
}

async function startJunction(prosody: ProsodyServer, roomA: string, roomB: string): Promise<() => Promise<void>> {
  const j = await spawnJunction({
    xmpp: { server: prosody.componentService, component: prosody.componentDomain, secret: prosody.componentSecret, nick: "Junction" },
    links: { bench: { xmpp: [roomA, roomB] } },
  }, 1);
  return () => j.stop();
}
