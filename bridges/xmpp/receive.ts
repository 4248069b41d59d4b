/**
 * Routes every stanza the component receives: IQs to the pure answers, room traffic addressed to
 * the bot through the converters into BridgeEvents, and presences addressed to puppets into the
 * join bookkeeping. Anything from our own occupants (decided by RoomState.ownsOccupant from what
 * the room vouches for, never by an id or a nick alone) is an echo: it is never emitted, but a
 * reflected message with one of our ids tells us the stanza-id the room gave it. Every occupant's
 * presence is recorded, ours too, before anything is dropped as ours.
 */
import type { Element } from "@xmpp/xml";
import type { Logger } from "pino";
import type { AdapterHost, EmitOptions } from "../../core/adapter.ts";
import type { BridgeEvent, RoomRef } from "../../core/events.ts";
import { remoteId } from "../../core/events.ts";
import type { Bot } from "./bot.ts";
import type { XmppConnection } from "./connection.ts";
import { inboundMessage, type InboundContext } from "./inbound.ts";
import type { AdHocCommands } from "./adhoc.ts";
import { answerIq, type IqContext } from "./iq.ts";
import { MAM, unwrapArchived } from "./mam.ts";
import { inboundPresence, removalReason, type PresenceContext } from "./presence.ts";
import type { Puppets } from "./puppets.ts";
import type { RoomState, Rooms } from "./rooms.ts";
import xml from "@xmpp/xml";
import { NS, bareJid, occupantIdOf, originIdOf, resourceOf, roomStanzaId, senderOf } from "./stanza.ts";

export interface ReceiveDeps {
  readonly conn: XmppConnection;
  readonly host: AdapterHost;
  readonly rooms: Rooms;
  readonly puppets: Puppets;
  readonly bot: Bot;
  readonly botBare: string;
  readonly iq: IqContext;
  readonly log: Logger;
  emit(events: BridgeEvent[], opts?: EmitOptions): void;
  /** The bot is out of the room (kicked, banned, destroyed, an error): rejoin.ts takes it from here. */
  botRemoved(state: RoomState, reason: string): void;
  /** A message error stanza: true when it was a room's bounce of one of our deliveries. */
  bounce?(el: Element): boolean;
  /** The admin commands (XEP-0050) on the component's domain. */
  readonly adhoc?: AdHocCommands;
}

/** The shape of our outbound ids. Anybody can send one: it means "ours" only from our own occupant. */
const isOurId = (id: string | undefined) => id !== undefined && id.startsWith("jn-");

export function receive(el: Element, d: ReceiveDeps): void {
  if (el.is("iq")) return onIq(el, d);
  const to = el.attrs.to ?? "";
  const from = el.attrs.from ?? "";
  const state = d.rooms.get(bareJid(from));
  const toBot = bareJid(to).toLowerCase() === d.botBare;
  if (el.is("presence")) {
    if (state) onPresence(el, state, toBot, d);
    return;
  }
  if (!el.is("message")) return;
  if (state && toBot && isArchiveResult(el, state)) return onArchived(el, state, d);
  if (!state || !toBot || el.attrs.type !== "groupchat") return onOtherMessage(el, toBot, d);
  if (state.catchUp && !(el.getChild("subject") && !el.getChild("body"))) return state.catchUp.hold(el);
  onRoomMessage(el, state, d, state.replaying);
}

/**
 * An archive result only from the room itself (bare JID), never as groupchat (any occupant can
 * send that, wrapping a forged message), and only under a query id the bot issued and has not
 * seen finish. Anything else that carries `<result>` is an ordinary message.
 */
function isArchiveResult(el: Element, state: RoomState): boolean {
  const queryId = el.getChild("result", MAM)?.attrs.queryid;
  if (queryId === undefined || el.attrs.type === "groupchat") return false;
  if ((el.attrs.from ?? "").toLowerCase() !== state.room.toLowerCase()) return false;
  return queryId === state.lastArchivedQuery || (state.catchUp?.issued(queryId) ?? false);
}

function onArchived(el: Element, state: RoomState, d: ReceiveDeps): void {
  const result = el.getChild("result", MAM)!;
  if (result.attrs.queryid === state.lastArchivedQuery) {
    state.lastArchivedId = result.attrs.id;
    return;
  }
  const live = unwrapArchived(el, state.room);
  if (!live) return d.log.debug({ room: state.room }, "archive result without a message from the room; ignored");
  state.catchUp?.archived(live);
}

function onIq(el: Element, d: ReceiveDeps): void {
  if (d.adhoc?.handles(el)) {
    d.adhoc.answer(el)
      .then((reply) => d.conn.send(reply))
      .catch((err: Error) => d.log.warn({ err: err.message, from: el.attrs.from }, "could not answer an ad-hoc command"));
    return;
  }
  const { reply, reason } = answerIq(el, d.iq);
  if (reason) d.log.debug({ from: el.attrs.from, to: el.attrs.to, reason }, "iq");
  if (reply) d.conn.send(reply).catch((err: Error) => d.log.debug({ err: err.message }, "could not answer an iq"));
}

/** A groupchat message from the room; `replayed`: it is the room's history or archive (its delay counts). */
export function onRoomMessage(el: Element, state: RoomState, d: ReceiveDeps, replayed: boolean): void {
  if (el.getChild("subject") && !el.getChild("body")) {
    state.replaying = false; // the subject ends the join history
    // The join's history is complete: who is still undecided is a person, not a puppet of ours.
    for (const release of state.undecided.values()) release();
    state.undecided.clear();
    return d.bot.onSubject(state.room);
  }
  const nick = resourceOf(el.attrs.from ?? "");
  const ourId = originIdOf(el) ?? el.attrs.id;
  if (nick && isEcho(el, nick, ourId, state, d)) {
    if (isOurId(ourId)) {
      state.unconfirmed.confirm(ourId!);
      const sid = roomStanzaId(el, state.room);
      if (sid) {
        state.learnStanzaId(ourId!, sid);
        d.host.addAlias(state.room, ourId!, remoteId(sid));
      }
    }
    return;
  }
  // A person speaks from a nick still undecided (the join's history never ended): their presence first.
  const held = nick ? state.undecided.get(nick) : undefined;
  if (held) { state.undecided.delete(nick!); held(); }
  const r = inboundMessage(el, inboundContext(state, d, replayed));
  if (r.reactionSet) state.setReactions(r.reactionSet.target, r.reactionSet.actor, r.reactionSet.set);
  const first = r.events[0];
  if (first?.kind === "message" && r.clientId && r.key) state.rememberClientId(first.sender.id, r.clientId, r.key);
  if (r.events.length === 0) {
    const level = r.reason?.includes("over the limit") ? "warn" : "debug";
    d.log[level]({ room: state.room, from: el.attrs.from, reason: r.reason }, "room message not bridged");
    return;
  }
  const ephemeral = r.events.every((e) => e.kind === "typing");
  const opts: EmitOptions = ephemeral ? {} : {
    // A replayed message is recognised by its stanza-id already; edits, retractions and
    // reactions replayed from history need the batch key (one fewer write per plain message).
    ...(r.key && !r.events.every((e) => e.kind === "message") ? { dedupeKey: `xmpp ${state.room} ${r.key}` } : {}),
    ...(r.ts !== undefined ? { cursor: { room: state.room, value: state.advanceCursor(r.ts, roomStanzaId(el, state.room)) } } : {}),
  };
  d.emit(r.events, opts);
}

/**
 * Whether a room message was sent by the bot or one of our puppets. The occupant decides (see
 * RoomState.ownsOccupant); for a message from before this run (history, archive) whose occupant
 * no longer shows as ours, one of our ids counts only where the store has that very id as
 * delivered by us under that same occupant JID.
 */
function isEcho(el: Element, nick: string, ourId: string | undefined, state: RoomState, d: ReceiveDeps): boolean {
  const occupant = state.occupants.get(nick);
  const who = { realJid: occupant?.realJid, occupantId: occupantIdOf(el) ?? occupant?.occupantId };
  if (state.ownsOccupant(nick, who, (jid) => d.puppets.inOurDomain(jid))) return true;
  if (!isOurId(ourId) || !el.getChild("delay", NS.delay)) return false;
  const mine = d.host.findMessage(state.room, { altId: ourId!, postedAs: `${state.room}/${nick}` });
  return mine?.bridged === true;
}

function onPresence(el: Element, state: RoomState, toBot: boolean, d: ReceiveDeps): void {
  const r = inboundPresence(el, presenceContext(d));
  const nick = r.nick ?? "";
  const unavailable = el.attrs.type === "unavailable";
  if (!toBot) {
    // Every puppet hears the whole room; only news about itself matters to it.
    const self = r.self || r.error !== undefined;
    if (!self) {
      if (!r.error) d.puppets.stillIn(state, el.attrs.to ?? "");
      return;
    }
    const occupantId = occupantIdOf(el);
    d.puppets.onPuppetPresence(state, el.attrs.to ?? "", nick, {
      ...(r.self ? { self: true } : {}), ...(r.error ? { error: r.error } : {}), ...(occupantId ? { occupantId } : {}), unavailable,
    });
    if (r.self && unavailable && !r.codes.includes("303")) {
      const p = state.puppets.get(bareJid(el.attrs.to ?? "").toLowerCase());
      if (p?.joined) d.log.info({ room: state.room, nick, codes: r.codes }, "a puppet was removed from the room; it rejoins on its next message");
      if (p) { p.joined = false; p.lingering = false; }
    }
    return;
  }
  if (r.error) {
    // An error presence to an occupant that is in removes it (RFC 6121, XEP-0045 §7.2.3).
    if (state.botJoined) return d.botRemoved(state, `the room sent the bot an error presence (${r.error})`);
    return d.bot.onSelf(state.room, { error: r.error });
  }
  if (r.self) {
    if (unavailable) {
      if (r.codes.includes("303")) return;
      return d.botRemoved(state, removalReason(el, r.codes));
    }
    const botOccupantId = occupantIdOf(el);
    if (botOccupantId) state.ourOccupantIds.add(botOccupantId);
    d.bot.onSelf(state.room, { nick, codes: r.codes });
    for (const gone of d.bot.departed(state)) {
      const info = state.occupants.get(gone);
      state.occupants.delete(gone);
      if (info && !info.ours) d.emit([{ origin: "xmpp", room: state.room, sender: senderOf(state.room, info), ts: Date.now(), kind: "leave", reason: "left while the bridge was away" }]);
    }
    return;
  }
  if (!nick) return;
  state.seenSinceJoin?.add(nick);
  // Recorded first, ours too: what the room shows about an occupant is what decides who is ours.
  const change = r.change;
  const realJid = el.getChild("x", NS.mucUser)?.getChild("item")?.attrs.jid;
  const previous = state.occupants.get(nick);
  const ours = state.ownsOccupant(nick, {
    realJid: realJid ? bareJid(realJid) : previous?.realJid,
    occupantId: occupantIdOf(el) ?? previous?.occupantId,
  }, (jid) => d.puppets.inOurDomain(jid));
  if (change?.kind === "here") state.occupants.set(change.nick, { ...change.info, ...(ours ? { ours: true as const } : {}) });
  if (change?.kind === "gone") {
    state.occupants.delete(change.nick);
    // A puppet from an earlier run that the room now reports gone no longer holds its nick.
    for (const p of state.puppets.values()) if (p.lingering && p.nick === change.nick) p.lingering = false;
  }
  if (change?.kind === "renamed") {
    const info = state.occupants.get(change.nick);
    state.occupants.delete(change.nick);
    if (info) state.occupants.set(change.newNick, { ...info, nick: change.newNick });
    state.seenSinceJoin?.add(change.newNick);
  }
  // Our puppet's rename is done: whoever takes its old nick from now on is somebody else.
  if (ours && change && change.kind !== "here") state.unretire(change.nick);
  if (ours) return;
  if (r.events.length === 0) return;
  const unvouched = !realJid && !occupantIdOf(el) && !previous?.realJid && !previous?.occupantId;
  if (state.seenSinceJoin && unvouched && (state.heldBefore(nick) || state.undecided.has(nick))) {
    const before = state.undecided.get(nick);
    state.undecided.set(nick, () => { before?.(); d.emit(r.events); });
    return;
  }
  d.emit(r.events);
}

/** Direct messages and errors: answer a person's message with an error, log the rest. */
function onOtherMessage(el: Element, toBot: boolean, d: ReceiveDeps): void {
  const type = el.attrs.type ?? "normal";
  if (type === "error") {
    if (d.bounce?.(el)) return;
    // Anyone can send us an error: only a linked room's is worth a warning (a bounce of ours).
    const level = d.rooms.get(bareJid(el.attrs.from ?? "")) ? "warn" : "debug";
    d.log[level]({ from: el.attrs.from, to: el.attrs.to, error: el.getChild("error")?.toString().slice(0, 500) }, "the server bounced a message");
    return;
  }
  if (type === "groupchat" || !el.attrs.from || !el.getChild("body")) return; // copies to puppets, chat states
  void toBot;
  const reply = xml("message", { type: "error", from: el.attrs.to, to: el.attrs.from, ...(el.attrs.id ? { id: el.attrs.id } : {}) },
    xml("error", { type: "cancel" },
      xml("feature-not-implemented", { xmlns: NS.stanzas }),
      xml("text", { xmlns: NS.stanzas }, "Junction bridges group chats only; direct messages are not delivered.")));
  d.conn.send(reply).catch(() => undefined);
}

function inboundContext(state: RoomState, d: ReceiveDeps, replayed: boolean): InboundContext {
  return {
    replayed,
    linkedRoom: (bare) => d.rooms.get(bare)?.room,
    occupant: (_room, nick) => state.occupants.get(nick),
    resolveCorrection: (room, clientId, postedAs) => {
      const cached = state.correctionTarget(postedAs, clientId);
      if (cached) return remoteId(cached);
      const found = d.host.findMessage(room, { altId: clientId, postedAs });
      return found && !found.bridged && found.kind === "message" ? found.remoteId : undefined;
    },
    postedAsOf: (room, key) => {
      const f = d.host.findMessage(room, { remoteId: key });
      return f ? { ...(f.postedAs !== undefined ? { postedAs: f.postedAs } : {}), bridged: f.bridged } : undefined;
    },
    // Known from this run, else as the core recorded them (after a restart, removals still show).
    previousReactions: (room, target, actor) => state.reactionsOf(target, actor) ?? d.host.reactions(room, target, actor),
    now: () => Date.now(),
    mentionable: (nick) => {
      const puppet = state.puppetByNick(nick);
      if (puppet) return d.puppets.personOf(puppet.bare);
      const o = state.occupants.get(nick);
      return o && !o.ours ? { id: senderOf(state.room, o).id, network: "xmpp" as const } : undefined;
    },
  };
}

function presenceContext(d: ReceiveDeps): PresenceContext {
  return {
    linkedRoom: (bare) => d.rooms.get(bare)?.room,
    occupant: (room: RoomRef, nick) => d.rooms.get(room)?.occupants.get(nick),
    now: () => Date.now(),
  };
}
