/** Presence stanzas for puppet occupants: join, status, avatar hash, leave. Pure. */
import xml from "@xmpp/xml";
import type { Element } from "@xmpp/xml";
import type { PresenceState } from "../../core/events.ts";
import { NS } from "./stanza.ts";

export interface PuppetPresence {
  /** The puppet's full JID. */
  readonly from: string;
  /** The occupant JID `room/nick`. */
  readonly to: string;
  readonly state?: PresenceState;
  readonly status?: string;
  /** XEP-0153: SHA-1 hex of the avatar bytes; "" advertises "no avatar"; undefined says nothing. */
  readonly photoHash?: string;
}

/** XMPP has no "offline but still here": an offline person shows as extended away. */
export function stateToShow(state: PresenceState | undefined): string | undefined {
  switch (state) {
    case "away": return "away";
    case "busy": return "dnd";
    case "offline": return "xa";
    default: return undefined;
  }
}

/** A presence from a puppet (also used to change its status while joined). */
export function puppetPresence(p: PuppetPresence, ...extra: Element[]): Element {
  const show = stateToShow(p.state);
  return xml("presence", { from: p.from, to: p.to },
    show ? xml("show", {}, show) : null,
    p.status ? xml("status", {}, p.status) : null,
    ...extra,
    p.photoHash === undefined ? null
      : xml("x", { xmlns: NS.vcardUpdate }, p.photoHash ? xml("photo", {}, p.photoHash) : xml("photo")));
}

/**
 * The join presence. Puppets ask for no history (they only speak); the bot passes `history` to
 * catch up from its cursor (`since`) or the last `maxstanzas` messages.
 */
export function joinPresence(p: PuppetPresence, history: { since?: string; maxstanzas?: number } | "none"): Element {
  const h = history === "none" ? { maxchars: 0 }
    : history.since ? { since: history.since } : { maxstanzas: history.maxstanzas ?? 0 };
  return puppetPresence(p, xml("x", { xmlns: NS.muc }, xml("history", h)));
}

export function leavePresence(from: string, to: string, status?: string): Element {
  return xml("presence", { from, to, type: "unavailable" }, status ? xml("status", {}, status) : null);
}

/** XEP-0045 §10.1.2: accept the default configuration of a room we just created (status 201). */
export function instantRoomIq(from: string, room: string): Element {
  return xml("iq", { type: "set", from, to: room },
    xml("query", { xmlns: NS.mucOwner }, xml("x", { xmlns: NS.dataForms, type: "submit" })));
}
