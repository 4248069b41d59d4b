/**
 * The Python virtualenv that holds Synapse for the end-to-end tests, created on first use.
 * Two test files (or setup.sh and a test) may ask at once: a lock dir makes one of them build it
 * while the other waits. Run directly (`node test/harness/synapse-venv.ts`) to create it ahead.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** What pip installs; override with JUNCTION_SYNAPSE_SPEC (e.g. "matrix-synapse" for the newest). */
export const SYNAPSE_SPEC = process.env.JUNCTION_SYNAPSE_SPEC ?? "matrix-synapse==1.163.2";

export function junctionCache(): string {
  return process.env.JUNCTION_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "junction");
}

export function synapseVenvDir(): string {
  return join(junctionCache(), "synapse-venv");
}

export function venvPython(venv = synapseVenvDir()): string {
  return join(venv, "bin", "python");
}

const MARKER = ".junction-ready";

/**
 * Returns the venv's python, creating the venv first when needed (about a minute). An abort
 * (the sandbox's Ctrl-C) kills the step under way, pip and all its children.
 */
export async function ensureSynapseVenv(log: (line: string) => void = () => {}, signal?: AbortSignal): Promise<string> {
  const venv = synapseVenvDir();
  if (await isReady(venv)) return venvPython(venv);
  mkdirSync(junctionCache(), { recursive: true });
  const release = await acquireLock(`${venv}.lock`, log);
  try {
    if (await isReady(venv)) return venvPython(venv); // built by whoever held the lock
    log(`junction: creating the Synapse virtualenv in ${venv} (pip install ${SYNAPSE_SPEC}, about a minute)`);
    rmSync(venv, { recursive: true, force: true });
    const python3 = process.env.JUNCTION_PYTHON ?? "python3";
    await runStep(python3, ["-m", "venv", venv], `${python3} -m venv ${venv}`,
      "Install Python 3 with venv support (Debian: apt-get install -y python3 python3-venv).", signal);
    await runStep(venvPython(venv), ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", SYNAPSE_SPEC],
      `pip install ${SYNAPSE_SPEC}`, "Check that PyPI is reachable, or create the venv by hand with that command.", signal);
    writeFileSync(join(venv, MARKER), `${SYNAPSE_SPEC}\n`);
    return venvPython(venv);
  } finally {
    release();
  }
}

async function isReady(venv: string): Promise<boolean> {
  if (existsSync(join(venv, MARKER))) return true;
  if (!existsSync(venvPython(venv))) return false;
  // A venv made by hand before this file existed: accept it if Synapse imports.
  const ok = await exitsZero(venvPython(venv), ["-c", "import synapse.app.homeserver"]);
  if (ok) writeFileSync(join(venv, MARKER), "adopted\n");
  return ok;
}

async function acquireLock(lockDir: string, log: (line: string) => void): Promise<() => void> {
  const deadline = Date.now() + 10 * 60_000;
  let told = false;
  for (;;) {
    try {
      mkdirSync(lockDir, { recursive: false });
      writeFileSync(join(lockDir, "pid"), String(process.pid));
      // Also on an exit half-way (the sandbox's Ctrl-C exits without unwinding this build).
      const release = (): void => rmSync(lockDir, { recursive: true, force: true });
      process.once("exit", release);
      return () => {
        process.off("exit", release);
        release();
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = Number(safeRead(join(lockDir, "pid")));
    if (holder > 0 && !isAlive(holder)) {
      rmSync(lockDir, { recursive: true, force: true }); // left by a process that died mid-build
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${lockDir} (held by pid ${holder}); remove it if no build is running`);
    if (!told) log(`junction: waiting for another process to finish the Synapse virtualenv (${lockDir})`);
    told = true;
    await new Promise((r) => setTimeout(r, 500));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return "";
  }
}

function exitsZero(cmd: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: "ignore" });
    child.on("error", () => resolve(false));
    child.on("exit", (code) => resolve(code === 0));
  });
}

function runStep(cmd: string, args: string[], what: string, hint: string, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Error(`${what}: interrupted`));
    let output = "";
    // With a signal, a group of its own, so that an abort reaches pip's children (wheel builds) too.
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], detached: signal !== undefined });
    const abort = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // gone already
      }
    };
    signal?.addEventListener("abort", abort, { once: true });
    child.once("exit", () => signal?.removeEventListener("abort", abort));
    child.stdout.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    child.stderr.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
    child.on("error", (err) => reject(new Error(`Could not create the Synapse virtualenv: ${what} failed to start (${err.message}). ${hint}`)));
    child.on("exit", (code) => {
      if (code === 0) resolve();
      else reject(new Error(`Could not create the Synapse virtualenv: ${what} exited with ${code}. ${hint}\n${output}`));
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  ensureSynapseVenv((line) => console.error(line)).then(
    () => {},
    (err: Error) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
