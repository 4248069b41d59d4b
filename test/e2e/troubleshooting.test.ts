/**
 * The troubleshooting table of docs/operations.md, made to happen: each likely failure is set up
 * for real (a real Prosody, a real Synapse, the Discord emulator, each misconfigured the way an
 * operator would get it wrong), Junction runs against it, and the line it logs must read as a line
 * the table quotes (its fixed parts, in order; "…" where a room or an address varies). What the
 * log said is kept in test-artifacts/troubleshooting.log, for the docs.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { xml } from "@xmpp/client";
import { pino } from "pino";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DiscordAdapter } from "../../bridges/discord/adapter.ts";
import { MatrixAdapter } from "../../bridges/matrix/adapter.ts";
import { XmppAdapter } from "../../bridges/xmpp/adapter.ts";
import type { Adapter } from "../../core/adapter.ts";
import { runJunction, type RunningJunction } from "../../core/app.ts";
import type { MatrixConfig } from "../../config/schema.ts";
import { startDiscordEmulator, type DiscordEmulator } from "../discord-emulator/index.ts";
import { matrixPerson } from "../harness/matrix-person.ts";
import { freePort } from "../harness/ports.ts";
import { trackTempDir } from "../harness/process.ts";
import { startProsody, type ProsodyServer } from "../harness/prosody.ts";
import { until } from "../harness/until.ts";
import { newPerson, type Person } from "../harness/xmpp-person.ts";
import { ROOT, reads, troubleshootingRows } from "../support/troubleshooting.ts";
import { startTestSynapse, type TestSynapse } from "./matrix-synapse.fixture.ts";

const rows = troubleshootingRows();
const documented = rows.flatMap((r) => r.lines);
const artifact = join(ROOT, "test-artifacts/troubleshooting.log");
let dir: string;
let prosody: ProsodyServer;
let syn: TestSynapse;
let emu: DiscordEmulator;
const running: RunningJunction[] = [];

interface Line { level: number; msg: string; [k: string]: unknown }

/** What a person reads of a log line: its message and the string fields beside it (err, reason…). */
const text = (l: Line): string => [l.msg, ...Object.entries(l).filter(([k]) => !["msg", "hostname", "network"].includes(k))
  .map(([, v]) => typeof v === "string" ? v : (v as { message?: unknown } | null)?.message).filter((v): v is string => typeof v === "string")].join(" ");

/** Runs Junction with these adapters and links until a warning or error matching `want` is logged. */
async function junctionSays(
  what: string, adapters: (log: pino.Logger) => Adapter[], links: Record<string, Record<string, string[]>>, want: RegExp,
  act?: (j: RunningJunction) => Promise<void>,
): Promise<string> {
  const lines: Line[] = [];
  const log = pino({ level: "debug" }, { write: (s: string) => { lines.push(JSON.parse(s) as Line); } });
  const store = join(dir, `${what.replace(/\W+/g, "-")}.db`);
  const started = runJunction({ store: { path: store }, links }, adapters(log), log).then((j) => { running.push(j); return j; });
  started.catch(() => undefined);
  if (act) await act(await started);
  const line = await until(`a line matching ${want} (${what}); the log said:\n${lines.filter((l) => l.level >= 40).map(text).join("\n")}`,
    () => lines.find((l) => l.level >= 40 && want.test(text(l))), 30_000, 100);
  appendFileSync(artifact, `## ${what}\n${JSON.stringify(line)}\n\n`);
  await started.then((j) => j.stop()).catch(() => undefined);
  return text(line);
}

/** The documented line it reads as, or a failure naming what the log said instead. */
function expectDocumented(said: string): void {
  expect(documented.filter((d) => reads(said, d)), `no troubleshooting row quotes this line:\n${said}`).not.toEqual([]);
}

const xmppAdapter = (log: pino.Logger, o: { server?: string; component?: string; secret?: string } = {}) => new XmppAdapter({
  server: o.server ?? prosody.componentService, component: o.component ?? prosody.componentDomain,
  secret: o.secret ?? prosody.componentSecret, nick: "Junction", history: 0,
}, log.child({ network: "xmpp" }));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "junction-troubleshooting-"));
  trackTempDir(dir);
  mkdirSync(join(ROOT, "test-artifacts"), { recursive: true });
  writeFileSync(artifact, "# Log lines of the failures in docs/operations.md's troubleshooting table, as test/e2e/troubleshooting.test.ts made them happen\n\n");
  [prosody, syn, emu] = await Promise.all([
    startProsody(),
    startTestSynapse(),
    startDiscordEmulator({ channels: ["fine", "withheld"], intents: { messageContent: false }, heartbeatIntervalMs: 5000 }),
  ]);
}, 180_000);

afterAll(async () => {
  await Promise.allSettled(running.map((j) => j.stop()));
  await Promise.allSettled([prosody?.stop(), syn?.stop(), emu?.stop()]);
});

describe("XMPP server misconfigured", () => {
  const room = () => [`trouble@${prosody.mucDomain}`];

  it("wrong component secret", async () => {
    expectDocumented(await junctionSays("wrong component secret", (log) => [xmppAdapter(log, { secret: "not-the-secret" })], { t: { xmpp: room() } }, /handshake/));
  });

  it("component domain not declared", async () => {
    expectDocumented(await junctionSays("component not declared", (log) => [xmppAdapter(log, { component: "undeclared.localhost" })], { t: { xmpp: room() } }, /no component named/));
  });

  it("connection refused (nothing listens there)", async () => {
    const port = await freePort();
    expectDocumented(await junctionSays("connection refused", (log) => [xmppAdapter(log, { server: `xmpp://127.0.0.1:${port}` })], { t: { xmpp: room() } }, /connection refused/));
  });

  it("the client port instead of the component port", async () => {
    expectDocumented(await junctionSays("client port", (log) => [xmppAdapter(log, { server: prosody.c2sService })], { t: { xmpp: room() } }, /cannot connect|closed the connection|XMPP server/));
  });
});

describe("rooms the bot cannot join", () => {
  let locking: ProsodyServer;
  let closed: ProsodyServer;
  const owners: Person[] = [];
  beforeAll(async () => {
    // Prosody's default: a new room is locked until its owner configures it. And one where rooms are members-only.
    [locking, closed] = await Promise.all([
      startProsody({ extraMucConfig: "  muc_room_locking = true" }),
      startProsody({ extraMucConfig: "  muc_room_default_members_only = true" }),
    ]);
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(owners.map((o) => o.stop()));
    await Promise.allSettled([locking?.stop(), closed?.stop()]);
  });

  const on = (server: ProsodyServer) => (log: pino.Logger) => [new XmppAdapter({
    server: server.componentService, component: server.componentDomain, secret: server.componentSecret, nick: "Junction", history: 0,
  }, log.child({ network: "xmpp" }))];

  it("a locked room (created by a person, not configured yet)", async () => {
    const owner = await newPerson(locking, "owner");
    owners.push(owner);
    const room = `locked@${locking.mucDomain}`;
    await owner.join(room, "owner", { maxHistory: 0 });
    const said = await junctionSays("locked room", on(locking), { t: { xmpp: [room] } }, /not in the room/);
    expect(said).toContain("item-not-found");
    expectDocumented(said);
  });

  it("a members-only room", async () => {
    const owner = await newPerson(closed, "owner");
    owners.push(owner);
    const room = `closed@${closed.mucDomain}`;
    await owner.join(room, "owner", { maxHistory: 0 });
    const said = await junctionSays("members-only room", on(closed), { t: { xmpp: [room] } }, /not in the room/);
    expect(said).toContain("registration-required");
    expectDocumented(said);
  });
});

describe("Matrix registration mismatch", () => {
  /** A copy of the registration Synapse loaded, with some fields changed, and the config that reads it. */
  function mismatched(name: string, change: Record<string, unknown>): MatrixConfig {
    const reg = parse(readFileSync(syn.matrixConfig.registration, "utf8")) as Record<string, unknown>;
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, stringify({ ...reg, ...change }));
    return { ...syn.matrixConfig, registration: file };
  }

  it("as_token unknown to Synapse (the registration file not loaded, or an older copy)", async () => {
    const config = mismatched("other-as-token", { as_token: "a".repeat(64) });
    expectDocumented(await junctionSays("as_token mismatch", (log) => [new MatrixAdapter(config, log.child({ network: "matrix" }))], { t: { matrix: ["#trouble:localhost"] } }, /as_token/));
  });

  it("hs_token different from the one Synapse loaded", async () => {
    const config = mismatched("other-hs-token", { hs_token: "b".repeat(64) });
    expectDocumented(await junctionSays("hs_token mismatch", (log) => [new MatrixAdapter(config, log.child({ network: "matrix" }))], { t: { matrix: ["#trouble:localhost"] } }, /hs_token|ping/));
  });

  it("Synapse pushes to a url where Junction does not listen", async () => {
    const config = { ...syn.matrixConfig, listen: { host: "127.0.0.1", port: await freePort() } };
    expectDocumented(await junctionSays("url mismatch", (log) => [new MatrixAdapter(config, log.child({ network: "matrix" }))], { t: { matrix: ["#trouble:localhost"] } }, /reach Junction|ping/));
  });
});

describe("Discord bot set up incompletely", () => {
  it("Message Content intent off, a permission withheld, a channel the bot cannot see, a wrong token", async () => {
    const [fine, withheld] = emu.channels.map((c) => c.id) as [string, string];
    emu.withhold(withheld, "ManageWebhooks");
    const unseen = "123456789012345678";
    const discord = (log: pino.Logger, token = emu.token) => new DiscordAdapter({ token, api: emu.api, cdn: emu.cdn, everyone: [], catchUp: 500 }, log.child({ network: "discord" }));
    const links = { a: { xmpp: [`d1@${prosody.mucDomain}`], discord: [fine] }, b: { xmpp: [`d2@${prosody.mucDomain}`], discord: [withheld] }, c: { xmpp: [`d3@${prosody.mucDomain}`], discord: [unseen] } };
    expectDocumented(await junctionSays("intent off", (log) => [xmppAdapter(log), discord(log)], links, /Message Content Intent/));
    expectDocumented(await junctionSays("permission withheld", (log) => [xmppAdapter(log), discord(log)], links, /Manage Webhooks/));
    expectDocumented(await junctionSays("channel not seen", (log) => [xmppAdapter(log), discord(log)], links, new RegExp(unseen)));
    expectDocumented(await junctionSays("wrong token", (log) => [xmppAdapter(log), discord(log, "not-the-token")], { a: links.a }, /refused the bot token/));
  }, 90_000);
});

describe("files and the disk", () => {
  it("a file at a private address is not fetched", async () => {
    const bob = await newPerson(prosody, "filer");
    const muc = `files@${prosody.mucDomain}`;
    await bob.join(muc, "bob", { maxHistory: 0 });
    const alice = await syn.registerUser("filewatcher");
    const mx = matrixPerson(syn.url, alice.userId, alice.token);
    await mx.request("POST", "/client/v3/createRoom", { preset: "public_chat", room_alias_name: "files" });
    try {
      const url = `http://127.0.0.1:${await freePort()}/secret.png`;
      expectDocumented(await junctionSays("private address", (log) => [xmppAdapter(log), new MatrixAdapter(syn.matrixConfig, log.child({ network: "matrix" }))],
        { f: { xmpp: [muc], matrix: ["#files:localhost"] } }, /not copied/, async (j) => {
          await until("both ready", () => j.connected().get("xmpp") === true && j.connected().get("matrix") === true, 30_000);
          await bob.say(muc, url, xml("x", { xmlns: "jabber:x:oob" }, xml("url", {}, url)));
        }));
    } finally {
      await bob.stop();
      await mx.stop();
    }
  }, 90_000);

  it("a full disk", async () => {
    const bob = await newPerson(prosody, "diskfull");
    const muc = `disk@${prosody.mucDomain}`;
    await bob.join(muc, "bob", { maxHistory: 0 });
    try {
      expectDocumented(await junctionSays("disk full", (log) => [xmppAdapter(log)], { d: { xmpp: [muc, `disk2@${prosody.mucDomain}`] } }, /full/, async (j) => {
        await until("ready", () => j.connected().get("xmpp") === true, 30_000);
        const db = j.store.db;
        db.pragma("wal_checkpoint(TRUNCATE)");
        db.pragma(`max_page_count = ${db.pragma("page_count", { simple: true }) as number}`);
        for (let i = 0; i < 20; i++) await bob.say(muc, `while the disk is full ${i} ${"x".repeat(2000)}`);
      }));
    } finally {
      await bob.stop();
    }
  }, 60_000);
});
