/**
 * `node bench/alloc-profile.ts [messages] [top]`: where Junction allocates during an XMPP-to-XMPP
 * burst. V8's sampling heap profiler, through Junction's inspector, counting objects that were
 * collected too (every allocation, not only what survives): bytes allocated per bridged message,
 * by function and by package. Allocation is what young-generation GCs cost, and what they promote
 * what the old generation's marking costs.
 */
import { startProsody } from "../test/harness/prosody.ts";
import { spawnInspectedJunction } from "../test/harness/junction-process.ts";
import { measureThroughput } from "./xmpp-raw.ts";

interface Node { callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: Node[] }

const count = Number(process.argv[2] ?? 4000);
const top = Number(process.argv[3] ?? 40);
const prosody = await startProsody({ logLevel: "warn", extraMucConfig: `  modules_disabled = { "muc_mam" }` });
const roomA = `alloc-a@${prosody.mucDomain}`;
const roomB = `alloc-b@${prosody.mucDomain}`;
const j = await spawnInspectedJunction({
  xmpp: { server: prosody.componentService, component: prosody.componentDomain, secret: prosody.componentSecret, nick: "Junction" },
  links: { bench: { xmpp: [roomA, roomB] } },
}, 1);
const insp = j.inspector;
try {
  await measureThroughput({ prosody, roomA, roomB, count: 500, warmup: 300 }); // warm: JIT, caches
  await insp.call("HeapProfiler.enable");
  await insp.call("HeapProfiler.startSampling", { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  const t = await measureThroughput({ prosody, roomA, roomB, count, warmup: 0 });
  const { profile } = await insp.call("HeapProfiler.stopSampling") as { profile: { head: Node } };
  const byFn = new Map<string, number>();
  const byPlace = new Map<string, number>();
  let total = 0;
  const place = (url: string) => {
    if (!url) return "(native)";
    const nm = url.lastIndexOf("node_modules/");
    if (nm >= 0) { const r = url.slice(nm + 13).split("/"); return r[0]!.startsWith("@") ? `${r[0]}/${r[1]}` : r[0]!; }
    if (url.startsWith("node:")) return url;
    const d = url.indexOf("/dist/");
    return d >= 0 ? url.slice(d + 6).replace(/\/[^/]*$/, "/") : url;
  };
  const walk = (n: Node) => {
    if (n.selfSize > 0) {
      total += n.selfSize;
      const where = place(n.callFrame.url);
      const key = `${n.callFrame.functionName || "(anonymous)"}  ${where === "(native)" ? "" : n.callFrame.url.replace(/^.*\/(dist|node_modules)\//, "")}:${n.callFrame.lineNumber + 1}`;
      byFn.set(key, (byFn.get(key) ?? 0) + n.selfSize);
      byPlace.set(where, (byPlace.get(where) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c);
  };
  walk(profile.head);
  const per = (b: number) => `${(b / t.received / 1024).toFixed(2).padStart(7)} KiB/msg ${((b / total) * 100).toFixed(1).padStart(5)} %`;
  console.log(`${t.received} messages; ${(total / 1048576).toFixed(1)} MiB allocated: ${(total / t.received / 1024).toFixed(1)} KiB per message`);
  console.log("\nby package or directory");
  for (const [k, v] of [...byPlace].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${per(v)}  ${k}`);
  console.log("\nby function");
  for (const [k, v] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${per(v)}  ${k}`);
} finally {
  await j.stop();
  await prosody.stop();
}
process.exit(0);
