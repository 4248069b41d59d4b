import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";

const bin = new URL("../../bin/junction.ts", import.meta.url).pathname;
const example = new URL("../../config/example.yaml", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "junction-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function junction(args: string[], env: Record<string, string> = {}) {
  const run = spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    timeout: 10_000,
    env: { PATH: process.env.PATH ?? "", ...env },
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const GOOD = `xmpp: { server: "127.0.0.1:5347", component: bridge.localhost, secret: s }
matrix: { homeserver: "http://127.0.0.1:8008", domain: localhost, listen: "127.0.0.1:9000", registration: reg.yaml }
links:
  lobby: { xmpp: lobby@muc.localhost, matrix: "#lobby:localhost" }
`;

describe("junction CLI", () => {
  it("check-config on a bad file: every problem on stderr, exit 2", () => {
    const bad = file("bad.yaml", "xmpp:\n  server: 1\nlinks:\n  lobby:\n    xmpp: lobby\n");
    const run = junction(["check-config", "--config", bad]);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(`${bad}: xmpp.server: expected the XMPP server's component address like xmpp://127.0.0.1:5347, got the number 1 (line 2)`);
    expect(run.stderr).toContain(`${bad}: links.lobby.xmpp: expected a room JID like room@conference.example.org, got "lobby" (line 5)`);
  });

  it("start with a bad config exits 2 before loading anything else", () => {
    const run = junction(["start", "--config", file("bad2.yaml", "links: 1\n")]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/bad2\.yaml: links: expected a mapping of link names to rooms, got the number 1/);
  });

  it("check-config refuses a Matrix section whose registration file is missing, exit 2", () => {
    mkdirSync(join(dir, "noreg"), { recursive: true });
    const run = junction(["check-config", "--config", file("noreg/good.yaml", GOOD)]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/reg\.yaml/);
    expect(run.stderr).toMatch(/junction matrix-registration/);
  });

  it("check-config on a good file prints a one-line summary, exit 0", () => {
    mkdirSync(join(dir, "withreg"), { recursive: true });
    const good = file("withreg/good.yaml", GOOD);
    expect(junction(["matrix-registration", "--config", good]).status).toBe(0);
    const run = junction(["check-config", "--config", good]);
    expect(run).toMatchObject({ status: 0, stderr: "" });
    expect(run.stdout).toMatch(/^.*good\.yaml: ok: 1 link: lobby \(2 rooms\); networks: xmpp, matrix\n$/);
    const admins = file("withreg/admins.yaml", `${GOOD}admin:\n  xmpp: root@localhost\n  matrixRoom: "#junction-admin:localhost"\n`);
    expect(junction(["check-config", "--config", admins]).stdout).toMatch(/; networks: xmpp, matrix; admins: 1 xmpp, 0 matrix \(admin room #junction-admin:localhost\)\n$/);
    const discordAdmins = file("withreg/discord-admins.yaml", `${GOOD}admin:\n  discord: "123456789012345678"\n`);
    expect(junction(["check-config", "--config", discordAdmins]).stdout).toMatch(/; admins: 0 xmpp, 0 matrix, 1 discord\n$/);
  });

  it("config/example.yaml passes check-config with its variables set", () => {
    const sub = join(dir, "example");
    mkdirSync(sub, { recursive: true });
    const copy = join(sub, "junction.yaml");
    copyFileSync(example, copy);
    expect(junction(["matrix-registration", "--config", copy], { XMPP_COMPONENT_SECRET: "x" }).status).toBe(0);
    const run = junction(["check-config", "--config", copy], { XMPP_COMPONENT_SECRET: "x" });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("ok: 2 links");
    expect(junction(["check-config", "--config", copy]).stderr).toContain("environment variable XMPP_COMPONENT_SECRET is not set");
  });

  it.each([
    [["--help"], 0, /^Usage: junction COMMAND --config FILE/],
    [["-h"], 0, /check-config/],
    [["--help"], 0, /sandbox {15}try Junction/],
    [["--version"], 0, /^junction \d+\.\d+\.\d+\n$/],
  ])("%j exits %i", (args, status, out) => {
    const run = junction(args);
    expect(run.status).toBe(status);
    expect(run.stdout).toMatch(out);
  });

  it.each([
    [[], /no command given/],
    [["frob", "--config", "x"], /unknown command "frob"/],
    [["check-config"], /check-config needs --config FILE/],
    [["check-config", "--config", "x", "--bogus"], /Unknown option '--bogus'/],
    [["check-config", "--config", "x", "--force"], /only apply to matrix-registration/],
    [["sandbox", "--config", "x"], /sandbox takes no options/],
  ])("usage error %j exits 2 with help", (args, message) => {
    const run = junction(args);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toContain("Usage: junction");
  });

  it("a missing config file exits 2 and says how to pass one", () => {
    const run = junction(["check-config", "--config", join(dir, "missing.yaml")]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/missing\.yaml: no such file/);
  });

  it("matrix-registration writes the file once, then refuses unless --force", () => {
    const config = file("reg-config.yaml", GOOD);
    const reg = join(dir, "reg.yaml");
    const first = junction(["matrix-registration", "--config", config]);
    expect(first.status).toBe(0);
    expect(first.stdout).toContain(`app_service_config_files:\n  - ${reg}\n`);
    expect(statSync(reg).mode & 0o777).toBe(0o600);
    const written = parse(readFileSync(reg, "utf8")) as { url: string; as_token: string };
    expect(written.url).toBe("http://127.0.0.1:9000");

    const again = junction(["matrix-registration", "--config", config]);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain("exists already; pass --force");
    expect((parse(readFileSync(reg, "utf8")) as { as_token: string }).as_token).toBe(written.as_token);

    const forced = junction(["matrix-registration", "--config", config, "--force", "--url", "http://10.0.0.1:9000"]);
    expect(forced.status).toBe(0);
    const replaced = parse(readFileSync(reg, "utf8")) as { url: string; as_token: string };
    expect(replaced.url).toBe("http://10.0.0.1:9000");
    expect(replaced.as_token).not.toBe(written.as_token);
  });

  it("matrix-registration without a matrix section exits 2", () => {
    const config = file("no-matrix.yaml", 'xmpp: { server: "127.0.0.1:5347", component: b.localhost, secret: s }\n');
    const run = junction(["matrix-registration", "--config", config]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("has no matrix section");
  });
});

describe("junction start", () => {
  // bin/junction.ts next to stand-ins for the lead's registry and app, so that start runs without servers.
  const root = mkdtempSync(join(tmpdir(), "junction-start-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const repo = new URL("../../", import.meta.url).pathname;
  for (const d of ["bin", "core", "bridges"]) mkdirSync(join(root, d));
  copyFileSync(bin, join(root, "bin/junction.ts"));
  copyFileSync(join(repo, "package.json"), join(root, "package.json"));
  for (const f of ["log.ts", "adapter.ts", "events.ts"]) copyFileSync(join(repo, "core", f), join(root, "core", f));
  symlinkSync(join(repo, "config"), join(root, "config"));
  symlinkSync(join(repo, "node_modules"), join(root, "node_modules"));
  writeFileSync(join(root, "bridges/registry.ts"), 'import { loadConfig } from "../config/load.ts";\nexport function buildAdapters() { return []; }\nexport async function readConfigFile(file) { return loadConfig(file); }\n');
  writeFileSync(join(root, "core/app.ts"), `export async function runJunction(_c: unknown, _a: unknown, log: any) {
  if (process.env.FAIL) throw new Error("cannot connect");
  const t = setInterval(() => {}, 1000);
  console.error("ready");
  return { async stop() { await new Promise((r) => setTimeout(r, Number(process.env.STOP_MS))); clearInterval(t); log.info("app stopped"); } };
}
`);
  const config = join(root, "c.yaml");
  writeFileSync(config, 'xmpp: { server: "127.0.0.1:5347", component: b.localhost, secret: hunter2 }\nstore: { path: ":memory:" }\n');

  function start(env: Record<string, string>, signals: NodeJS.Signals[]): Promise<{ code: number | null; stdout: string }> {
    const child = spawn(process.execPath, [join(root, "bin/junction.ts"), "start", "--config", config], {
      env: { PATH: process.env.PATH ?? "", ...env },
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) {
        signals.forEach((s, i) => setTimeout(() => child.kill(s), 100 * i));
      }
    });
    return new Promise((resolve) => child.on("exit", (code) => resolve({ code, stdout })));
  }

  it("stops the app on SIGTERM and exits 0", async () => {
    const run = await start({ STOP_MS: "50" }, ["SIGTERM"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('"msg":"app stopped"');
    expect(run.stdout).not.toContain("hunter2");
  });

  it("exits 130 at once on a second signal", async () => {
    const run = await start({ STOP_MS: "10000" }, ["SIGINT", "SIGINT"]);
    expect(run.code).toBe(130);
    expect(run.stdout).not.toContain("app stopped");
  });

  it("exits 1 when the app cannot start", async () => {
    const run = await start({ STOP_MS: "0", FAIL: "1" }, []);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("cannot connect");
  });
});
