/**
 * An error stanza a room sends back for one of our messages (RFC 6120 §8.3, XEP-0045 §7.4):
 * which condition, whether trying again can help, and telling the core (host.deliveryFailed).
 */
import type { Element } from "@xmpp/xml";
import type { Logger } from "pino";
import type { AdapterHost } from "../../core/adapter.ts";
import { PermanentDeliveryError, TransientDeliveryError, type DeliveryError } from "../../core/errors.ts";
import type { Puppets } from "./puppets.ts";
import type { Rooms } from "./rooms.ts";
import { NS, bareJid } from "./stanza.ts";

export interface Bounce {
  readonly id: string;
  readonly condition: string;
  readonly type: string;
  readonly text?: string;
}

/** The error of a `<message type='error'>`, or undefined for anything else. */
export function parseBounce(el: Element): Bounce | undefined {
  if (!el.is("message") || el.attrs.type !== "error" || !el.attrs.id) return undefined;
  const error = el.getChild("error");
  const condition = error?.getChildElements().find((c) => c.attrs.xmlns === NS.stanzas && c.name !== "text")?.name ?? "undefined-condition";
  const text = error?.getChildText("text", NS.stanzas) ?? undefined;
  return { id: el.attrs.id, condition, type: error?.attrs.type ?? "cancel", ...(text ? { text: text.slice(0, 200) } : {}) };
}

/**
 * `not-acceptable` from a room means "you are not an occupant" (Prosody, ejabberd: the puppet
 * was dropped, e.g. after a restart of the server): rejoining helps, so it is transient. Other
 * conditions follow the error's type: "wait" transient, anything else (no voice in a moderated
 * room: forbidden; the room is gone: item-not-found) permanent.
 */
export function bounceError(b: Bounce, room: string): DeliveryError {
  const why = `${room} refused the message: ${b.condition}${b.text ? ` (${b.text})` : ""}`;
  if (b.condition === "not-acceptable" || b.type === "wait") return new TransientDeliveryError(why);
  return new PermanentDeliveryError(why);
}

/**
 * A room's error answer to one of our messages. Believed only from the room the message went
 * to (its bare JID), addressed to one of our puppets, for an id we sent that the room has not
 * reflected; anything else is not a bounce of ours (false: logged by the caller).
 */
export function onBounce(el: Element, d: { rooms: Rooms; puppets: Puppets; host: AdapterHost; log: Logger }): boolean {
  const b = parseBounce(el);
  const from = el.attrs.from ?? "";
  const state = d.rooms.get(from);
  if (!b || !state || from.includes("/") || !d.puppets.inOurDomain(el.attrs.to ?? "") || !state.bounced(b.id)) return false;
  state.unconfirmed.confirm(b.id); // answered: never sent again after a reconnect
  if (b.condition === "not-acceptable") {
    // The room no longer counts this puppet as an occupant: the retry joins it again.
    const p = state.puppets.get(bareJid(el.attrs.to ?? "").toLowerCase());
    if (p) p.joined = false;
  }
  d.log.info({ room: state.room, id: b.id, condition: b.condition, text: b.text }, "the room bounced one of our messages");
  d.host.deliveryFailed(state.room, b.id, bounceError(b, state.room));
  return true;
}
