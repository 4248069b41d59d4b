/**
 * Junction installs as a newcomer installs it, on every run: so that a green CI can no longer hide
 * a missing install step behind something this machine kept (an npm cache, node-gyp headers).
 *
 * 1. The checkout's files, copied to a fresh directory, get `sh scripts/node.sh` with an empty
 *    HOME: Node 24 from the npm registry (the system Node is older here), then `npm ci` with an
 *    empty npm cache and no node-gyp headers. Nothing may be downloaded from outside the registry.
 * 2. `npm pack` there, then `npm install -g` of the tarball into an empty prefix, with another
 *    empty HOME. The installed `junction` (reached through npm's bin symlink, from another working
 *    directory) answers --version, check-config, matrix-registration, and start against a real
 *    Prosody.
 */
import { execFile, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeTempDir, trackTempDir } from "../harness/process.ts";
import { startProsody, type ProsodyServer } from "../harness/prosody.ts";

const run = promisify(execFile);
const repo = join(dirname(fileURLToPath(import.meta.url)), "../..");
const work = mkdtempSync(join(tmpdir(), "junction-install-"));
trackTempDir(work);
afterAll(() => removeTempDir(work));

/**
 * The environment of a newcomer on this machine: its own settings (a CA bundle, say) kept, but
 * nothing that `npm test` or vitest inject (npm_config_cache, NODE_OPTIONS...), no caches, a fresh HOME.
 */
function newcomerEnv(home: string, path: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|JUNCTION_|XDG_|VITEST|NODE_OPTIONS$|NODE_ENV$|INIT_CWD$)/i.test(key)) continue;
    env[key] = value;
  }
  return { ...env, HOME: home, PATH: path };
}

async function sh(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs?: number }) {
  try {
    return await run(cmd, args, { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs ?? 240_000, maxBuffer: 64 << 20 });
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(" ")} failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  }
}

/** The checkout's own files (tracked and new, not ignored), as `git clone` would give them. */
async function copyCheckout(to: string): Promise<void> {
  const { stdout } = await run("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: repo, maxBuffer: 64 << 20 });
  for (const file of stdout.split("\0").filter(Boolean)) {
    if (!existsSync(join(repo, file))) continue; // deleted but not yet committed
    mkdirSync(dirname(join(to, file)), { recursive: true });
    cpSync(join(repo, file), join(to, file), { verbatimSymlinks: true });
  }
}

describe("installing Junction on a fresh machine", () => {
  const src = join(work, "clone");
  const home1 = join(work, "home-clone");
  const home2 = join(work, "home-package");
  const prefix = join(work, "prefix");
  const elsewhere = join(work, "elsewhere");
  let node24Bin = "";
  let tarball = "";
  let prosody: ProsodyServer;
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    for (const d of [src, home1, home2, prefix, elsewhere]) mkdirSync(d, { recursive: true });
    prosody = await startProsody();
  });
  afterAll(async () => { await prosody?.stop(); });

  it("a clone installs with an empty HOME: Node 24 and npm ci from the registry alone, no header download", async () => {
    await copyCheckout(src);
    const t0 = Date.now();
    const env = newcomerEnv(home1, process.env.PATH ?? "");
    const { stdout } = await sh("sh", ["scripts/node.sh", "-p", "process.version + ' ' + process.execPath"], { cwd: src, env });
    timings["node24 + npm ci"] = Date.now() - t0;
    const [version, execPath] = stdout.trim().split(" ");
    expect(Number(version!.slice(1).split(".")[0])).toBeGreaterThanOrEqual(22);
    node24Bin = dirname(execPath!);
    // node-gyp never fetched headers (it would have cached them here), and the native module loads.
    expect(existsSync(join(home1, ".cache/node-gyp"))).toBe(false);
    const sqlite = await sh("sh", ["scripts/node.sh", "-e", "const D = require('better-sqlite3'); console.log(new D(':memory:').prepare('select 41 + 1 as x').get().x)"], { cwd: src, env });
    expect(sqlite.stdout.trim()).toBe("42");
    // The README's run command, through a symlink and from another directory.
    const link = join(elsewhere, "junction-link");
    await sh("ln", ["-s", join(src, "bin/junction"), link], { cwd: elsewhere, env });
    const v = await sh(link, ["--version"], { cwd: elsewhere, env });
    expect(v.stdout).toMatch(/^junction \d+\.\d+\.\d+/);
  }, 300_000);

  it("npm pack makes a package with the compiled dist/ and no sources or tests", async () => {
    expect(node24Bin).not.toBe("");
    const env = newcomerEnv(home1, `${node24Bin}:${process.env.PATH ?? ""}`);
    const { stdout } = await sh("npm", ["pack", "--json", "--pack-destination", work], { cwd: src, env });
    const [info] = JSON.parse(stdout) as [{ filename: string; files: { path: string }[] }];
    tarball = join(work, info.filename);
    const files = info.files.map((f) => f.path);
    expect(files).toContain("dist/bin/junction.js");
    expect(files).toContain("config/example.yaml");
    expect(files).toContain("docs/config.md");
    // Our own files only: matrix-bot-sdk is bundled with its dependencies (see package.json).
    const own = files.filter((f) => !f.startsWith("node_modules/"));
    expect(own.filter((f) => f.startsWith("test/") || (f.endsWith(".ts") && !f.endsWith(".d.ts")))).toEqual([]);
  }, 120_000);

  it("npm install -g of the tarball into an empty prefix with an empty HOME gives a junction that runs", async () => {
    expect(tarball).not.toBe("");
    // Node 24 from step 1 stands in for the user's Node >= 22; the command is the README's.
    const path = `${join(prefix, "bin")}:${node24Bin}:${process.env.PATH ?? ""}`;
    const env = newcomerEnv(home2, path);
    const t0 = Date.now();
    await sh("npm", ["install", "-g", "--prefix", prefix, "--no-audit", "--no-fund", "--loglevel=error", tarball], { cwd: elsewhere, env });
    timings["npm install -g"] = Date.now() - t0;
    const junction = join(prefix, "bin/junction");
    const run = (args: string[]) => sh(junction, args, { cwd: elsewhere, env });

    expect((await run(["--version"])).stdout).toMatch(/^junction \d+\.\d+\.\d+/);

    const config = join(elsewhere, "junction.yaml");
    writeFileSync(config, [
      `xmpp: { server: "${prosody.componentService}", component: ${prosody.componentDomain}, secret: "${prosody.componentSecret}" }`,
      `matrix: { homeserver: "http://127.0.0.1:9", domain: localhost, listen: "127.0.0.1:9", registration: reg.yaml }`,
      `store: { path: junction.db }`,
      `links:`,
      `  lobby: { xmpp: lobby@${prosody.mucDomain}, matrix: "#lobby:localhost" }`,
      ``,
    ].join("\n"));
    const reg = await run(["matrix-registration", "--config", config]);
    expect(reg.stdout).toContain("app_service_config_files");
    expect(readFileSync(join(elsewhere, "reg.yaml"), "utf8")).toMatch(/as_token: /);
    expect((await run(["check-config", "--config", config])).stdout).toMatch(/ok: 1 link: lobby \(2 rooms\); networks: xmpp, matrix/);

    // start, XMPP only (no homeserver here): it connects, joins, and stops cleanly on SIGTERM.
    const xmppOnly = join(elsewhere, "xmpp-only.yaml");
    writeFileSync(xmppOnly, [
      `xmpp: { server: "${prosody.componentService}", component: ${prosody.componentDomain}, secret: "${prosody.componentSecret}" }`,
      `store: { path: xmpp-only.db }`,
      `links:`,
      `  lobby: { xmpp: [lobby@${prosody.mucDomain}, annex@${prosody.mucDomain}] }`,
      ``,
    ].join("\n"));
    const child = spawn(junction, ["start", "--config", xmppOnly], { cwd: elsewhere, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    child.stderr.on("data", (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const deadline = Date.now() + 30_000;
    while (!out.includes('"network ready"') && child.exitCode === null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(out, out).toContain('"network ready"');
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    process.stdout.write(`install timings (ms): ${JSON.stringify(timings)}\n`);
  }, 300_000);
});
