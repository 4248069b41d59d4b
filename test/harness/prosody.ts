/**
 * A real Prosody for one test file: loopback ports picked at start, config and data in a temp dir,
 * started in the foreground and stopped (or killed) by the test. See prosody-config.ts for the config.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { findExecutable } from "./executables.ts";
import { freePorts, waitForPort } from "./ports.ts";
import { prosodyConfig, type ProsodyLayout } from "./prosody-config.ts";
import { ServerProcess, serverLifecycle, trackTempDir } from "./process.ts";

const run = promisify(execFile);

export interface ProsodyOptions {
  componentDomain?: string; // default "bridge.localhost"
  componentSecret?: string; // default: random
  /** Turn on XEP-0363 upload (mod_http_file_share) at upload.localhost on a free HTTP port. */
  upload?: boolean;
  /** Extra JIDs or domains allowed to upload (the component domain and the vhost always are). */
  uploadAccess?: string[];
  /** The largest file the upload service takes (http_file_share_size_limit), default 50 MiB. */
  uploadSizeLimit?: number;
  logLevel?: "debug" | "info" | "warn"; // default "info", or "debug" when JUNCTION_PROSODY_DEBUG is set
  extraGlobalConfig?: string;
  extraMucConfig?: string;
  startTimeoutMs?: number; // default 10 s
  /** Run it in a process group of its own (see SpawnSpec.processGroup). */
  processGroup?: boolean;
  /** Offer STARTTLS on the client port with this certificate and key (PEM files); plain still works. */
  tls?: { certificate: string; key: string };
  /** The client port to use (it must be free); default: a free one. */
  c2sPort?: number;
}

export interface ProsodyServer {
  readonly host: string; // the VirtualHost, "localhost"
  readonly mucDomain: string; // "conference.localhost"
  readonly c2sPort: number;
  readonly componentPort: number;
  readonly componentDomain: string;
  readonly componentSecret: string;
  readonly uploadDomain?: string; // "upload.localhost" when upload was asked for
  readonly uploadPort?: number;
  readonly dataDir: string;
  readonly configFile: string;
  readonly logFile: string;
  /** "xmpp://127.0.0.1:<c2sPort>", for @xmpp/client's `service`. */
  readonly c2sService: string;
  /** "xmpp://127.0.0.1:<componentPort>", for @xmpp/component's `service`. */
  readonly componentService: string;
  /** Milliseconds from spawn until every port accepted connections, for the last (re)start. */
  readonly startMs: number;
  /** Runs a command in Prosody's admin shell (`>lua` runs Lua inside the server); resolves to its output. */
  shell(command: string): Promise<string>;
  /** Creates an account on the vhost (works while Prosody runs). Resolves to the bare JID. */
  registerUser(user: string, password: string): Promise<string>;
  /** SIGTERM and wait; the temp dir is removed unless keepData. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
  /** Stop if running (SIGTERM), then start again on the same ports with the same data dir. */
  restart(): Promise<void>;
  /** SIGKILL, as a crash would; data stays for restart(). */
  kill(): Promise<void>;
  readonly running: boolean;
}

const INSTALL_HINT = "Prosody is not installed: apt-get install prosody";

export async function startProsody(opts: ProsodyOptions = {}): Promise<ProsodyServer> {
  const prosodyBin = findExecutable("prosody");
  const prosodyctl = findExecutable("prosodyctl");
  if (!prosodyBin || !prosodyctl) throw new Error(INSTALL_HINT);

  const dir = mkdtempSync(join(tmpdir(), "junction-prosody-"));
  trackTempDir(dir);
  const dataDir = join(dir, "data");
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(join(dir, "certs"), { recursive: true });
  const picked = (await freePorts(opts.upload ? 3 : 2)).filter((p) => p !== opts.c2sPort);
  const [c2sPort, componentPort, httpPort] = (opts.c2sPort !== undefined ? [opts.c2sPort, ...picked] : picked) as [number, number, number?];
  const componentDomain = opts.componentDomain ?? "bridge.localhost";
  const host = "localhost";
  const layout: ProsodyLayout = {
    dir,
    dataDir,
    host,
    mucDomain: `conference.${host}`,
    componentDomain,
    componentSecret: opts.componentSecret ?? randomBytes(12).toString("hex"),
    c2sPort,
    componentPort,
    upload:
      opts.upload && httpPort !== undefined
        ? { domain: `upload.${host}`, port: httpPort, access: [componentDomain, host, ...(opts.uploadAccess ?? [])], sizeLimit: opts.uploadSizeLimit ?? 50 * 1024 * 1024 }
        : undefined,
    logLevel: opts.logLevel ?? (process.env.JUNCTION_PROSODY_DEBUG ? "debug" : "info"),
    extraGlobalConfig: opts.extraGlobalConfig,
    extraMucConfig: opts.extraMucConfig,
    tls: opts.tls,
  };
  const configFile = join(dir, "prosody.cfg.lua");
  writeFileSync(configFile, prosodyConfig(layout));
  const ports = [c2sPort, componentPort, ...(layout.upload ? [layout.upload.port] : [])];
  const timeoutMs = opts.startTimeoutMs ?? 10_000;

  let proc: ServerProcess | undefined;
  let startMs = 0;
  const launch = async (): Promise<void> => {
    const t0 = performance.now();
    const p = new ServerProcess({
      name: "prosody",
      command: prosodyBin,
      args: ["--config", configFile, "-F"],
      cwd: dir,
      tempDir: dir,
      logFile: join(dir, "prosody.out"),
      processGroup: opts.processGroup,
    });
    proc = p;
    try {
      for (const port of ports) await waitForPort(port, timeoutMs, () => p.running);
    } catch (err) {
      await p.kill();
      throw new Error(
        `Prosody did not start (${(err as Error).message}; ${p.describeExit()}). Config: ${configFile}\n` +
          `--- output ---\n${p.logTail()}\n--- log ---\n${tail(join(dir, "prosody.log"))}`,
      );
    }
    startMs = performance.now() - t0;
  };
  await launch();

  const server: ProsodyServer = {
    host,
    mucDomain: layout.mucDomain,
    c2sPort,
    componentPort,
    componentDomain,
    componentSecret: layout.componentSecret,
    uploadDomain: layout.upload?.domain,
    uploadPort: layout.upload?.port,
    dataDir,
    configFile,
    logFile: join(dir, "prosody.log"),
    c2sService: `xmpp://127.0.0.1:${c2sPort}`,
    componentService: `xmpp://127.0.0.1:${componentPort}`,
    get startMs() {
      return startMs;
    },
    get running() {
      return proc?.running ?? false;
    },
    async registerUser(user, password) {
      try {
        await run(prosodyctl, ["--config", configFile, "register", user, host, password], { cwd: dir });
      } catch (err) {
        const e = err as Error & { stderr?: string };
        throw new Error(`prosodyctl register ${user}@${host} failed: ${e.stderr || e.message}`);
      }
      return `${user}@${host}`;
    },
    async shell(command) {
      const { stdout } = await run(prosodyctl, ["--config", configFile, "shell", command], { cwd: dir });
      return stdout;
    },
    ...serverLifecycle(() => proc, launch, dir),
  };
  return server;
}

function tail(file: string, chars = 3000): string {
  try {
    return readFileSync(file, "utf8").slice(-chars);
  } catch {
    return "(no log)";
  }
}
