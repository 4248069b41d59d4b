/** Namespaces and small element helpers shared by the XMPP converters. */
import type { Element } from "@xmpp/xml";
import type { Avatar, RoomRef, Sender } from "../../core/events.ts";
import { actorId } from "../../core/events.ts";

export const NS = {
  muc: "http://jabber.org/protocol/muc",
  mucUser: "http://jabber.org/protocol/muc#user",
  mucOwner: "http://jabber.org/protocol/muc#owner",
  dataForms: "jabber:x:data",
  sid: "urn:xmpp:sid:0",
  occupantId: "urn:xmpp:occupant-id:0",
  correct: "urn:xmpp:message-correct:0",
  retract: "urn:xmpp:message-retract:1",
  retract0: "urn:xmpp:message-retract:0",
  fasten: "urn:xmpp:fasten:0",
  moderate: "urn:xmpp:message-moderate:1",
  moderate0: "urn:xmpp:message-moderate:0",
  reactions: "urn:xmpp:reactions:0",
  reply: "urn:xmpp:reply:0",
  fallback: "urn:xmpp:fallback:0",
  chatStates: "http://jabber.org/protocol/chatstates",
  oob: "jabber:x:oob",
  delay: "urn:xmpp:delay",
  hints: "urn:xmpp:hints",
  vcard: "vcard-temp",
  vcardUpdate: "vcard-temp:x:update",
  discoInfo: "http://jabber.org/protocol/disco#info",
  discoItems: "http://jabber.org/protocol/disco#items",
  ping: "urn:xmpp:ping",
  version: "jabber:iq:version",
  stanzas: "urn:ietf:params:xml:ns:xmpp-stanzas",
  styling: "urn:xmpp:styling:0",
  spoiler: "urn:xmpp:spoiler:0",
  xhtmlIm: "http://jabber.org/protocol/xhtml-im",
  xhtml: "http://www.w3.org/1999/xhtml",
} as const;

/** The most body bytes we bridge; Matrix refuses events over 64 KiB, and nobody types more. */
export const MAX_BODY_BYTES = 64 * 1024;

export function bareJid(jid: string): string {
  const slash = jid.indexOf("/");
  return slash === -1 ? jid : jid.slice(0, slash);
}

/** The resource of a full JID (a MUC occupant's nick), or undefined for a bare JID. */
export function resourceOf(jid: string): string | undefined {
  const slash = jid.indexOf("/");
  return slash === -1 ? undefined : jid.slice(slash + 1);
}

/** Rooms compare case-insensitively in their local and domain parts. */
export function roomJidKey(room: string): string {
  return bareJid(room).toLowerCase();
}

export function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Removes code points [start, end) from `s` (XEP-0426 counts in code points). */
export function removeCodePointRange(s: string, start: number, end: number): string {
  const cps = Array.from(s);
  return cps.slice(0, start).join("") + cps.slice(end).join("");
}

/** XEP-0082 stamp → epoch ms, or undefined when it does not parse. */
export function parseStamp(stamp: string | undefined): number | undefined {
  if (!stamp) return undefined;
  const ms = Date.parse(stamp);
  return Number.isFinite(ms) ? ms : undefined;
}

/** What the adapter knows about one occupant of a room, from its presence. */
export interface OccupantInfo {
  readonly nick: string;
  /** The real bare JID, when the room shows it (non-anonymous rooms, or to moderators). */
  readonly realJid?: string;
  /** XEP-0421, stable across nick changes. */
  readonly occupantId?: string;
  readonly avatar?: Avatar;
}

/**
 * The bridged identity of an occupant: the real bare JID when the room shows it, else the room's
 * occupant-id (prefixed with the room, since occupant-ids are per room), else the occupant JID.
 */
export function senderOf(room: RoomRef, info: OccupantInfo): Sender {
  const id = info.realJid ? bareJid(info.realJid)
    : info.occupantId ? `${room}#${info.occupantId}`
    : `${room}/${info.nick}`;
  return { id: actorId(id), name: info.nick, isBot: false, ...(info.avatar ? { avatar: info.avatar } : {}) };
}

/** A stanza's `<occupant-id/>`, if the room added one. */
export function occupantIdOf(stanza: Element): string | undefined {
  return stanza.getChild("occupant-id", NS.occupantId)?.attrs.id || undefined;
}

/** The room's `<stanza-id by=room/>`; ids claimed by anybody else are ignored (XEP-0359 §8). */
export function roomStanzaId(stanza: Element, room: string): string | undefined {
  for (const sid of stanza.getChildren("stanza-id", NS.sid)) {
    if (sid.attrs.by && roomJidKey(sid.attrs.by) === roomJidKey(room) && sid.attrs.id) return sid.attrs.id;
  }
  return undefined;
}

export function originIdOf(stanza: Element): string | undefined {
  return stanza.getChild("origin-id", NS.sid)?.attrs.id || undefined;
}
