import parse from "@xmpp/xml/lib/parse.js";
import { describe, expect, it } from "vitest";
import { roomRef } from "../../core/events.ts";
import { inboundPresence, type OccupantState, type PresenceContext } from "../../bridges/xmpp/presence.ts";
import { joinPresence, leavePresence, puppetPresence } from "../../bridges/xmpp/presence-out.ts";

const ROOM = "lobby@conference.example.org";
const NOW = 1_700_000_000_000;
const ctx = (occupants: Record<string, OccupantState> = {}): PresenceContext => ({
  linkedRoom: (b) => (b === ROOM ? roomRef(ROOM) : undefined),
  occupant: (_r, nick) => occupants[nick],
  now: () => NOW,
});
const item = (attrs = `affiliation="none" role="participant" jid="alice@example.org/phone"`, inner = "") =>
  `<x xmlns="http://jabber.org/protocol/muc#user"><item ${attrs}>${inner}</item>`;
const alice = { id: "alice@example.org", name: "alice", isBot: false };
const here: OccupantState = { nick: "alice", realJid: "alice@example.org", state: "online" };

describe("MUC presence in", () => {
  it.each<[string, string, Record<string, OccupantState>, unknown[]]>([
    ["a join", `<presence from="${ROOM}/alice">${item()}</x></presence>`, {},
      [{ kind: "join", sender: alice }]],
    ["a join while away", `<presence from="${ROOM}/alice"><show>away</show><status>lunch</status>${item()}</x></presence>`, {},
      [{ kind: "join" }, { kind: "presence", state: "away", status: "lunch" }]],
    ["xa is away", `<presence from="${ROOM}/alice"><show>xa</show>${item()}</x></presence>`, { alice: here },
      [{ kind: "presence", state: "away" }]],
    ["dnd is busy", `<presence from="${ROOM}/alice"><show>dnd</show>${item()}</x></presence>`, { alice: here },
      [{ kind: "presence", state: "busy" }]],
    ["chat is online", `<presence from="${ROOM}/alice"><show>chat</show>${item()}</x></presence>`, { alice: { ...here, state: "away" } },
      [{ kind: "presence", state: "online" }]],
    ["a repeat changes nothing", `<presence from="${ROOM}/alice">${item()}</x></presence>`, { alice: here }, []],
    ["a leave", `<presence from="${ROOM}/alice" type="unavailable">${item()}</x></presence>`, { alice: here },
      [{ kind: "leave", sender: alice }]],
    ["a kick", `<presence from="${ROOM}/alice" type="unavailable">${item(`role="none"`, "<reason>flood</reason>")}<status code="307"/></x></presence>`, { alice: here },
      [{ kind: "leave", reason: "kicked: flood" }]],
    ["a ban", `<presence from="${ROOM}/alice" type="unavailable">${item(`affiliation="outcast" role="none"`)}<status code="301"/></x></presence>`, { alice: here },
      [{ kind: "leave", reason: "banned" }]],
    ["an error removal", `<presence from="${ROOM}/alice" type="unavailable">${item(`role="none"`)}<status code="333"/></x></presence>`, { alice: here },
      [{ kind: "leave", reason: "removed after a technical error" }]],
    ["a nick change", `<presence from="${ROOM}/alice" type="unavailable">${item(`role="participant" nick="alicia" jid="alice@example.org/phone"`)}<status code="303"/></x></presence>`, { alice: here },
      [{ kind: "profile", previousName: "alice", sender: { id: "alice@example.org", name: "alicia", isBot: false } }]],
    ["an avatar", `<presence from="${ROOM}/alice">${item()}</x><x xmlns="vcard-temp:x:update"><photo>abc123</photo></x></presence>`, { alice: here },
      [{ kind: "profile", sender: { ...alice, avatar: { hash: "abc123", url: `xmpp-vcard:${ROOM}/alice` } } }]],
    ["an avatar removed", `<presence from="${ROOM}/alice">${item()}</x><x xmlns="vcard-temp:x:update"><photo/></x></presence>`,
      { alice: { ...here, avatar: { hash: "abc123", url: "x" } } }, [{ kind: "profile", sender: alice }]],
    ["no vcard-update keeps the avatar", `<presence from="${ROOM}/alice">${item()}</x></presence>`,
      { alice: { ...here, avatar: { hash: "abc123", url: "x" } } }, []],
  ])("%s", (_n, xmlText, occupants, want) => {
    const r = inboundPresence(parse(xmlText), ctx(occupants));
    expect(r.events).toHaveLength(want.length);
    r.events.forEach((e, i) => expect(e).toMatchObject({ origin: "xmpp", room: ROOM, ts: NOW, ...(want[i] as object) }));
  });

  it("reports self-presence (110) and does not bridge it", () => {
    const r = inboundPresence(parse(`<presence from="${ROOM}/Bob">${item()}<status code="110"/><status code="201"/></x></presence>`), ctx());
    expect(r).toMatchObject({ self: true, events: [], codes: ["110", "201"], nick: "Bob" });
  });
  it("reports a join error's condition", () => {
    const r = inboundPresence(parse(`<presence from="${ROOM}/Bob" type="error"><error type="cancel"><conflict xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></presence>`), ctx());
    expect(r).toMatchObject({ error: "conflict", nick: "Bob", events: [] });
  });
  it("tells the adapter about renames and departures", () => {
    expect(inboundPresence(parse(`<presence from="${ROOM}/alice" type="unavailable">${item(`nick="al"`)}<status code="303"/></x></presence>`), ctx({ alice: here })).change)
      .toEqual({ kind: "renamed", nick: "alice", newNick: "al" });
    expect(inboundPresence(parse(`<presence from="${ROOM}/alice" type="unavailable"/>`), ctx({ alice: here })).change)
      .toEqual({ kind: "gone", nick: "alice" });
  });
  it.each([
    `<presence/>`, `<presence from="elsewhere@muc.example.org/x"/>`, `<presence from="${ROOM}"/>`,
    `<presence from="${ROOM}/x" type="subscribe"/>`,
  ])("drops %s with a reason", (x) => {
    const r = inboundPresence(parse(x), ctx());
    expect(r.events).toEqual([]);
    expect(r.reason).toBeTruthy();
  });
});

describe("puppet presence out", () => {
  const p = { from: "matrix_\\40bob\\3aexample.org@bridge.example.org/junction", to: `${ROOM}/Bob` };
  it("joins without history, with the avatar hash", () => {
    expect(joinPresence({ ...p, photoHash: "ff00" }, "none").toString()).toBe(
      `<presence from="${p.from}" to="${p.to}"><x xmlns="http://jabber.org/protocol/muc"><history maxchars="0"/></x><x xmlns="vcard-temp:x:update"><photo>ff00</photo></x></presence>`);
  });
  it.each<[Parameters<typeof joinPresence>[1], string]>([
    [{ since: "2024-01-02T03:04:05.000Z" }, `<history since="2024-01-02T03:04:05.000Z"/>`],
    [{ maxstanzas: 50 }, `<history maxstanzas="50"/>`],
  ])("the bot catches up with %j", (h, want) => {
    expect(joinPresence(p, h).toString()).toContain(want);
  });
  it.each<[Parameters<typeof puppetPresence>[0]["state"], string | undefined]>([
    ["online", undefined], ["away", "away"], ["busy", "dnd"], ["offline", "xa"],
  ])("%s → show %s", (state, show) => {
    const s = puppetPresence({ ...p, state, status: "hi" });
    expect(s.getChildText("show") ?? undefined).toBe(show);
    expect(s.getChildText("status")).toBe("hi");
  });
  it("leaves", () => {
    expect(leavePresence(p.from, p.to, "bye").toString()).toBe(
      `<presence from="${p.from}" to="${p.to}" type="unavailable"><status>bye</status></presence>`);
  });
});
