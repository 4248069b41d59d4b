/**
 * The admin commands end to end: real Prosody and Synapse, the real core and adapters. On XMPP a
 * real client runs the XEP-0050 commands (list, execute, form submit) as an admin and as someone
 * else; on Matrix real users write `!junction …` in the admin room and in a DM with the bot. Pause
 * holds a message and resume delivers it; retry re-delivers a delivery that failed (a puppet
 * without voice in a moderated room, given voice afterwards); reload adds and removes a link, and
 * refuses an invalid config. Every command is in the admin log.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { xml } from "@xmpp/client";
import type { Element } from "@xmpp/xml";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runJunction, type RunningJunction } from "../../core/app.ts";
import { XmppAdapter } from "../../bridges/xmpp/adapter.ts";
import { MatrixAdapter } from "../../bridges/matrix/adapter.ts";
import { matrixPerson, type MatrixEvent, type MatrixPerson } from "../harness/matrix-person.ts";
import { startProsody, type ProsodyServer } from "../harness/prosody.ts";
import { trackTempDir } from "../harness/process.ts";
import { until } from "../harness/until.ts";
import { newPerson, type Person as XmppPerson } from "../harness/xmpp-person.ts";
import { Person } from "./xmpp.fixture.ts";
import { startTestSynapse, type TestSynapse } from "./matrix-synapse.fixture.ts";

const LOBBY = "adminlobby@conference.localhost";
const STAGE = "adminstage@conference.localhost";
const EXTRA = "adminextra@conference.localhost";
const COMMANDS = "http://jabber.org/protocol/commands";
const DATA = "jabber:x:data";

/** Every log line, so the admin log can be checked for who did what. */
const lines: Record<string, unknown>[] = [];
const log = pino({ level: "info" }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
const adminLog = () => lines.filter((l) => l.part === "admin" && l.action !== undefined);

let prosody: ProsodyServer;
let syn: TestSynapse;
let junction: RunningJunction;
let root: XmppPerson; // an XMPP admin
let mallory: XmppPerson; // on XMPP, not an admin
let bob: Person; // on XMPP, in the lobby
let carol: Person; // on XMPP, owner of the moderated stage
let alice: MatrixPerson; // on Matrix, in both linked rooms
let boss: MatrixPerson; // a Matrix admin
let eve: MatrixPerson; // on Matrix, not an admin
let lobby = "";
let stage = "";
let extra = "";
/** What the config file says now, for the reload commands: links, or a check-config message to refuse with. */
type Links = Parameters<typeof runJunction>[0]["links"];
const LINKS: Links = { lobby: { xmpp: [LOBBY], matrix: ["#adminlobby:localhost"] }, stage: { xmpp: [STAGE], matrix: ["#adminstage:localhost"] } };
let nextLinks: Links | string = LINKS;
let adminRoom = "";
let botId = "";

const iqCaller = (p: XmppPerson | Person) => (p.xmpp as unknown as { iqCaller: { request(el: Element, timeout?: number): Promise<Element> } }).iqCaller;
const command = (p: XmppPerson, node: string, attrs: Record<string, string> = {}, ...children: Element[]) =>
  iqCaller(p).request(xml("iq", { type: "set", to: prosody.componentDomain }, xml("command", { xmlns: COMMANDS, node, ...attrs }, ...children)), 10_000)
    .then((res) => res.getChild("command", COMMANDS)!);
const submitLink = (link: string) => xml("x", { xmlns: DATA, type: "submit" }, xml("field", { var: "link" }, xml("value", {}, link)));
/** Runs a command that asks for a link: execute, then submit the form with `link`. */
async function withLink(p: XmppPerson, node: string, link: string): Promise<Element> {
  const form = await command(p, node, { action: "execute" });
  expect(form.attrs.status).toBe("executing");
  return command(p, node, { sessionid: form.attrs.sessionid!, action: "complete" }, submitLink(link));
}
const fieldValues = (x: Element | undefined, name: string) => x?.getChildren("field").find((f) => f.attrs.var === name)?.getChildren("value").map((v) => v.text());

const body = (e: MatrixEvent) => (e.content as { body?: string }).body ?? "";
/** The bot's next notice in a room after `from` arrivals. */
const noticeIn = (p: MatrixPerson, room: string, from: number, what: string) =>
  until(what, () => p.arrivals.slice(from).find((a) => a.kind === "timeline" && a.roomId === room && a.event.sender === botId && (a.event.content as { msgtype?: string }).msgtype === "m.notice")?.event, 20_000);

beforeAll(async () => {
  [prosody, syn] = await Promise.all([startProsody(), startTestSynapse()]);
  await Promise.all([prosody.registerUser("bob", "pw"), prosody.registerUser("carol", "pw")]);
  [root, mallory] = await Promise.all([newPerson(prosody, "root"), newPerson(prosody, "mallory")]);
  const [a, b, e] = await Promise.all([syn.registerUser("alice", "Alice"), syn.registerUser("boss", "Boss"), syn.registerUser("eve", "Eve")]);
  alice = matrixPerson(syn.url, a.userId, a.token);
  boss = matrixPerson(syn.url, b.userId, b.token);
  eve = matrixPerson(syn.url, e.userId, e.token);
  lobby = await alice.createRoom({ alias: "adminlobby", preset: "public_chat" });
  stage = await alice.createRoom({ alias: "adminstage", preset: "public_chat" });
  extra = await alice.createRoom({ alias: "adminextra", preset: "public_chat" });
  adminRoom = await boss.createRoom({ alias: "junction-admin", preset: "public_chat", name: "Junction admins" });
  await eve.join(adminRoom);
  bob = new Person(prosody, "bob", LOBBY);
  carol = new Person(prosody, "carol", STAGE);
  await Promise.all([bob.join(), carol.join()]);
  // Carol makes the stage moderated: newcomers without affiliation (our puppets) join as visitors.
  await iqCaller(carol).request(xml("iq", { type: "set", to: STAGE },
    xml("query", { xmlns: "http://jabber.org/protocol/muc#owner" },
      xml("x", { xmlns: DATA, type: "submit" },
        xml("field", { var: "FORM_TYPE" }, xml("value", {}, "http://jabber.org/protocol/muc#roomconfig")),
        xml("field", { var: "muc#roomconfig_moderatedroom" }, xml("value", {}, "1")),
        xml("field", { var: "muc#roomconfig_persistentroom" }, xml("value", {}, "1"))))));
  const dir = mkdtempSync(join(tmpdir(), "junction-admin-e2e-"));
  trackTempDir(dir);
  const xmppAdapter = new XmppAdapter({
    server: `xmpp://127.0.0.1:${prosody.componentPort}`, component: prosody.componentDomain, secret: prosody.componentSecret, nick: "Junction", history: 0,
  }, log.child({ network: "xmpp" }));
  const matrixAdapter = new MatrixAdapter(syn.matrixConfig, log.child({ network: "matrix" }), { adminRoom: "#junction-admin:localhost" });
  botId = `@${syn.matrixConfig.ghostPrefix}bot:localhost`;
  const config = (links: Links) => ({ store: { path: join(dir, "junction.db") }, admin: { xmpp: ["root@localhost"], matrix: [b.userId] }, links });
  junction = await runJunction(config(LINKS), [xmppAdapter, matrixAdapter], log, {
    reread: async () => {
      if (typeof nextLinks === "string") throw new Error(nextLinks);
      return config(nextLinks);
    },
  });
  await until("both networks ready", () => junction.connected().get("xmpp") === true && junction.connected().get("matrix") === true, 30_000);
  // Bob's and Carol's presence in the XMPP rooms is bridged at start (their ghosts join); the tests count queues from empty.
  const ghostJoined = (room: string) => () => alice.timeline(room).find((e) => e.type === "m.room.member" && e.sender !== alice.userId && e.sender !== botId && (e.content as { membership?: string }).membership === "join");
  await until("Bob's ghost in the lobby", ghostJoined(lobby), 30_000);
  await until("Carol's ghost on the stage", ghostJoined(stage), 30_000);
  await junction.queues.idle(20_000);
}, 180_000);

afterAll(async () => {
  await Promise.allSettled([root?.stop(), mallory?.stop(), bob?.stop(), carol?.stop()]);
  await junction?.stop();
  await Promise.allSettled([alice?.stop(), boss?.stop(), eve?.stop()]);
  await Promise.allSettled([prosody?.stop(), syn?.stop()]);
});

describe("admin commands on XMPP (XEP-0050)", () => {
  it("an admin lists the commands and the links", async () => {
    const items = await iqCaller(root).request(xml("iq", { type: "get", to: prosody.componentDomain },
      xml("query", { xmlns: "http://jabber.org/protocol/disco#items", node: COMMANDS })));
    expect(items.getChild("query")!.getChildren("item").map((i) => i.attrs.node)).toEqual(["links", "status", "retry", "pause", "resume", "reload"]);
    const done = await command(root, "links", { action: "execute" });
    expect(done.attrs.status).toBe("completed");
    const x = done.getChild("x", DATA)!;
    expect(x.attrs.type).toBe("result");
    expect(x.getChildren("item").map((i) => i.getChildren("field").map((f) => f.getChildText("value")))).toEqual([
      ["lobby", "active", `xmpp ${LOBBY}, matrix ${lobby}`, "0", "0"],
      ["stage", "active", `xmpp ${STAGE}, matrix ${stage}`, "0", "0"],
    ]);
  });

  it("link status asks for the link in a list-single and answers with the link's rooms", async () => {
    const form = await command(root, "status", { action: "execute" });
    const field = form.getChild("x", DATA)!.getChildren("field").find((f) => f.attrs.var === "link")!;
    expect(field.attrs.type).toBe("list-single");
    expect(field.getChildren("option").map((o) => o.getChildText("value"))).toEqual(["lobby", "stage"]);
    const done = await command(root, "status", { sessionid: form.attrs.sessionid!, action: "complete" }, submitLink("lobby"));
    const x = done.getChild("x", DATA);
    expect(fieldValues(x, "state")).toEqual(["active"]);
    expect(fieldValues(x, "rooms")?.map((r) => r.split(":")[0])).toEqual([`xmpp ${LOBBY}`, `matrix ${lobby.split(":")[0]}`]);
  });

  it("someone who is not an admin sees no commands and is refused with forbidden", async () => {
    const items = await iqCaller(mallory).request(xml("iq", { type: "get", to: prosody.componentDomain },
      xml("query", { xmlns: "http://jabber.org/protocol/disco#items", node: COMMANDS })));
    expect(items.getChild("query")!.getChildren("item")).toEqual([]);
    const err = await command(mallory, "pause", {}, submitLink("lobby")).then(() => undefined, (e: { condition?: string; text?: string }) => e);
    expect(err?.condition).toBe("forbidden");
    expect(err?.text).toBe("mallory@localhost is not one of Junction's admins; ask an admin to add you to admin.xmpp in its config");
    expect(junction.queues.isPaused("lobby")).toBe(false);
    expect(adminLog().find((l) => l.admin === "mallory@localhost")).toMatchObject({ action: "pause", link: "lobby", outcome: "refused", network: "xmpp" });
  });

  it("an admin's session id is no use to anyone else: a non-admin completing it is refused and nothing changes", async () => {
    const form = await command(root, "pause", { action: "execute" });
    expect(form.attrs.status).toBe("executing");
    const err = await command(mallory, "pause", { sessionid: form.attrs.sessionid!, action: "complete" }, submitLink("lobby"))
      .then(() => undefined, (e: { condition?: string }) => e);
    expect(err?.condition).toBe("bad-request");
    expect(junction.queues.isPaused("lobby")).toBe(false);
    // The admin's own session is untouched by the attempt: cancelling it still works.
    const canceled = await command(root, "pause", { sessionid: form.attrs.sessionid!, action: "cancel" });
    expect(canceled.attrs.status).toBe("canceled");
  });

  it("pause holds a message in the outbox; resume delivers it", async () => {
    const paused = await withLink(root, "pause", "lobby");
    expect(paused.getChildText("note")).toBe("lobby is paused: its deliveries wait in the outbox (0 now) until resume.");
    await alice.say(lobby, "held while paused");
    await until("the message held in the outbox", () => junction.store.outbox.pending().find((r) => r.link === "lobby" && r.event.includes("held while paused")));
    await new Promise((r) => setTimeout(r, 1500));
    expect(bob.messages().some((m) => m.getChildText("body") === "held while paused")).toBe(false);
    const resumed = await withLink(root, "resume", "lobby");
    expect(resumed.getChildText("note")).toMatch(/^lobby is resumed: [1-9]\d* held deliver(y goes|ies go) out now\.$/);
    await bob.waitFor((el) => el.is("message") && el.getChildText("body") === "held while paused", 20_000);
    expect(adminLog().filter((l) => l.admin === "root@localhost" && (l.action === "pause" || l.action === "resume")).map((l) => [l.action, l.link, (l.outcome as { changed?: boolean }).changed])).toEqual([
      ["pause", "lobby", true], ["resume", "lobby", true],
    ]);
  });

  it("retry re-delivers a delivery that failed (a puppet without voice, given voice since)", async () => {
    await alice.say(stage, "can anyone hear me now?");
    await until("the failed delivery", () => junction.store.outbox.failed().find((f) => f.room === STAGE), 20_000);
    // Carol, the owner, sees the puppet's real JID and makes it a member: members have voice.
    const presence = await carol.waitFor((el) => el.is("presence") && el.attrs.from === `${STAGE}/Alice`);
    const jid = presence.getChild("x", "http://jabber.org/protocol/muc#user")!.getChild("item")!.attrs.jid!.split("/")[0]!;
    await iqCaller(carol).request(xml("iq", { type: "set", to: STAGE },
      xml("query", { xmlns: "http://jabber.org/protocol/muc#admin" }, xml("item", { jid, affiliation: "member" }))));
    const done = await withLink(root, "retry", "stage");
    expect(done.getChildText("note")).toBe("1 failed delivery of stage put back in their queues.");
    await carol.waitFor((el) => el.is("message") && el.getChildText("body") === "can anyone hear me now?", 20_000);
    expect(junction.store.outbox.failed().filter((f) => f.room === STAGE)).toEqual([]);
  });

  it("reload applies a link added and one removed, a message crossing each way as it should; an invalid config is refused and nothing is lost", async () => {
    await root.join(EXTRA, "root", { maxHistory: 0 });
    nextLinks = { ...LINKS, extra: { xmpp: [EXTRA], matrix: ["#adminextra:localhost"] } };
    expect((await command(root, "reload")).getChildText("note")).toBe("Config reloaded: added extra.");
    await root.say(EXTRA, "across the new link");
    await until("the new link carries it", () => alice.timeline(extra).find((e) => body(e) === "across the new link"), 20_000);
    await alice.say(extra, "and back");
    await until("and back", () => root.messages(EXTRA).find((m) => m.getChildText("body") === "and back"), 20_000);

    nextLinks = LINKS;
    expect((await command(root, "reload")).getChildText("note")).toBe("Config reloaded: removed extra.");
    await root.say(EXTRA, "after its link was removed");
    await new Promise((r) => setTimeout(r, 2000));
    expect(alice.timeline(extra).some((e) => body(e) === "after its link was removed")).toBe(false);

    nextLinks = "junction.yaml: links.lobby.xmpp[0]: expected a room JID like room@conference.example.org, got 42 (line 7)";
    expect((await command(root, "reload")).getChildText("note")).toBe(`The new config was refused; the running one stays:\n${nextLinks}`);
    nextLinks = LINKS;
    await bob.say("the lobby after a refused reload");
    await until("the lobby still works", () => alice.timeline(lobby).find((e) => body(e) === "the lobby after a refused reload"), 20_000);
    expect(adminLog().filter((l) => l.action === "reload" && l.admin === "root@localhost").map((l) => l.outcome)).toMatchObject([
      { applied: true, added: ["extra"] }, { applied: true, removed: ["extra"] }, { applied: false, reason: expect.stringContaining("links.lobby.xmpp[0]") },
    ]);
  });

  it("a command relayed through a room (sent to the bot's occupant, under a nick that is an admin's JID) is no admin's command", async () => {
    await mallory.join(LOBBY, "root@localhost");
    const relayed = await iqCaller(mallory).request(xml("iq", { type: "set", to: `${LOBBY}/Junction` },
      xml("command", { xmlns: COMMANDS, node: "pause" }, submitLink("lobby"))), 10_000).then(() => undefined, (e: { condition?: string }) => e);
    expect(relayed?.condition).toBeDefined();
    expect(junction.queues.isPaused("lobby")).toBe(false);
    await mallory.leave(LOBBY);
    // Mallory's join and leave, bridged to Matrix, are through before the next tests count the queues.
    await junction.queues.idle(20_000);
  });
});

describe("admin commands on Matrix (!junction)", () => {
  it("in the admin room, an admin gets answers and someone else a refusal, as notices", async () => {
    await until("the bot in the admin room", async () => (await boss.request<{ joined: Record<string, unknown> }>("GET", `/client/v3/rooms/${encodeURIComponent(adminRoom)}/joined_members`)).joined[botId] !== undefined, 20_000);
    let from = boss.arrivals.length;
    await boss.say(adminRoom, "!junction links");
    const links = await noticeIn(boss, adminRoom, from, "the links notice");
    expect(body(links)).toBe(`lobby: xmpp ${LOBBY}, matrix ${lobby}; 0 queued, 0 failed\nstage: xmpp ${STAGE}, matrix ${stage}; 0 queued, 0 failed`);
    from = boss.arrivals.length;
    await eve.say(adminRoom, "!junction pause lobby");
    const refused = await noticeIn(boss, adminRoom, from, "the refusal");
    expect(body(refused)).toBe(`Refused: ${eve.userId} is not one of Junction's admins; ask an admin to add you to admin.matrix in its config.`);
    expect(junction.queues.isPaused("lobby")).toBe(false);
    from = boss.arrivals.length;
    await boss.say(adminRoom, "!junction help");
    expect(body(await noticeIn(boss, adminRoom, from, "the help"))).toContain("!junction retry <link>");
    from = boss.arrivals.length;
    await boss.say(adminRoom, "!junction reload");
    expect(body(await noticeIn(boss, adminRoom, from, "the reload answer"))).toBe("Config reloaded: no link changed.");
    expect(adminLog().find((l) => l.admin === eve.userId)).toMatchObject({ action: "pause", link: "lobby", outcome: "refused", via: `the admin room ${adminRoom}` });
  });

  it("in a DM, an admin pauses and resumes a link; a non-admin's invite is declined", async () => {
    const dm = await boss.createRoom({ invite: [botId], preset: "trusted_private_chat", extra: { is_direct: true } });
    await until("the bot in the DM", async () => (await boss.request<{ joined: Record<string, unknown> }>("GET", `/client/v3/rooms/${encodeURIComponent(dm)}/joined_members`)).joined[botId] !== undefined, 20_000);
    let from = boss.arrivals.length;
    await boss.say(dm, "!junction pause lobby");
    expect(body(await noticeIn(boss, dm, from, "the pause"))).toBe("lobby is paused: its deliveries wait in the outbox (0 now) until resume.");
    await bob.say("said while the lobby is paused");
    await until("held", () => junction.store.outbox.pending().find((r) => r.event.includes("said while the lobby is paused")));
    await new Promise((r) => setTimeout(r, 1500));
    expect(alice.timeline(lobby).some((e) => body(e) === "said while the lobby is paused")).toBe(false);
    from = boss.arrivals.length;
    await boss.say(dm, "!junction resume lobby");
    expect(body(await noticeIn(boss, dm, from, "the resume"))).toMatch(/^lobby is resumed: /);
    await until("the held message in the Matrix room", () => alice.timeline(lobby).find((e) => body(e) === "said while the lobby is paused"), 20_000);
    from = boss.arrivals.length;
    await boss.say(dm, "!junction status lobby");
    const status = body(await noticeIn(boss, dm, from, "the status"));
    expect(status).toContain("Link lobby: active;");
    expect(status).toContain(`xmpp ${LOBBY}: joined`);

    const theirs = await eve.createRoom({ invite: [botId], preset: "trusted_private_chat", extra: { is_direct: true } });
    const declined = await until("the bot declining eve's invite", () => eve.arrivals.find((a) => a.roomId === theirs && a.event.type === "m.room.member" && a.event.state_key === botId && a.event.content.membership === "leave")?.event, 20_000);
    expect(declined.content.reason).toBe(`${eve.userId} is not one of Junction's admins; ask an admin to add you to admin.matrix in its config`);
    expect(adminLog().filter((l) => l.admin === boss.userId && l.via === `a DM ${dm}`).map((l) => l.action)).toEqual(["pause", "resume", "status"]);
  });
});
