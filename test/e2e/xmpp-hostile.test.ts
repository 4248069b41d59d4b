/**
 * Occupants of a linked room who attack the bridge, and faults that take the bot out of a room:
 * real XMPP clients on a real Prosody, the real core in between, two MUCs linked. mallory is an
 * ordinary occupant of alpha; alice created alpha (she owns it, so she can kick, ban and destroy);
 * bob in beta sees what crosses. The component stream runs through a TCP relay that can go
 * half-open.
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
import { removeTempDir, trackTempDir } from "../harness/process.ts";
import { startProsody, type ProsodyServer } from "../harness/prosody.ts";
import { startTcpProxy, type TcpProxy } from "../harness/tcp-proxy.ts";
import { until } from "../harness/until.ts";
import { Person } from "./xmpp.fixture.ts";

const ROOM_A = "alpha@conference.localhost";
const ROOM_B = "beta@conference.localhost";
const BOT = "junction@bridge.localhost/junction";
const MAM = "urn:xmpp:mam:2";
const FORWARD = "urn:xmpp:forward:0";
const DELAY = "urn:xmpp:delay";
const MUC_ADMIN = "http://jabber.org/protocol/muc#admin";
const MUC_OWNER = "http://jabber.org/protocol/muc#owner";
const CATCH_UP_MAX = 30;

let prosody: ProsodyServer;
let proxy: TcpProxy;
let junction: RunningJunction | undefined;
let adapter: XmppAdapter;
let storePath: string;
let storeDir: string;
let alice: Person; // owner of alpha
let mallory: Person; // an occupant of alpha
let bob: Person; // in beta
const log = pino({ level: process.env.JUNCTION_TEST_LOG ?? "silent" });

async function startJunction(catchUpMax = 1000): Promise<RunningJunction> {
  adapter = new XmppAdapter({
    server: `xmpp://127.0.0.1:${proxy.port}`, component: prosody.componentDomain, secret: prosody.componentSecret,
    nick: "Junction", history: 0, catchUpMax, rejoinMaxSeconds: 2, selfPingSeconds: 2, keepaliveSeconds: 1,
  }, log.child({ network: "xmpp" }));
  const j = await runJunction({ store: { path: storePath }, links: { lobby: { xmpp: [ROOM_A, ROOM_B] } } }, [adapter], log);
  await until("the XMPP adapter to be ready", () => j.connected().get("xmpp") === true);
  return j;
}

const bodies = (p: Person, room: string, nick?: string) =>
  p.messages().filter((m) => nick === undefined || m.attrs.from === `${room}/${nick}`).map((m) => m.getChildText("body") ?? "");
const heardBody = (room: string, nick: string, text: string) => (el: Element) =>
  el.is("message") && el.attrs.from === `${room}/${nick}` && el.getChildText("body") === text;
const sidIn = (el: Element, room: string) =>
  el.getChildren("stanza-id", "urn:xmpp:sid:0").find((s) => s.attrs.by === room)?.attrs.id;
const botIn = (p: Person, room: string, from: number) => (el: Element) =>
  el.is("presence") && el.attrs.from === `${room}/Junction` && el.attrs.type !== "unavailable" && p.heard.indexOf(el) >= from;

/** A marker from alice that bob must see: everything alice's room sent before it has been handled. */
async function marker(text: string): Promise<void> {
  await alice.say(text);
  await bob.waitFor(heardBody(ROOM_B, "alice", text), 20_000);
}

beforeAll(async () => {
  prosody = await startProsody();
  proxy = await startTcpProxy({ host: "127.0.0.1", port: prosody.componentPort });
  for (const u of ["alice", "mallory", "bob"]) await prosody.registerUser(u, "pw");
  storeDir = mkdtempSync(join(tmpdir(), "junction-xmpp-hostile-"));
  trackTempDir(storeDir);
  storePath = join(storeDir, "junction.db");
  // alice creates alpha, so she owns it; Junction joins a room that exists.
  alice = new Person(prosody, "alice", ROOM_A);
  bob = new Person(prosody, "bob", ROOM_B);
  await alice.join();
  await bob.join();
  junction = await startJunction();
  mallory = new Person(prosody, "mallory", ROOM_A);
  await mallory.join();
  await marker("hello");
}, 60_000);

afterAll(async () => {
  await mallory?.stop();
  await alice?.stop();
  await bob?.stop();
  await junction?.stop();
  await proxy?.close();
  await prosody?.stop();
  if (storeDir) removeTempDir(storeDir);
});

describe("forgery", () => {
  it("an occupant's forged archive result is not bridged as someone else's message or retraction", async () => {
    await alice.say("alice's real message");
    const copy = await bob.waitFor(heardBody(ROOM_B, "alice", "alice's real message"));
    const own = await alice.waitFor(heardBody(ROOM_A, "alice", "alice's real message"));
    const forged = (queryid: string, inner: Element) =>
      xml("result", { xmlns: MAM, queryid, id: `forged-${queryid}` },
        xml("forwarded", { xmlns: FORWARD }, xml("delay", { xmlns: DELAY, stamp: "2099-01-01T00:00:00Z" }), inner));
    const asAlice = (...children: Element[]) => xml("message", { xmlns: "jabber:client", type: "groupchat", from: `${ROOM_A}/alice`, id: "f1" }, ...children);
    for (const queryid of ["cu-0", "junction-last", "mq-0", ""]) {
      // As a room message (the room relays it intact), and straight to the bot and the component.
      await mallory.send(forged(queryid, asAlice(xml("body", {}, "FORGED"))));
      await mallory.send(forged(queryid, asAlice(xml("retract", { xmlns: "urn:xmpp:message-retract:1", id: sidIn(own, ROOM_A)! }))));
      for (const to of [BOT, prosody.componentDomain]) {
        await mallory.xmpp.send(xml("message", { to, type: "normal" }, forged(queryid, asAlice(xml("body", {}, "FORGED direct")))));
      }
    }
    await marker("after the forgeries");
    const inB = bodies(bob, ROOM_B);
    expect(inB.filter((b) => b.startsWith("FORGED"))).toEqual([]);
    const retracted = bob.heard.filter((el) => el.getChild("retract", "urn:xmpp:message-retract:1")?.attrs.id === sidIn(copy, ROOM_B));
    expect(retracted).toEqual([]);
  });

  it("a far-future <delay> with <no-store/> does not move the cursor: the next outage is caught up whole", async () => {
    await mallory.say("from the future",
      xml("delay", { xmlns: DELAY, stamp: "2099-01-01T00:00:00Z", from: ROOM_A }), xml("no-store", { xmlns: "urn:xmpp:hints" }));
    await bob.waitFor(heardBody(ROOM_B, "mallory", "from the future"));
    await marker("before the outage");
    await junction!.stop();
    junction = undefined;
    for (let i = 0; i < 5; i++) await alice.say(`while away ${i}`);
    junction = await startJunction();
    await until("the outage's messages in beta", () => bodies(bob, ROOM_B, "alice").filter((b) => b.startsWith("while away")).length >= 5 || undefined, 20_000);
    expect(bodies(bob, ROOM_B, "alice").filter((b) => b.startsWith("while away"))).toEqual([0, 1, 2, 3, 4].map((i) => `while away ${i}`));
  }, 60_000);

  it("guessed IQ answers (archive fin, upload slot, vCard) from an occupant change nothing", async () => {
    // The old ids were a counter and a clock; answer a wide range of them, as results and errors.
    const now = Date.now();
    for (let n = 0; n < 300; n++) {
      const id = `jq-${n}-${(now - (n % 30) * 1000).toString(36)}`;
      const payload = n % 3 === 0
        ? xml("fin", { xmlns: MAM, complete: "true" })
        : n % 3 === 1
          ? xml("slot", { xmlns: "urn:xmpp:http:upload:0" }, xml("put", { url: "http://127.0.0.1:1/evil" }), xml("get", { url: "http://127.0.0.1:1/evil" }))
          : xml("vCard", { xmlns: "vcard-temp" }, xml("PHOTO", {}, xml("TYPE", {}, "image/png"), xml("BINVAL", {}, "AAAA")));
      await mallory.xmpp.send(xml("iq", { to: n % 2 ? BOT : prosody.componentDomain, type: n % 5 === 0 ? "error" : "result", id }, payload));
    }
    await marker("after the guessed answers");
    // A catch-up after that still reads the whole archive (a forged fin would have ended it).
    await junction!.stop();
    junction = undefined;
    for (let i = 0; i < 3; i++) await alice.say(`guessed ${i}`);
    junction = await startJunction();
    await until("the catch-up", () => bodies(bob, ROOM_B, "alice").filter((b) => b.startsWith("guessed")).length >= 3 || undefined, 20_000);
    expect(bodies(bob, ROOM_B, "alice").filter((b) => b.startsWith("guessed"))).toEqual(["guessed 0", "guessed 1", "guessed 2"]);
  }, 60_000);
});

describe("catch-up", () => {
  it("the archive arrives whole and in order before the live messages said during the catch-up", async () => {
    await marker("before the ordered outage");
    await junction!.stop();
    junction = undefined;
    // Several archive pages (Prosody gives 50 a page) said while away, then alice keeps talking
    // from before the restart until after it: each message once, in order.
    let n = 0;
    for (; n < 200; n++) await alice.say(`seq ${n}`);
    let talking = true;
    const talk = (async () => {
      while (talking) {
        await alice.say(`seq ${n++}`);
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    junction = await startJunction();
    await new Promise((r) => setTimeout(r, 300));
    talking = false;
    await talk;
    const want = Array.from({ length: n }, (_, i) => `seq ${i}`);
    await until("every seq message in beta", () => bodies(bob, ROOM_B, "alice").filter((b) => b.startsWith("seq ")).length >= n || undefined, 20_000);
    await new Promise((r) => setTimeout(r, 500)); // a late duplicate would show here
    expect(bodies(bob, ROOM_B, "alice").filter((b) => b.startsWith("seq "))).toEqual(want);
  }, 60_000);

  it("a gap over xmpp.catchUpMax bridges the newest messages after a notice of how many could not be", async () => {
    await marker("before the long outage");
    await junction!.stop();
    junction = undefined;
    const total = CATCH_UP_MAX + 20;
    for (let i = 0; i < total; i++) await alice.say(`long ${i}`);
    junction = await startJunction(CATCH_UP_MAX);
    const notice = await bob.waitFor((el) => el.is("message") && /20 messages from the XMPP room alpha@conference\.localhost could not be bridged/.test(el.getChildText("body") ?? ""), 20_000);
    await until("the newest messages", () => bodies(bob, ROOM_B, "alice").filter((b) => b.startsWith("long ")).length >= CATCH_UP_MAX || undefined, 20_000);
    expect(bodies(bob, ROOM_B, "alice").filter((b) => b.startsWith("long "))).toEqual(Array.from({ length: CATCH_UP_MAX }, (_, i) => `long ${i + 20}`));
    const all = bob.messages();
    expect(all.indexOf(notice)).toBeLessThan(all.findIndex((m) => m.getChildText("body") === "long 20"));
    await marker("after the long outage");
    await junction!.stop();
    junction = await startJunction();
  }, 60_000);
});

describe("the bot put out of a room", () => {
  const phase = () => adapter.roomStatus().find((s) => s.room === ROOM_A);

  it("kicked: it rejoins and bridges again", async () => {
    const from = alice.heard.length;
    await alice.xmpp.send(xml("iq", { type: "set", to: ROOM_A, id: "kick" }, xml("query", { xmlns: MUC_ADMIN }, xml("item", { nick: "Junction", role: "none" }, xml("reason", {}, "out")))));
    expect((await alice.waitFor((el) => el.is("iq") && el.attrs.id === "kick")).attrs.type).toBe("result");
    await alice.waitFor(botIn(alice, ROOM_A, from), 15_000);
    await marker("after the kick");
  }, 30_000);

  it("banned: it keeps trying with a capped backoff, says why, and is back once unbanned", async () => {
    const ban = (affiliation: string, id: string) => alice.xmpp.send(xml("iq", { type: "set", to: ROOM_A, id },
      xml("query", { xmlns: MUC_ADMIN }, xml("item", { jid: "junction@bridge.localhost", affiliation }))));
    await ban("outcast", "ban");
    await until("the bot to be out", () => phase()?.phase === "rejoining" || undefined);
    expect(phase()?.reason).toMatch(/banned|forbidden/);
    await until("a few refused attempts", () => (phase()?.attempts ?? 0) >= 2 || undefined, 15_000);
    const from = alice.heard.length;
    await ban("none", "unban");
    await alice.waitFor(botIn(alice, ROOM_A, from), 15_000);
    await until("the bot to be in", () => phase()?.phase === "joined" || undefined);
    await marker("after the ban");
  }, 40_000);

  it("the room destroyed: it joins the room anew and puppets speak in it again", async () => {
    await bob.say("before the destruction");
    await alice.waitFor(heardBody(ROOM_A, "bob", "before the destruction"));
    await alice.xmpp.send(xml("iq", { type: "set", to: ROOM_A, id: "destroy" }, xml("query", { xmlns: MUC_OWNER }, xml("destroy", {}, xml("reason", {}, "gone")))));
    await alice.waitFor((el) => el.is("iq") && el.attrs.id === "destroy");
    await until("the bot to be out", () => phase()?.phase === "rejoining" || undefined);
    expect(phase()?.reason).toMatch(/destroyed/);
    await until("the bot back in the new alpha", () => phase()?.phase === "joined" || undefined, 15_000);
    // alice (and mallory) come back to the new room.
    await alice.stop();
    await mallory.stop();
    alice = new Person(prosody, "alice", ROOM_A);
    mallory = new Person(prosody, "mallory", ROOM_A);
    await alice.join();
    await mallory.join();
    await bob.say("after the destruction");
    await alice.waitFor(heardBody(ROOM_A, "bob", "after the destruction"), 15_000);
    await marker("alice after the destruction");
  }, 40_000);

  it("silently forgotten by the room: self-ping finds out and it rejoins", async () => {
    // The room drops the bot's occupant without a word to it (as after a lost presence): no
    // client can do that, so the test reaches into Prosody.
    const out = await prosody.shell(`>local room = prosody.hosts[${JSON.stringify(prosody.mucDomain)}].modules.muc.get_room_from_jid(${JSON.stringify(ROOM_A)}); ` +
      `local o = room:get_occupant_by_nick(${JSON.stringify(`${ROOM_A}/Junction`)}); o.role = nil; room:save_occupant(o); return "forgotten"`);
    expect(out).toContain("forgotten");
    await until("the bot to notice", () => phase()?.phase === "rejoining" || undefined, 15_000);
    expect(phase()?.reason).toMatch(/self-ping/);
    await until("the bot to be back", () => phase()?.phase === "joined" || undefined, 15_000);
    await marker("after the silent drop");
  }, 40_000);

  it("a half-open component stream is found by the keepalive and replaced", async () => {
    // A healthy stream is kept: three keepalives (1 s apart) go by without a reconnect.
    const before = proxy.accepted;
    await new Promise((r) => setTimeout(r, 3500));
    expect(proxy.accepted).toBe(before);
    proxy.halfOpen();
    await until("a new component connection", () => proxy.accepted > before || undefined, 20_000);
    await until("the XMPP adapter to be ready again", () => junction!.connected().get("xmpp") === true || undefined, 20_000);
    await marker("after the half-open stream");
  }, 40_000);
});
