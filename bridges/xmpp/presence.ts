/**
 * A presence from a linked MUC → join / leave / presence / profile events, plus what the adapter
 * must remember about the occupant. Pure, never throws. Self-presence (status 110) and errors are
 * reported, not bridged: the adapter uses them to track its own joins.
 */
import type { Element } from "@xmpp/xml";
import type { BridgeEvent, PresenceState, RoomRef } from "../../core/events.ts";
import type { OccupantInfo } from "./stanza.ts";
import { NS, bareJid, occupantIdOf, resourceOf, senderOf } from "./stanza.ts";

export interface OccupantState extends OccupantInfo {
  readonly state: PresenceState;
  readonly status?: string;
}

export interface PresenceContext {
  linkedRoom(bare: string): RoomRef | undefined;
  occupant(room: RoomRef, nick: string): OccupantState | undefined;
  now(): number;
}

export type OccupantChange =
  | { readonly kind: "here"; readonly nick: string; readonly info: OccupantState }
  | { readonly kind: "gone"; readonly nick: string }
  | { readonly kind: "renamed"; readonly nick: string; readonly newNick: string };

export interface InboundPresence {
  readonly events: BridgeEvent[];
  readonly reason?: string;
  readonly room?: RoomRef;
  readonly nick?: string;
  /** Status 110: this presence is about the occupant it was sent to (one of ours). */
  readonly self?: boolean;
  /** muc#user status codes (110 self, 201 new room, 303 nick change, 307 kick…). */
  readonly codes: readonly string[];
  /** A presence error (a join refused): its condition, e.g. "conflict", "forbidden". */
  readonly error?: string;
  readonly change?: OccupantChange;
}

/** Status codes that mean the occupant was removed, and how to say why. */
const REMOVAL: Readonly<Record<string, string>> = {
  "301": "banned", "307": "kicked", "321": "removed by an affiliation change",
  "322": "removed because the room became members-only", "332": "removed because the service is shutting down",
  "333": "removed after a technical error",
};

/** Why an occupant's unavailable self-presence removed it from the room, for the log. */
export function removalReason(stanza: Element, codes: readonly string[]): string {
  const destroy = stanza.getChild("x", NS.mucUser)?.getChild("destroy");
  if (destroy) return `the room was destroyed${destroy.getChildText("reason") ? `: ${destroy.getChildText("reason")}` : ""}`;
  const why = codes.map((c) => REMOVAL[c]).filter(Boolean);
  return why.length > 0 ? why.join(", ") : `left the room (status ${codes.join(" ") || "none"})`;
}

export function inboundPresence(stanza: Element, ctx: PresenceContext): InboundPresence {
  try {
    return convert(stanza, ctx);
  } catch (err) {
    return { events: [], codes: [], reason: `converter failed: ${(err as Error).message}` };
  }
}

export function showToState(show: string | undefined | null): PresenceState {
  switch (show) {
    case "away": case "xa": return "away";
    case "dnd": return "busy";
    default: return "online"; // none and "chat"
  }
}

function convert(stanza: Element, ctx: PresenceContext): InboundPresence {
  const from = stanza.attrs.from;
  if (!stanza.is("presence") || !from) return { events: [], codes: [], reason: "presence without from" };
  const room = ctx.linkedRoom(bareJid(from));
  if (!room) return { events: [], codes: [], reason: `presence from ${bareJid(from)}, which is not a linked room` };
  const nick = resourceOf(from);
  const x = stanza.getChild("x", NS.mucUser);
  const codes = x ? x.getChildren("status").map((s) => s.attrs.code ?? "").filter(Boolean) : [];
  const meta = { room, codes, ...(nick !== undefined ? { nick } : {}) };

  if (stanza.attrs.type === "error") {
    const condition = stanza.getChild("error")?.getChildElements().find((e) => e.attrs.xmlns === NS.stanzas)?.name ?? "undefined-condition";
    return { ...meta, events: [], error: condition, reason: `presence error ${condition}` };
  }
  if (!nick) return { ...meta, events: [], reason: "presence from the room itself" };
  if (codes.includes("110")) return { ...meta, events: [], self: true, reason: "our own presence" };

  const item = x?.getChild("item");
  const previous = ctx.occupant(room, nick);
  const ts = ctx.now();
  const photo = stanza.getChild("x", NS.vcardUpdate)?.getChild("photo");
  const photoHash = photo?.getText().trim();
  const avatar = photo === undefined ? previous?.avatar
    : photoHash ? { hash: photoHash, url: `xmpp-vcard:${room}/${nick}` } : undefined;
  const occupantId = occupantIdOf(stanza) ?? previous?.occupantId;
  const realJid = item?.attrs.jid ? bareJid(item.attrs.jid) : previous?.realJid;
  const info: OccupantInfo = {
    nick, ...(realJid ? { realJid } : {}), ...(occupantId ? { occupantId } : {}), ...(avatar ? { avatar } : {}),
  };
  const sender = senderOf(room, info);
  const base = { origin: "xmpp" as const, room, sender, ts };

  if (stanza.attrs.type === "unavailable") {
    const newNick = item?.attrs.nick;
    if (codes.includes("303") && newNick) {
      const renamed = senderOf(room, { ...info, nick: newNick });
      return {
        ...meta,
        events: [{ ...base, sender: renamed, kind: "profile", previousName: nick }],
        change: { kind: "renamed", nick, newNick },
      };
    }
    const why = codes.map((c) => REMOVAL[c]).find(Boolean);
    const text = item?.getChildText("reason")?.trim() || stanza.getChildText("status")?.trim();
    const reason = why && text ? `${why}: ${text}` : (why ?? text);
    return {
      ...meta,
      events: [{ ...base, kind: "leave", ...(reason ? { reason } : {}) }],
      change: { kind: "gone", nick },
    };
  }
  if (stanza.attrs.type !== undefined) return { ...meta, events: [], reason: `presence of type ${stanza.attrs.type}` };

  const state = showToState(stanza.getChildText("show")?.trim());
  const status = stanza.getChildText("status")?.trim() || undefined;
  const now: OccupantState = { ...info, state, ...(status ? { status } : {}) };
  const change: OccupantChange = { kind: "here", nick, info: now };
  const presence: BridgeEvent = { ...base, kind: "presence", state, ...(status ? { status } : {}) };

  if (!previous) {
    const events: BridgeEvent[] = [{ ...base, kind: "join" }];
    if (state !== "online" || status) events.push(presence);
    return { ...meta, events, change };
  }
  const events: BridgeEvent[] = [];
  if (previous.avatar?.hash !== avatar?.hash) events.push({ ...base, kind: "profile" });
  if (previous.state !== state || previous.status !== status) events.push(presence);
  return { ...meta, events, change, ...(events.length === 0 ? { reason: "nothing changed" } : {}) };
}
