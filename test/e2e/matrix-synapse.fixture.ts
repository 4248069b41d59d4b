/**
 * A throwaway Synapse for the Matrix adapter's own tests, until test/harness/synapse.ts lands.
 * SQLite on /dev/shm, one loopback listener, rate limits lifted, our registration loaded.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac } from "node:crypto";
import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MatrixConfig } from "../../config/schema.ts";
import { generateRegistration } from "../../bridges/matrix/registration.ts";

const VENV = process.env.SYNAPSE_VENV ?? "/root/.cache/junction/synapse-venv";

export interface TestSynapse {
  readonly url: string;
  readonly matrixConfig: MatrixConfig;
  registerUser(name: string, displayname?: string): Promise<{ userId: string; token: string }>;
  start(): Promise<void>;
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const limit = "{per_second: 10000, burst_count: 10000}";

export async function startTestSynapse(): Promise<TestSynapse> {
  const python = join(VENV, "bin", "python");
  if (!existsSync(python)) throw new Error(`Synapse not found at ${VENV}: create a virtualenv there and pip install matrix-synapse`);
  const dir = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "junction-synapse-"));
  const hsPort = await freePort();
  const asPort = await freePort();
  const matrixConfig: MatrixConfig = {
    homeserver: `http://127.0.0.1:${hsPort}`, domain: "localhost", listen: { host: "127.0.0.1", port: asPort },
    registration: join(dir, "registration.yaml"), ghostPrefix: "_junction_",
  } as MatrixConfig;
  writeFileSync(matrixConfig.registration, generateRegistration(matrixConfig));
  writeFileSync(join(dir, "homeserver.yaml"), `
server_name: localhost
pid_file: ${dir}/homeserver.pid
listeners:
  - {port: ${hsPort}, bind_addresses: ['127.0.0.1'], type: http, x_forwarded: false, resources: [{names: [client], compress: false}]}
database: {name: sqlite3, args: {database: ${dir}/homeserver.db}}
media_store_path: ${dir}/media
signing_key_path: ${dir}/signing.key
registration_shared_secret: test-secret
report_stats: false
trusted_key_servers: []
suppress_key_server_warning: true
app_service_config_files: [${matrixConfig.registration}]
presence: {enabled: true}
rc_message: ${limit}
rc_login: {address: ${limit}, account: ${limit}, failed_attempts: ${limit}}
rc_registration: ${limit}
rc_joins: {local: ${limit}, remote: ${limit}}
rc_joins_per_room: ${limit}
rc_presence: {per_user: ${limit}}
rc_invites: {per_room: ${limit}, per_user: ${limit}, per_issuer: ${limit}}
rc_media_create: ${limit}
`);
  await run(python, ["-m", "synapse.app.homeserver", "-c", join(dir, "homeserver.yaml"), "--generate-keys"], dir);
  const url = `http://127.0.0.1:${hsPort}`;
  let proc: ChildProcess | undefined;
  const launch = async () => {
    proc = spawn(python, ["-m", "synapse.app.homeserver", "-c", join(dir, "homeserver.yaml")], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    proc.stderr!.on("data", (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
      if (process.env.SYNAPSE_LOG) appendFileSync(process.env.SYNAPSE_LOG, d);
    });
    const end = Date.now() + 60_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`Synapse exited: ${err}`);
      try {
        if ((await fetch(`${url}/_matrix/client/versions`)).ok) return;
      } catch { /* not yet */ }
      if (Date.now() > end) throw new Error(`Synapse did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const halt = async () => {
    const p = proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (p.exitCode === null) p.kill("SIGKILL");
  };
  await launch();
  return {
    url, matrixConfig,
    async registerUser(name, displayname) {
      const { nonce } = await (await fetch(`${url}/_synapse/admin/v1/register`)).json() as { nonce: string };
      const mac = createHmac("sha1", "test-secret").update(`${nonce}\0${name}\0pw-${name}\0notadmin`).digest("hex");
      const res = await fetch(`${url}/_synapse/admin/v1/register`, {
        method: "POST", body: JSON.stringify({ nonce, username: name, password: `pw-${name}`, admin: false, mac, ...(displayname ? { displayname } : {}) }),
      });
      const body = await res.json() as { user_id: string; access_token: string };
      if (!res.ok) throw new Error(`register ${name}: ${JSON.stringify(body)}`);
      return { userId: body.user_id, token: body.access_token };
    },
    start: launch,
    async stop(opts) {
      await halt();
      if (!opts?.keepData) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function run(cmd: string, args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    p.stderr.on("data", (d: Buffer) => { err += d.toString(); });
    p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(" ")} failed: ${err}`))));
  });
}
