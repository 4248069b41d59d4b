/**
 * Ghost user ids: `@<prefix><network>_<escaped actor>:<domain>`, escaped with the Matrix spec's
 * suggested "mapping from other character sets" (appendices, user identifiers) so that every remote
 * actor id maps to exactly one legal localpart and back.
 */
import { createHash } from "node:crypto";
import type { ActorId, Network } from "../../core/events.ts";
import { NETWORKS } from "../../core/events.ts";

export const DEFAULT_GHOST_PREFIX = "_junction_";

/** Bytes allowed unescaped in a localpart, less `=` (the escape sigil) and `_` (the case sigil). */
const PLAIN = /^[a-z0-9.\-/+]$/;

/**
 * `A` → `_a`, `_` → `__`, `=` and any byte outside the localpart alphabet → `=xx` (UTF-8, lowercase hex).
 * Keeps plain ASCII ids readable while staying reversible (the spec's case-preserving variant).
 */
export function escapeLocalpart(s: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(s)) {
    const ch = String.fromCharCode(byte);
    if (byte >= 0x41 && byte <= 0x5a) out += "_" + ch.toLowerCase();
    else if (ch === "_") out += "__";
    else if (byte < 0x80 && PLAIN.test(ch)) out += ch;
    else out += "=" + byte.toString(16).padStart(2, "0");
  }
  return out;
}

/** The inverse of `escapeLocalpart`; undefined when `s` is not something it produced. */
export function unescapeLocalpart(s: string): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === "_") {
      const next = s[i + 1];
      if (next === "_") bytes.push(0x5f);
      else if (next !== undefined && next >= "a" && next <= "z") bytes.push(next.toUpperCase().charCodeAt(0));
      else return undefined;
      i++;
    } else if (ch === "=") {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9a-f]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (PLAIN.test(ch)) {
      bytes.push(ch.charCodeAt(0));
    } else {
      return undefined;
    }
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(bytes));
  } catch {
    return undefined;
  }
}

export interface GhostNaming {
  readonly prefix: string;
  readonly domain: string;
}

/** The spec caps a whole user id at 255 bytes. */
const MAX_USER_ID = 255;

/**
 * A ghost's mxid. An actor too long to fit (rare: very long JIDs) keeps a readable start and ends in
 * `==` and a hash of the whole id, so it stays unique; such an id does not parse back (parseGhost).
 */
export function ghostUserId(naming: GhostNaming, network: Network, actor: ActorId | string): string {
  const head = `@${naming.prefix}${network}_`;
  const tail = `:${naming.domain}`;
  const escaped = escapeLocalpart(actor);
  if (head.length + escaped.length + tail.length <= MAX_USER_ID) return head + escaped + tail;
  const hash = createHash("sha256").update(actor).digest("hex").slice(0, 32);
  const keep = Math.max(0, MAX_USER_ID - head.length - tail.length - hash.length - 2);
  return `${head}${escaped.slice(0, keep).replace(/=[0-9a-f]?$/, "")}==${hash}${tail}`;
}

export function botUserId(naming: GhostNaming): string {
  return `@${naming.prefix}bot:${naming.domain}`;
}

export function botLocalpart(prefix: string): string {
  return `${prefix}bot`;
}

/** Splits an mxid into localpart and server name (the server part may carry a port). */
export function splitUserId(mxid: string): { localpart: string; domain: string } | undefined {
  const m = /^@([^:]+):(.+)$/.exec(mxid);
  return m ? { localpart: m[1]!, domain: m[2]! } : undefined;
}

/** Which remote actor a ghost mxid speaks for, or undefined when it is not one of our ghosts. */
export function parseGhost(naming: GhostNaming, mxid: string): { network: Network; actor: ActorId } | undefined {
  const parts = splitUserId(mxid);
  if (!parts || parts.domain !== naming.domain || !parts.localpart.startsWith(naming.prefix)) return undefined;
  const rest = parts.localpart.slice(naming.prefix.length);
  const sep = rest.indexOf("_");
  if (sep < 0) return undefined;
  const network = rest.slice(0, sep) as Network;
  if (!NETWORKS.includes(network)) return undefined;
  const actor = unescapeLocalpart(rest.slice(sep + 1));
  return actor === undefined || actor === "" ? undefined : { network, actor: actor as ActorId };
}

/** True for the bridge bot and every mxid in the ghost namespace (what the registration claims). */
export function inOurNamespace(naming: GhostNaming, mxid: string): boolean {
  const parts = splitUserId(mxid);
  return parts !== undefined && parts.domain === naming.domain && parts.localpart.startsWith(naming.prefix);
}
