import parse from "@xmpp/xml/lib/parse.js";
import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import type { AdapterHost, EmitOptions } from "../../core/adapter.ts";
import { roomRef, type BridgeEvent } from "../../core/events.ts";
import { Bot } from "../../bridges/xmpp/bot.ts";
import { XmppConnection } from "../../bridges/xmpp/connection.ts";
import { Puppets } from "../../bridges/xmpp/puppets.ts";
import { receive, type ReceiveDeps } from "../../bridges/xmpp/receive.ts";
import { Rooms, RoomState } from "../../bridges/xmpp/rooms.ts";
import { formatCursor, parseCursor, type Cursor } from "../../bridges/xmpp/cursor.ts";
import { CatchUp } from "../../bridges/xmpp/catchup.ts";

const ROOM = "lobby@conference.localhost";
const BOT = "junction@bridge.localhost/junction";
const log = pino({ level: "silent" });

function setup(findMessage: AdapterHost["findMessage"] = () => undefined) {
  const conn = new XmppConnection({ service: "xmpp://127.0.0.1:1", domain: "bridge.localhost", secret: "x" }, log, { online() {}, offline() {}, stanza() {} });
  const sent: string[] = [];
  vi.spyOn(conn, "send").mockImplementation(async (...els) => { sent.push(...els.map(String)); });
  const aliases: [string, string][] = [];
  const host = {
    log, addAlias: (_r: unknown, known: string, sid: string) => { aliases.push([known, sid]); },
    findMessage, cursor: () => undefined,
    reactions: (_r: unknown, target: string, actor: string) => (target === "sid-0" && actor === "alice@localhost" ? ["👍", "🎉"] : []),
  } as unknown as AdapterHost;
  const rooms = new Rooms();
  rooms.set([roomRef(ROOM)]);
  const state = rooms.get(ROOM)!;
  state.botNick = "Junction";
  state.puppets.set("matrix_x@bridge.localhost", { bare: "matrix_x@bridge.localhost", nick: "Bob", joined: true });
  const emitted: { events: BridgeEvent[]; opts?: EmitOptions }[] = [];
  const d: ReceiveDeps = {
    conn, host, rooms, log, botBare: "junction@bridge.localhost",
    puppets: new Puppets(conn, "bridge.localhost", log),
    bot: new Bot({ conn, host, log, jid: BOT, nick: "Junction", history: 20, catchUpMax: 100, replay: () => undefined, emit: () => undefined }),
    iq: { component: "bridge.localhost", bot: "junction@bridge.localhost", version: "1", gatewayTypes: [], puppet: () => undefined },
    emit: (events, opts) => { emitted.push({ events, ...(opts ? { opts } : {}) }); },
    botRemoved: () => undefined,
  };
  return { d, state, sent, aliases, emitted };
}

const groupchat = (nick: string, to: string, inner: string, id = "c1") =>
  parse(`<message from="${ROOM}/${nick}" to="${to}" type="groupchat" id="${id}">${inner}<stanza-id xmlns="urn:xmpp:sid:0" by="${ROOM}" id="sid-1"/></message>`);

describe("receive", () => {
  it("emits a person's message with a cursor (its stanza-id is its dedupe key in the core)", () => {
    const { d, state, emitted } = setup();
    state.replaying = true; // join history: the room's delay dates it
    receive(groupchat("alice", BOT, `<body>hi</body><delay xmlns="urn:xmpp:delay" stamp="2024-01-01T00:00:00Z" from="${ROOM}"/>`), d);
    expect(emitted).toHaveLength(1);
    expect(emitted[0]!.events[0]!.remoteId).toBe("sid-1");
    expect(emitted[0]!.opts).toEqual({ cursor: { room: ROOM, value: JSON.stringify({ at: "2024-01-01T00:00:00.000Z", id: "sid-1" }) } });
  });
  it("dates a live message on arrival, whatever delay its sender wrote", () => {
    const { d, emitted } = setup();
    const before = Date.now();
    receive(groupchat("alice", BOT, `<body>hi</body><delay xmlns="urn:xmpp:delay" stamp="2099-01-01T00:00:00Z" from="${ROOM}"/>`), d);
    const ts = emitted[0]!.events[0]!.ts;
    expect(ts).toBeGreaterThanOrEqual(before);
    expect(ts).toBeLessThanOrEqual(Date.now());
  });
  it("after a restart, diffs a reaction set against what the core recorded, so removals show", () => {
    const { d, state, emitted } = setup();
    state.occupants.set("alice", { nick: "alice", realJid: "alice@localhost", state: "online" });
    receive(groupchat("alice", BOT, `<reactions xmlns="urn:xmpp:reactions:0" id="sid-0"><reaction>👍</reaction></reactions>`), d);
    expect(emitted.flatMap((e) => e.events).map((e) => (e.kind === "reaction" ? `${e.added ? "+" : "-"}${e.emoji}` : e.kind))).toEqual(["-🎉"]);
  });
  it("emits a reaction with a batch key, so a replay from history is not applied twice", () => {
    const { d, emitted } = setup();
    receive(groupchat("alice", BOT, `<reactions xmlns="urn:xmpp:reactions:0" id="sid-0"><reaction>👍</reaction></reactions>`), d);
    expect(emitted).toHaveLength(1);
    expect(emitted[0]!.events[0]!.kind).toBe("reaction");
    expect(emitted[0]!.opts?.dedupeKey).toBe(`xmpp ${ROOM} sid-1`);
  });
  it("bridges a person whose nick one of our puppets is trying to join with (that join will conflict)", () => {
    const { d, state, emitted } = setup();
    state.occupants.set("dave", { nick: "dave", realJid: "dave@localhost", state: "online" });
    state.puppets.set("xmpp_erin@bridge.localhost", { bare: "xmpp_erin@bridge.localhost", nick: "", joined: false, pendingNick: "dave" });
    receive(groupchat("dave", BOT, `<body>I am dave</body>`), d);
    expect(emitted.map((e) => e.events[0]?.kind)).toEqual(["message"]);
  });
  it("drops the reflection of a puppet's message and learns its stanza-id", async () => {
    const { d, state, emitted, aliases } = setup();
    state.sent("jn-5-abc");
    receive(groupchat("Bob", BOT, `<body>hi</body><origin-id xmlns="urn:xmpp:sid:0" id="jn-5-abc"/>`, "jn-5-abc"), d);
    expect(emitted).toEqual([]);
    expect(aliases).toEqual([["jn-5-abc", "sid-1"]]);
    expect(await state.stanzaIdFor("jn-5-abc", 1000)).toBe("sid-1");
  });
  it("a reflection of ours confirms the delivery, so it is not sent again", () => {
    const { d, state } = setup();
    state.unconfirmed.add(["jn-7-abc"], { origin: "matrix", sender: { id: "@x:hs", name: "x", isBot: false }, ctx: {} as never, stanzas: [] } as never);
    receive(groupchat("Bob", BOT, `<body>old</body><origin-id xmlns="urn:xmpp:sid:0" id="jn-7-abc"/>`), d);
    expect(state.unconfirmed.size).toBe(0);
  });
  it("bridges a person's message that carries our id, and learns nothing from it", () => {
    const { d, state, emitted, aliases } = setup();
    state.sent("jn-7-abc");
    state.unconfirmed.add(["jn-7-abc"], { origin: "matrix", sender: { id: "@x:hs", name: "x", isBot: false }, ctx: {} as never, stanzas: [] } as never);
    receive(groupchat("Stranger", BOT, `<body>copied</body><origin-id xmlns="urn:xmpp:sid:0" id="jn-7-abc"/>`, "jn-7-abc"), d);
    expect(emitted.map((e) => e.events[0]?.kind)).toEqual(["message"]);
    expect(aliases).toEqual([]);
    expect(state.reflected("jn-7-abc")).toBeUndefined();
    expect(state.unconfirmed.size).toBe(1);
  });
  it("drops a message from history with our id only where the store has that id as ours under that occupant", () => {
    const mine = (_r: unknown, by: { altId?: string; postedAs?: string }) =>
      (by.altId === "jn-1-zzz" && by.postedAs === `${ROOM}/Old Bob` ? { remoteId: "jn-1-zzz", kind: "message", bridged: true } : undefined);
    const { d, emitted } = setup(mine as never);
    const delay = `<delay xmlns="urn:xmpp:delay" stamp="2024-01-01T00:00:00Z"/>`;
    receive(groupchat("Old Bob", BOT, `<body>old</body><origin-id xmlns="urn:xmpp:sid:0" id="jn-1-zzz"/>${delay}`), d);
    expect(emitted).toEqual([]);
    receive(groupchat("Stranger", BOT, `<body>copied</body><origin-id xmlns="urn:xmpp:sid:0" id="jn-1-zzz"/>${delay}`), d);
    expect(emitted.map((e) => e.events[0]?.kind)).toEqual(["message"]);
  });
  it("bridges a person who took a nick a puppet held once, but not while the puppet holds it", () => {
    const { d, state, emitted } = setup();
    state.puppets.set("matrix_c@bridge.localhost", { bare: "matrix_c@bridge.localhost", nick: "carol", joined: false });
    receive(parse(`<presence from="${ROOM}/carol" to="${BOT}"><x xmlns="http://jabber.org/protocol/muc#user"><item role="participant"/></x></presence>`), d);
    receive(groupchat("carol", BOT, `<body>I am the real carol</body>`), d);
    expect(emitted.map((e) => e.events[0]?.kind)).toEqual(["join", "message"]);
    expect(state.occupants.get("carol")?.ours).toBeUndefined();
  });
  it("after a restart, holds a presence from a puppet's old nick until the room shows whose it is", () => {
    const presence = (nick: string) => parse(`<presence from="${ROOM}/${nick}" to="${BOT}"><x xmlns="http://jabber.org/protocol/muc#user"><item role="participant"/></x></presence>`);
    const subject = parse(`<message from="${ROOM}" to="${BOT}" type="groupchat"><subject/></message>`);
    // A person took the nick while Junction was away: bridged once the join's history is complete.
    const a = setup();
    a.state.puppets.set("matrix_g@bridge.localhost", { bare: "matrix_g@bridge.localhost", nick: "gina", joined: false });
    a.state.seenSinceJoin = new Set();
    receive(presence("gina"), a.d);
    expect(a.emitted).toEqual([]);
    receive(subject, a.d);
    expect(a.emitted.map((e) => e.events[0]?.kind)).toEqual(["join"]);
    // Our puppet stayed in: the room keeps sending to it, so that presence was its own.
    const b = setup();
    b.state.puppets.set("matrix_g@bridge.localhost", { bare: "matrix_g@bridge.localhost", nick: "gina", joined: false });
    b.state.seenSinceJoin = new Set();
    receive(presence("gina"), b.d);
    receive(parse(`<presence from="${ROOM}/Junction" to="matrix_g@bridge.localhost/junction"><x xmlns="http://jabber.org/protocol/muc#user"><item role="participant"/></x></presence>`), b.d);
    receive(subject, b.d);
    receive(groupchat("gina", BOT, `<body>old echo</body><origin-id xmlns="urn:xmpp:sid:0" id="jn-3-abc"/>`), b.d);
    expect(b.emitted).toEqual([]);
    expect(b.state.occupants.get("gina")?.ours).toBe(true);
  });
  it("knows our occupants by the occupant-id the room gave them, whatever their nick", () => {
    const { d, state, emitted } = setup();
    receive(parse(`<presence from="${ROOM}/Bob" to="matrix_x@bridge.localhost/junction"><occupant-id xmlns="urn:xmpp:occupant-id:0" id="occ-bob"/><x xmlns="http://jabber.org/protocol/muc#user"><item role="participant"/><status code="110"/></x></presence>`), d);
    expect(state.ourOccupantIds.has("occ-bob")).toBe(true);
    const delay = `<delay xmlns="urn:xmpp:delay" stamp="2024-01-01T00:00:00Z"/>`;
    receive(groupchat("Old Name", BOT, `<body>mine</body><occupant-id xmlns="urn:xmpp:occupant-id:0" id="occ-bob"/>${delay}`), d);
    receive(groupchat("Old Name", BOT, `<body>theirs</body><occupant-id xmlns="urn:xmpp:occupant-id:0" id="occ-eve"/>`), d);
    expect(emitted.map((e) => e.events[0]?.kind === "message" ? e.events[0].body.text : "")).toEqual(["theirs"]);
  });
  it("learns no occupant-id from a presence that is not the puppet's own", () => {
    const { d, state } = setup();
    receive(parse(`<presence from="${ROOM}/eve" to="matrix_x@bridge.localhost/junction"><occupant-id xmlns="urn:xmpp:occupant-id:0" id="occ-eve"/><x xmlns="http://jabber.org/protocol/muc#user"><item role="participant"/></x></presence>`), d);
    expect(state.ourOccupantIds.has("occ-eve")).toBe(false);
  });
  it("ignores the copies every puppet receives", () => {
    const { d, emitted } = setup();
    receive(groupchat("alice", "matrix_x@bridge.localhost/junction", `<body>hi</body>`), d);
    expect(emitted).toEqual([]);
  });
  it("answers a direct message with an error, and an IQ with its answer", () => {
    const { d, sent } = setup();
    receive(parse(`<message from="alice@localhost/a" to="matrix_x@bridge.localhost" type="chat" id="m"><body>psst</body></message>`), d);
    receive(parse(`<iq from="alice@localhost/a" to="bridge.localhost" type="get" id="q"><ping xmlns="urn:xmpp:ping"/></iq>`), d);
    expect(sent[0]).toContain(`type="error"`);
    expect(sent[0]).toContain("feature-not-implemented");
    expect(sent[1]).toBe(`<iq type="result" id="q" from="bridge.localhost" to="alice@localhost/a"/>`);
  });
  it("tracks every occupant, ours too, and bridges only people's presences", () => {
    const { d, state, emitted } = setup();
    receive(parse(`<presence from="${ROOM}/alice" to="${BOT}"><x xmlns="http://jabber.org/protocol/muc#user"><item role="participant"/></x></presence>`), d);
    receive(parse(`<presence from="${ROOM}/Bob" to="${BOT}"><x xmlns="http://jabber.org/protocol/muc#user"><item role="participant"/></x></presence>`), d);
    expect([...state.occupants.keys()]).toEqual(["alice", "Bob"]);
    expect(state.occupants.get("Bob")?.ours).toBe(true);
    expect(emitted.map((e) => e.events.map((x) => x.kind))).toEqual([["join"]]);
  });
});

describe("room state", () => {
  const archived = (queryid: string, id: string, body: string, attrs = `from="${ROOM}"`) =>
    parse(`<message ${attrs} to="${BOT}"><result xmlns="urn:xmpp:mam:2" queryid="${queryid}" id="${id}"><forwarded xmlns="urn:xmpp:forward:0"><message type="groupchat" from="${ROOM}/alice"><body>${body}</body></message></forwarded></result></message>`);
  it("notes the newest archived message's id when asked for it, and does not bridge it", () => {
    const { d, state, emitted } = setup();
    state.lastArchivedQuery = "mq-last";
    receive(archived("mq-last", "arch-1", "old"), d);
    expect(state.lastArchivedId).toBe("arch-1");
    expect(emitted).toEqual([]);
  });
  it("takes archive results only from the room, not as groupchat, under a query id it issued", () => {
    const { d, state, emitted } = setup();
    const catchUp = new CatchUp(100);
    state.catchUp = catchUp;
    const q = catchUp.query();
    receive(archived("unknown", "arch-2", "not ours"), d);
    receive(archived(q, "arch-3", "from an occupant", `from="${ROOM}/mallory"`), d);
    receive(archived(q, "arch-4", "as groupchat", `from="${ROOM}" type="groupchat"`), d);
    receive(archived(q, "arch-5", "caught up"), d);
    catchUp.finished(q);
    receive(archived(q, "arch-6", "after the fin"), d);
    state.catchUp = undefined;
    expect(catchUp.drain(ROOM).filter((x) => x.archived).map((x) => x.el.getChildText("body"))).toEqual(["caught up"]);
    expect(emitted.flatMap((e) => e.events).filter((e) => e.kind === "message")).toEqual([]);
  });
  it("the cursor never moves back, and keeps the newest message's stanza-id", () => {
    const s = new RoomState(roomRef(ROOM));
    const at = (ms: number) => new Date(ms).toISOString();
    expect(parseCursor(s.advanceCursor(2000, "s2"))).toEqual({ at: at(2000), id: "s2" });
    expect(parseCursor(s.advanceCursor(1000, "s1"))).toEqual({ at: at(2000), id: "s2" }); // history is older
    expect(parseCursor(s.advanceCursor(3000))).toEqual({ at: at(3000) });
  });
  it.each<[string | undefined, unknown]>([
    [undefined, undefined],
    ["", undefined],
    ["2024-01-01T00:00:00.000Z", { at: "2024-01-01T00:00:00.000Z" }], // written by an older Junction
    ['{"at":"2024-01-01T00:00:00.000Z","id":"x"}', { at: "2024-01-01T00:00:00.000Z", id: "x" }],
    ['{"at":"nonsense"}', undefined],
    ["{broken", undefined],
  ])("reads the cursor %j", (value, want) => {
    expect(parseCursor(value)).toEqual(want);
    if (want) expect(parseCursor(formatCursor(want as Cursor))).toEqual(want);
  });
  it("waits for a reflection only when one is on its way", async () => {
    const s = new RoomState(roomRef(ROOM));
    const t0 = Date.now();
    expect(await s.stanzaIdFor("jn-lost-before-restart", 5000)).toBe("jn-lost-before-restart");
    expect(Date.now() - t0).toBeLessThan(100);
    s.sent("jn-2");
    const later = s.stanzaIdFor("jn-2", 5000);
    s.learnStanzaId("jn-2", "sid-2");
    expect(await later).toBe("sid-2");
  });
  it("a nick a puppet just renamed away from is still ours for a while", () => {
    const s = new RoomState(roomRef(ROOM));
    s.retire("Old Name");
    expect(s.heldByUs("Old Name")).toBe(true);
    expect(s.heldByUs("someone")).toBe(false);
  });
  it("decides ours by real JID where the room shows it, never by the nick against it", () => {
    const s = new RoomState(roomRef(ROOM));
    s.puppets.set("matrix_a@bridge.localhost", { bare: "matrix_a@bridge.localhost", nick: "alice", joined: true });
    const ours = (jid: string) => jid.endsWith("@bridge.localhost");
    expect(s.ownsOccupant("alice", {}, ours)).toBe(true);
    expect(s.ownsOccupant("alice", { realJid: "alice@localhost" }, ours)).toBe(false);
    s.puppets.get("matrix_a@bridge.localhost")!.joined = false;
    expect(s.ownsOccupant("alice", {}, ours)).toBe(false);
    s.puppets.get("matrix_a@bridge.localhost")!.lingering = true;
    expect(s.ownsOccupant("alice", {}, ours)).toBe(true);
  });
});
