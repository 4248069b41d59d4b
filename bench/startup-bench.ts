/**
 * Start-up: the time from starting Junction's process (`bin/junction start`, as an operator does)
 * to every room of 100 links joined, each link an XMPP MUC on Prosody, a Matrix room on Synapse
 * and a Discord channel on the emulator. "Joined" is what /health says: 200 once every network is
 * connected and every linked room joined. The first start is on an empty store; the others are
 * restarts on the store the first one left (rooms known, puppets none).
 *
 * Where a first start's time goes (2026-12-02, quiet machine, load ~1; each start's log is kept,
 * its lines stamped with seconds since spawn): 0-1.5 s the launcher, module loading, the store and
 * Discord's login (its first log line); Discord ready at 1.8 s (its catch-up runs after, off the
 * critical path); XMPP online at 1.9 s and its 100 MUC joins (created, all sent at once) done in
 * 0.6 s, by 2.5 s; Matrix's 100 joins start at 1.8 s and end at 5.4 s (3.5 s: POST join, then
 * GET joined_members, JOINS_AT_ONCE = 8), and /health answers 200 at once. Matrix is the critical
 * path. Synapse does not serialise first joins: against the harness Synapse with the appservice
 * token, 100 joins + joined_members took 2.7-3.3 s at 8 at once, 2.5-2.6 s at 16, 1.6-1.7 s at 32
 * (2.3 s without joined_members), 3.0 s at 64. Power levels and catch-up are read after the
 * network counts as ready, so they are not on the path.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateRegistration } from "../bridges/matrix/registration.ts";
import { parseConfig } from "../config/load.ts";
import { startDiscordEmulator } from "../test/discord-emulator/index.ts";
import { spawnJunction } from "../test/harness/junction-process.ts";
import { registerPerson } from "../test/harness/matrix-person.ts";
import { freePort } from "../test/harness/ports.ts";
import type { ProsodyServer } from "../test/harness/prosody.ts";
import { startSynapse } from "../test/harness/synapse.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

export interface StartupResult { links: number; rooms: number; seconds: number[]; restarts: number }

export async function benchStartup(prosody: ProsodyServer, opts: { links: number; starts: number }): Promise<StartupResult> {
  const dir = mkdtempSync(join(tmpdir(), "junction-bench-startup-"));
  const listenPort = await freePort();
  const matrix = { homeserver: "http://127.0.0.1:1", domain: "localhost", listen: `127.0.0.1:${listenPort}`, registration: join(dir, "registration.yaml") };
  const xmpp = { server: prosody.componentService, component: prosody.componentDomain, secret: prosody.componentSecret, nick: "Junction", history: 0 };
  const draft = parseConfig({ matrix, xmpp, links: { x: { xmpp: ["x@y.z"], matrix: ["!a:b"] } } }, { baseDir: dir });
  writeFileSync(matrix.registration, generateRegistration(draft.matrix!));
  const [synapse, emu] = await Promise.all([
    startSynapse({ registration: matrix.registration }),
    startDiscordEmulator({ channels: Array.from({ length: opts.links }, (_, i) => `start-${i}`), heartbeatIntervalMs: 20_000 }),
  ]);
  try {
    const alice = await registerPerson(synapse, "start-alice");
    const links: Record<string, Record<string, string[]>> = {};
    for (let i = 0; i < opts.links; i++) {
      await alice.createRoom({ preset: "public_chat", alias: `start${i}` });
      links[`l${i}`] = { xmpp: [`start-${i}@${prosody.mucDomain}`], matrix: [`#start${i}:localhost`], discord: [emu.channels[i]!.id] };
    }
    const httpPort = await freePort();
    const config = {
      xmpp, matrix: { ...matrix, homeserver: synapse.url },
      discord: { token: emu.token, api: emu.api, cdn: emu.cdn, catchUp: 0 },
      http: { listen: `127.0.0.1:${httpPort}`, publicUrl: `http://127.0.0.1:${httpPort}` },
      links,
    };
    // dist/ is built before the clock starts (bin/junction would build it when stale).
    await new Promise<void>((resolve, reject) => spawn("sh", [join(root, "scripts/build.sh")], { stdio: "inherit" }).once("exit", (c) => (c === 0 ? resolve() : reject(new Error(`build failed (${c})`)))));
    const jdir = mkdtempSync(join(tmpdir(), "junction-bench-startup-run-"));
    const seconds: number[] = [];
    for (let s = 0; s < opts.starts; s++) {
      const started = performance.now();
      let joinedAt: number | undefined;
      let stop = false;
      const poll = (async () => {
        while (!stop) {
          try {
            const res = await fetch(`http://127.0.0.1:${httpPort}/health`);
            if (res.status === 200) { joinedAt = performance.now(); return; }
            await res.body?.cancel();
          } catch { /* not listening yet */ }
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      const lines: string[] = [];
      const j = await spawnJunction(config, 3, { dir: jdir, timeoutMs: 180_000, onLine: (l) => lines.push(`${((performance.now() - started) / 1000).toFixed(3)} ${l}`) });
      const deadline = Date.now() + 180_000;
      while (joinedAt === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      stop = true;
      await poll;
      seconds.push(joinedAt === undefined ? NaN : (joinedAt - started) / 1000);
      writeFileSync(join(jdir, `start-${s + 1}.log`), lines.join("\n"));
      process.stderr.write(`  start ${s + 1}: ${joinedAt === undefined ? "rooms not all joined in 180 s" : `${((joinedAt - started) / 1000).toFixed(2)} s`} (its log: ${join(jdir, `start-${s + 1}.log`)})\n`);
      await j.stop();
    }
    return { links: opts.links, rooms: opts.links * 3, seconds, restarts: opts.starts - 1 };
  } finally {
    await emu.stop();
    await synapse.stop();
  }
}
