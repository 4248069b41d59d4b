/**
 * A real Synapse for one test file: SQLite on /dev/shm, one loopback client listener, rate limits
 * lifted, the test's appservice registration loaded. The venv is created on first use.
 */
import { createHmac, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.ts";
import { ServerProcess, serverLifecycle, trackTempDir } from "./process.ts";
import { homeserverConfig, signingKey } from "./synapse-config.ts";
import { ensureSynapseVenv } from "./synapse-venv.ts";

export interface SynapseOptions {
  /** Appservice registration YAML file(s) the test wrote; Synapse reads them at start. */
  registration?: string | string[];
  /** Top-level homeserver.yaml keys to add or override. */
  extraConfig?: Record<string, unknown>;
  startTimeoutMs?: number; // default 60 s
  /** Run it in a process group of its own (see SpawnSpec.processGroup). */
  processGroup?: boolean;
}

export interface RegisteredUser {
  userId: string; // "@alice:localhost"
  accessToken: string;
  deviceId: string;
  password: string;
}

export interface SynapseServer {
  readonly url: string; // "http://127.0.0.1:<port>"
  readonly serverName: string; // "localhost"
  readonly port: number;
  readonly dir: string;
  readonly logFile: string;
  readonly sharedSecret: string;
  /** Milliseconds from spawn until /_matrix/client/versions answered, for the last (re)start. */
  readonly startMs: number;
  /** Registers through the shared-secret admin API (nonce + HMAC-SHA1). */
  registerUser(localpart: string, password: string, admin?: boolean): Promise<RegisteredUser>;
  /** SIGTERM and wait; the temp dir is removed unless keepData. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
  /** Stop if running (SIGTERM), then start again on the same port with the same database. */
  restart(): Promise<void>;
  /** SIGKILL, as a crash would; data stays for restart(). */
  kill(): Promise<void>;
  readonly running: boolean;
}

export async function startSynapse(opts: SynapseOptions = {}): Promise<SynapseServer> {
  const python = await ensureSynapseVenv((line) => process.stderr.write(`${line}\n`));
  // SQLite on tmpfs runs Synapse 1.3-1.5x faster than on disk.
  const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  const dir = mkdtempSync(join(base, "junction-synapse-"));
  trackTempDir(dir);
  mkdirSync(join(dir, "media"));
  const port = await freePort();
  const serverName = "localhost";
  const sharedSecret = randomBytes(16).toString("hex");
  const registrations = opts.registration === undefined ? [] : [opts.registration].flat();
  for (const file of registrations) {
    if (!existsSync(file)) throw new Error(`startSynapse: the appservice registration ${file} does not exist; write it before starting Synapse`);
  }
  const configFile = join(dir, "homeserver.yaml");
  writeFileSync(configFile, JSON.stringify(homeserverConfig({ dir, port, serverName, sharedSecret, registrations, extra: opts.extraConfig }), null, 2));
  writeFileSync(join(dir, "signing.key"), signingKey());
  const url = `http://127.0.0.1:${port}`;
  const logFile = join(dir, "synapse.out");
  const timeoutMs = opts.startTimeoutMs ?? 60_000;

  let proc: ServerProcess | undefined;
  let startMs = 0;
  const launch = async (): Promise<void> => {
    const t0 = performance.now();
    const p = new ServerProcess({
      name: "synapse",
      command: python,
      args: ["-m", "synapse.app.homeserver", "-c", configFile],
      cwd: dir,
      tempDir: dir,
      logFile,
      processGroup: opts.processGroup,
    });
    proc = p;
    try {
      await waitForVersions(url, timeoutMs, () => p.running);
    } catch (err) {
      await p.kill();
      throw new Error(`Synapse did not start (${(err as Error).message}; ${p.describeExit()}). Config: ${configFile}\n--- output ---\n${p.logTail()}`);
    }
    startMs = performance.now() - t0;
  };
  await launch();

  return {
    url,
    serverName,
    port,
    dir,
    logFile,
    sharedSecret,
    get startMs() {
      return startMs;
    },
    get running() {
      return proc?.running ?? false;
    },
    registerUser: (localpart, password, admin = false) => registerWithSharedSecret(url, sharedSecret, localpart, password, admin),
    ...serverLifecycle(() => proc, launch, dir),
  };
}

async function waitForVersions(url: string, timeoutMs: number, isAlive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${url}/_matrix/client/versions`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (!isAlive()) throw new Error("the process exited");
    if (Date.now() > deadline) throw new Error(`${url}/_matrix/client/versions did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function registerWithSharedSecret(
  url: string,
  sharedSecret: string,
  localpart: string,
  password: string,
  admin: boolean,
): Promise<RegisteredUser> {
  const endpoint = `${url}/_synapse/admin/v1/register`;
  const nonceRes = await fetch(endpoint);
  if (!nonceRes.ok) throw new Error(`GET ${endpoint} answered ${nonceRes.status}: ${await nonceRes.text()}`);
  const { nonce } = (await nonceRes.json()) as { nonce: string };
  const mac = createHmac("sha1", sharedSecret)
    .update(`${nonce}\0${localpart}\0${password}\0${admin ? "admin" : "notadmin"}`)
    .digest("hex");
  const res = await fetch(endpoint, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ nonce, username: localpart, password, admin, mac }),
  });
  const body = (await res.json()) as { user_id?: string; access_token?: string; device_id?: string; error?: string };
  if (!res.ok || !body.user_id || !body.access_token) {
    throw new Error(`registering @${localpart} on ${url} failed (${res.status}): ${body.error ?? JSON.stringify(body)}`);
  }
  return { userId: body.user_id, accessToken: body.access_token, deviceId: body.device_id ?? "", password };
}
