/**
 * Server processes started by tests, and the promise that none of them outlives the test run.
 *
 * Vitest ends its workers without running `process.on("exit")` hooks, so each server also gets a
 * watchdog: a tiny `sh` that waits on a pipe from this Node process and SIGKILLs the server (and
 * removes its temp dir) when the pipe closes without saying "done". However this process ends
 * (SIGKILL, a worker torn down by vitest), the pipe closes and the server goes. Server output goes
 * to a file, so no pipe keeps the event loop alive.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";

const live = new Set<ServerProcess>();
const tempDirs = new Set<string>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const server of live) server.killNow();
    // JUNCTION_KEEP_TEMP=1 keeps configs, data and logs for a post-mortem.
    if (!process.env.JUNCTION_KEEP_TEMP) for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });
}

let janitor: ChildProcess | undefined;

/**
 * A temp dir removed when this process ends, unless a test removes it earlier. Vitest ends its
 * workers without running exit hooks, so a janitor `sh` (fed one dir per line) removes them when
 * its pipe from us closes, however we ended.
 */
export function trackTempDir(dir: string): void {
  hookExit();
  tempDirs.add(dir);
  if (process.env.JUNCTION_KEEP_TEMP) return;
  if (!janitor) {
    janitor = spawn("sh", ["-c", 'while IFS= read -r d; do set -- "$@" "$d"; done; [ $# -gt 0 ] && rm -rf -- "$@"'], {
      stdio: ["pipe", "ignore", "ignore"],
      detached: true,
    });
    janitor.on("error", () => {});
    janitor.stdin?.on("error", () => {});
    janitor.unref();
  }
  janitor.stdin?.write(`${dir}\n`);
}

/** Every server process still running (started and not yet exited), e.g. to stop them all at once. */
export function liveServers(): ServerProcess[] {
  return [...live];
}

export function removeTempDir(dir: string): void {
  tempDirs.delete(dir);
  if (!process.env.JUNCTION_KEEP_TEMP) rmSync(dir, { recursive: true, force: true });
}

export interface SpawnSpec {
  name: string; // "prosody", "synapse": used in error messages
  command: string;
  args: string[];
  cwd: string;
  logFile: string; // stdout and stderr are appended here
  env?: NodeJS.ProcessEnv;
  /** Removed by the watchdog if this Node process dies without running its exit hooks. */
  tempDir?: string;
  /**
   * Start it as the leader of a process group of its own and signal the whole group (the sandbox:
   * a terminal's Ctrl-C then reaches only the sandbox, which stops each server in turn, and a
   * server's own children go with it).
   */
  processGroup?: boolean;
}

export class ServerProcess {
  readonly spec: SpawnSpec;
  private child: ChildProcess;
  private watchdog: ChildProcess;
  private exited: Promise<void>;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  running = true;

  constructor(spec: SpawnSpec) {
    hookExit();
    this.spec = spec;
    const log = openSync(spec.logFile, "a");
    try {
      this.child = spawn(spec.command, spec.args, {
        cwd: spec.cwd,
        env: spec.env ?? process.env,
        stdio: ["ignore", log, log],
        detached: spec.processGroup ?? false,
      });
    } finally {
      closeSync(log);
    }
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        this.running = false;
        this.exitCode = code;
        this.exitSignal = signal;
        live.delete(this);
        this.releaseWatchdog();
        resolve();
      });
      this.child.once("error", (err) => {
        this.running = false;
        live.delete(this);
        this.releaseWatchdog();
        appendNote(spec.logFile, `spawn failed: ${err.message}`);
        resolve();
      });
    });
    this.child.unref();
    const pid = this.child.pid ?? 0;
    // On a hard death of this process the watchdog also removes the server's temp dir (it may be
    // on /dev/shm, i.e. memory), unless JUNCTION_KEEP_TEMP asks to keep it.
    const script = `read line; [ "$line" = done ] && exit 0; kill -s KILL -- "$1" 2>/dev/null; sleep 0.3; [ -n "$2" ] && rm -rf -- "$2"`;
    const dir = spec.tempDir && !process.env.JUNCTION_KEEP_TEMP ? spec.tempDir : "";
    const target = spec.processGroup ? `-${pid}` : String(pid);
    this.watchdog = spawn("sh", ["-c", script, "watchdog", target, dir], {
      stdio: ["pipe", "ignore", "ignore"],
      detached: true,
    });
    this.watchdog.on("error", () => {});
    this.watchdog.stdin?.on("error", () => {});
    this.watchdog.unref();
    live.add(this);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** SIGTERM, then SIGKILL if it has not exited after graceMs. Resolves once it has exited. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return this.exited;
    this.signal("SIGTERM");
    const timer = setTimeout(() => this.signal("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
    // With a group of its own, whatever it started and left behind goes too.
    if (this.spec.processGroup) this.signal("SIGKILL");
  }

  /** SIGKILL, as a crash would. Resolves once it has exited. */
  async kill(): Promise<void> {
    if (this.running) this.signal("SIGKILL");
    return this.exited;
  }

  killNow(): void {
    if (this.running) this.signal("SIGKILL");
  }

  /** Signals the process, or its whole group when it has one. */
  private signal(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (this.spec.processGroup && pid !== undefined) {
      try {
        process.kill(-pid, signal);
      } catch {
        // the group is gone already
      }
    } else {
      this.child.kill(signal);
    }
  }

  whenExited(): Promise<void> {
    return this.exited;
  }

  /** The last part of the server's output, for error messages. */
  logTail(chars = 3000): string {
    try {
      return readFileSync(this.spec.logFile, "utf8").slice(-chars);
    } catch {
      return "(no output)";
    }
  }

  describeExit(): string {
    return this.exitSignal ? `killed by ${this.exitSignal}` : `exit code ${this.exitCode}`;
  }

  private releaseWatchdog(): void {
    const stdin = this.watchdog.stdin;
    if (stdin && !stdin.destroyed) stdin.end("done\n");
  }
}

function appendNote(file: string, note: string): void {
  try {
    const fd = openSync(file, "a");
    try {
      writeSync(fd, `\n[junction harness] ${note}\n`);
    } finally {
      closeSync(fd);
    }
  } catch {
    // the log file is only for diagnostics
  }
}

/** stop / restart / kill for a server whose process `launch` (re)starts in `dir`. */
export function serverLifecycle(proc: () => ServerProcess | undefined, launch: () => Promise<void>, dir: string) {
  return {
    /** SIGTERM and wait; the temp dir is removed unless keepData. */
    async stop(opts?: { keepData?: boolean }): Promise<void> {
      await proc()?.stop();
      if (!opts?.keepData) removeTempDir(dir);
    },
    /** Stop if running, then start again on the same ports with the same data. */
    async restart(): Promise<void> {
      await proc()?.stop();
      await launch();
    },
    /** SIGKILL, as a crash would; data stays for restart(). */
    async kill(): Promise<void> {
      await proc()?.kill();
    },
  };
}
