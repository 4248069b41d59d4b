/** Matrix pills: a matrix.to link to a user (client-server API, "User and room mentions"). */

/**
 * A user id: the localpart ends at the first ':' and may hold '/' and '+' (the spec's user id
 * grammar; our own ghosts of XMPP occupant-ids, which are base64, often do).
 */
const MXID = /^@[^:\s]+:[A-Za-z0-9.\-:[\]]+$/;

export function isMxid(s: string): boolean {
  return MXID.test(s);
}

/** The mxid a `https://matrix.to/#/@user:server` link points at, or undefined for any other link. */
export function mxidOfLink(href: string): string | undefined {
  const m = /^https:\/\/matrix\.to\/#\/([^?]*)/.exec(href);
  if (!m) return undefined;
  let id: string;
  try {
    id = decodeURIComponent(m[1]!);
  } catch {
    return undefined;
  }
  return isMxid(id) ? id : undefined;
}

export function pillHref(mxid: string): string {
  return `https://matrix.to/#/${encodeURIComponent(mxid).replace(/%40/g, "@").replace(/%3A/g, ":")}`;
}
