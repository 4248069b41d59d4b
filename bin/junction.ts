/**
 * The command line: `junction start|check-config|matrix-registration --config FILE`, and
 * `junction sandbox` (from a clone: a whole local stack to try Junction with).
 * Exit status: 0 done, 1 failed while running, 2 bad usage or bad config (before connecting anywhere).
 */
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Adapter } from "../core/adapter.ts";
import type { Logger } from "../core/log.ts";
import { ConfigError, loadConfig, type Config } from "../config/load.ts";

const USAGE = `Usage: junction COMMAND --config FILE [options]
       junction sandbox

Links chat rooms across XMPP, Matrix and Discord, with a puppet for every person.

Commands:
  start                 connect to every configured network and bridge the linked rooms
  check-config          validate the config file and print a summary of its links
  matrix-registration   write the Matrix appservice registration file named by matrix.registration
  sandbox               try Junction: Prosody, Synapse, a Discord emulator and Junction on
                        127.0.0.1, one linked room on each network, test accounts, and a prompt
                        to chat as a Discord person (from a clone of the repository; Ctrl-C stops it)

Options:
  -c, --config FILE     the config file (see config/example.yaml)
      --url URL         matrix-registration: where the homeserver reaches Junction
                        (default: http://<matrix.listen>)
      --force           matrix-registration: replace an existing registration file
  -h, --help            show this help
  -v, --version         print Junction's version

Exit status: 0 ok, 1 failure while running, 2 bad usage or invalid config.
`;

// The lead's modules, loaded only by `start`; typed here so that this file checks on its own.
interface RegistryModule {
  buildAdapters(config: Config, log: Logger): Promise<Adapter[]>;
  readConfigFile(file: string): Promise<Config>;
}
interface Running { stop(): Promise<void>; reload(): Promise<unknown> }
interface AppModule { runJunction(config: Config, adapters: Adapter[], log: Logger, opts: { reread: () => Promise<Config> }): Promise<Running> }
interface SandboxModule { runSandbox(root: string): Promise<number> }

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: "string", short: "c" },
        url: { type: "string" },
        force: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
        version: { type: "boolean", short: "v", default: false },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`junction ${version()}\n`);
    return 0;
  }
  const [command, ...extra] = positionals;
  if (command === undefined) throw new UsageError("no command given");
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  if (!["start", "check-config", "matrix-registration", "sandbox"].includes(command)) throw new UsageError(`unknown command "${command}"`);
  if (command === "sandbox") {
    if (values.config !== undefined || values.url !== undefined || values.force) throw new UsageError("sandbox takes no options; it writes its own config");
    return sandbox();
  }
  if (values.config === undefined) throw new UsageError(`${command} needs --config FILE`);
  if (command !== "matrix-registration" && (values.url !== undefined || values.force)) {
    throw new UsageError("--url and --force only apply to matrix-registration");
  }

  let config: Config;
  if (command === "matrix-registration") {
    config = loadConfig(values.config);
  } else {
    // The registration file belongs to the config: missing or mismatched, it is refused (exit 2)
    // by check-config and start alike, before anything connects.
    const { readConfigFile } = (await import("../bridges/registry.ts")) as RegistryModule;
    try {
      config = await readConfigFile(values.config);
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      process.stderr.write(`${(err as Error).message}\n`);
      return 2;
    }
  }
  switch (command) {
    case "check-config":
      process.stdout.write(`${values.config}: ok: ${summary(config)}\n`);
      return 0;
    case "matrix-registration":
      return writeRegistration(config, values.config, values.url, values.force);
    default:
      return start(config, values.config);
  }
}

function summary(config: Config): string {
  const networks = (["xmpp", "matrix", "discord"] as const).filter((n) => config[n] !== undefined);
  const links = Object.entries(config.links).map(([name, link]) => {
    const n = link.xmpp.length + link.matrix.length + link.discord.length;
    return `${name} (${n} rooms)`;
  });
  const count = links.length === 1 ? "1 link" : `${links.length} links`;
  const admin = config.admin;
  const discordAdmins = admin && (admin.discord.length > 0 || admin.discordChannel) ? `, ${admin.discord.length} discord${admin.discordChannel ? ` (admin channel ${admin.discordChannel})` : ""}` : "";
  const admins = admin ? `; admins: ${admin.xmpp.length} xmpp, ${admin.matrix.length} matrix${admin.matrixRoom ? ` (admin room ${admin.matrixRoom})` : ""}${discordAdmins}` : "";
  return `${count}${links.length > 0 ? `: ${links.join(", ")}` : ""}; networks: ${networks.join(", ")}${admins}`;
}

async function writeRegistration(config: Config, configFile: string, url: string | undefined, force: boolean): Promise<number> {
  if (!config.matrix) {
    process.stderr.write(`junction: ${configFile} has no matrix section; add one (see config/example.yaml) first\n`);
    return 2;
  }
  if (url !== undefined && !/^https?:\/\/[^/]+/.test(url)) throw new UsageError(`--url must be an http(s) URL, got "${url}"`);
  const { generateRegistration } = await import("../bridges/matrix/registration.ts");
  const file = config.matrix.registration;
  try {
    writeFileSync(file, generateRegistration(config.matrix, url === undefined ? {} : { url }), { flag: force ? "w" : "wx", mode: 0o600 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    process.stderr.write(code === "EEXIST"
      ? `junction: ${file} exists already; pass --force to replace it (its tokens change, so Synapse must be restarted)\n`
      : `junction: cannot write ${file}: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(
    `Wrote ${file} (it holds secret tokens: keep it private).\n` +
      "Add it to Synapse's homeserver.yaml and restart Synapse:\n\n" +
      `app_service_config_files:\n  - ${file}\n`,
  );
  return 0;
}

async function start(config: Config, file: string): Promise<number> {
  const { createLogger } = await import("../core/log.ts");
  const log = createLogger(config.log.level, { format: config.log.format });
  // URLs, not literal specifiers: these modules are the lead's and may not exist yet.
  // Literal paths, so the build (dist/) rewrites them to .js like every other import.
  const registry = (await import("../bridges/registry.ts")) as RegistryModule;
  const appModule = (await import("../core/app.ts")) as AppModule;

  let stopping: Promise<number> | undefined;
  let app: Running | undefined;
  let started!: () => void;
  const ready = new Promise<void>((resolve) => (started = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, "second signal: exiting at once");
      process.exit(130);
    }
    log.info({ signal }, "stopping");
    stopping = ready.then(() => app?.stop()).then(() => 0, (err: unknown) => {
      log.error({ err }, "stop failed");
      return 1;
    });
    void stopping.then((code) => process.exit(code));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // Re-reads the config file (core/reloader.ts logs what it applied, or why it refused).
  process.on("SIGHUP", () => {
    if (stopping) return;
    log.info({ signal: "SIGHUP", config: file }, "reloading the config file");
    void ready.then(() => app?.reload()).catch((err: unknown) => log.error({ err }, "reload failed"));
  });
  // Failures are handled where they happen; this is the net for a bug that lets one slip through.
  // A rejected promise nobody awaited leaves nothing half-done: log it and keep bridging. A
  // thrown exception may have left state half-changed: log it, stop in order, exit non-zero
  // (the service manager restarts Junction; the outbox resumes where it was).
  process.on("unhandledRejection", (reason) => {
    log.error({ err: reason }, "unhandled rejection (a bug in Junction: please report it); continuing");
  });
  process.on("uncaughtException", (err, origin) => {
    log.fatal({ err, origin }, "uncaught exception (a bug in Junction: please report it); stopping");
    if (!stopping) {
      stopping = ready.then(() => app?.stop()).then(() => 70, () => 70);
      void stopping.then((code) => process.exit(code));
    }
  });

  try {
    app = await appModule.runJunction(config, await registry.buildAdapters(config, log), log, { reread: () => registry.readConfigFile(file) });
  } catch (err) {
    log.fatal({ err }, "start failed");
    // Whatever half-started may hold sockets open; pino flushes on exit.
    process.exit(1);
  }
  started();
  log.info({ links: Object.keys(config.links).length }, "junction is running");
  // Keeps running until a signal; the exit happens in onSignal.
  return new Promise<number>(() => {});
}

/**
 * The sandbox lives in sandbox/ of a clone and uses the test servers in test/, which the package
 * leaves out; Node runs those TypeScript files as they are. The module's URL is computed so that
 * the build neither follows nor rewrites it.
 */
async function sandbox(): Promise<number> {
  const here = new URL(".", import.meta.url);
  const root = [new URL("../", here), new URL("../../", here)].find((u) => existsSync(new URL("sandbox/index.ts", u)));
  if (!root) {
    process.stderr.write("junction: the sandbox runs from a clone of Junction's repository (it uses the test servers in test/):\n" +
      "  git clone <the repository> && cd junction && ./bin/junction sandbox\n");
    return 2;
  }
  const entry = new URL("sandbox/index.ts", root).href;
  const mod = (await import(entry)) as SandboxModule;
  return mod.runSandbox(fileURLToPath(root).replace(/\/$/, ""));
}

function version(): string {
  // ../package.json from the source, ../../package.json from the build in dist/.
  const here = new URL(".", import.meta.url);
  const file = [new URL("../package.json", here), new URL("../../package.json", here)].find((u) => existsSync(u));
  if (!file) return "unknown";
  const pkg = JSON.parse(readFileSync(file, "utf8")) as { version?: string };
  return pkg.version ?? "unknown";
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 2;
    } else if (err instanceof UsageError) {
      process.stderr.write(`junction: ${err.message}\n\n${USAGE}`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`junction: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
