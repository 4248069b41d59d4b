/**
 * Hostile names, ids and characters against a real Prosody and a real Synapse (issue 11, items 3,
 * 6, 7 and 8). Every attack is made by a real client: Matrix people over the Client-Server API,
 * XMPP people on @xmpp/client. Junction runs in-process with its real core; its log is counted to
 * prove the component stream stayed up.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { xml } from "@xmpp/client";
import type { Element } from "@xmpp/xml";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runJunction, type RunningJunction } from "../../core/app.ts";
import { XmppAdapter } from "../../bridges/xmpp/adapter.ts";
import { MatrixAdapter } from "../../bridges/matrix/adapter.ts";
import { matrixPerson, type MatrixPerson } from "../harness/matrix-person.ts";
import { startProsody, type ProsodyServer } from "../harness/prosody.ts";
import { trackTempDir } from "../harness/process.ts";
import { newPerson, type Person } from "../harness/xmpp-person.ts";
import { startTestSynapse, type TestSynapse } from "./matrix-synapse.fixture.ts";
import { until } from "../harness/until.ts";

const MUC = "hostile@conference.localhost";
const MUC_USER = "http://jabber.org/protocol/muc#user";
const SID = "urn:xmpp:sid:0";

let prosody: ProsodyServer;
let syn: TestSynapse;
let junction: RunningJunction;
let storePath: string;
let roomId = "";
/** "XMPP component online" lines logged by the running Junction: 1 means no reconnect. */
let onlineCount = 0;
const lines: string[] = [];

let bob: Person; // XMPP witness, created the room (owner: sees real JIDs)
let eve: Person; // XMPP attacker
let alice: MatrixPerson; // Matrix witness
const matrix: Record<string, MatrixPerson> = {};

function logger() {
  const sink = new Writable({
    write(chunk, _enc, done) {
      const text = String(chunk);
      for (const line of text.split("\n").filter(Boolean)) {
        lines.push(line);
        if (line.includes("XMPP component online")) onlineCount++;
      }
      done();
    },
  });
  return pino({ level: process.env.JUNCTION_TEST_LOG ?? "info" }, sink);
}

async function startJunction(): Promise<RunningJunction> {
  onlineCount = 0;
  const log = logger();
  const xmpp = new XmppAdapter({
    server: prosody.componentService, component: prosody.componentDomain, secret: prosody.componentSecret,
    nick: "Junction", history: 20, upload: prosody.uploadDomain!,
  }, log.child({ network: "xmpp" }));
  const mx = new MatrixAdapter(syn.matrixConfig, log.child({ network: "matrix" }));
  const j = await runJunction({ store: { path: storePath }, links: { hostile: { xmpp: [MUC], matrix: ["#hostile:localhost"] } } }, [xmpp, mx], log);
  await until("both networks ready", () => j.connected().get("xmpp") === true && j.connected().get("matrix") === true, 30_000);
  return j;
}

async function matrixUser(localpart: string, displayname: string): Promise<MatrixPerson> {
  const u = await syn.registerUser(localpart, displayname);
  const p = matrixPerson(syn.url, u.userId, u.token);
  await p.join(roomId);
  matrix[localpart] = p;
  return p;
}

const text = (el: Element) => el.getChildText("body") ?? "";
const fromRoom = (el: Element) => el.is("message") && el.attrs.type === "groupchat" && String(el.attrs.from).startsWith(`${MUC}/`);
const nickOf = (el: Element) => String(el.attrs.from).slice(MUC.length + 1);
const stanzaIdOf = (el: Element) => el.getChildren("stanza-id").find((s) => s.attrs.xmlns === SID && s.attrs.by === MUC)?.attrs.id as string;
/** A message on Matrix with this body, from somebody other than `not`. */
const onMatrix = (body: string, timeoutMs = 20_000) =>
  until(`"${body}" on Matrix`, () => alice.timeline(roomId).find((e) => (e.content as { body?: string } | undefined)?.body === body), timeoutMs);
/** Real JIDs by nick, as the room shows them to its owner (bob). */
const realJidOf = (nick: string): string | undefined => {
  const p = [...bob.received].reverse().find((s) => s.is("presence") && s.attrs.from === `${MUC}/${nick}` && s.attrs.type !== "unavailable");
  return p?.getChild("x", MUC_USER)?.getChild("item")?.attrs.jid?.split("/")[0];
};
const XML_FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/;

beforeAll(async () => {
  [prosody, syn] = await Promise.all([startProsody({ upload: true }), startTestSynapse()]);
  const a = await syn.registerUser("alice", "Alice");
  alice = matrixPerson(syn.url, a.userId, a.token);
  roomId = await alice.createRoom({ alias: "hostile", preset: "public_chat", name: "Hostile" });
  const dir = mkdtempSync(join(tmpdir(), "junction-hostile-e2e-"));
  trackTempDir(dir);
  storePath = join(dir, "junction.db");
  bob = await newPerson(prosody, "bob");
  await bob.join(MUC, "bob");
  eve = await newPerson(prosody, "eve");
  await eve.join(MUC, "eve");
  junction = await startJunction();
}, 180_000);

afterAll(async () => {
  await Promise.allSettled([bob?.stop(), eve?.stop()]);
  await junction?.stop();
  await Promise.allSettled([alice?.stop(), ...Object.values(matrix).map((p) => p.stop())]);
  await Promise.allSettled([prosody?.stop(), syn?.stop()]);
});

describe("characters XML forbids, from Matrix (item 8)", () => {
  it("a body, display name, reaction, file name and reply excerpt with U+0001, U+FFFE and RTL override keep the stream up and arrive cleaned", async () => {
    const poison = "\u0001\ufffe\u202e";
    const mal = await matrixUser("mallory", `Mal${poison}lory`);
    const first = await mal.say(roomId, `bad${poison}body`);
    const heard = await bob.waitFor((el) => fromRoom(el) && text(el).startsWith("bad"), 20_000, "mallory's body");
    expect(nickOf(heard)).toBe("Mallory");
    expect(text(heard)).not.toMatch(XML_FORBIDDEN);
    expect(text(heard)).toContain("body");

    await mal.react(roomId, first, `${poison}👍`);
    const reaction = await bob.waitFor((el) => fromRoom(el) && el.getChild("reactions", "urn:xmpp:reactions:0")?.attrs.id === stanzaIdOf(heard), 20_000, "mallory's reaction");
    expect(reaction.getChild("reactions", "urn:xmpp:reactions:0")!.toString()).not.toMatch(XML_FORBIDDEN);

    const mxc = await mal.uploadMedia("hello", "text/plain", "x.txt");
    await mal.send(roomId, { msgtype: "m.file", body: `evil${poison}.txt`, url: mxc, info: { mimetype: "text/plain", size: 5 } });
    const file = await bob.waitFor((el) => fromRoom(el) && nickOf(el) === "Mallory" && !!el.getChild("x", "jabber:x:oob"), 20_000, "mallory's file");
    expect(file.toString()).not.toMatch(XML_FORBIDDEN);

    // A reply quoting her (the fallback carries her name and an excerpt of her body).
    await alice.send(roomId, { msgtype: "m.text", body: "quoting mallory", "m.relates_to": { "m.in_reply_to": { event_id: first } } });
    const reply = await bob.waitFor((el) => fromRoom(el) && text(el).endsWith("quoting mallory"), 20_000, "the reply quoting mallory");
    expect(text(reply)).not.toMatch(XML_FORBIDDEN);

    // Her puppet's vCard and disco#info carry her name.
    const puppet = realJidOf("Mallory");
    expect(puppet).toMatch(/@bridge\.localhost$/);
    for (const [i, q] of [xml("vCard", { xmlns: "vcard-temp" }), xml("query", { xmlns: "http://jabber.org/protocol/disco#info" })].entries()) {
      const id = `q${i}`;
      await bob.send(xml("iq", { type: "get", to: puppet, id }, q));
      const answer = await bob.waitFor((el) => el.is("iq") && el.attrs.id === id, 10_000, `iq ${id}`);
      expect(answer.attrs.type).toBe("result");
    }

    await alice.say(roomId, "still flowing");
    await bob.waitFor((el) => fromRoom(el) && text(el) === "still flowing", 20_000);
    expect(onlineCount).toBe(1);
  });
});

describe("names that break or fool (item 6)", () => {
  it("an emoji-only name gets a plain nick, and a Cyrillic look-alike of a native occupant gets its network's name", async () => {
    const party = await matrixUser("party", "🎉🎉");
    await party.say(roomId, "emoji name");
    const heard = await bob.waitFor((el) => fromRoom(el) && text(el) === "emoji name", 20_000);
    expect(nickOf(heard)).toBe("@party:localhost");

    const fake = await matrixUser("fakebob", "b\u043eb"); // Cyrillic о
    await fake.say(roomId, "I am not bob");
    const fakeHeard = await bob.waitFor((el) => fromRoom(el) && text(el) === "I am not bob", 20_000);
    expect(nickOf(fakeHeard)).toBe("b\u043eb (matrix)");
    expect(onlineCount).toBe(1);
  });
});

describe("ids copied from our puppets (item 3)", () => {
  it("a person's message with our id prefix is bridged", async () => {
    await eve.say(MUC, "prefix is mine", xml("origin-id", { xmlns: SID, id: "jn-1-forged" }));
    await onMatrix("prefix is mine");
  });

  it("a copy of a puppet's id is the copier's message: bridged, and a redaction or reply still finds the original", async () => {
    const original = await alice.say(roomId, "the original");
    const heard = await eve.waitFor((el) => fromRoom(el) && text(el) === "the original", 20_000, "alice's message");
    const puppetId = heard.attrs.id as string;
    expect(puppetId).toMatch(/^jn-/);
    const copyStanza = xml("message", { to: MUC, type: "groupchat", id: puppetId }, xml("body", {}, "the copy"), xml("origin-id", { xmlns: SID, id: puppetId }));
    await eve.send(copyStanza);
    const copyEcho = await bob.waitFor((el) => fromRoom(el) && text(el) === "the copy", 10_000);
    const copyEvent = await onMatrix("the copy");
    expect(copyEvent.sender).not.toBe(alice.userId);

    // Bob answers the copy: on Matrix it answers eve's message, not alice's.
    await bob.say(MUC, "answering the copy", xml("reply", { xmlns: "urn:xmpp:reply:0", id: stanzaIdOf(copyEcho), to: `${MUC}/eve` }));
    const answer = await onMatrix("answering the copy");
    expect((answer.content as any)["m.relates_to"]?.["m.in_reply_to"]?.event_id).toBe(copyEvent.event_id);

    // Eve corrects "her" message: it edits her copy, never alice's original.
    await eve.say(MUC, "the copy, edited", xml("replace", { xmlns: "urn:xmpp:message-correct:0", id: puppetId }));
    const edit = await until("eve's edit on Matrix", () => alice.timeline(roomId).find((e) => (e.content as any)?.["m.new_content"]?.body === "the copy, edited"), 20_000);
    expect((edit.content as any)["m.relates_to"].event_id).toBe(copyEvent.event_id);

    // Alice redacts her original: the retraction on XMPP targets it, not the copy.
    await alice.redact(roomId, original);
    const retract = await bob.waitFor((el) => fromRoom(el) && !!el.getChild("retract", "urn:xmpp:message-retract:1"), 20_000, "the retraction");
    expect(retract.getChild("retract", "urn:xmpp:message-retract:1")!.attrs.id).toBe(stanzaIdOf(heard));
    expect(retract.getChild("retract", "urn:xmpp:message-retract:1")!.attrs.id).not.toBe(stanzaIdOf(copyEcho));
    expect(alice.timeline(roomId).find((e) => e.type === "m.room.redaction" && ((e as any).redacts ?? (e.content as any)?.redacts) === copyEvent.event_id)).toBeUndefined();
  });
});

describe("nicks a puppet once held (item 7)", () => {
  it("a native person who takes a puppet's old nick after its rename is bridged", async () => {
    const dora = await matrixUser("dora", "dora");
    await dora.say(roomId, "dora here");
    await bob.waitFor((el) => fromRoom(el) && nickOf(el) === "dora" && text(el) === "dora here", 20_000);
    await dora.setDisplayName("dora2");
    await bob.waitFor((el) => el.is("presence") && el.attrs.from === `${MUC}/dora2` && el.attrs.type !== "unavailable", 20_000, "dora's puppet renamed");
    const frank = await newPerson(prosody, "frank");
    await frank.join(MUC, "dora");
    await frank.say(MUC, "I am frank, called dora");
    await onMatrix("I am frank, called dora");
    await frank.stop();
  });

  it("also after a Junction restart", async () => {
    const gina = await matrixUser("gina", "gina");
    await gina.say(roomId, "gina here");
    await bob.waitFor((el) => fromRoom(el) && nickOf(el) === "gina" && text(el) === "gina here", 20_000);
    await gina.leave(roomId);
    await bob.waitFor((el) => el.is("presence") && el.attrs.from === `${MUC}/gina` && el.attrs.type === "unavailable", 20_000, "gina's puppet left");
    await junction.stop();
    const hank = await newPerson(prosody, "hank");
    await hank.join(MUC, "gina");
    junction = await startJunction();
    await hank.say(MUC, "I am hank, called gina");
    await onMatrix("I am hank, called gina");
    // His join (made while Junction was away) reached Matrix as a ghost too.
    await until("hank's ghost on Matrix", () => alice.timeline(roomId).find((e) => e.type === "m.room.member" && (e.content as any)?.displayname === "gina" && String(e.state_key).startsWith("@_junction_xmpp_")), 20_000);
    expect(onlineCount).toBe(1);
    await hank.stop();
  });
});
