/** XMPP: the parts of a multi-part delivery, and a room's bounce of one of our messages. */
import parse from "@xmpp/xml/lib/parse.js";
import { describe, expect, it } from "vitest";
import type { DeliveryContext, MappedMessage } from "../../core/adapter.ts";
import { failureOf } from "../../core/errors.ts";
import { actorId, remoteId, roomRef, type BridgeEvent } from "../../core/events.ts";
import { bounceError, parseBounce } from "../../bridges/xmpp/bounce.ts";
import { outboundStanzas, replyFallback, stanzaIdFor, type OutboundOptions } from "../../bridges/xmpp/outbound.ts";

const ROOM = "lobby@conference.example.org";
const o: OutboundOptions = { room: ROOM, from: "p@bridge.example.org/junction", occupant: `${ROOM}/Bob` };
const env = { origin: "matrix", room: roomRef("!r:example.org"), ts: 1, sender: { id: actorId("@bob:example.org"), name: "Bob", isBot: false } } as const;
const ctx = (over: Partial<DeliveryContext> = {}): DeliveryContext => ({ deliveryId: "42", attempt: 0, fetchMedia: async () => { throw new Error("no"); }, ...over });
const part = (id: string, n: number): MappedMessage => ({ remoteId: remoteId(id), authorName: "Bob", excerpt: "x", part: n, role: n === 0 ? "text" : "file" });

describe("parts", () => {
  const event: BridgeEvent = {
    ...env, kind: "message", body: { text: "two files" }, isAction: false, mentions: [],
    attachments: [{ url: "mxc://hs/a", name: "a.png" }, { url: "mxc://hs/b", name: "b.pdf" }],
  };

  it("numbers a message's parts stably: 0 the text, i+1 the i-th attachment, a note in place of one that cannot be moved", () => {
    const out = outboundStanzas(event, ctx(), {
      ...o, attachmentUrls: new Map([["mxc://hs/a", "https://up.example/a.png"]]), attachmentNotes: new Map([["mxc://hs/b", "[file: b.pdf (not bridged: too big)]"]]),
    });
    expect(out.ids.map((i) => [i.part, i.role, i.id])).toEqual([
      [0, "text", stanzaIdFor("42", event)], [1, "file", stanzaIdFor("42", event, 1)], [2, "file", stanzaIdFor("42", event, 2)],
    ]);
    expect(out.stanzas.map((s) => s.getChildText("body"))).toEqual(["two files", "https://up.example/a.png", "[file: b.pdf (not bridged: too big)]"]);
  });

  it("a retraction removes every part, each in its own stanza", () => {
    const retract: BridgeEvent = { ...env, kind: "retract", target: remoteId("m1") };
    const out = outboundStanzas(retract, ctx({ target: part("sid-1", 0), targets: [part("sid-1", 0), part("sid-2", 1)] }), o);
    expect(out.stanzas.map((s) => s.getChild("retract", "urn:xmpp:message-retract:1")?.attrs.id)).toEqual(["sid-1", "sid-2"]);
    expect(new Set(out.ids.map((i) => i.id)).size).toBe(2);
  });

  it("a quote of a retracted message never shows its text", () => {
    expect(replyFallback({ ...part("sid-1", 0), excerpt: "", retracted: true })).toBe("> Bob: (retracted)\n");
  });
});

describe("bounces", () => {
  const bounce = (condition: string, type: string, text?: string) => parse(
    `<message type="error" from="${ROOM}" to="p@bridge.example.org/junction" id="jn-42-abc">` +
    `<error type="${type}"><${condition} xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>` +
    (text ? `<text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">${text}</text>` : "") + `</error></message>`);

  it("reads the condition and the room's text", () => {
    expect(parseBounce(bounce("forbidden", "auth", "You do not currently have permission to speak in this chat")))
      .toEqual({ id: "jn-42-abc", condition: "forbidden", type: "auth", text: "You do not currently have permission to speak in this chat" });
    expect(parseBounce(parse(`<message type="groupchat" id="x"><body>hi</body></message>`))).toBeUndefined();
  });

  it.each([
    ["forbidden", "auth", "permanent"], // no voice in a moderated room
    ["item-not-found", "cancel", "permanent"], // the room is gone
    ["not-acceptable", "cancel", "transient"], // not an occupant (any more): rejoin and retry
    ["resource-constraint", "wait", "transient"],
  ])("%s (%s) is %s", (condition, type, failure) => {
    const err = bounceError(parseBounce(bounce(condition, type))!, ROOM);
    expect(failureOf(err)).toBe(failure);
    expect(err.message).toBe(`${ROOM} refused the message: ${condition}`);
  });
});
