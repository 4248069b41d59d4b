/**
 * The one sanitising point between strings and the XMPP wire. XML 1.0 refuses U+0000-U+001F
 * (except tab, LF, CR), U+FFFE, U+FFFF and lone surrogates; one of them in any text node or
 * attribute makes the server close the whole component stream (`not-well-formed`). The
 * connection passes every outgoing stanza through `sanitizeStanza` just before writing it, so no
 * builder (bodies, nicks, statuses, vCard and disco names, reactions, file names, fallback
 * excerpts) can forget it; builders that need a string to stay as sent (a nick that must match
 * the room's reflection) call `xmlSafe` themselves first.
 */
import type { Element } from "@xmpp/xml";

/** What XML forbids: C0 controls except tab/LF/CR, U+FFFE, U+FFFF, and unpaired surrogates. */
const FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const TEST = new RegExp(FORBIDDEN.source);

/** `s` with every character XML forbids replaced by U+FFFD (so a reader sees that something was there). */
export function xmlSafe(s: string): string {
  return TEST.test(s) ? s.replace(FORBIDDEN, "\ufffd") : s;
}

/** Makes every attribute value and text node of `el` (and its descendants) XML-safe, in place. */
export function sanitizeStanza(el: Element): Element {
  const attrs = el.attrs as Record<string, unknown>;
  for (const k of Object.keys(attrs)) {
    const v = attrs[k];
    if (typeof v === "string") attrs[k] = xmlSafe(v);
  }
  const children = el.children as (Element | string)[];
  for (let i = 0; i < children.length; i++) {
    const c = children[i]!;
    if (typeof c === "string") children[i] = xmlSafe(c);
    else if (typeof c === "object" && c !== null && "children" in c) sanitizeStanza(c);
  }
  return el;
}
