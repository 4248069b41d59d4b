/**
 * Junction in its own process, started exactly as an operator would (`bin/junction.ts start
 * --config FILE`): for the benchmark (it does not share an event loop with the people measuring
 * it) and for crash tests (kill -9 is a real process dying).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { connectInspector, type Inspector } from "./inspector.ts";
import { freePort } from "./ports.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");

export interface JunctionProcess {
  readonly pid: number;
  readonly dir: string;
  /** Resident memory in MiB, from /proc. */
  rssMiB(): number;
  /** What the process wrote to stderr (log lines go to stdout). */
  stderr(): string;
  /** Log lines (JSON) written since the start that contain `text`. */
  logged(text: string): string[];
  /** The config file it was started with. */
  readonly configFile: string;
  /** Writes a new config (the same store and log level) over the file; `raw`, as it is. */
  rewrite(config: Record<string, unknown> | { raw: string }): void;
  /** Sends a signal (SIGHUP: reload). */
  signal(sig: NodeJS.Signals): void;
  /** Resolves with the first log line from now on (any level) that contains `text`. */
  nextLine(text: string, timeoutMs?: number): Promise<string>;
  /** SIGTERM: a clean stop. */
  stop(): Promise<void>;
  /** SIGKILL: a crash. The store stays in `dir` for a restart. */
  kill(): Promise<void>;
}

/**
 * Starts Junction with `config` and resolves once `readyNetworks` networks logged "network ready",
 * or, with `opts.logged`, once a log line contains that text.
 */
export async function spawnJunction(
  config: Record<string, unknown>, readyNetworks: number, opts: { timeoutMs?: number; dir?: string; logged?: string; onLine?: (line: string) => void; nodeOptions?: string; root?: string } = {},
): Promise<JunctionProcess> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "junction-proc-"));
  const file = join(dir, "junction.yaml");
  const write = (c: Record<string, unknown>) => writeFileSync(file, stringify({ store: { path: join(dir, "junction.db") }, log: { level: "info" }, ...c }));
  write(config);
  // The operator's launcher (it builds dist/ when stale; exec keeps the pid Node's).
  // JUNCTION_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles Junction under load;
  // opts.nodeOptions is added to it (an inspector port for a GC on demand, say).
  const env = { ...process.env, NODE_OPTIONS: `${process.env.JUNCTION_NODE_OPTIONS ?? ""} ${opts.nodeOptions ?? ""}`.trim() };
  // opts.root: another checkout's Junction (the benchmark's "before"), started the same way.
  const child = spawn("sh", [join(opts.root ?? root, "bin/junction"), "start", "--config", file], { stdio: ["ignore", "pipe", "pipe"], env });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
  await new Promise<void>((resolve, reject) => {
    let seen = 0;
    let buf = "";
    const last: string[] = [];
    const timer = setTimeout(() => reject(new Error(`Junction not ready after ${timeoutMs} ms; its last lines:\n${last.join("\n")}`)), timeoutMs);
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        last.push(line.slice(0, 400));
        if (last.length > 15) last.shift();
        opts.onLine?.(line);
        if (opts.logged !== undefined ? line.includes(opts.logged) : line.includes('"network ready"') && ++seen === readyNetworks) {
          clearTimeout(timer);
          resolve();
        }
      }
    });
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`Junction exited (${code}) before it was ready: ${stderr.slice(-2000)}`)); });
  });
  // Kept after start for logged(): warnings and errors only, and at most 20,000 of them.
  const kept: string[] = [];
  const waiting = new Set<(line: string) => boolean>();
  let rest = "";
  child.stdout.on("data", (d: Buffer) => {
    rest += d.toString();
    let nl: number;
    while ((nl = rest.indexOf("\n")) >= 0) {
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      if (kept.length < 20_000 && /"level":(40|50|60)/.test(line)) kept.push(line);
      for (const w of waiting) if (w(line)) waiting.delete(w);
    }
  });
  child.stdout.resume();
  return {
    pid: child.pid!,
    dir,
    rssMiB() {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
      return m ? Number(m[1]) / 1024 : NaN;
    },
    stderr: () => stderr,
    logged(text) {
      return kept.filter((l) => l.includes(text));
    },
    configFile: file,
    rewrite(c) {
      if ("raw" in c && typeof c.raw === "string") writeFileSync(file, c.raw);
      else write(c);
    },
    signal(sig) {
      child.kill(sig);
    },
    nextLine(text, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => { waiting.delete(w); reject(new Error(`no log line with ${JSON.stringify(text)} within ${timeoutMs} ms`)); }, timeoutMs);
        const w = (line: string) => {
          if (!line.includes(text)) return false;
          clearTimeout(timer);
          resolve(line);
          return true;
        };
        waiting.add(w);
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
    async kill() {
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/** Junction with its inspector open on a free loopback port, connected: for a GC on demand, heap figures, profiles. */
export async function spawnInspectedJunction(
  config: Record<string, unknown>, readyNetworks: number, opts: Omit<Parameters<typeof spawnJunction>[2] & object, "nodeOptions"> = {},
): Promise<JunctionProcess & { inspector: Inspector }> {
  const port = await freePort();
  const j = await spawnJunction(config, readyNetworks, { ...opts, nodeOptions: `--inspect=127.0.0.1:${port}` });
  const inspector = await connectInspector(port).catch(async (e: unknown) => { await j.stop(); throw e; });
  const { stop, kill } = j;
  return Object.assign(j, {
    inspector,
    async stop() { inspector.close(); await stop(); },
    async kill() { inspector.close(); await kill(); },
  });
}
