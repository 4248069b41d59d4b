/** XEP-0372 mention references: read from hostile clients, written for the room's own nicks. */
import parse from "@xmpp/xml/lib/parse.js";
import { describe, expect, it } from "vitest";
import type { DeliveryContext } from "../../core/adapter.ts";
import { actorId, remoteId, roomRef, type BridgeEvent, type RoomRef } from "../../core/events.ts";
import { richBody } from "../../core/richtext/body.ts";
import { para, text, type Doc, type Inline } from "../../core/richtext/tree.ts";
import { inboundMessage, type InboundContext } from "../../bridges/xmpp/inbound.ts";
import { outboundStanzas } from "../../bridges/xmpp/outbound.ts";
import { MARK_OPEN, nickOfUri, unmark } from "../../bridges/xmpp/references.ts";
import type { OccupantInfo } from "../../bridges/xmpp/stanza.ts";

const ROOM = "lobby@conference.example.org";
const room = roomRef(ROOM);
const CAROL = actorId("@carol:hs");
const DANA = actorId("80351110224678912");
const people: Record<string, { id: ReturnType<typeof actorId>; network: "matrix" | "discord" | "xmpp" }> = {
  "carol (matrix)": { id: CAROL, network: "matrix" },
  "Dana 🌸": { id: DANA, network: "discord" },
  alice: { id: actorId("alice@example.org"), network: "xmpp" },
};
const occupants: Record<string, OccupantInfo> = { alice: { nick: "alice", realJid: "alice@example.org" } };

function ctx(): InboundContext {
  return {
    linkedRoom: (bare: string) => (bare.toLowerCase() === ROOM ? room : undefined),
    occupant: (_r: RoomRef, nick: string) => occupants[nick],
    resolveCorrection: (_r, clientId) => (clientId === "c1" ? remoteId("sid-1") : undefined),
    postedAsOf: () => undefined,
    previousReactions: () => undefined,
    now: () => 1,
    mentionable: (nick) => people[nick],
  };
}

const ref = (nick: string, begin?: number, end?: number, uriRoom = ROOM) =>
  `<reference xmlns="urn:xmpp:reference:0" type="mention" uri="xmpp:${uriRoom}/${encodeURIComponent(nick)}"${begin !== undefined ? ` begin="${begin}"` : ""}${end !== undefined ? ` end="${end}"` : ""}/>`;
const msg = (inner: string) =>
  parse(`<message xmlns="jabber:client" from="${ROOM}/alice" type="groupchat" id="c9" to="j@bridge/bot">${inner}<stanza-id xmlns="urn:xmpp:sid:0" by="${ROOM}" id="sid-9"/></message>`);
const read = (inner: string) => {
  const e = inboundMessage(msg(inner), ctx()).events[0] as Extract<BridgeEvent, { kind: "message" }>;
  return { mentions: e.mentions, rich: e.body.rich, text: e.body.text };
};
const mention = (name: string): Inline => ({ t: "mention", ...people[name]!, name } as Inline);

describe("XEP-0372 references in", () => {
  it.each<[string, string, readonly string[], Doc | undefined]>([
    ["a reference with its range", `<body>hi carol (matrix) there</body>${ref("carol (matrix)", 3, 17)}`, [CAROL],
      [para(text("hi "), mention("carol (matrix)"), text(" there"))]],
    ["ranges count code points, not UTF-16 units", `<body>🎉🎉 Dana 🌸!</body>${ref("Dana 🌸", 3, 9)}`, [DANA],
      [para(text("🎉🎉 "), mention("Dana 🌸"), text("!"))]],
    ["the same words twice: the occurrence the range names", `<body>alice said alice</body>${ref("alice", 11, 16)}`, ["alice@example.org"],
      [para(text("alice said "), mention("alice"))]],
    ["inside styling, the words are found", `<body>look *carol (matrix)*</body>${ref("carol (matrix)", 6, 20)}`, [CAROL],
      [para(text("look "), { t: "bold", children: [mention("carol (matrix)")] })]],
    ["without a range the person is pinged, the text stays", `<body>hey you</body>${ref("carol (matrix)")}`, [CAROL], undefined],
    ["end past the body: no range, still the person", `<body>hey</body>${ref("carol (matrix)", 0, 9999)}`, [CAROL], undefined],
    ["begin after end", `<body>hey carol</body>${ref("carol (matrix)", 5, 2)}`, [CAROL], undefined],
    ["negative begin", `<body>hey carol</body>${ref("carol (matrix)", -1, 3)}`, [CAROL], undefined],
    ["a fractional index", `<body>hey carol</body>${ref("carol (matrix)", 0.5, 3)}`, [CAROL], undefined],
    ["a huge index", `<body>hey carol</body>${ref("carol (matrix)", 0, 1e30)}`, [CAROL], undefined],
    ["a range over a line break is no nick", `<body>a\nb</body>${ref("carol (matrix)", 0, 3)}`, [CAROL], undefined],
    ["a nick the room does not have pings nobody", `<body>hi mallory</body>${ref("mallory", 3, 10)}`, [], undefined],
    ["another room's occupant pings nobody", `<body>hi alice</body>${ref("alice", 3, 8, "other@conference.example.org")}`, [], undefined],
    ["a bare JID is no occupant", `<body>hi</body><reference xmlns="urn:xmpp:reference:0" type="mention" uri="xmpp:alice@example.org"/>`, [], undefined],
    ["another type is not a mention", `<body>hi alice</body><reference xmlns="urn:xmpp:reference:0" type="data" uri="xmpp:${ROOM}/alice" begin="3" end="8"/>`, [], undefined],
    ["a javascript: uri is nothing", `<body>hi alice</body><reference xmlns="urn:xmpp:reference:0" type="mention" uri="javascript:alert(1)" begin="3" end="8"/>`, [], undefined],
    ["broken percent-encoding is nothing", `<body>hi</body><reference xmlns="urn:xmpp:reference:0" type="mention" uri="xmpp:${ROOM}/%E0%A4%A"/>`, [], undefined],
    ["two references to one person count once", `<body>alice alice</body>${ref("alice", 0, 5)}${ref("alice", 6, 11)}`, ["alice@example.org"],
      [para(mention("alice"), text(" "), mention("alice"))]],
  ])("%s", (_name, inner, mentions, rich) => {
    const r = read(inner);
    expect(r.mentions).toEqual(mentions);
    if (rich) expect(r.rich).toEqual(rich);
    else expect(r.rich ?? undefined).toBeUndefined();
  });

  it("a range is moved past a reply fallback, and one inside the fallback is not placed", () => {
    const fallback = "> alice: old\n";
    const n = Array.from(fallback).length;
    const r = read(`<body>${fallback}ok alice</body><reply xmlns="urn:xmpp:reply:0" id="x"/><fallback xmlns="urn:xmpp:fallback:0" for="urn:xmpp:reply:0"><body start="0" end="${n}"/></fallback>${ref("alice", n + 3, n + 8)}${ref("carol (matrix)", 2, 7)}`);
    expect(r.rich).toEqual([para(text("ok "), mention("alice"))]);
    expect(r.mentions).toEqual(["alice@example.org", CAROL]);
  });

  it("a reference and an addressee at the same place make one mention", () => {
    const r = read(`<body>alice: hi</body>${ref("alice", 0, 5)}`);
    expect(r.rich).toEqual([para(mention("alice"), text(": hi"))]);
  });

  it("a thousand references cost at most 32 look-ups", () => {
    const r = read(`<body>x</body>${ref("alice").repeat(1000)}`);
    expect(r.mentions).toEqual(["alice@example.org"]);
  });

  it("a correction keeps its mentions as formatting", () => {
    const e = inboundMessage(msg(`<body>fixed alice</body><replace xmlns="urn:xmpp:message-correct:0" id="c1"/>${ref("alice", 6, 11)}`), ctx()).events[0]!;
    expect(e.kind === "edit" && e.body.rich).toEqual([para(text("fixed "), mention("alice"))]);
  });

  it.each<[string, string | undefined]>([
    [`xmpp:${ROOM}/alice`, "alice"],
    [`xmpp:LOBBY@conference.example.org/alice`, "alice"],
    [`xmpp:${ROOM}/a%20b`, "a b"],
    [`xmpp:${ROOM}/alice?message`, "alice"],
    [`xmpp:${ROOM}/`, undefined],
    [`xmpp:${ROOM}`, undefined],
    [`https://${ROOM}/alice`, undefined],
  ])("nickOfUri(%j) is %j", (uri, nick) => {
    expect(nickOfUri(uri, ROOM)).toBe(nick);
  });
});

describe("XEP-0372 references out", () => {
  const o = { room: ROOM, from: "p@bridge/junction", occupant: `${ROOM}/Bob` };
  const dctx: DeliveryContext = { deliveryId: "7", attempt: 0, fetchMedia: async () => { throw new Error("no"); } };
  const env = { origin: "discord", room: roomRef("123"), ts: 1, sender: { id: actorId("1"), name: "Bob", isBot: false } } as const;
  const nickOf = (m: { id: string }) => (m.id === DANA ? "Dana 🌸 (discord)" : m.id === "alice@example.org" ? "alice" : undefined);
  const send = (doc: Doc, over: object = {}, c: Partial<DeliveryContext> = {}) => outboundStanzas(
    { ...env, kind: "message", body: richBody(doc), attachments: [], isAction: false, mentions: [], ...over } as BridgeEvent,
    { ...dctx, ...c }, { ...o, nickOf }).stanzas[0]!;
  const refs = (s: ReturnType<typeof send>) => s.getChildren("reference", "urn:xmpp:reference:0").map((r) => r.attrs);
  const span = (s: ReturnType<typeof send>, r: { begin: string; end: string }) => Array.from(s.getChildText("body")!).slice(Number(r.begin), Number(r.end)).join("");

  it("a mention is the nick the room shows, with a reference covering it", () => {
    const s = send([para(text("hi "), { t: "mention", id: DANA, name: "dana_discord", network: "discord" }, text("!"))]);
    expect(s.getChildText("body")).toBe("hi Dana 🌸 (discord)!");
    const [r] = refs(s);
    expect(r).toMatchObject({ type: "mention", uri: `xmpp:${ROOM}/Dana%20%F0%9F%8C%B8%20(discord)`, begin: "3", end: "19" });
    expect(span(s, r as any)).toBe("Dana 🌸 (discord)");
    expect(nickOfUri(String(r!.uri), ROOM)).toBe("Dana 🌸 (discord)");
  });

  it("offsets count what goes before the body: /me and a reply fallback", () => {
    const s = send([para({ t: "mention", id: actorId("alice@example.org"), name: "Alice", network: "xmpp" })], { isAction: true },
      { replyTo: { remoteId: remoteId("sid"), authorName: "x", excerpt: "🎉 old" } });
    const [r] = refs(s);
    expect(span(s, r as any)).toBe("alice");
  });

  it("mentions in quotes, lists and bold each get their own reference", () => {
    const m = (id: string): Inline => ({ t: "mention", id: actorId(id), name: "n", network: id.includes("@") ? "xmpp" : "discord" });
    const s = send([{ t: "quote", children: [para(m(DANA))] }, { t: "list", ordered: true, items: [[para({ t: "bold", children: [m("alice@example.org")] })]] }]);
    const rs = refs(s);
    expect(rs.map((r) => span(s, r as any))).toEqual(["Dana 🌸 (discord)", "alice"]);
  });

  it("a person not in the room stays a readable name without a reference", () => {
    const s = send([para({ t: "mention", id: actorId("@zed:hs"), name: "Zed", network: "matrix" })]);
    expect(s.getChildText("body")).toBe("Zed");
    expect(refs(s)).toEqual([]);
  });

  it("marks typed by a sender are dropped and cannot forge a reference", () => {
    const s = send([para(text(`${MARK_OPEN}evil\uFDD1 `), { t: "mention", id: DANA, name: "d", network: "discord" })]);
    expect(s.getChildText("body")).toBe("evil Dana 🌸 (discord)");
    expect(refs(s).map((r) => span(s, r as any))).toEqual(["Dana 🌸 (discord)"]);
  });

  it("a correction carries its references", () => {
    const s = outboundStanzas({ ...env, kind: "edit", target: remoteId("m"), body: richBody([para(text("now "), { t: "mention", id: DANA, name: "d", network: "discord" })]) },
      { ...dctx, target: { remoteId: remoteId("m"), altId: "a1", authorName: "x", excerpt: "" } }, { ...o, nickOf }).stanzas[0]!;
    expect(refs(s).map((r) => span(s, r as any))).toEqual(["Dana 🌸 (discord)"]);
  });

  it("what goes out reads back in as the same mention", () => {
    const s = send([para(text("ping "), { t: "mention", id: actorId("alice@example.org"), name: "Alice", network: "xmpp" })]);
    const echoed = parse(s.toString().replace(`from="p@bridge/junction" to="${ROOM}"`, `from="${ROOM}/Bob" to="x@y/z"`));
    const e = inboundMessage(echoed, ctx()).events[0] as Extract<BridgeEvent, { kind: "message" }>;
    expect(e.mentions).toEqual(["alice@example.org"]);
    expect(e.body.rich).toEqual([para(text("ping "), mention("alice"))]);
  });

  it("unmark notes each marked span", () => {
    expect(unmark(`a${MARK_OPEN}b${"\uFDD1"}c`)).toEqual({ text: "abc", placed: [{ begin: 1, end: 2 }] });
  });
});
