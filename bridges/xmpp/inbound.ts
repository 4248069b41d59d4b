/**
 * A groupchat message stanza from a linked MUC → BridgeEvents. Pure: everything it needs from the
 * adapter's state comes through `InboundContext`, and it never throws (bad input gives no events
 * and a reason to log).
 */
import type { Element } from "@xmpp/xml";
import type { ActorId, Body, BridgeEvent, Network, RemoteMessageId, RoomRef, Sender } from "../../core/events.ts";
import { remoteId } from "../../core/events.ts";
import { parseBody, type ParsedBody } from "./body.ts";
import { withAddressee } from "./mentions.ts";
import { mentionReferences, withReferences } from "./references.ts";
import { bodyFromStanza } from "./rich.ts";
import { reactionEvents } from "./reactions.ts";
import { retractionEvent } from "./retraction.ts";
import type { OccupantInfo } from "./stanza.ts";
import {
  NS, bareJid, occupantIdOf, originIdOf, parseStamp, resourceOf, roomStanzaId, senderOf,
} from "./stanza.ts";

export interface InboundContext {
  /** The linked room this bare JID names, or undefined when it is not linked. */
  linkedRoom(bare: string): RoomRef | undefined;
  /** The occupant's presence-derived info; undefined if we never saw its presence. */
  occupant(room: RoomRef, nick: string): OccupantInfo | undefined;
  /** XEP-0308: the key of the message posted as `postedAs` whose own id was `clientId` (never someone else's). */
  resolveCorrection(room: RoomRef, clientId: string, postedAs: string): RemoteMessageId | undefined;
  /** The identity a message in this room is posted as (the emitted sender.id), and whether Junction bridged it. */
  postedAsOf(room: RoomRef, key: string): { postedAs?: string; bridged: boolean } | undefined;
  /** XEP-0444 sends whole sets: the sender's set on `target` before this stanza, if known. */
  previousReactions(room: RoomRef, target: string, actor: string): readonly string[] | undefined;
  now(): number;
  /** The person a nick in this room stands for (see mentions.ts); undefined for none or the bot. */
  mentionable?(nick: string): { readonly id: ActorId; readonly network: Network } | undefined;
  /**
   * The stanza is the room's replay (join history, or an archive result turned live): its date
   * is the `<delay>` the room added. Otherwise a delay was written by the sender and means
   * nothing (a person can stamp a live message 2099): it is dated on arrival.
   */
  readonly replayed?: boolean;
}

export interface Inbound {
  readonly events: BridgeEvent[];
  /** Why nothing (or less) was bridged, for the log. */
  readonly reason?: string;
  /** The room it came from, when linked. */
  readonly room?: RoomRef;
  /** This stanza's key (stanza-id, else `<occupant JID>#<id>`), when it has one. */
  readonly key?: RemoteMessageId;
  /** The sender's own id for it (origin-id, else the stanza id): corrections point at it. */
  readonly clientId?: string;
  /** The sender's full reaction set on a target after this stanza, for the adapter to remember. */
  readonly reactionSet?: { readonly target: string; readonly actor: string; readonly set: readonly string[] };
  /** The message's date (its `<delay>` for history), for the catch-up cursor. */
  readonly ts?: number;
}

const none = (reason: string, extra: Partial<Inbound> = {}): Inbound => ({ events: [], reason, ...extra });

export function inboundMessage(stanza: Element, ctx: InboundContext): Inbound {
  try {
    return convert(stanza, ctx);
  } catch (err) {
    return none(`converter failed: ${(err as Error).message}`);
  }
}

function convert(stanza: Element, ctx: InboundContext): Inbound {
  if (!stanza.is("message")) return none("not a message");
  const from = stanza.attrs.from;
  if (!from) return none("message without from");
  if (stanza.attrs.type !== "groupchat") return none(`message of type ${stanza.attrs.type ?? "normal"} is not a room message`);
  const room = ctx.linkedRoom(bareJid(from));
  if (!room) return none(`message from ${bareJid(from)}, which is not a linked room`);
  // A replay is never dated later than now (a room's clock ahead of ours).
  const ts = Math.min((ctx.replayed ? roomDelay(stanza, room) : undefined) ?? ctx.now(), ctx.now());
  const nick = resourceOf(from);
  const stanzaKey = roomStanzaId(stanza, room);

  if (nick === undefined || nick === "") {
    // From the room itself: only a moderation (XEP-0425) is bridged; subjects and notices are not.
    const moderated = retractionEvent(stanza, { room, ts, fromRoom: true, ctx });
    return moderated.event ? { events: [moderated.event], room, ts, ...keyOf(stanzaKey) } : none(moderated.reason, { room, ts });
  }

  const known = ctx.occupant(room, nick);
  const stanzaOccupantId = occupantIdOf(stanza);
  const info: OccupantInfo = { ...(known ?? { nick }), nick, ...(stanzaOccupantId ? { occupantId: stanzaOccupantId } : {}) };
  const sender = senderOf(room, info);
  const clientId = originIdOf(stanza) ?? stanza.attrs.id;
  // Never key on the bare client id: two people may pick the same one.
  const key = stanzaKey ?? (stanza.attrs.id ? `${room}/${nick}#${stanza.attrs.id}` : undefined);
  const base = { origin: "xmpp" as const, room, sender, ts, ...(key ? { remoteId: remoteId(key) } : {}) };
  const meta = { room, ts, ...keyOf(key), ...(clientId ? { clientId } : {}) };

  if (stanza.getChild("error")) return none("error message", meta);

  const reactions = stanza.getChild("reactions", NS.reactions);
  if (reactions) {
    const r = reactionEvents(reactions, base, ctx);
    return { ...meta, events: r.events, ...(r.reason ? { reason: r.reason } : {}), ...(r.set ? { reactionSet: r.set } : {}) };
  }

  if (stanza.getChild("retract", NS.retract) || stanza.getChild("apply-to", NS.fasten)) {
    const r = retractionEvent(stanza, { room, ts, fromRoom: false, ctx, sender, base });
    return r.event ? { ...meta, events: [r.event] } : none(r.reason, meta);
  }

  const parsed = parseBody(stanza);
  if (parsed.tooLarge) return none(`body of ${parsed.tooLarge} bytes is over the limit, not bridged`, meta);

  if (parsed.text === undefined && parsed.attachments.length === 0) {
    return typingOnly(stanza, base, meta, sender);
  }

  const replace = stanza.getChild("replace", NS.correct)?.attrs.id;
  if (replace) {
    const target = ctx.resolveCorrection(room, replace, sender.id);
    if (!target) return none(`correction of ${replace} by ${sender.id}: no such message of theirs`, meta);
    return { ...meta, events: [{ ...base, kind: "edit", target, body: withMentions(stanza, parsed, room, ctx).body }] };
  }

  const replyId = stanza.getChild("reply", NS.reply)?.attrs.id;
  const addressed = withMentions(stanza, parsed, room, ctx);
  const event: BridgeEvent = {
    ...base,
    kind: "message",
    body: addressed.body,
    attachments: parsed.attachments,
    isAction: parsed.isAction,
    mentions: addressed.mentions,
    ...(replyId ? { replyTo: remoteId(replyId) } : {}),
    // The client's own id, stored with the message so a correction finds it after a restart too.
    ...(clientId ? { altId: clientId } : {}),
  };
  return { ...meta, events: [event] };
}

function typingOnly(
  stanza: Element,
  base: { origin: "xmpp"; room: RoomRef; sender: Sender; ts: number },
  meta: Partial<Inbound>,
  _sender: Sender,
): Inbound {
  const state = stanza.getChildElements().find((c) => c.attrs.xmlns === NS.chatStates)?.name;
  if (!state) return none("no body, no chat state, nothing we bridge", meta);
  // Typing is ephemeral: no remoteId, so the core never maps it.
  const { origin, room, sender, ts } = base;
  return { ...meta, events: [{ origin, room, sender, ts, kind: "typing", active: state === "composing" }] };
}

/** The date the room put on its replay: the last delay from the room itself (the room appends its own). */
function roomDelay(stanza: Element, room: RoomRef): number | undefined {
  const own = stanza.getChildren("delay", NS.delay).filter((d) => (d.attrs.from ?? "").toLowerCase() === room.toLowerCase());
  return parseStamp(own.at(-1)?.attrs.stamp);
}

function keyOf(key: string | undefined): { key?: RemoteMessageId } {
  return key ? { key: remoteId(key) } : {};
}

/**
 * The formatted body with its mentions: the occupants its XEP-0372 references name, then the
 * addressee ("nick: ..."), each only while the room has them.
 */
function withMentions(stanza: Element, parsed: ParsedBody, room: RoomRef, ctx: InboundContext): { body: Body; mentions: ActorId[] } {
  const mentionable = (nick: string) => ctx.mentionable?.(nick);
  const raw = stanza.getChildText("body") ?? "";
  const referenced = withReferences(bodyOf(stanza, parsed), raw, parsed.text ?? "", mentionReferences(stanza, room, raw), mentionable);
  const addressed = withAddressee(referenced.body, mentionable);
  return { body: addressed.body, mentions: [...new Set([...addressed.mentions, ...referenced.mentions])] };
}

/** The formatted body; XHTML-IM only when the plain body was sent whole (no fallback cut, no /me). */
function bodyOf(stanza: Element, parsed: ParsedBody): Body {
  const text = parsed.text ?? "";
  if (text.trim() === "") return { text };
  return bodyFromStanza(stanza, text, !parsed.isAction && !stanza.getChild("fallback", NS.fallback));
}
