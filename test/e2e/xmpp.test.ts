/**
 * The XMPP bridge end to end: one real Prosody, two MUCs linked to each other, real XMPP clients
 * as people, and the real core in between (SQLite store, outbox, queues).
 */
import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { xml } from "@xmpp/client";
import type { Element } from "@xmpp/xml";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runJunction, type RunningJunction } from "../../core/app.ts";
import { actorId, remoteId, roomRef, type BridgeEvent } from "../../core/events.ts";
import { XmppAdapter } from "../../bridges/xmpp/adapter.ts";
import { removeTempDir, trackTempDir } from "../harness/process.ts";
import { startProsody, type ProsodyServer } from "../harness/prosody.ts";
import { Person } from "./xmpp.fixture.ts";
import { until } from "../harness/until.ts";

const ROOM_A = "alpha@conference.localhost";
const ROOM_B = "beta@conference.localhost";

let prosody: ProsodyServer;
let junction: RunningJunction;
let adapter: XmppAdapter;
let storePath: string;
let storeDir: string;
let alice: Person; // in A
let bob: Person; // in B
const log = pino({ level: process.env.JUNCTION_TEST_LOG ?? "silent" });

async function startJunction(): Promise<RunningJunction> {
  adapter = new XmppAdapter({
    server: prosody.componentService, component: prosody.componentDomain, secret: prosody.componentSecret,
    nick: "Junction", history: 20, upload: prosody.uploadDomain!,
  }, log.child({ network: "xmpp" }));
  const j = await runJunction({ store: { path: storePath }, links: { lobby: { xmpp: [ROOM_A, ROOM_B] } } }, [adapter], log);
  await until("the XMPP adapter to be ready", () => j.connected().get("xmpp") === true);
  return j;
}

const bodyIs = (room: string, nick: string, text: string) => (el: Element) =>
  el.is("message") && el.attrs.from === `${room}/${nick}` && el.getChildText("body") === text;

beforeAll(async () => {
  prosody = await startProsody({ upload: true });
  for (const u of ["alice", "bob", "carol", "dave", "erin"]) await prosody.registerUser(u, "pw");
  storeDir = mkdtempSync(join(tmpdir(), "junction-xmpp-store-"));
  trackTempDir(storeDir);
  storePath = join(storeDir, "junction.db");
  junction = await startJunction();
  alice = new Person(prosody, "alice", ROOM_A);
  bob = new Person(prosody, "bob", ROOM_B);
  await alice.join();
  await bob.join();
});

afterAll(async () => {
  await alice?.stop();
  await bob?.stop();
  await junction?.stop();
  await prosody?.stop();
  if (storeDir) removeTempDir(storeDir);
});

const sidIn = (el: Element, room: string) =>
  el.getChildren("stanza-id", "urn:xmpp:sid:0").find((s) => s.attrs.by === room)?.attrs.id;
const fromNick = (room: string, nick: string) => (el: Element) => el.attrs.from === `${room}/${nick}`;

describe("XMPP ⇄ XMPP through Junction", () => {
  it("a message crosses both ways with the right puppet nick", async () => {
    await alice.say("hello from alpha");
    await bob.waitFor(bodyIs(ROOM_B, "alice", "hello from alpha"));
    await bob.say("hello from beta");
    await alice.waitFor(bodyIs(ROOM_A, "bob", "hello from beta"));
  });

  it("a correction replaces the puppet's own message", async () => {
    const id = await alice.say("teh typo");
    const first = await bob.waitFor(bodyIs(ROOM_B, "alice", "teh typo"));
    await alice.say("the typo", xml("replace", { xmlns: "urn:xmpp:message-correct:0", id }));
    const fixed = await bob.waitFor(bodyIs(ROOM_B, "alice", "the typo"));
    expect(fixed.getChild("replace", "urn:xmpp:message-correct:0")?.attrs.id).toBe(first.attrs.id);
  });

  it("nobody can correct somebody else's message", async () => {
    const id = await alice.say("mine, not yours");
    await bob.waitFor(bodyIs(ROOM_B, "alice", "mine, not yours"));
    const carol = new Person(prosody, "carol", ROOM_A);
    await carol.join();
    await carol.say("hijacked", xml("replace", { xmlns: "urn:xmpp:message-correct:0", id }));
    await carol.say("carol's marker");
    await bob.waitFor(bodyIs(ROOM_B, "carol", "carol's marker"));
    expect(bob.messages().some((m) => m.getChildText("body") === "hijacked")).toBe(false);
    await carol.stop();
  });

  it("a retraction retracts the bridged copy by its stanza-id", async () => {
    await alice.say("oops");
    const own = await alice.waitFor(bodyIs(ROOM_A, "alice", "oops"));
    const copy = await bob.waitFor(bodyIs(ROOM_B, "alice", "oops"));
    await alice.send(
      xml("retract", { xmlns: "urn:xmpp:message-retract:1", id: sidIn(own, ROOM_A)! }),
      xml("fallback", { xmlns: "urn:xmpp:fallback:0", for: "urn:xmpp:message-retract:1" }),
      xml("body", {}, "retracted"));
    const r = await bob.waitFor((el) => fromNick(ROOM_B, "alice")(el) && !!el.getChild("retract", "urn:xmpp:message-retract:1"));
    expect(r.getChild("retract", "urn:xmpp:message-retract:1")?.attrs.id).toBe(sidIn(copy, ROOM_B));
  });

  it("a reaction points at the message as the other room knows it", async () => {
    await bob.say("react to me");
    const native = await bob.waitFor(bodyIs(ROOM_B, "bob", "react to me"));
    const copy = await alice.waitFor(bodyIs(ROOM_A, "bob", "react to me"));
    await alice.send(xml("reactions", { xmlns: "urn:xmpp:reactions:0", id: sidIn(copy, ROOM_A)! }, xml("reaction", {}, "👍")));
    const r = await bob.waitFor((el) => fromNick(ROOM_B, "alice")(el) && !!el.getChild("reactions", "urn:xmpp:reactions:0"));
    const reactions = r.getChild("reactions", "urn:xmpp:reactions:0")!;
    expect(reactions.attrs.id).toBe(sidIn(native, ROOM_B));
    expect(reactions.getChildren("reaction").map((x) => x.getText())).toEqual(["👍"]);
    await alice.send(xml("reactions", { xmlns: "urn:xmpp:reactions:0", id: sidIn(copy, ROOM_A)! }));
    const from = bob.heard.length;
    const removed = await bob.waitFor((el) => fromNick(ROOM_B, "alice")(el) && el.getChild("reactions", "urn:xmpp:reactions:0")?.getChildren("reaction").length === 0, 10_000, from);
    expect(removed.getChild("reactions", "urn:xmpp:reactions:0")?.attrs.id).toBe(sidIn(native, ROOM_B));
  });

  it("a reply keeps its reference and a correct fallback", async () => {
    await alice.say("question?");
    const original = await alice.waitFor(bodyIs(ROOM_A, "alice", "question?"));
    const copy = await bob.waitFor(bodyIs(ROOM_B, "alice", "question?"));
    const fallback = "> alice: question?\n";
    await bob.say(`${fallback}answer!`,
      xml("reply", { xmlns: "urn:xmpp:reply:0", to: `${ROOM_B}/alice`, id: sidIn(copy, ROOM_B)! }),
      xml("fallback", { xmlns: "urn:xmpp:fallback:0", for: "urn:xmpp:reply:0" }, xml("body", { start: 0, end: Array.from(fallback).length })));
    const reply = await alice.waitFor((el) => fromNick(ROOM_A, "bob")(el) && !!el.getChild("reply", "urn:xmpp:reply:0"));
    expect(reply.getChild("reply", "urn:xmpp:reply:0")?.attrs.id).toBe(sidIn(original, ROOM_A));
    const body = reply.getChildText("body")!;
    const end = Number(reply.getChild("fallback", "urn:xmpp:fallback:0")?.getChild("body")?.attrs.end);
    expect(Array.from(body).slice(end).join("")).toBe("answer!");
    expect(body.startsWith("> alice: question?")).toBe(true);
  });

  it("typing and presence reach the other room", async () => {
    await alice.send(xml("composing", { xmlns: "http://jabber.org/protocol/chatstates" }));
    await bob.waitFor((el) => fromNick(ROOM_B, "alice")(el) && !!el.getChild("composing", "http://jabber.org/protocol/chatstates"));
    // The text that follows ends the typing shown (XEP-0085 <active/>); later texts carry no chat state.
    await alice.say("typed it");
    const ending = await bob.waitFor(bodyIs(ROOM_B, "alice", "typed it"));
    expect(ending.getChild("active", "http://jabber.org/protocol/chatstates")).toBeDefined();
    await alice.say("and this");
    const plain = await bob.waitFor(bodyIs(ROOM_B, "alice", "and this"));
    expect(plain.getChildren("active", "http://jabber.org/protocol/chatstates")).toHaveLength(0);
    await alice.xmpp.send(xml("presence", { to: `${ROOM_A}/alice` }, xml("show", {}, "away"), xml("status", {}, "lunch")));
    const p = await bob.waitFor((el) => el.is("presence") && fromNick(ROOM_B, "alice")(el) && el.getChildText("show") === "away");
    expect(p.getChildText("status")).toBe("lunch");
    await alice.xmpp.send(xml("presence", { to: `${ROOM_A}/alice` }));
  });
});

describe("nick changes", () => {
  it("a person's new nick becomes their puppet's new nick, and back", async () => {
    for (const [from, to] of [["alice", "alicia"], ["alicia", "alice"]] as const) {
      const mark = bob.heard.length;
      await alice.xmpp.send(xml("presence", { to: `${ROOM_A}/${to}` }));
      await alice.waitFor((el) => el.is("presence") && el.attrs.from === `${ROOM_A}/${to}`);
      const left = await bob.waitFor((el) => el.is("presence") && fromNick(ROOM_B, from)(el) && el.attrs.type === "unavailable", 10_000, mark);
      expect(left.getChild("x", "http://jabber.org/protocol/muc#user")?.getChild("item")?.attrs.nick).toBe(to);
      await alice.say(`now ${to}`);
      await bob.waitFor(bodyIs(ROOM_B, to, `now ${to}`));
    }
    // The puppet's rename was not mistaken for a person arriving in A.
    expect(alice.heard.some((el) => el.is("presence") && el.attrs.from === `${ROOM_A}/alicia (xmpp)`)).toBe(false);
  });
});

describe("the component answers IQs", () => {
  const iq = async (to: string, payload: Element) => {
    const id = `iq-${Math.random().toString(36).slice(2)}`;
    await alice.xmpp.send(xml("iq", { type: "get", to, id }, payload));
    return alice.waitFor((el) => el.is("iq") && el.attrs.id === id);
  };
  it("disco#info, ping and version for the component; vCard for a puppet", async () => {
    const info = await iq(prosody.componentDomain, xml("query", { xmlns: "http://jabber.org/protocol/disco#info" }));
    expect(info.attrs.type).toBe("result");
    expect(info.getChild("query")?.getChild("identity")?.attrs.category).toBe("gateway");
    expect((await iq(prosody.componentDomain, xml("ping", { xmlns: "urn:xmpp:ping" }))).attrs.type).toBe("result");
    const version = await iq(prosody.componentDomain, xml("query", { xmlns: "jabber:iq:version" }));
    expect(version.getChild("query")?.getChildText("name")).toBe("Junction");
    const card = await iq(`${ROOM_A}/bob`, xml("vCard", { xmlns: "vcard-temp" }));
    expect(card.getChild("vCard", "vcard-temp")?.getChildText("NICKNAME")).toBe("bob");
    const nothing = await iq(prosody.componentDomain, xml("query", { xmlns: "jabber:iq:roster" }));
    expect(nothing.attrs.type).toBe("error");
  });
});

describe("avatars", () => {
  it("a person's avatar reaches their puppet's presence hash and vCard", async () => {
    const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");
    const sha1 = createHash("sha1").update(png).digest("hex");
    const setId = "vc-set";
    await alice.xmpp.send(xml("iq", { type: "set", id: setId },
      xml("vCard", { xmlns: "vcard-temp" }, xml("NICKNAME", {}, "alice"),
        xml("PHOTO", {}, xml("TYPE", {}, "image/png"), xml("BINVAL", {}, png.toString("base64"))))));
    expect((await alice.waitFor((el) => el.is("iq") && el.attrs.id === setId)).attrs.type).toBe("result");
    await alice.xmpp.send(xml("presence", { to: `${ROOM_A}/alice` }, xml("x", { xmlns: "vcard-temp:x:update" }, xml("photo", {}, sha1))));
    await bob.waitFor((el) => el.is("presence") && fromNick(ROOM_B, "alice")(el)
      && el.getChild("x", "vcard-temp:x:update")?.getChildText("photo") === sha1);
    const id = "vc-get";
    await bob.xmpp.send(xml("iq", { type: "get", to: `${ROOM_B}/alice`, id }, xml("vCard", { xmlns: "vcard-temp" })));
    const card = await bob.waitFor((el) => el.is("iq") && el.attrs.id === id);
    const binval = card.getChild("vCard", "vcard-temp")?.getChild("PHOTO")?.getChildText("BINVAL");
    expect(Buffer.from(binval ?? "", "base64").equals(png)).toBe(true);
  });
});

describe("files", () => {
  it("a file from another network is uploaded (XEP-0363) and shared as an OOB link", async () => {
    const bytes = new TextEncoder().encode("hello, file");
    const event: BridgeEvent = {
      origin: "matrix", room: roomRef("!room:example.org"), ts: Date.now(), remoteId: remoteId("$file1"),
      sender: { id: actorId("@carl:example.org"), name: "Carl", isBot: false },
      kind: "message", body: { text: "" }, isAction: false, mentions: [],
      attachments: [{ url: "mxc://example.org/abc", name: "hello.txt", mime: "text/plain" }],
    };
    await adapter.send(roomRef(ROOM_B), event, {
      deliveryId: "file-test", attempt: 0, fetchMedia: async () => ({ data: bytes, mime: "text/plain" }),
    });
    const got = await bob.waitFor((el) => fromNick(ROOM_B, "Carl")(el) && !!el.getChild("x", "jabber:x:oob"));
    const url = got.getChild("x", "jabber:x:oob")!.getChildText("url")!;
    expect(url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${prosody.uploadPort}/`));
    expect(got.getChildText("body")).toBe(url);
    expect(new Uint8Array(await (await fetch(url)).arrayBuffer())).toEqual(bytes);
  });
});

describe("restarts", () => {
  it("Junction restarted: same puppets, and an edit after the restart reaches its target", async () => {
    const id = await alice.say("before restart");
    const first = await bob.waitFor(bodyIs(ROOM_B, "alice", "before restart"));
    await junction.stop();
    await alice.say("said while Junction was down");
    junction = await startJunction();
    await bob.waitFor(bodyIs(ROOM_B, "alice", "said while Junction was down"));
    await alice.say("before restart, fixed", xml("replace", { xmlns: "urn:xmpp:message-correct:0", id }));
    const fixed = await bob.waitFor(bodyIs(ROOM_B, "alice", "before restart, fixed"));
    expect(fixed.getChild("replace", "urn:xmpp:message-correct:0")?.attrs.id).toBe(first.attrs.id);
    await alice.say("after restart");
    await bob.waitFor(bodyIs(ROOM_B, "alice", "after restart"));
    expect(bob.heard.some((el) => el.attrs.from?.startsWith(`${ROOM_B}/alice (`))).toBe(false);
    // Catch-up asked the room for history since our cursor: nothing older came across twice.
    const bodies = bob.messages().filter((m) => m.attrs.from === `${ROOM_B}/alice`).map((m) => m.getChildText("body"));
    expect(bodies.filter((b) => b === "said while Junction was down")).toHaveLength(1);
    expect(bodies.filter((b) => b === "before restart")).toHaveLength(1);
  });

  it("a nick held by a native person gets a suffix, not a failed join", async () => {
    // Both "dave"s are in their rooms before the bridge starts, as when a bridge is added to live rooms.
    await junction.stop();
    const dave = new Person(prosody, "dave", ROOM_A);
    const otherDave = new Person(prosody, "erin", ROOM_B, "dave");
    await dave.join();
    await otherDave.join();
    junction = await startJunction();
    await dave.say("I am dave");
    await bob.waitFor(bodyIs(ROOM_B, "dave (xmpp)", "I am dave"));
    await otherDave.say("I am dave too");
    await alice.waitFor(bodyIs(ROOM_A, "dave (xmpp)", "I am dave too"));
    await dave.stop();
    await otherDave.stop();
  });

  it("Prosody restarted: the bridge reconnects, rejoins, and what was said meanwhile arrives once", async () => {
    await alice.stop();
    await bob.stop();
    await prosody.restart();
    alice = new Person(prosody, "alice", ROOM_A);
    bob = new Person(prosody, "bob", ROOM_B);
    await alice.join();
    await bob.join();
    await alice.say("said while the bridge was away");
    await bob.waitFor(bodyIs(ROOM_B, "alice", "said while the bridge was away"), 40_000);
    await bob.say("and back");
    await alice.waitFor(bodyIs(ROOM_A, "bob", "and back"));
    await new Promise((r) => setTimeout(r, 1000));
    expect(bob.messages().filter((m) => m.getChildText("body") === "said while the bridge was away")).toHaveLength(1);
  }, 90_000);
});

describe("throughput", () => {
  it("a burst of 1,000 messages arrives complete and in order", async () => {
    const n = 1000;
    const started = Date.now();
    for (let i = 0; i < n; i++) await alice.say(`burst ${i}`);
    await bob.waitFor(bodyIs(ROOM_B, "alice", `burst ${n - 1}`), 60_000);
    const got = bob.messages().filter((m) => m.attrs.from === `${ROOM_B}/alice` && m.getChildText("body")?.startsWith("burst "))
      .map((m) => m.getChildText("body"));
    expect(got).toEqual(Array.from({ length: n }, (_, i) => `burst ${i}`));
    console.log(`burst: ${n} messages bridged in ${Date.now() - started} ms`);
  }, 90_000);
});
