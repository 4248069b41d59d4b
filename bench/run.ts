/**
 * `npm run bench [xmpp] [matrix] [discord] [memory]`: prints Junction's numbers against the targets.
 * Speed and memory are measured here, never by timed tests.
 */
import { startProsody } from "../test/harness/prosody.ts";
import { benchDiscord } from "./discord-bench.ts";
import { benchMatrix } from "./matrix-bench.ts";
import { benchMemory } from "./memory-bench.ts";
import { benchXmpp } from "./xmpp-bench.ts";

const wanted = new Set(process.argv.slice(2));
const all = wanted.size === 0;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const fmt = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");
const verdict = (ok: boolean) => (ok ? "ok" : "MISSED");

const prosody = await startProsody({ logLevel: "warn" });
try {
  if (all || wanted.has("xmpp")) {
    process.stderr.write("XMPP to XMPP (puppeting relay vs Junction, alternating)...\n");
    const rounds = 5;
    const count = 4000;
    const r = await benchXmpp({ rounds, count, latencyMs: 5_000 });
    // Prosody's speed varies a lot between runs on a shared machine, so each round's Junction
    // figure is compared with the relay's of the same round, measured just before it on a fresh
    // Prosody, and the median of those ratios is taken. CPU time per message is the steady figure.
    const ratios = r.junction.throughput.map((t, i) => t.perSecond / r.relay.throughput[i]!.perSecond);
    const addedP99 = r.junction.latency.map((l, i) => l.p99 - r.relay.latency[i]!.p99);
    const cpu = (ts: typeof r.relay.throughput) => ts.map((t) => (t.cpuMs ?? NaN) / Math.max(t.received, 1));
    const relayTp = median(r.relay.throughput.map((t) => t.perSecond));
    const junctionTp = median(r.junction.throughput.map((t) => t.perSecond));
    const lost = r.junction.throughput.reduce((s, t) => s + t.lost, 0) + r.junction.latency.reduce((s, l) => s + l.lost, 0);
    const spread = (xs: number[], k = 100) => `${fmt(Math.min(...xs) * k, 0)}-${fmt(Math.max(...xs) * k, 0)}`;
    console.log(`\n## XMPP to XMPP (two linked MUCs, one Prosody without MAM, a fresh one per contender and round), ${rounds} rounds of ${count} messages at once`);
    console.log(`relay throughput      ${r.relay.throughput.map((t) => fmt(t.perSecond, 0)).join(", ")} msg/s (median ${fmt(relayTp, 0)})`);
    console.log(`junction throughput   ${r.junction.throughput.map((t) => fmt(t.perSecond, 0)).join(", ")} msg/s (median ${fmt(junctionTp, 0)})`);
    console.log(`junction / relay      ${ratios.map((x) => fmt(x * 100, 0)).join(", ")} % per round; median ${fmt(median(ratios) * 100, 0)} %, spread ${spread(ratios)} % (target >= 80 %: ${verdict(median(ratios) >= 0.8)})`);
    console.log(`CPU per message       relay ${cpu(r.relay.throughput).map((x) => fmt(x, 3)).join(", ")} ms; junction ${cpu(r.junction.throughput).map((x) => fmt(x, 3)).join(", ")} ms (median ${fmt(median(cpu(r.junction.throughput)), 3)} ms; 0.75 ms before issue 15, target <= 0.37 ms: ${verdict(median(cpu(r.junction.throughput)) <= 0.375)})`);
    console.log(`relay latency         p50 ${fmt(median(r.relay.latency.map((l) => l.p50)))} ms, p99 ${fmt(median(r.relay.latency.map((l) => l.p99)))} ms at 100 msg/s`);
    console.log(`junction latency      p50 ${fmt(median(r.junction.latency.map((l) => l.p50)))} ms, p99 ${fmt(median(r.junction.latency.map((l) => l.p99)))} ms at 100 msg/s`);
    console.log(`added p99             ${addedP99.map((x) => fmt(x)).join(", ")} ms per round; median ${fmt(median(addedP99))} ms (target <= 3 ms: ${verdict(median(addedP99) <= 3)})`);
    console.log(`junction lost         ${lost} messages; in order: ${r.junction.throughput.every((t) => t.inOrder) ? "yes" : "NO"}`);
  }
  if (all || wanted.has("matrix")) {
    process.stderr.write("XMPP to Matrix...\n");
    const m = await benchMatrix(prosody, { perRoom: 150 });
    console.log("\n## To Matrix (Synapse from PyPI, SQLite; direct = an appservice user's awaited PUTs, medians of 2)");
    console.log(`one room              synapse direct ${fmt(m.directOneRoom)} msg/s, junction ${fmt(m.junctionOneRoom)} msg/s = ${fmt((m.junctionOneRoom / m.directOneRoom) * 100, 0)} % (target >= 90 %: ${verdict(m.junctionOneRoom >= 0.9 * m.directOneRoom)})`);
    console.log(`four rooms at once    synapse direct ${fmt(m.directFourRooms)} msg/s, junction ${fmt(m.junctionFourRooms)} msg/s = ${fmt((m.junctionFourRooms / m.directFourRooms) * 100, 0)} % (target >= 90 %: ${verdict(m.junctionFourRooms >= 0.9 * m.directFourRooms)})`);
    console.log(`order kept            ${m.inOrder ? "yes" : "NO"} in every room; ${m.received} of ${m.expected} burst messages arrived`);
    console.log(`bridge hop to Matrix  p50 ${fmt(m.hopToMatrix.p50, 2)} ms, p99 ${fmt(m.hopToMatrix.p99, 2)} ms at 5 msg/s (target p50 <= 10 ms: ${verdict(m.hopToMatrix.p50 <= 10)})`);
    console.log(`bridge hop to XMPP    p50 ${fmt(m.hopToXmpp.p50, 2)} ms, p99 ${fmt(m.hopToXmpp.p99, 2)} ms at 5 msg/s (from Matrix)`);
  }
  if (all || wanted.has("discord")) {
    process.stderr.write("To Discord (the emulator's realistic limits; with Synapse for Matrix beside it)...\n");
    const d = await benchDiscord(prosody, { burst: 300, together: 40, matrix: true });
    const b = d.burst;
    console.log("\n## To Discord (emulator, a webhook executes 5 per 2 s)");
    console.log(`burst into a channel  ${b.arrived} of ${b.count} through one webhook at ${fmt(b.perSecond, 2)} msg/s, the limit allows ${fmt(b.allowedPerSecond, 2)} msg/s (${fmt((b.perSecond / b.allowedPerSecond) * 100, 0)} %)`);
    console.log(`429s                  ${b.rateLimited} of ${b.requests} webhook executes (target 0: ${verdict(b.rateLimited === 0)}); in order: ${b.inOrder ? "yes" : "NO"}`);
    if (d.together) {
      const t = d.together;
      const s = (ms: number) => `${fmt(ms / 1000, 2)} s`;
      console.log(`Matrix beside Discord ${t.count} messages from one XMPP room: Matrix alone ${s(t.matrixAloneMs)}, with Discord ${s(t.matrixTogetherMs)}; Discord alone ${s(t.discordAloneMs)}, with Matrix ${s(t.discordTogetherMs)} (in order: ${t.inOrder ? "yes" : "NO"})`);
    }
  }
  if (all || wanted.has("memory")) {
    process.stderr.write("Memory with 1,000 puppets across 100 links...\n");
    const mem = await benchMemory(prosody, { links: 100, people: 10 });
    console.log("\n## Memory");
    console.log(`resident              ${fmt(mem.rssMiB)} MiB with ${mem.puppets} puppets across ${mem.links} links (idle after start ${fmt(mem.idleRssMiB)} MiB; target <= 150 MB: ${verdict(mem.rssMiB * 1.048576 <= 150)})`);
    console.log(`arrived               ${mem.arrived} of ${mem.puppets}`);
  }
} finally {
  await prosody.stop();
}
