import parse from "@xmpp/xml/lib/parse.js";
import { describe, expect, it } from "vitest";
import type { DeliveryContext, MappedMessage } from "../../core/adapter.ts";
import { actorId, remoteId, roomRef, type BridgeEvent } from "../../core/events.ts";
import { CannotDeliver, outboundStanzas, replyFallback, stanzaIdFor, type OutboundOptions } from "../../bridges/xmpp/outbound.ts";
import { inboundMessage } from "../../bridges/xmpp/inbound.ts";

const ROOM = "lobby@conference.example.org";
const FROM = "matrix_\\40bob\\3aexample.org@bridge.example.org/junction";
const OCC = `${ROOM}/Bob`;
const o: OutboundOptions = { room: ROOM, from: FROM, occupant: OCC };
const env = { origin: "matrix", room: roomRef("!r:example.org"), ts: 1, sender: { id: actorId("@bob:example.org"), name: "Bob", isBot: false } } as const;
const dctx = (over: Partial<DeliveryContext> = {}): DeliveryContext => ({
  deliveryId: "42", attempt: 0, fetchMedia: async () => { throw new Error("no media"); }, ...over,
});
const mapped = (over: Partial<MappedMessage> = {}): MappedMessage => ({
  remoteId: remoteId("sid-7"), altId: "jn-7", postedAs: `${ROOM}/alice`, authorName: "alice", excerpt: "hi there", ...over,
});
const msg = (text: string, over: object = {}): BridgeEvent =>
  ({ ...env, kind: "message", body: { text }, attachments: [], isAction: false, mentions: [], ...over });
const head = `<message type="groupchat" from="${FROM}" to="${ROOM}" id="jn-42">`;
const origin = `<origin-id xmlns="urn:xmpp:sid:0" id="jn-42"/>`;

describe("outbound stanzas", () => {
  it.each<[string, BridgeEvent, Partial<DeliveryContext>, string]>([
    ["a message", msg("hello"), {},
      `${head}<body>hello</body>${origin}</message>`],
    ["an action", msg("waves", { isAction: true }), {},
      `${head}<body>/me waves</body>${origin}</message>`],
    ["a correction", { ...env, kind: "edit", target: remoteId("m1"), body: { text: "fixed" } }, { target: mapped() },
      `${head}<body>fixed</body><replace id="jn-7" xmlns="urn:xmpp:message-correct:0"/>${origin}</message>`],
    ["a retraction", { ...env, kind: "retract", target: remoteId("m1") }, { target: mapped() },
      `${head}<retract id="sid-7" xmlns="urn:xmpp:message-retract:1"/><fallback xmlns="urn:xmpp:fallback:0" for="urn:xmpp:message-retract:1"/><body>This person attempted to retract a previous message, but it's unsupported by your client.</body><store xmlns="urn:xmpp:hints"/>${origin}</message>`],
    ["a reaction with the whole set", { ...env, kind: "reaction", target: remoteId("m1"), emoji: "🎉", added: true }, { target: mapped(), reactionSet: ["👍", "🎉"] },
      `${head}<reactions id="sid-7" xmlns="urn:xmpp:reactions:0"><reaction>👍</reaction><reaction>🎉</reaction></reactions><store xmlns="urn:xmpp:hints"/>${origin}</message>`],
    ["the last reaction removed", { ...env, kind: "reaction", target: remoteId("m1"), emoji: "🎉", added: false }, { target: mapped(), reactionSet: [] },
      `${head}<reactions id="sid-7" xmlns="urn:xmpp:reactions:0"/><store xmlns="urn:xmpp:hints"/>${origin}</message>`],
    ["typing", { ...env, kind: "typing", active: true }, {},
      `${head}<composing xmlns="http://jabber.org/protocol/chatstates"/><no-store xmlns="urn:xmpp:hints"/></message>`],
    ["typing stopped", { ...env, kind: "typing", active: false }, {},
      `${head}<active xmlns="http://jabber.org/protocol/chatstates"/><no-store xmlns="urn:xmpp:hints"/></message>`],
  ])("%s", (_n, event, c, want) => {
    const out = outboundStanzas(event, dctx(c), o);
    const id = stanzaIdFor("42", event);
    expect(id).toMatch(/^jn-42-[A-Za-z0-9_-]{10}$/);
    expect(out.stanzas.map(String)).toEqual([want.replaceAll("jn-42", id)]);
  });

  it("a message ends the puppet's bridged typing with <active/> only while it shows", () => {
    const active = `<active xmlns="http://jabber.org/protocol/chatstates"/>`;
    const id = stanzaIdFor("42", msg("hello"));
    expect(String(outboundStanzas(msg("hello"), dctx({}), { ...o, endsTyping: true }).stanzas[0]))
      .toBe(`${head}<body>hello</body>${active}${origin}</message>`.replaceAll("jn-42", id));
    expect(String(outboundStanzas(msg("hello"), dctx({}), o).stanzas[0])).not.toContain("chatstates");
  });

  it("a reply carries the XEP-0461 reference and a fallback whose range is in code points", () => {
    const out = outboundStanzas(msg("yes 🎉"), dctx({ replyTo: mapped({ authorName: "😀 al", excerpt: "a\nb" }) }), { ...o, replyToOccupant: `${ROOM}/al` });
    const s = out.stanzas[0]!;
    expect(s.getChildText("body")).toBe("> 😀 al: a\n> b\nyes 🎉");
    expect(s.getChild("reply", "urn:xmpp:reply:0")?.attrs).toEqual({ xmlns: "urn:xmpp:reply:0", id: "sid-7", to: `${ROOM}/al` });
    const range = s.getChild("fallback", "urn:xmpp:fallback:0")?.getChild("body")?.attrs;
    expect(range).toEqual({ start: "0", end: String(Array.from("> 😀 al: a\n> b\n").length) });
  });

  it("what we send comes back in as what was meant (round trip through our own inbound)", () => {
    const out = outboundStanzas(msg("yes", { isAction: true }), dctx({ replyTo: mapped() }), o);
    const echoed = parse(out.stanzas[0]!.toString().replace(`from="${FROM}" to="${ROOM}"`, `from="${OCC}" to="x@y/z"`));
    const r = inboundMessage(echoed, {
      linkedRoom: () => roomRef(ROOM), occupant: () => undefined, resolveCorrection: () => undefined,
      postedAsOf: () => undefined, previousReactions: () => undefined, now: () => 1,
    });
    expect(r.events[0]).toMatchObject({ kind: "message", body: { text: "yes" }, isAction: true, replyTo: "sid-7" });
  });

  it("long excerpts are cut", () => {
    expect(replyFallback(mapped({ excerpt: "x".repeat(500) })).length).toBeLessThan(100);
  });

  it("attachments go one per stanza with OOB, ids derived from the delivery", () => {
    const att = { url: "mxc://example.org/abc", name: "cat.png" };
    const out = outboundStanzas(msg("look", { attachments: [att] }), dctx(),
      { ...o, attachmentUrls: new Map([[att.url, "https://up.example.org/cat.png"]]) });
    const id = stanzaIdFor("42", msg("look", { attachments: [att] }));
    expect(out.ids.map((i) => i.id)).toEqual([id, `${id}-1`]);
    expect(out.stanzas[1]!.toString()).toBe(
      `<message type="groupchat" from="${FROM}" to="${ROOM}" id="${id}-1"><body>https://up.example.org/cat.png</body><x xmlns="jabber:x:oob"><url>https://up.example.org/cat.png</url><desc>cat.png</desc></x><origin-id xmlns="urn:xmpp:sid:0" id="${id}-1"/></message>`);
  });
  it("an attachment nobody moved still shows by name, as a note (never a bare [file: name])", () => {
    const out = outboundStanzas(msg("", { attachments: [{ url: "mxc://e/x", name: "doc.pdf" }] }), dctx(), o);
    expect(out.stanzas.map((s) => s.getChildText("body"))).toEqual(["📎 doc.pdf (not copied by the bridge: it was not moved)"]);
  });
  it("ids are the same on a retry", () => {
    const a = outboundStanzas(msg("x"), dctx({ attempt: 0 }), o);
    const b = outboundStanzas(msg("x"), dctx({ attempt: 3 }), o);
    expect(a.ids).toEqual(b.ids);
    expect(a.ids).toEqual([{ id: stanzaIdFor("42", msg("x")), altId: stanzaIdFor("42", msg("x")), postedAs: OCC, part: 0, role: "text" }]);
  });
  it("ids differ between two events that got the same delivery id", () => {
    expect(stanzaIdFor("1", msg("a", { ts: 1 }))).not.toBe(stanzaIdFor("1", msg("a", { ts: 2 })));
  });
  it.each<[string, BridgeEvent]>([
    ["edit", { ...env, kind: "edit", target: remoteId("m1"), body: { text: "x" } }],
    ["retract", { ...env, kind: "retract", target: remoteId("m1") }],
    ["reaction", { ...env, kind: "reaction", target: remoteId("m1"), emoji: "👍", added: true }],
  ])("a %s without a target here cannot be delivered", (_n, e) => {
    expect(() => outboundStanzas(e, dctx(), o)).toThrow(CannotDeliver);
  });
});
