/**
 * `junction sandbox`: a complete local stack on loopback, for trying Junction in one command.
 * Real Prosody and Synapse (started by the test harness in test/harness/), the Discord emulator
 * (test/discord-emulator/), and Junction itself started as an operator would (`bin/junction start
 * --config FILE`), with one link of a room on each network and a test account on each. It runs
 * from a clone of the repository, since those servers are test tools that the package leaves out.
 *
 * Every server runs in a process group of its own, so a terminal's Ctrl-C reaches only the
 * sandbox, which stops Junction first and then the servers, each with its whole group. Should the
 * sandbox itself die hard, each server's watchdog (test/harness/process.ts) kills its group.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { generateRegistration } from "../bridges/matrix/registration.ts";
import { startDiscordEmulator, type DiscordEmulator } from "../test/discord-emulator/index.ts";
import { freePort, portFree } from "../test/harness/ports.ts";
import { liveServers, ServerProcess, trackTempDir } from "../test/harness/process.ts";
import { startProsody } from "../test/harness/prosody.ts";
import { startSynapse } from "../test/harness/synapse.ts";
import { ensureSynapseVenv, synapseVenvDir } from "../test/harness/synapse-venv.ts";
import { selfSignedCertificate } from "./certificate.ts";
import { instructions } from "./instructions.ts";
import { ensurePrerequisites, MissingPrerequisite } from "./prerequisites.ts";
import { step } from "./progress.ts";
import { discordPrompt } from "./prompt.ts";

const ROOM = "sandbox";
const XMPP_USER = { name: "alice", password: "alice-pw" };
const MATRIX_USER = { name: "bob", password: "bob-pw" };
const DISCORD_PERSON = "carol";
const XMPP_PORT = 5222;

class Interrupted extends Error {}

export async function runSandbox(root: string): Promise<number> {
  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  const abort = new AbortController();
  let emu: DiscordEmulator | undefined;
  let junction: ServerProcess | undefined;
  let prompt: { close(): void } | undefined;
  let stopping = false;
  let stoppedAt = 0;

  const stopAll = async (why: string, code: number): Promise<never | void> => {
    if (stopping) {
      // The same Ctrl-C twice (the terminal's, and npm forwarding it to `npm run sandbox`): ignored.
      if (Date.now() - stoppedAt < 1000) return;
      // A second Ctrl-C: no more waiting for clean stops.
      for (const s of liveServers()) s.killNow();
      process.exit(code);
    }
    stopping = true;
    stoppedAt = Date.now();
    abort.abort();
    prompt?.close();
    say(`\nStopping (${why}) …`);
    const started = liveServers();
    await junction?.stop(5000);
    await Promise.allSettled([emu?.stop(), ...liveServers().map((s) => s.stop(5000))]);
    const left = started.filter((s) => groupAlive(s.pid));
    say(left.length === 0
      ? `Stopped ${started.length} processes (each with its process group); nothing is left running.`
      : `Still running after the stop: ${left.map((s) => `${s.spec.name} (pid ${s.pid})`).join(", ")}`);
    process.exit(left.length === 0 ? code : 1);
  };
  const onSignal = (signal: NodeJS.Signals): void => void stopAll(signal, 0);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);
  const check = (): void => {
    if (stopping) throw new Interrupted("interrupted");
  };

  try {
    say("Junction sandbox: Prosody, Synapse, a Discord emulator and Junction, on 127.0.0.1 only.");
    await ensurePrerequisites(root, say, abort.signal);
    check();
    await step(say, "Synapse virtualenv", () => ensureSynapseVenv(say, abort.signal), () => `${synapseVenvDir()}`);
    check();
    const dir = mkdtempSync(join(tmpdir(), "junction-sandbox-"));
    trackTempDir(dir);
    const matrixConfig = {
      homeserver: "", domain: "localhost", listen: { host: "127.0.0.1", port: await freePort() },
      registration: join(dir, "registration.yaml"), ghostPrefix: "_junction_",
    };
    writeFileSync(matrixConfig.registration, generateRegistration(matrixConfig), { mode: 0o600 });
    const certificate = await selfSignedCertificate(dir, ["localhost", "conference.localhost"]);
    // Dino has no port setting: it connects to the account's domain on 5222, so that is taken when free.
    const c2sPort = (await portFree(XMPP_PORT)) ? XMPP_PORT : undefined;
    check();
    const [prosody, synapse, emulator] = await Promise.all([
      step(say, "starting Prosody", () => startProsody({ processGroup: true, tls: certificate, c2sPort }), (p) => `XMPP on 127.0.0.1:${p.c2sPort}, STARTTLS`),
      step(say, "starting Synapse", () => startSynapse({ registration: matrixConfig.registration, processGroup: true }), (s) => s.url),
      step(say, "starting the Discord emulator", () => startDiscordEmulator({ channels: [ROOM] }), (e) => e.api),
    ]);
    emu = emulator;
    check();
    matrixConfig.homeserver = synapse.url;

    const accounts = await step(say, "creating test accounts and rooms", async () => {
      const xmppAccount = await prosody.registerUser(XMPP_USER.name, XMPP_USER.password);
      const mx = await synapse.registerUser(MATRIX_USER.name, MATRIX_USER.password);
      const res = await fetch(`${synapse.url}/_matrix/client/v3/createRoom`, {
        method: "POST", headers: { authorization: `Bearer ${mx.accessToken}` },
        body: JSON.stringify({ preset: "public_chat", room_alias_name: ROOM, name: "Junction sandbox" }),
      });
      const room = (await res.json()) as { room_id?: string; error?: string };
      if (!res.ok || !room.room_id) throw new Error(`creating #${ROOM}:localhost failed (${res.status}): ${room.error ?? ""}`);
      const person = emulator.person({ username: DISCORD_PERSON });
      return { xmppAccount, mx, roomId: room.room_id, person };
    }, (a) => `${a.xmppAccount}, ${a.mx.userId}, ${DISCORD_PERSON} on Discord`);
    check();

    const xmppRoom = `${ROOM}@${prosody.mucDomain}`;
    const configFile = join(dir, "junction.yaml");
    const junctionLog = join(dir, "junction.log");
    const httpPort = await freePort();
    writeFileSync(configFile, stringify({
      xmpp: { server: prosody.componentService, component: prosody.componentDomain, secret: prosody.componentSecret, nick: "Junction" },
      matrix: { ...matrixConfig, homeserver: synapse.url, listen: `127.0.0.1:${matrixConfig.listen.port}` },
      discord: { token: emulator.token, api: emulator.api, cdn: emulator.cdn },
      http: { listen: `127.0.0.1:${httpPort}`, publicUrl: `http://127.0.0.1:${httpPort}` },
      store: { path: join(dir, "junction.db") },
      log: { level: "info" },
      // Every test account may try the admin commands (docs/operations.md, Admin commands).
      admin: { xmpp: [accounts.xmppAccount], matrix: [accounts.mx.userId], discord: [accounts.person.id] },
      links: { [ROOM]: { xmpp: xmppRoom, matrix: `#${ROOM}:localhost`, discord: emulator.channel.id } },
    }), { mode: 0o600 });
    check();
    await step(say, "starting Junction (bin/junction start --config junction.yaml)", async () => {
      junction = new ServerProcess({
        name: "junction", command: "sh", args: [join(root, "bin/junction"), "start", "--config", configFile],
        cwd: dir, logFile: junctionLog, processGroup: true,
      });
      await waitForReady(junction, junctionLog, 3, 120_000);
    }, () => "all three networks connected, the link's rooms joined");
    check();

    say(instructions({
      xmpp: {
        port: prosody.c2sPort, domain: prosody.host, account: accounts.xmppAccount, password: XMPP_USER.password, room: xmppRoom,
        certificate: certificate.certificate, fingerprint: certificate.fingerprint,
      },
      matrix: {
        url: synapse.url, userId: accounts.mx.userId, user: MATRIX_USER.name, password: MATRIX_USER.password,
        accessToken: accounts.mx.accessToken, alias: `#${ROOM}:localhost`, roomId: accounts.roomId,
      },
      discord: { person: DISCORD_PERSON, channel: ROOM },
      dir,
      junctionLog,
      component: prosody.componentDomain,
      bot: `@${matrixConfig.ghostPrefix}bot:localhost`,
    }));
    say("Sandbox ready.");
    prompt = discordPrompt({
      emu: emulator, person: accounts.person, channelId: emulator.channel.id, input: process.stdin, output: process.stdout,
      onQuit: (why) => void stopAll(why === "EOF" ? "end of input" : why, 0),
    });
    const exited = junction as ServerProcess | undefined;
    void exited?.whenExited().then(() => {
      if (!stopping) void stopAll(`Junction exited (${exited.describeExit()}); see ${junctionLog}`, 1);
    });
    return new Promise<number>(() => {}); // runs until a signal; stopAll exits
  } catch (err) {
    if (err instanceof Interrupted || stopping) return new Promise<number>(() => {}); // stopAll is under way and exits
    process.stderr.write(`junction sandbox: ${err instanceof MissingPrerequisite ? err.message : (err as Error).stack ?? String(err)}\n`);
    await stopAll("start-up failed", err instanceof MissingPrerequisite ? 2 : 1);
    return 1;
  }
}

/** Resolves once Junction logged "network ready" for `networks` networks; fails if it exits first. */
async function waitForReady(proc: ServerProcess, logFile: string, networks: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let text = "";
    try {
      text = readFileSync(logFile, "utf8");
    } catch {
      // not written yet
    }
    if (text.split("\n").filter((l) => l.includes('"msg":"network ready"')).length >= networks) return;
    if (!proc.running) throw new Error(`Junction exited (${proc.describeExit()}) before it was ready:\n${text.slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`Junction was not ready after ${timeoutMs / 1000} s:\n${text.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function groupAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(-pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
