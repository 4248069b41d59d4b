/**
 * Headless Chromium (Debian's `chromium` package), for pages Junction serves: the DOM after
 * parsing (--dump-dom) and a screenshot. Each run gets its own profile directory, removed after.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { findExecutable } from "./executables.ts";

export const ARTIFACTS = join(dirname(fileURLToPath(import.meta.url)), "../../test-artifacts");

const INSTALL_HINT = "headless Chromium is not installed: apt-get install chromium (scripts/setup.sh does it as root)";

export function chromiumPath(): string {
  const path = findExecutable("chromium") ?? findExecutable("chromium-browser");
  if (!path) throw new Error(INSTALL_HINT);
  return path;
}

async function run(args: readonly string[], timeoutMs = 60_000): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), "junction-chromium-"));
  try {
    return await new Promise<string>((resolve, reject) => {
      execFile(chromiumPath(), [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-extensions", "--disable-background-networking", "--disable-sync", "--hide-scrollbars",
        `--user-data-dir=${profile}`, ...args,
      ], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`chromium failed: ${err.message}\n${stderr.slice(-2000)}`));
        else resolve(stdout);
      });
    });
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** The document as Chromium parsed it (scripts would have run: there are none to run). */
export function dumpDom(url: string): Promise<string> {
  return run(["--dump-dom", url]);
}

/** Saves a PNG of `url` under test-artifacts/ and resolves to its path. */
export async function screenshot(url: string, name: string, size = "1280,1000"): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, name);
  await run([`--screenshot=${file}`, `--window-size=${size}`, url]);
  return file;
}
