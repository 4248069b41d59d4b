/**
 * `node bench/latency-probe.ts [rounds] [seconds]`: where Junction's added latency at 100 msg/s
 * comes from. Each round measures the relay and Junction (fresh Prosody each) and, inside
 * Junction (through its inspector), the event loop's delay, its stalls over 6 ms (when, how long)
 * and every GC pause during the run. PROBE_ONLY=junction skips the relay;
 * PROBE_STRACE=fsync,fdatasync writes strace -T of those calls to /tmp/probe/strace-ROUND.txt
 * (how SQLite's checkpoints were found to stall the loop: design.md, "Checkpoints").
 */
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { startProsody } from "../test/harness/prosody.ts";
import { spawnInspectedJunction } from "../test/harness/junction-process.ts";
import { spawnRelay } from "./relay.ts";
import { measureLatency } from "./xmpp-raw.ts";

const NO_MAM = `  modules_disabled = { "muc_mam" }`;
const rounds = Number(process.argv[2] ?? 3);
const seconds = Number(process.argv[3] ?? 10);

const install = `(() => {
  const { monitorEventLoopDelay, PerformanceObserver } = process.getBuiltinModule("node:perf_hooks");
  const h = monitorEventLoopDelay({ resolution: 1 }); h.enable();
  const gcs = [];
  const o = new PerformanceObserver((list) => { for (const e of list.getEntries()) gcs.push([e.detail?.kind ?? e.kind, e.duration, Math.round(e.startTime)]); });
  o.observe({ entryTypes: ["gc"] });
  const gaps = []; let last = performance.now();
  const t = setInterval(() => { const now = performance.now(); if (now - last > 6) gaps.push([Math.round(last), +(now - last).toFixed(1)]); last = now; }, 1);
  globalThis.__probe = { h, gcs, o, gaps, t };
  return "ok";
})()`;
const read = `(() => {
  const { h, gcs, o, gaps, t } = globalThis.__probe; h.disable(); o.disconnect(); clearInterval(t);
  const ms = (n) => n / 1e6;
  const byKind = {};
  for (const [k, d] of gcs) { const b = byKind[k] ??= { n: 0, total: 0, max: 0 }; b.n++; b.total += d; b.max = Math.max(b.max, d); }
  return JSON.stringify({ eld: { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) }, gc: byKind, over2: gcs.filter(([, d]) => d > 2).length, gaps: gaps.slice(0, 40), gcAt: gcs.map(([, d, at]) => [at, +d.toFixed(1)]) });
})()`;

for (let round = 0; round < rounds; round++) {
  for (const w of (process.env.PROBE_ONLY ? [process.env.PROBE_ONLY] : ["relay", "junction"]) as ("relay" | "junction")[]) {
    const prosody = await startProsody({ logLevel: "warn", extraMucConfig: NO_MAM });
    const roomA = `lat-${w}-${round}-a@${prosody.mucDomain}`;
    const roomB = `lat-${w}-${round}-b@${prosody.mucDomain}`;
    let stop: () => Promise<void>;
    let probe: { evaluate(e: string): Promise<string>; close(): void } | undefined;
    if (w === "relay") {
      const r = await spawnRelay({ service: prosody.componentService, domain: prosody.componentDomain, secret: prosody.componentSecret, roomA, roomB });
      stop = () => r.stop();
    } else {
      const j = await spawnInspectedJunction({
        xmpp: { server: prosody.componentService, component: prosody.componentDomain, secret: prosody.componentSecret, nick: "Junction" },
        links: { bench: { xmpp: [roomA, roomB] } },
      }, 1);
      probe = { evaluate: (e) => j.inspector.evaluate(e), close: () => j.inspector.close() };
      if (process.env.PROBE_STRACE) mkdirSync("/tmp/probe", { recursive: true });
      const tracer = process.env.PROBE_STRACE ? spawn("strace", ["-f", "-tt", "-T", "-s", "1000", "-e", `trace=${process.env.PROBE_STRACE}`, "-p", String(j.pid), "-o", `/tmp/probe/strace-${round}.txt`], { stdio: "ignore" }) : undefined;
      if (tracer) await new Promise((r) => setTimeout(r, 1000));
      stop = async () => { tracer?.kill("SIGINT"); await j.stop(); };
    }
    try {
      await new Promise((r) => setTimeout(r, 300));
      await probe?.evaluate(install);
      const l = await measureLatency({ prosody, roomA, roomB, rate: 100, durationMs: seconds * 1000 });
      const inside = probe ? await probe.evaluate(read) : "";
      console.log(`round ${round + 1} ${w.padEnd(8)} p50 ${l.p50.toFixed(2)} p90 ${l.p90.toFixed(2)} p99 ${l.p99.toFixed(2)} max ${l.max.toFixed(2)} (${l.received}/${l.sent}) ${inside}`);
    } finally {
      probe?.close();
      await stop();
      await prosody.stop();
    }
  }
}
process.exit(0);
