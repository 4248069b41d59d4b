import parse from "@xmpp/xml/lib/parse.js";
import { describe, expect, it } from "vitest";
import { remoteId, roomRef, type RoomRef } from "../../core/events.ts";
import { inboundMessage, type InboundContext } from "../../bridges/xmpp/inbound.ts";
import type { OccupantInfo } from "../../bridges/xmpp/stanza.ts";

const ROOM = "lobby@conference.example.org";
const room = roomRef(ROOM);
const NOW = 1_700_000_000_000;

function ctx(over: Partial<InboundContext> & { occupants?: Record<string, OccupantInfo> } = {}): InboundContext {
  const occupants = over.occupants ?? { alice: { nick: "alice", realJid: "alice@example.org" } };
  return {
    linkedRoom: (bare: string) => (bare.toLowerCase() === ROOM ? room : undefined),
    occupant: (_r: RoomRef, nick: string) => occupants[nick],
    resolveCorrection: (_r, clientId, postedAs) =>
      clientId === "c1" && postedAs === "alice@example.org" ? remoteId("sid-1") : undefined,
    postedAsOf: (_r, key) =>
      key === "sid-1" ? { postedAs: "alice@example.org", bridged: false }
      : key === "sid-puppet" ? { postedAs: "lobby@conference.example.org/Bob (matrix)", bridged: true }
      : undefined,
    previousReactions: () => undefined,
    now: () => NOW,
    ...over,
  };
}

const msg = (inner: string, attrs = `from="${ROOM}/alice" type="groupchat" id="c9"`) =>
  parse(`<message xmlns="jabber:client" ${attrs} to="junction@bridge.example.org/bot">${inner}<stanza-id xmlns="urn:xmpp:sid:0" by="${ROOM}" id="sid-9"/></message>`);

const alice = { id: "alice@example.org", name: "alice", isBot: false };
const env = { origin: "xmpp", room: ROOM, sender: alice, ts: NOW };

describe("inbound groupchat messages", () => {
  it.each<[string, string, unknown]>([
    ["plain", `<body>hello</body>`,
      { ...env, kind: "message", remoteId: "sid-9", altId: "c9", body: { text: "hello" }, attachments: [], isAction: false, mentions: [] }],
    ["/me", `<body>/me waves</body>`,
      { ...env, kind: "message", remoteId: "sid-9", altId: "c9", body: { text: "waves" }, attachments: [], isAction: true, mentions: [] }],
    ["reply with fallback", `<body>&gt; bob: hi there\nyes!</body><reply xmlns="urn:xmpp:reply:0" to="${ROOM}/bob" id="sid-1"/><fallback xmlns="urn:xmpp:fallback:0" for="urn:xmpp:reply:0"><body start="0" end="16"/></fallback>`,
      { ...env, kind: "message", remoteId: "sid-9", altId: "c9", body: { text: "yes!" }, attachments: [], isAction: false, mentions: [], replyTo: "sid-1" }],
    ["reply fallback counted in code points", `<body>&gt; 😀: 🎉\nok</body><reply xmlns="urn:xmpp:reply:0" id="sid-1"/><fallback xmlns="urn:xmpp:fallback:0" for="urn:xmpp:reply:0"><body start="0" end="7"/></fallback>`,
      { ...env, kind: "message", remoteId: "sid-9", altId: "c9", body: { text: "ok" }, attachments: [], isAction: false, mentions: [], replyTo: "sid-1" }],
    ["reply fallback with a range beyond the body is kept", `<body>short</body><reply xmlns="urn:xmpp:reply:0" id="sid-1"/><fallback xmlns="urn:xmpp:fallback:0" for="urn:xmpp:reply:0"><body start="0" end="99"/></fallback>`,
      { ...env, kind: "message", remoteId: "sid-9", altId: "c9", body: { text: "short" }, attachments: [], isAction: false, mentions: [], replyTo: "sid-1" }],
    ["OOB with the URL as body", `<body>https://up.example.org/a/cat.png</body><x xmlns="jabber:x:oob"><url>https://up.example.org/a/cat.png</url></x>`,
      { ...env, kind: "message", remoteId: "sid-9", altId: "c9", body: { text: "" }, attachments: [{ url: "https://up.example.org/a/cat.png", name: "cat.png" }], isAction: false, mentions: [] }],
    ["OOB with text and desc", `<body>look</body><x xmlns="jabber:x:oob"><url>https://up.example.org/b</url><desc>Dog</desc></x>`,
      { ...env, kind: "message", remoteId: "sid-9", altId: "c9", body: { text: "look" }, attachments: [{ url: "https://up.example.org/b", name: "Dog" }], isAction: false, mentions: [] }],
    ["correction of one's own message", `<body>fixed</body><replace xmlns="urn:xmpp:message-correct:0" id="c1"/>`,
      { ...env, kind: "edit", remoteId: "sid-9", target: "sid-1", body: { text: "fixed" } }],
    ["retraction by the author", `<retract xmlns="urn:xmpp:message-retract:1" id="sid-1"/><fallback xmlns="urn:xmpp:fallback:0" for="urn:xmpp:message-retract:1"/><body>fallback</body>`,
      { ...env, kind: "retract", remoteId: "sid-9", target: "sid-1" }],
    ["retraction, fastening form", `<apply-to xmlns="urn:xmpp:fasten:0" id="sid-1"><retract xmlns="urn:xmpp:message-retract:0"/></apply-to>`,
      { ...env, kind: "retract", remoteId: "sid-9", target: "sid-1" }],
    ["composing", `<composing xmlns="http://jabber.org/protocol/chatstates"/>`,
      { ...env, kind: "typing", active: true }],
    ["paused", `<paused xmlns="http://jabber.org/protocol/chatstates"/>`,
      { ...env, kind: "typing", active: false }],
    ["a body with a chat state is only the message", `<body>hi</body><active xmlns="http://jabber.org/protocol/chatstates"/>`,
      { ...env, kind: "message", remoteId: "sid-9", altId: "c9", body: { text: "hi" }, attachments: [], isAction: false, mentions: [] }],
    ["unknown namespaces are ignored", `<body>x</body><foo xmlns="urn:example:whatever"><bar/></foo>`,
      { ...env, kind: "message", remoteId: "sid-9", altId: "c9", body: { text: "x" }, attachments: [], isAction: false, mentions: [] }],
  ])("%s", (_name, inner, want) => {
    const r = inboundMessage(msg(inner), ctx());
    expect(r.events).toEqual([want]);
  });

  it("dates history by the room's <delay>, not one its sender wrote", () => {
    const r = inboundMessage(msg(`<body>old</body><delay xmlns="urn:xmpp:delay" stamp="2023-01-02T03:04:05Z" from="${ROOM}"/>`), { ...ctx(), replayed: true });
    expect(r.events[0]?.ts).toBe(Date.parse("2023-01-02T03:04:05Z"));
    expect(r.ts).toBe(Date.parse("2023-01-02T03:04:05Z"));
    const forged = inboundMessage(msg(`<body>old</body><delay xmlns="urn:xmpp:delay" stamp="2001-01-01T00:00:00Z" from="alice@localhost"/>`), { ...ctx(), replayed: true });
    expect(forged.ts).toBe(ctx().now());
    // A sender's delay "from the room" comes first; the room appends its own after it.
    const both = inboundMessage(msg(`<body>old</body><delay xmlns="urn:xmpp:delay" stamp="2001-01-01T00:00:00Z" from="${ROOM}"/><delay xmlns="urn:xmpp:delay" stamp="2023-01-02T03:04:05Z" from="${ROOM}"/>`), { ...ctx(), replayed: true });
    expect(both.ts).toBe(Date.parse("2023-01-02T03:04:05Z"));
  });
  it("dates a live message on arrival, whatever its delay says", () => {
    const r = inboundMessage(msg(`<body>new</body><delay xmlns="urn:xmpp:delay" stamp="2099-01-02T03:04:05Z" from="${ROOM}"/>`), ctx());
    expect(r.ts).toBe(ctx().now());
  });

  it("keys on <occupant JID>#<id> when the room gives no stanza-id, never the bare id", () => {
    const s = parse(`<message from="${ROOM}/alice" type="groupchat" id="abc"><body>x</body></message>`);
    expect(inboundMessage(s, ctx()).events[0]?.remoteId).toBe(`${ROOM}/alice#abc`);
  });
  it("ignores a stanza-id claimed by someone other than the room", () => {
    const s = parse(`<message from="${ROOM}/alice" type="groupchat" id="abc"><body>x</body><stanza-id xmlns="urn:xmpp:sid:0" by="evil@example.org" id="forged"/></message>`);
    expect(inboundMessage(s, ctx()).events[0]?.remoteId).toBe(`${ROOM}/alice#abc`);
  });
  it("reports the client's origin-id (else its id) for later corrections", () => {
    expect(inboundMessage(msg(`<body>x</body><origin-id xmlns="urn:xmpp:sid:0" id="o-1"/>`), ctx()).clientId).toBe("o-1");
    expect(inboundMessage(msg(`<body>x</body>`), ctx()).clientId).toBe("c9");
  });

  it.each<[string, Record<string, OccupantInfo>, string | undefined, string]>([
    ["real JID", { alice: { nick: "alice", realJid: "alice@example.org/phone" } }, undefined, "alice@example.org"],
    ["occupant-id from presence", { alice: { nick: "alice", occupantId: "oid1" } }, undefined, `${ROOM}#oid1`],
    ["occupant-id on the message", {}, "oid2", `${ROOM}#oid2`],
    ["only the occupant JID", {}, undefined, `${ROOM}/alice`],
  ])("sender id: %s", (_n, occupants, oid, want) => {
    const inner = `<body>x</body>${oid ? `<occupant-id xmlns="urn:xmpp:occupant-id:0" id="${oid}"/>` : ""}`;
    const e = inboundMessage(msg(inner), ctx({ occupants })).events[0];
    expect(e?.sender).toMatchObject({ id: want, name: "alice" });
  });

  describe("refused", () => {
    it.each<[string, string, RegExp]>([
      ["no from", `<message type="groupchat"><body>x</body></message>`, /without from/],
      ["not a linked room", `<message from="other@conference.example.org/a" type="groupchat"><body>x</body></message>`, /not a linked room/],
      ["chat type", `<message from="${ROOM}/alice" type="chat"><body>x</body></message>`, /not a room message/],
      ["no type", `<message from="${ROOM}/alice"><body>x</body></message>`, /normal/],
      ["subject", `<message from="${ROOM}" type="groupchat"><subject>topic</subject></message>`, /not a moderation/],
      ["empty", `<message from="${ROOM}/alice" type="groupchat" id="1"/>`, /nothing we bridge/],
      ["huge body", `<message from="${ROOM}/alice" type="groupchat" id="1"><body>${"x".repeat(70_000)}</body></message>`, /over the limit/],
      ["correcting someone else's message", `<message from="${ROOM}/mallory" type="groupchat" id="1"><body>x</body><replace xmlns="urn:xmpp:message-correct:0" id="c1"/></message>`, /no such message of theirs/],
      ["retracting someone else's message", `<message from="${ROOM}/mallory" type="groupchat" id="1"><retract xmlns="urn:xmpp:message-retract:1" id="sid-1"/></message>`, /tried to retract/],
      ["retracting a puppet's message", `<message from="${ROOM}/alice" type="groupchat" id="1"><retract xmlns="urn:xmpp:message-retract:1" id="sid-puppet"/></message>`, /tried to retract/],
      ["retracting an unknown message", `<message from="${ROOM}/alice" type="groupchat" id="1"><retract xmlns="urn:xmpp:message-retract:1" id="nope"/></message>`, /never saw/],
      ["reactions without id", `<message from="${ROOM}/alice" type="groupchat" id="1"><reactions xmlns="urn:xmpp:reactions:0"><reaction>👍</reaction></reactions></message>`, /without a target/],
      ["a presence", `<presence from="${ROOM}/alice"/>`, /not a message/],
    ])("%s", (_n, xmlText, reason) => {
      const r = inboundMessage(parse(xmlText), ctx());
      expect(r.events).toEqual([]);
      expect(r.reason).toMatch(reason);
    });
  });
});

describe("moderation (XEP-0425)", () => {
  const mod = { nick: "mod", realJid: "mod@example.org" };
  it.each<[string, string]>([
    ["current form", `<retract xmlns="urn:xmpp:message-retract:1" id="sid-1"><moderated xmlns="urn:xmpp:message-moderate:1" by="${ROOM}/mod"/><reason>spam</reason></retract>`],
    ["fastening form", `<apply-to xmlns="urn:xmpp:fasten:0" id="sid-1"><moderated xmlns="urn:xmpp:message-moderate:0" by="${ROOM}/mod"><retract xmlns="urn:xmpp:message-retract:0"/><reason>spam</reason></moderated></apply-to>`],
  ])("%s", (_n, inner) => {
    const r = inboundMessage(parse(`<message from="${ROOM}" type="groupchat" id="m1">${inner}</message>`), ctx({ occupants: { mod } }));
    expect(r.events).toEqual([{
      origin: "xmpp", room: ROOM, ts: NOW, kind: "retract", target: "sid-1", moderated: true, reason: "spam",
      sender: { id: "mod@example.org", name: "mod", isBot: false },
    }]);
  });
  it("a retract from the room without <moderated> is not a moderation", () => {
    const r = inboundMessage(parse(`<message from="${ROOM}" type="groupchat"><retract xmlns="urn:xmpp:message-retract:1" id="sid-1"/></message>`), ctx());
    expect(r.events).toEqual([]);
  });
});

describe("reactions (XEP-0444)", () => {
  const stanza = (emojis: string[]) => msg(`<reactions xmlns="urn:xmpp:reactions:0" id="sid-1">${emojis.map((e) => `<reaction>${e}</reaction>`).join("")}</reactions><store xmlns="urn:xmpp:hints"/>`);
  it.each<[string, string[] | undefined, string[], [string, boolean][]]>([
    ["first reaction", undefined, ["👍"], [["👍", true]]],
    ["another one added", ["👍"], ["👍", "❤️"], [["❤️", true]]],
    ["one removed", ["👍", "❤️"], ["❤️"], [["👍", false]]],
    ["all removed", ["👍"], [], [["👍", false]]],
    ["swapped", ["👍"], ["🎉"], [["👍", false], ["🎉", true]]],
    ["unchanged", ["👍"], ["👍"], []],
    ["duplicates collapse", undefined, ["👍", "👍"], [["👍", true]]],
  ])("%s", (_n, before, now, want) => {
    const r = inboundMessage(stanza(now), ctx({ previousReactions: () => before }));
    expect(r.events.map((e) => (e.kind === "reaction" ? [e.emoji, e.added] : e.kind))).toEqual(want);
    for (const e of r.events) expect(e).toMatchObject({ kind: "reaction", target: "sid-1", sender: alice });
    expect(r.reactionSet).toEqual({ target: "sid-1", actor: "alice@example.org", set: [...new Set(now)] });
    expect(new Set(r.events.map((e) => e.remoteId)).size).toBe(r.events.length);
  });
});

it("never throws on strange input", () => {
  const weird = [
    `<message from="${ROOM}/a" type="groupchat"><body><b>nested</b></body></message>`,
    `<message from="${ROOM}/" type="groupchat"><body>x</body></message>`,
    `<message from="/" type="groupchat"/>`,
    `<message from="${ROOM}/a" type="groupchat"><reply xmlns="urn:xmpp:reply:0"/><fallback xmlns="urn:xmpp:fallback:0" for="urn:xmpp:reply:0"><body start="x" end="-1"/></fallback><body>ok</body></message>`,
  ];
  for (const w of weird) expect(() => inboundMessage(parse(w), ctx())).not.toThrow();
});
