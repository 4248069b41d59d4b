/**
 * `./bin/junction sandbox`, the README's first command, run as a newcomer would: a child process
 * with a fresh HOME. Real clients talk to what it prints (an XMPP client to its Prosody, a Matrix
 * client to its Synapse, lines typed at its Discord prompt), and each message must reach the other
 * two networks. Then SIGINT must leave nothing running that it started, also half-way through
 * start-up.
 *
 * Fresh HOME, shared cache: JUNCTION_CACHE points at this machine's cache, so the Synapse
 * virtualenv (a minute of pip install from PyPI) and Node 24 come from there instead of being
 * installed again on every run; everything else (config, data, accounts) starts from nothing.
 * The cache is where a real newcomer's first run puts them too (scripts/node.sh, synapse-venv.ts).
 *
 * Processes are watched from outside, in /proc: every descendant of the sandbox (Prosody, Synapse's
 * Python, Junction's Node, watchdogs, build steps) is recorded by pid, start time and process
 * group while it runs; after the stop, none of them and no member of their groups may be left.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { getCACertificates, setDefaultCACertificates, type TLSSocket } from "node:tls";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, expect, it } from "vitest";
import { matrixPerson, type MatrixPerson } from "../harness/matrix-person.ts";
import { trackTempDir } from "../harness/process.ts";
import { junctionCache } from "../harness/synapse-venv.ts";
import { until } from "../harness/until.ts";
import { connectPerson, type Person } from "../harness/xmpp-person.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const ROOM = "sandbox@conference.localhost";

interface Proc { pid: number; ppid: number; pgid: number; start: string; cmd: string }

/** Every process on the machine, from /proc/<pid>/stat (fields after the command name). */
function processes(): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const f = stat.slice(close + 2).split(" ");
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0").join(" ").trim() || stat.slice(stat.indexOf("(") + 1, close);
      out.push({ pid: Number(name), ppid: Number(f[1]), pgid: Number(f[2]), start: f[19]!, cmd });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** A command's stdout and stderr together, whatever its exit status (killed after 15 s); `input` is its stdin. */
function run(command: string, args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.once("error", reject);
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000); // a client that hangs fails the check, not the run
    child.once("exit", () => { clearTimeout(timer); resolve(out); });
    child.stdin.end(input);
  });
}

class Sandbox {
  readonly child: ChildProcessWithoutNullStreams;
  readonly seen = new Map<string, Proc>(); // "pid/start" → process
  out = "";
  readonly exited: Promise<number | null>;
  private readonly watcher: NodeJS.Timeout;

  readonly home: string;

  constructor(extraEnv: NodeJS.ProcessEnv = {}) {
    const home = (this.home = mkdtempSync(join(tmpdir(), "junction-sandbox-home-")));
    trackTempDir(home);
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, JUNCTION_CACHE: junctionCache(), ...extraEnv };
    delete env.XDG_CACHE_HOME;
    this.child = spawn("sh", [join(root, "bin/junction"), "sandbox"], { cwd: home, env, stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout.on("data", (d: Buffer) => (this.out += d.toString()));
    this.child.stderr.on("data", (d: Buffer) => (this.out += d.toString()));
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
    const record = (): void => {
      const all = processes();
      const ours = new Set([this.child.pid!]);
      for (let grew = true; grew;) {
        grew = false;
        for (const p of all) if (!ours.has(p.pid) && ours.has(p.ppid)) { ours.add(p.pid); grew = true; }
      }
      for (const p of all) if (ours.has(p.pid) && p.pid !== this.child.pid) this.seen.set(`${p.pid}/${p.start}`, p);
    };
    record();
    this.watcher = setInterval(record, 150);
  }

  async waitFor(text: string | RegExp, timeoutMs: number): Promise<string> {
    return until(`"${text}" in the sandbox's output; it printed:\n${this.out.slice(-3000)}`, () => {
      const m = typeof text === "string" ? (this.out.includes(text) ? [text] : null) : text.exec(this.out);
      if (!m && this.child.exitCode !== null) throw new Error(`the sandbox exited (${this.child.exitCode}):\n${this.out.slice(-3000)}`);
      return m ? (m[1] ?? m[0]) : undefined;
    }, timeoutMs, 50);
  }

  /** What it started that is still alive: a recorded process, or any member of a group one of them leads. */
  survivors(): Proc[] {
    const groups = new Set([...this.seen.values()].filter((p) => p.pgid === p.pid).map((p) => p.pid));
    return processes().filter((p) => this.seen.has(`${p.pid}/${p.start}`) || groups.has(p.pgid));
  }

  stopWatching(): void {
    clearInterval(this.watcher);
  }
}

let sandbox: Sandbox | undefined;
const clients: { stop(): Promise<void> }[] = [];

afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.stop()));
  sandbox?.stopWatching();
  if (sandbox && sandbox.child.exitCode === null) {
    sandbox.child.kill("SIGKILL"); // its servers' watchdogs then kill their groups
    await sandbox.exited;
  }
  sandbox = undefined;
});

/** SIGINT, then: a clean exit, and within a few seconds nothing it started is left. */
async function interruptAndCheck(s: Sandbox): Promise<void> {
  s.child.kill("SIGINT");
  const code = await Promise.race([s.exited, new Promise<"hung">((r) => setTimeout(() => r("hung"), 20_000))]);
  expect(code, s.out.slice(-2000)).toBe(0);
  // The janitor that removes temp dirs runs for a moment after the exit.
  await until("every process the sandbox started to be gone", () => s.survivors().length === 0, 5000).catch(() => {});
  s.stopWatching();
  expect(s.survivors().map((p) => `${p.pid} ${p.cmd}`)).toEqual([]);
}

it("starts from a fresh HOME; a message posted on each network reaches the other two; SIGINT leaves no process behind", async () => {
  const s = (sandbox = new Sandbox());
  await s.waitFor("Sandbox ready.", 75_000);
  const port = Number(await s.waitFor(/server 127\.0\.0\.1, port (\d+)/, 1000));
  const homeserver = await s.waitFor(/homeserver (http:\/\/127\.0\.0\.1:\d+)/, 1000);
  const token = await s.waitFor(/Bearer ([^']+)'/, 1000);
  const roomId = await s.waitFor(/#sandbox:localhost \((![^)]+)\)/, 1000);
  const password = await s.waitFor(/account alice@localhost, password (\S+)/, 1000);
  const certificate = await s.waitFor(/certificate (\/\S+\.crt)/, 1000);
  const fingerprint = await s.waitFor(/SHA-256 ([0-9A-F:]{95})/, 1000);

  // TLS as Dino and Conversations need it, checked by two real clients that trust only the printed
  // certificate: openssl's STARTTLS, and the XMPP person (which upgrades by itself when offered).
  const verified = await run("openssl", ["s_client", "-starttls", "xmpp", "-xmpphost", "localhost", "-connect", `127.0.0.1:${port}`,
    "-CAfile", certificate, "-verify_return_error", "-verify_hostname", "localhost"], "");
  expect(verified).toContain("Verify return code: 0 (ok)");
  setDefaultCACertificates([...getCACertificates("default"), readFileSync(certificate, "utf8")]);
  const alice: Person = await connectPerson({ c2sService: `xmpp://127.0.0.1:${port}`, host: "localhost" }, "alice", password);
  clients.push(alice);
  const tlsSocket = (alice.xmpp as unknown as { socket?: { socket?: TLSSocket } }).socket?.socket;
  expect(tlsSocket?.encrypted).toBe(true);
  expect(tlsSocket?.getPeerCertificate().fingerprint256).toBe(fingerprint);
  await alice.join(ROOM, "alice", { maxHistory: 0 });
  const bob: MatrixPerson = matrixPerson(homeserver, "@bob:localhost", token);
  clients.push(bob);
  const onMatrix = (text: string) =>
    until(`"${text}" in the Matrix room`, () => bob.timeline(roomId).find((e) => String(e.sender).startsWith("@_junction_") && e.content.body === text), 20_000);
  const onXmpp = (text: string, nick: string) =>
    alice.waitFor((el) => el.is("message") && el.attrs.from === `${ROOM}/${nick}` && el.getChildText("body") === text, 20_000, `"${text}" from ${nick} on XMPP`);

  await alice.say(ROOM, "hello from xmpp");
  await Promise.all([onMatrix("hello from xmpp"), s.waitFor("alice: hello from xmpp", 20_000)]);

  await bob.say(roomId, "hello from matrix");
  await Promise.all([onXmpp("hello from matrix", "bob"), s.waitFor("bob: hello from matrix", 20_000)]);

  s.child.stdin.write("hello from discord\n");
  await Promise.all([onXmpp("hello from discord", "carol"), onMatrix("hello from discord")]);

  // The Discord person is an admin: "!junction" at the prompt goes to the DM with the bot.
  s.child.stdin.write("!junction links\n");
  await s.waitFor(/Junction \(DM\): sandbox: xmpp sandbox@conference\.localhost, matrix ![^,]+, discord \d+; 0 queued, 0 failed/, 20_000);

  await Promise.allSettled(clients.splice(0).map((c) => c.stop()));
  // Not a vacuous check: Prosody, Synapse and Junction were among what it started.
  const started = [...s.seen.values()].map((p) => p.cmd);
  for (const what of [/prosody --config/, /python -m synapse\.app\.homeserver/, /junction\.js start --config/]) {
    expect(started.some((c) => what.test(c)), `${what} among ${started.join("\n")}`).toBe(true);
  }
  await interruptAndCheck(s);
  expect(s.out).toContain("nothing is left running");
}, 90_000);

it("interrupted half-way through start-up (Prosody up, Synapse starting), it stops what it started and leaves nothing running", async () => {
  const s = (sandbox = new Sandbox());
  await s.waitFor("✓ starting Prosody", 45_000);
  expect(s.out).not.toContain("✓ starting Synapse");
  // Prosody was running (the process sampler may see it a tick after the line is printed).
  await until("Prosody among what it started", () => [...s.seen.values()].some((p) => /prosody --config/.test(p.cmd)), 5_000);
  await interruptAndCheck(s);
}, 60_000);

it("killed hard (SIGKILL, no chance to clean up), its servers' watchdogs still leave nothing running", async () => {
  const s = (sandbox = new Sandbox());
  await s.waitFor("… starting Junction", 60_000);
  await until("Junction's process", () => [...s.seen.values()].some((p) => /junction\.js start --config/.test(p.cmd)), 30_000);
  s.child.kill("SIGKILL");
  await s.exited;
  await until("every process the sandbox started to be gone", () => s.survivors().length === 0, 5000).catch(() => {});
  s.stopWatching();
  expect(s.survivors().map((p) => `${p.pid} ${p.cmd}`)).toEqual([]);
}, 60_000);

it("interrupted while it builds the Synapse virtualenv, it kills the build (and what the build started) and frees the lock", async () => {
  // A stand-in for `python3 -m venv` + pip (a minute of downloads from PyPI): it starts a child and waits.
  const bin = mkdtempSync(join(tmpdir(), "junction-sandbox-fakepy-"));
  trackTempDir(bin);
  const python = join(bin, "python3");
  writeFileSync(python, '#!/bin/sh\n[ "$1" = -c ] && exit 0\nsleep 300 &\nwait\n');
  chmodSync(python, 0o755);
  const cache = join(bin, "cache");
  mkdirSync(cache);
  // Node 24 from the shared cache (JUNCTION_CACHE points elsewhere here): the one running this test.
  const s = (sandbox = new Sandbox({ JUNCTION_CACHE: cache, JUNCTION_PYTHON: python, JUNCTION_NODE: process.execPath }));
  await s.waitFor("creating the Synapse virtualenv", 30_000);
  await until("the stand-in's child", () => [...s.seen.values()].some((p) => p.cmd === "sleep 300"), 10_000);
  await interruptAndCheck(s);
  expect(existsSync(join(cache, "synapse-venv.lock"))).toBe(false);
}, 60_000);

it("without Prosody, as root: it installs it with scripts/apt-install.sh (Debian's service kept from starting), and says so when that did not help", async () => {
  if (process.getuid?.() !== 0) throw new Error("this test runs as root, as the machine's CI does (the sandbox only installs as root)");
  // PATH: everything on this machine's PATH except Prosody, and an apt-get that records its calls
  // (and what policy-rc.d answers meanwhile: 101 refuses every service start) and installs nothing.
  const bin = mkdtempSync(join(tmpdir(), "junction-sandbox-noprosody-"));
  trackTempDir(bin);
  for (const dir of (process.env.PATH ?? "").split(":").filter(Boolean)) {
    let names: string[] = [];
    try { names = readdirSync(dir); } catch { continue; }
    for (const name of names) {
      if (/^prosody/.test(name) || name === "apt-get" || existsSync(join(bin, name))) continue;
      try { symlinkSync(join(dir, name), join(bin, name)); } catch { /* a name twice on PATH: the first wins */ }
    }
  }
  const calls = join(bin, "apt-get.calls");
  writeFileSync(join(bin, "apt-get"), `#!/bin/sh
{ echo "apt-get $*"; if [ -x /usr/sbin/policy-rc.d ]; then /usr/sbin/policy-rc.d; echo "policy-rc.d $?"; else echo "policy-rc.d none"; fi; } >> ${calls}
`);
  chmodSync(join(bin, "apt-get"), 0o755);
  const policyBefore = existsSync("/usr/sbin/policy-rc.d");
  const s = (sandbox = new Sandbox({ PATH: bin, JUNCTION_NODE: process.execPath }));
  const code = await Promise.race([s.exited, new Promise<"hung">((r) => setTimeout(() => r("hung"), 30_000))]);
  expect(s.out).toContain("installing Prosody (apt-get install prosody)");
  expect(s.out).toContain("Prosody is still missing after apt-get; install it by hand: apt-get update && apt-get install -y prosody");
  expect(code).toBe(2);
  const recorded = readFileSync(calls, "utf8").trim().split("\n");
  expect(recorded.filter((l) => l.startsWith("apt-get"))).toEqual(["apt-get update -qq", "apt-get install -y -qq --no-install-recommends prosody"]);
  if (!policyBefore) expect(recorded.filter((l) => l.startsWith("policy-rc.d"))).toEqual(["policy-rc.d 101", "policy-rc.d 101"]);
  expect(existsSync("/usr/sbin/policy-rc.d")).toBe(policyBefore); // put there for the install only
  s.stopWatching();
  expect(s.survivors().map((p) => `${p.pid} ${p.cmd}`)).toEqual([]);
}, 60_000);
