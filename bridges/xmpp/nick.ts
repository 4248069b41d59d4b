/**
 * Puppet nicks that every server takes and nobody mistakes for a native occupant's.
 *
 * Prosody (0.12) lets a nick into a room only if it passes *strict* resourceprep (RFC 3920
 * Appendix B / RFC 3454): prohibited code points (controls, bidi overrides, private use,
 * non-characters, tags...) are refused, and so is anything unassigned in Unicode 3.2 (most
 * emoji), a name that mixes right-to-left and left-to-right letters, or one that contains
 * right-to-left letters but does not begin and end with one. The refusal is `jid-malformed` on
 * the join. SASLprep (RFC 4013) is the same stringprep with the same tables, prohibitions and
 * bidi rule (its only extra mapping, non-ASCII spaces to a space, is what resourceprep's NFKC does
 * to nearly all of them), so a string SASLprep accepts with unassigned code points refused is a
 * nick Prosody accepts as it is. We use @mongodb-js/saslprep (the MongoDB driver's, maintained,
 * carries the RFC 3454 tables) instead of copying those tables here.
 *
 * Look-alikes are found by comparing skeletons from `unhomoglyph` (the Unicode confusables
 * table; Element uses it to flag display names that look alike).
 */
import saslprep from "@mongodb-js/saslprep";
import unhomoglyph from "unhomoglyph";
import type { Network } from "../../core/events.ts";
import type { RoomState } from "./rooms.ts";
import { xmlSafe } from "./xml-safe.ts";

const MAX_NICK = 64;
const CACHE_MAX = 2000;

/** Whether `s` is a nick the room takes unchanged. */
export function isValidNick(s: string): boolean {
  if (s === "" || s !== s.trim()) return false;
  try {
    return saslprep(s, { allowUnassigned: false }) === s;
  } catch {
    return false;
  }
}

const charOk = (c: string): boolean => {
  try {
    saslprep(c, { allowUnassigned: false });
    return true;
  } catch {
    return false;
  }
};
/** A right-to-left letter (RandALCat): valid alone, refused next to a left-to-right letter. */
const isRtl = (c: string): boolean => charOk(c) && !charOk(`a${c}`);

const cache = new Map<string, string>();

/**
 * `name` made into a nick every server takes: XML-safe, without what stringprep prohibits or
 * Unicode 3.2 did not assign, NFKC (which is also NFC), whitespace collapsed, at most 64 code
 * points, and one writing direction; `fallback` (made safe the same way, then "someone") when
 * nothing is left.
 */
export function safeNick(name: string, fallback: string): string {
  const key = `${name}\n${fallback}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const nick = clean(name) ?? clean(fallback) ?? "someone";
  cache.set(key, nick);
  if (cache.size > CACHE_MAX) cache.delete(cache.keys().next().value!);
  return nick;
}

function clean(raw: string): string | undefined {
  const kept = Array.from(xmlSafe(raw).normalize("NFKC")).filter((c) => c === " " || charOk(c)).join("");
  let s = squash(saslprepLoose(kept));
  s = Array.from(s).slice(0, MAX_NICK).join("").trim();
  if (isValidNick(s)) return s;
  // Only the writing direction is wrong: keep the longer of its left-to-right part and its
  // right-to-left part.
  const cps = Array.from(s);
  const ltr = squash(cps.filter((c) => !isRtl(c)).join(""));
  let a = 0, b = cps.length;
  while (a < b && !isRtl(cps[a]!)) a++;
  while (b > a && !isRtl(cps[b - 1]!)) b--;
  const rtl = cps.slice(a, b).join("");
  const options = [ltr, rtl].filter(isValidNick).sort((x, y) => Array.from(y).length - Array.from(x).length);
  return options[0];
}

/** SASLprep's mappings (and NFKC) without its checks. */
function saslprepLoose(s: string): string {
  return Array.from(s).map((c) => {
    try {
      return saslprep(c, { allowUnassigned: false });
    } catch {
      return "";
    }
  }).join("").normalize("NFKC");
}

function squash(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

/** What a nick looks like, for comparing: confusables folded, case and spacing ignored. */
export function skeleton(nick: string): string {
  return unhomoglyph(nick.normalize("NFKC")).toLowerCase().replace(/\s+/g, " ").trim();
}

/** Whether two different nicks would render alike. */
export function looksAlike(a: string, b: string): boolean {
  return a !== b && skeleton(a) === skeleton(b);
}

/**
 * The nicks a puppet tries, in order: the one it held here before (if it still fits the name),
 * its name, its name marked with its network, numbered ones, then its plain nick (ASCII, from its
 * id) for a room that refuses the others. A candidate that would look like a native occupant's
 * nick is skipped (the marked one is what such a puppet gets), and so is one a server would refuse.
 */
export function nickCandidates(state: RoomState, wanted: string, plain: string, origin: Network, stored?: string): string[] {
  const natives = [...state.occupants.values()].filter((o) => !o.ours).map((o) => o.nick);
  const marked = (base: string) => [`${base} (${origin})`, ...[2, 3, 4, 5, 6, 7, 8, 9].map((n) => `${base} (${origin} ${n})`)];
  const all = [
    ...(stored && (stored === wanted || stored.startsWith(`${wanted} (`)) ? [stored] : []),
    wanted, ...marked(wanted), plain, ...marked(plain),
  ];
  // A suffix can make a valid name invalid (a right-to-left name must end in a right-to-left
  // letter): such a candidate is skipped, and the plain ones come later.
  return [...new Set(all)]
    .filter((n) => isValidNick(n))
    .filter((n) => !natives.some((native) => looksAlike(n, native)));
}

/** An ASCII nick from a person's id on their network (`@bob:example.org` → `bob`), never empty. */
export function plainNick(origin: Network, id: string): string {
  const local = id.replace(/^@/, "").split(/[:@/]/)[0] ?? "";
  const ascii = local.normalize("NFKD").replace(/[^A-Za-z0-9._ -]/g, "").replace(/\s+/g, " ").trim().slice(0, 32);
  return ascii || `${origin} person`;
}
