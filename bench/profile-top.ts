/**
 * `node bench/profile-top.ts FILE.cpuprofile [messages] [top]`: a text summary of a V8 CPU profile
 * (`node --cpu-prof`): self time by function and by package, in ms and, given the number of
 * messages the run bridged, in ms per message. The summaries under bench/profiles/ are made by it.
 */
import { readFileSync } from "node:fs";

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

const [file, messagesArg, topArg] = process.argv.slice(2);
if (!file) throw new Error("usage: profile-top.ts FILE.cpuprofile [messages] [top]");
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const messages = Number(messagesArg ?? 0);
const top = Number(topArg ?? 30);

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

/** Where a frame lives: a package under node_modules, our own file, or V8/Node itself. */
function placeOf(url: string): string {
  if (!url) return "(native)";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "node_modules/".length).split("/");
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith("node:")) return "node:" + url.slice(5).split("/")[0];
  const dist = url.indexOf("/dist/");
  return dist >= 0 ? url.slice(dist + 6) : url.replace(/^file:\/\//, "");
}

const fn = new Map<string, number>();
const pkg = new Map<string, number>();
let total = 0;
let idle = 0;
for (const [id, us] of selfUs) {
  const n = byId.get(id)!;
  const name = n.callFrame.functionName || "(anonymous)";
  total += us;
  if (name === "(idle)" || name === "(program)" && false) idle += us;
  if (name === "(idle)") continue;
  const place = placeOf(n.callFrame.url);
  const key = `${name}  ${place}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ""}`;
  fn.set(key, (fn.get(key) ?? 0) + us);
  const p = place.includes("/") && !place.startsWith("@") && !place.startsWith("node:") ? place.split("/").slice(0, -1).join("/") + "/" : place;
  pkg.set(p, (pkg.get(p) ?? 0) + us);
}
const busy = total - idle;

// Inclusive time (the function and what it called), counted once per sample even under recursion.
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const keyOf = (n: Node) => `${n.callFrame.functionName || "(anonymous)"}  ${placeOf(n.callFrame.url)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ""}`;
const inclusive = new Map<string, number>();
for (const [id, us] of selfUs) {
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const n = byId.get(at)!;
    if (n.callFrame.functionName === "(idle)") break;
    const k = keyOf(n);
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + us);
  }
}
const ours = new Map([...inclusive].filter(([k]) => /\s(core|bridges)\//.test(k)));
const ms = (us: number) => (us / 1000).toFixed(1).padStart(8);
const per = (us: number) => (messages > 0 ? (us / 1000 / messages).toFixed(4).padStart(8) : "");
const rows = (m: Map<string, number>, n: number) =>
  [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, us]) => `${ms(us)} ms ${per(us)} ${((us / busy) * 100).toFixed(1).padStart(5)} %  ${k}`);

console.log(`profile ${file.split("/").at(-1)}: ${ms(busy)} ms busy (${ms(idle)} ms idle) over ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s` +
  (messages > 0 ? `; ${messages} messages: ${(busy / 1000 / messages).toFixed(3)} ms/msg` : ""));
console.log(`\n     self ${messages > 0 ? " ms/msg " : ""}  share  by package or directory`);
for (const r of rows(pkg, 20)) console.log(r);
console.log(`\n     self ${messages > 0 ? " ms/msg " : ""}  share  by function`);
for (const r of rows(fn, top)) console.log(r);
console.log(`\n inclusive ${messages > 0 ? " ms/msg " : ""}  share  Junction's own functions, with what they call`);
for (const r of rows(ours, top)) console.log(r);
