/**
 * An error stanza a room sends back for one of our messages (RFC 6120 §8.3, XEP-0045 §7.4):
 * which condition, and whether trying again can help. Pure.
 */
import type { Element } from "@xmpp/xml";
import { PermanentDeliveryError, TransientDeliveryError, type DeliveryError } from "../../core/errors.ts";
import { NS } from "./stanza.ts";

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
