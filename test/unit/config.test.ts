import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, parseConfig, type Config } from "../../config/load.ts";

const dir = mkdtempSync(join(tmpdir(), "junction-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NETWORKS = `xmpp:
  server: "127.0.0.1:5347"
  component: bridge.localhost
  secret: s3cret
matrix:
  homeserver: http://127.0.0.1:8008
  domain: localhost
  listen: "127.0.0.1:9000"
  registration: reg.yaml
`;

let n = 0;
/** One directory per case, so that relative paths resolve somewhere known. */
function write(yaml: string): string {
  const sub = join(dir, String(n++));
  mkdirSync(sub);
  const file = join(sub, "junction.yaml");
  writeFileSync(file, yaml);
  return file;
}

/** The problems as a person sees them, with the temp path shortened to junction.yaml. */
function problems(yaml: string, env: Record<string, string> = {}): string[] {
  const file = write(yaml);
  try {
    loadConfig(file, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message.split("\n").map((line) => line.replaceAll(file, "junction.yaml"));
  }
  throw new Error("expected the config to be refused");
}

function load(yaml: string, env: Record<string, string> = {}): { config: Config; dir: string } {
  const file = write(yaml);
  return { config: loadConfig(file, env), dir: join(file, "..") };
}

describe("valid configs", () => {
  it("reads admins: bare JIDs lowercased, Matrix ids as written, Discord user ids as strings", () => {
    const { config } = load(`${NETWORKS}discord:\n  token: t\nadmin:\n  xmpp: Root@Localhost\n  matrix: ["@Admin:localhost"]\n  matrixRoom: "#junction-admin:localhost"\n  discord: " 123456789012345678"\n  discordChannel: "223456789012345678"\n`);
    expect(config.admin).toEqual({
      xmpp: ["root@localhost"], matrix: ["@Admin:localhost"], matrixRoom: "#junction-admin:localhost",
      discord: ["123456789012345678"], discordChannel: "223456789012345678",
    });
  });

  it("fills defaults and resolves paths against the config file's directory", () => {
    const { config, dir: base } = load(`${NETWORKS}links:\n  lobby:\n    xmpp: Lobby@Conference.localhost\n    matrix: "#lobby:localhost"\n`);
    expect(config).toEqual({
      xmpp: { server: "xmpp://127.0.0.1:5347", component: "bridge.localhost", secret: "s3cret", nick: "Junction", history: 0, catchUpMax: 1000, rejoinMaxSeconds: 300, selfPingSeconds: 300, keepaliveSeconds: 60 },
      matrix: {
        homeserver: "http://127.0.0.1:8008", domain: "localhost", listen: { host: "127.0.0.1", port: 9000 },
        registration: join(base, "reg.yaml"), ghostPrefix: "_junction_", catchUp: 1000,
      },
      store: { path: join(base, "junction.db"), retentionDays: 90 },
      delivery: { maxAttempts: 10, maxAgeHours: 24, puppetsPerSecond: 5, joinsPerSecond: 20 },
      log: { level: "info", format: "auto" },
      media: { allowHosts: [], maxBytes: 104857600, timeouts: { connect: 10, headers: 30, total: 120 } },
      links: { lobby: { xmpp: ["lobby@conference.localhost"], matrix: ["#lobby:localhost"], discord: [] } },
    });
  });

  it("media: allowHosts in every form, and limits", () => {
    const { config } = load(`${NETWORKS}media:\n  allowHosts: [Files.LAN, "*.corp.example", "files.lan:8080", 10.0.0.0/8, "127.0.0.1:8008", "[::1]:9000", fd00::/8]\n  maxBytes: "1024"\n  timeouts: { total: 60 }\n`);
    expect(config.media).toEqual({
      allowHosts: ["files.lan", "*.corp.example", "files.lan:8080", "10.0.0.0/8", "127.0.0.1:8008", "[::1]:9000", "fd00::/8"],
      maxBytes: 1024, timeouts: { connect: 10, headers: 30, total: 60 },
    });
  });

  it.each<[string, string, Partial<Config["links"][string]>]>([
    ["a single room per network", `xmpp: a@muc.localhost\n    matrix: "!r:localhost"`, { xmpp: ["a@muc.localhost"], matrix: ["!r:localhost"] }],
    ["lists", `xmpp: [a@muc.localhost, b@muc.localhost]\n    matrix: []`, { xmpp: ["a@muc.localhost", "b@muc.localhost"], matrix: [] }],
    ["an empty key", `xmpp: [a@muc.localhost, b@muc.localhost]\n    matrix:`, { matrix: [] }],
    ["a matrix server name with a port", `matrix: ["#a:localhost:8448", "!b:[::1]:8448"]`, { matrix: ["#a:localhost:8448", "!b:[::1]:8448"] }],
  ])("links: %s", (_, body, want) => {
    expect(load(`${NETWORKS}links:\n  l:\n    ${body}\n`).config.links.l).toMatchObject(want);
  });

  it("accepts discord channel ids as strings", () => {
    const { config } = load(`${NETWORKS}discord: { token: t }\nlinks:\n  l:\n    discord: ["123456789012345678", "98765432109876543"]\n`);
    expect(config.links.l?.discord).toEqual(["123456789012345678", "98765432109876543"]);
    expect(config.discord).toEqual({ token: "t", everyone: [], catchUp: 500 });
  });

  it("substitutes ${VAR} from env, and $${ is a literal", () => {
    const yaml = NETWORKS.replace("secret: s3cret", () => 'secret: "${SECRET}-$${NOT}"') + "xmpp_extra: 0\n";
    const { config } = load(yaml.replace("xmpp_extra: 0\n", "store:\n  path: ${DB}\n"), { SECRET: "abc", DB: ":memory:" });
    expect(config.xmpp?.secret).toBe("abc-${NOT}");
    expect(config.store.path).toBe(":memory:");
  });

  it("takes a number from env where a number is expected", () => {
    const { config } = load(NETWORKS.replace("secret: s3cret", "secret: s\n  history: ${H}"), { H: "20" });
    expect(config.xmpp?.history).toBe(20);
  });

  it("normalises the xmpp server address", () => {
    for (const [given, want] of [["localhost", "xmpp://localhost:5347"], ["xmpp://[::1]:5348", "xmpp://[::1]:5348"]] as const) {
      expect(load(NETWORKS.replace('"127.0.0.1:5347"', `"${given}"`)).config.xmpp?.server).toBe(want);
    }
  });

  it("parseConfig checks data built in code", () => {
    const config = parseConfig({ xmpp: { server: "xmpp://127.0.0.1:5347", component: "b.localhost", secret: "x" }, store: { path: ":memory:" } });
    expect(config.store.path).toBe(":memory:");
    expect(() => parseConfig({ xmpp: {} }, { file: "test" })).toThrow(/^test: xmpp.server: expected/);
  });
});

describe("refused configs", () => {
  it.each<[string, string, Record<string, string>, string[]]>([
    ["an xmpp room that is not a JID", `${NETWORKS}links:\n  lobby:\n    xmpp: [a@muc.localhost, lobby]\n    matrix: "#l:localhost"\n`, {}, [
      'junction.yaml: links.lobby.xmpp[1]: expected a room JID like room@conference.example.org, got "lobby" (line 12)',
    ]],
    ["an xmpp room with a nick", `${NETWORKS}links:\n  lobby:\n    xmpp: a@muc.localhost/nick\n    matrix: "#l:localhost"\n`, {}, [
      'junction.yaml: links.lobby.xmpp: expected a room JID like room@conference.example.org (without a /nick), got "a@muc.localhost/nick" (line 12)',
    ]],
    ["a matrix room without a server", `${NETWORKS}links:\n  lobby:\n    xmpp: a@muc.localhost\n    matrix: lobby\n`, {}, [
      'junction.yaml: links.lobby.matrix: expected a Matrix room like #lobby:example.org or !roomid:example.org, got "lobby" (line 13)',
    ]],
    ["discord and http keys that are not what they should be", `${NETWORKS}discord: { token: t, cdn: "ftp://x", everyone: ["general"], catchUp: -1 }\nhttp: { listen: "8080", publicUrl: "junction.example.org" }\n`, {}, [
      'junction.yaml: discord.cdn: expected the Discord CDN base URL like https://cdn.discordapp.com, got "ftp://x" (line 10)',
      'junction.yaml: discord.everyone[0]: expected a Discord channel id (17 to 20 digits) like "123456789012345678", got "general" (line 10)',
      "junction.yaml: discord.catchUp: expected how many missed messages per channel to fetch after an outage (0 or more), got the number -1 (line 10)",
      'junction.yaml: http.listen: expected host:port like 127.0.0.1:8080, got "8080" (line 11)',
      'junction.yaml: http.publicUrl: expected the public base URL of Junction\'s HTTP server, like https://junction.example.org, got "junction.example.org" (line 11)',
    ]],
    ["an unquoted discord id", `${NETWORKS}discord: { token: t }\nlinks:\n  lobby:\n    xmpp: a@muc.localhost\n    discord: 123456789012345678\n`, {}, [
      'junction.yaml: links.lobby.discord: expected a channel id as a quoted string like "123456789012345678", got an unquoted number: put the id in quotes (YAML reads long numbers as floats and loses digits) (line 14)',
    ]],
    ["a discord id that is too short", `${NETWORKS}discord: { token: t }\nlinks:\n  lobby:\n    xmpp: a@muc.localhost\n    discord: ["1234"]\n`, {}, [
      'junction.yaml: links.lobby.discord[0]: expected a Discord channel id (17 to 20 digits) like "123456789012345678", got "1234" (line 14)',
    ]],
    ["a link with one room", `${NETWORKS}links:\n  lobby:\n    xmpp: a@muc.localhost\n`, {}, [
      "junction.yaml: links.lobby: a link needs at least two rooms to join, found 1 (line 11)",
    ]],
    ["a room in two links", `${NETWORKS}links:\n  a:\n    xmpp: x@muc.localhost\n    matrix: "#a:localhost"\n  b:\n    xmpp: X@muc.localhost\n    matrix: "#b:localhost"\n`, {}, [
      'junction.yaml: links.b.xmpp: "x@muc.localhost" is already in link "a": a room can be in only one link (merge the two links, or remove it from one) (line 15)',
    ]],
    ["a room twice in one link", `${NETWORKS}links:\n  a:\n    matrix: ["#a:localhost", "#a:localhost"]\n`, {}, [
      'junction.yaml: links.a.matrix[1]: "#a:localhost" is listed twice in this link: remove one (line 12)',
    ]],
    ["a network without its section", `${NETWORKS}links:\n  a:\n    xmpp: x@muc.localhost\n    discord: "123456789012345678"\n`, {}, [
      "junction.yaml: links.a.discord: this link has discord rooms but there is no discord section: add one (see config/example.yaml) or remove these rooms (line 13)",
    ]],
    ["unknown keys, with a suggestion", `${NETWORKS}lnks: {}\nxmpp_: 1\nfoo: 2\n`, {}, [
      'junction.yaml: lnks: unknown key: did you mean "links"? (line 10)',
      'junction.yaml: xmpp_: unknown key: did you mean "xmpp"? (line 11)',
      "junction.yaml: foo: unknown key: expected one of xmpp, matrix, discord, http, store, delivery, log, media, admin, links (line 12)",
    ]],
    ["media entries that are not hosts, and a zero limit", `${NETWORKS}media:\n  allowHosts: ["http://files.lan/", 10.0.0.0/40]\n  maxBytes: 0\n`, {}, [
      'junction.yaml: media.allowHosts[0]: expected a host name, host:port, IP address, [IPv6]:port or CIDR, got "http://files.lan/" (line 11)',
      'junction.yaml: media.allowHosts[1]: expected a host name, host:port, IP address, [IPv6]:port or CIDR, got "10.0.0.0/40" (line 11)',
      "junction.yaml: media.maxBytes: expected the largest file to copy, in bytes (like 104857600 for 100 MiB), got the number 0 (line 12)",
    ]],
    ["an unknown key inside a section", NETWORKS.replace("secret: s3cret", "secret: s\n  histroy: 5"), {}, [
      'junction.yaml: xmpp.histroy: unknown key: did you mean "history"? (line 5)',
    ]],
    ["a missing environment variable", NETWORKS.replace("secret: s3cret", "secret: ${XMPP_SECRET}"), {}, [
      "junction.yaml: xmpp.secret: environment variable XMPP_SECRET is not set: set it, or write the value in the file (line 4)",
    ]],
    ["a missing required key and wrong types", "xmpp:\n  server: 1\n  component: bridge.localhost\n  history: -1\nlog:\n  level: loud\n", {}, [
      "junction.yaml: xmpp.secret: expected the component's shared secret (as in the XMPP server's config), got nothing (line 1)",
      "junction.yaml: xmpp.server: expected the XMPP server's component address like xmpp://127.0.0.1:5347, got the number 1 (line 2)",
      "junction.yaml: xmpp.history: expected how many old messages to bridge when a room is first linked (0 or more), got the number -1 (line 4)",
      "junction.yaml: log.level: expected one of trace, debug, info, warn, error, got \"loud\" (line 6)",
    ]],
    ["bad matrix values", "matrix:\n  homeserver: ftp://x\n  domain: 'not a domain'\n  listen: '9000'\n  registration: r.yaml\n  ghostPrefix: Bad.\n", {}, [
      'junction.yaml: matrix.homeserver: expected the homeserver\'s client API URL like http://127.0.0.1:8008, got "ftp://x" (line 2)',
      'junction.yaml: matrix.domain: expected the homeserver\'s server name like example.org, got "not a domain" (line 3)',
      'junction.yaml: matrix.listen: expected host:port like 127.0.0.1:9000, got "9000" (line 4)',
      'junction.yaml: matrix.ghostPrefix: expected a user id prefix made of a-z, 0-9, _ = - / (like _junction_), got "Bad." (line 6)',
    ]],
    ["a secret written as a number, not echoed back", NETWORKS.replace("secret: s3cret", "secret: 123456"), {}, [
      "junction.yaml: xmpp.secret: expected the component's shared secret (as in the XMPP server's config) as a string (put it in quotes), got a number (line 4)",
    ]],
    ["no network at all", "log:\n  level: info\n", {}, [
      "junction.yaml: no network is configured: add an xmpp and a matrix (or discord) section",
    ]],
    ["admins that are not a bare JID or a user id, and an admin room that is a link's", `${NETWORKS}admin:\n  xmpp: [root@localhost/laptop]\n  matrix: "admin:localhost"\n  matrixRoom: "#lobby:localhost"\nlinks:\n  lobby:\n    xmpp: lobby@conference.localhost\n    matrix: "#lobby:localhost"\n`, {}, [
      'junction.yaml: admin.xmpp[0]: expected a bare JID like admin@example.org (a bare JID, without /resource), got "root@localhost/laptop" (line 11)',
      'junction.yaml: admin.matrix: expected a Matrix user id like @admin:example.org, got "admin:localhost" (line 12)',
      'junction.yaml: admin.matrixRoom: the admin room is also in link "lobby": give the admin commands a room of their own (line 13)',
    ]],
    ["Discord admins as unquoted numbers, and an admin channel that is a link's, without a discord section", `${NETWORKS}admin:\n  discord: [123456789012345678]\n  discordChannel: "223456789012345678"\nlinks:\n  lobby:\n    xmpp: lobby@conference.localhost\n    discord: "223456789012345678"\n`, {}, [
      'junction.yaml: admin.discord[0]: expected a user id as a quoted string like "123456789012345678", got an unquoted number: put the id in quotes (YAML reads long numbers as floats and loses digits) (line 11)',
      "junction.yaml: admin.discordChannel: there is a Discord admin channel but no discord section: add one or remove admin.discordChannel (line 12)",
      'junction.yaml: admin.discordChannel: the admin channel is also in link "lobby": give the admin commands a room of their own (line 12)',
      'junction.yaml: links.lobby.discord: this link has discord rooms but there is no discord section: add one (see config/example.yaml) or remove these rooms (line 16)',
    ]],
    ["an empty file", "", {}, ["junction.yaml: the file is empty: start from config/example.yaml"]],
    ["a file that is not a mapping", "- a\n- b\n", {}, [
      "junction.yaml: expected a mapping with sections like xmpp, matrix and links, got a list",
    ]],
    ["a YAML syntax error", "xmpp:\n  server: [1,\nlinks: }\n", {}, [
      "junction.yaml: YAML syntax error at line 3, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]",
      'junction.yaml: YAML syntax error at line 3, column 8: Unexpected flow-map-end token in YAML stream: "}"',
    ]],
    ["a duplicate key", `${NETWORKS}log: {}\nlog: {}\n`, {}, [
      "junction.yaml: YAML syntax error at line 11, column 1: Map keys must be unique",
    ]],
  ])("%s", (_, yaml, env, want) => {
    expect(problems(yaml, env)).toEqual(want);
  });

  it("reports every problem at once, in file order", () => {
    const yaml = `xmp: 1\n${NETWORKS.replace("secret: s3cret", "secret: ${NOPE}")}links:\n  a:\n    xmpp: lobby\n`;
    const lines = problems(yaml);
    expect(lines.map((l) => l.split(": ")[1])).toEqual(["xmp", "xmpp.secret", "links.a", "links.a.xmpp"]);
  });

  it("names a missing file and how to pass one", () => {
    expect(() => loadConfig(join(dir, "nope.yaml"))).toThrow(/nope\.yaml: no such file \(pass the config with --config FILE/);
  });
});
