/**
 * XEP-0106 JID escaping, and the puppet JIDs built from it.
 *
 * A puppet JID is `<network>_<escaped actor>@<component>`: a Matrix `@alice:example.org` becomes
 * `matrix_\40alice\3aexample.org@bridge.example.org`. The network name never contains `_`, so the
 * first `_` splits it from the actor.
 *
 * Limits, on purpose:
 * - A node part is at most 1023 bytes. An escaped id longer than that keeps its first bytes and
 *   ends in `~` + 32 hex digits of its SHA-256, so it stays unique and stable but cannot be
 *   unescaped; `actorFromPuppetNode` returns undefined and callers look the puppet up by handle
 *   in the puppet directory instead.
 * - Nodeprep folds case, so a server may hand back `matrix_\40alice...` lower-cased; lookups by
 *   handle compare case-insensitively (see `sameNode`).
 * - Characters nodeprep forbids outright (controls, unusual spaces), a leading or trailing space
 *   (XEP-0106 forbids an escaped space at either end) and the empty id cannot be escaped; such
 *   ids take the hashed form too.
 */
import { hash } from "node:crypto";

/** The characters XEP-0106 escapes, and their escape sequences. */
const ESCAPES: Readonly<Record<string, string>> = {
  " ": "\\20", "\"": "\\22", "&": "\\26", "'": "\\27", "/": "\\2f",
  ":": "\\3a", "<": "\\3c", ">": "\\3e", "@": "\\40", "\\": "\\5c",
};
const UNESCAPES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(ESCAPES).map(([ch, seq]) => [seq.slice(1), ch]),
);
const SEQUENCE = /^\\(20|22|26|27|2f|3a|3c|3e|40|5c)/i;

export const MAX_NODE_BYTES = 1023;
const HASH_MARK = "~";
const HASH_HEX = 32;
const HASHED = /~h[0-9a-f]{32}$/;

/** Characters nodeprep refuses that XEP-0106 has no escape for. */
const UNESCAPABLE = /[\u0000-\u001f\u007f-\u009f\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f\u3000\ufeff\ufff9-\ufffd]/u;

/** XEP-0106 §4.2: escape an arbitrary string so it can be used as a JID node part. */
export function escapeNode(raw: string): string {
  let out = "";
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === "\\") {
      // A backslash is escaped only where it would otherwise read as an escape sequence.
      out += SEQUENCE.test(raw.slice(i)) ? "\\5c" : "\\";
      continue;
    }
    out += ESCAPES[ch] ?? ch;
  }
  return out;
}

/** XEP-0106 §4.3: the inverse of `escapeNode`. */
export function unescapeNode(node: string): string {
  return node.replace(/\\(20|22|26|27|2f|3a|3c|3e|40|5c)/gi, (_m, hex: string) => UNESCAPES[hex.toLowerCase()]!);
}

/** The node part for a remote actor, hash-truncated to fit 1023 bytes. */
export function puppetNode(network: string, actor: string): string {
  const node = `${network}_${escapeNode(actor)}`;
  const representable = !UNESCAPABLE.test(actor) && !/^ | $/.test(actor) && actor !== "";
  if (representable && Buffer.byteLength(node, "utf8") <= MAX_NODE_BYTES && !HASHED.test(node)) {
    return node;
  }
  const digest = hash("sha256", `${network}\n${actor}`, "hex").slice(0, HASH_HEX);
  const suffix = `${HASH_MARK}h${digest}`;
  const budget = MAX_NODE_BYTES - suffix.length;
  const safePrefix = `${network}_${escapeNode(actor.replace(new RegExp(UNESCAPABLE.source, "gu"), ""))}`;
  return truncateUtf8(safePrefix, budget) + suffix;
}

/** `<network>_<escaped actor>@<component>`. */
export function puppetJid(network: string, actor: string, component: string): string {
  return `${puppetNode(network, actor)}@${component}`;
}

/** The network and actor a puppet node stands for, or undefined for a hashed or foreign node. */
export function actorFromPuppetNode(node: string): { network: string; actor: string } | undefined {
  const sep = node.indexOf("_");
  if (sep <= 0 || HASHED.test(node)) return undefined;
  return { network: node.slice(0, sep), actor: unescapeNode(node.slice(sep + 1)) };
}

/** Node parts compare case-insensitively once a server has nodeprepped them. */
export function sameNode(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function truncateUtf8(s: string, maxBytes: number): string {
  let bytes = 0;
  let out = "";
  for (const ch of s) {
    const n = Buffer.byteLength(ch, "utf8");
    if (bytes + n > maxBytes) break;
    bytes += n;
    out += ch;
  }
  // Never end on half an escape sequence.
  return out.replace(/\\[0-9a-f]?$/i, "");
}
