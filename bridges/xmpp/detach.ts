/**
 * Received stanzas' strings, each copied out of the socket chunk it was parsed from. The XML
 * parser (ltx) returns attribute values and text as slices of the chunk it read (up to 64 KiB),
 * and V8 keeps a whole chunk alive for as long as any slice of it (13 characters or more) lives.
 * What the adapter remembers from a stanza (an occupant's JID, occupant-id and avatar hash, a
 * stanza-id in a room's caches, a puppet's nick) would each pin a chunk: with thousands of
 * occupants that was hundreds of MiB. The connection detaches every stanza once, on arrival.
 */
import type { Element } from "@xmpp/xml";

/** Shorter strings are copied by V8 anyway (SlicedString::kMinLength). */
const SLICE_MIN = 13;

/** A flat copy of `s`: concatenating makes a new string, and slicing that flattens it. */
export function detach(s: string): string {
  return s.length < SLICE_MIN ? s : (` ${s}`).slice(1);
}

/** Replaces every attribute value and text node of `el` and its descendants by its own copy, in place. */
export function detachStanza(el: Element): Element {
  const attrs = el.attrs as Record<string, unknown>;
  for (const k in attrs) {
    const v = attrs[k];
    if (typeof v === "string" && v.length >= SLICE_MIN) attrs[k] = detach(v);
  }
  const children = el.children as (Element | string)[];
  for (let i = 0; i < children.length; i++) {
    const c = children[i]!;
    if (typeof c === "string") { if (c.length >= SLICE_MIN) children[i] = detach(c); }
    else detachStanza(c);
  }
  return el;
}
