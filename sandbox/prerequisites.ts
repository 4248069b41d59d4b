/**
 * What the sandbox needs on the machine: Prosody, Python 3 with venv, and openssl. Missing and root (with
 * apt-get): installed from Debian's packages by scripts/apt-install.sh, which keeps Debian's own
 * Prosody service from starting. Missing otherwise: the exact command to run is the error.
 */
import { execFileSync, spawn } from "node:child_process";
import { join } from "node:path";
import { findExecutable } from "../test/harness/executables.ts";
import { step, type Say } from "./progress.ts";

export class MissingPrerequisite extends Error {}

interface Need { what: string; packages: string[]; present: () => boolean }

const NEEDS: Need[] = [
  { what: "Prosody", packages: ["prosody"], present: () => !!findExecutable("prosody") && !!findExecutable("prosodyctl") },
  { what: "Python 3 with venv (for Synapse)", packages: ["python3", "python3-venv"], present: pythonVenv },
  { what: "openssl (for the sandbox Prosody's certificate)", packages: ["openssl"], present: () => !!findExecutable("openssl") },
];

function pythonVenv(): boolean {
  try {
    execFileSync(process.env.JUNCTION_PYTHON ?? "python3", ["-c", "import venv, ensurepip"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Installs (or names the command for) whatever is missing. `signal` kills an apt-get under way. */
export async function ensurePrerequisites(root: string, say: Say, signal: AbortSignal): Promise<void> {
  for (const need of NEEDS) {
    if (need.present()) continue;
    const command = `apt-get update && apt-get install -y ${need.packages.join(" ")}`;
    if (process.getuid?.() !== 0 || !findExecutable("apt-get")) {
      throw new MissingPrerequisite(`${need.what} is not installed. Install it, then run the sandbox again:\n  sudo sh -c '${command}'`);
    }
    await step(say, `installing ${need.what} (apt-get install ${need.packages.join(" ")})`, () =>
      run("sh", [join(root, "scripts/apt-install.sh"), ...need.packages], signal), () => "installed");
    if (!need.present()) throw new MissingPrerequisite(`${need.what} is still missing after apt-get; install it by hand: ${command}`);
  }
}

function run(cmd: string, args: string[], signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = "";
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
    const abort = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGTERM");
      } catch {
        // gone already
      }
    };
    signal.addEventListener("abort", abort, { once: true });
    child.stdout.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-3000)));
    child.stderr.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-3000)));
    child.once("error", reject);
    child.once("exit", (code) => {
      signal.removeEventListener("abort", abort);
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(" ")} exited with ${code}:\n${output}`));
    });
  });
}
