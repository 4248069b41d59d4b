/**
 * XEP-0372 references of type "mention", both ways. In: a `<reference type="mention"
 * uri="xmpp:room@muc/nick" begin end>` names an occupant of this very room; it counts only for a
 * nick the room has now (Mentionable decides), and its range (code points, half-open, into the
 * body as sent) only where it fits the body. Out: every mention the styled body shows gets a
 * reference whose range covers the nick as the room shows it.
 */
import xml from "@xmpp/xml";
import type { Element } from "@xmpp/xml";
import type { ActorId, Body } from "../../core/events.ts";
import { docOf, richBody } from "../../core/richtext/body.ts";
import { mapRuns, mentionsIn, text, type Doc, type Inline } from "../../core/richtext/tree.ts";
import type { Mentionable } from "./mentions.ts";
import { codePoints, roomJidKey } from "./stanza.ts";

export const NS_REFERENCE = "urn:xmpp:reference:0";

/** More references than this in one message are not read (nobody addresses 30 people at once). */
const MAX_REFERENCES = 32;
/** A referenced range longer than this (code points) is no nick. */
const MAX_LABEL = 130;

export interface MentionReference {
  readonly nick: string;
  /** [begin, end) in code points of the body as sent, when the reference gave a range that fits. */
  readonly range?: readonly [number, number];
}

/** The occupant nick an `xmpp:` URI names in `room`, or undefined for anything else. */
export function nickOfUri(uri: string, room: string): string | undefined {
  if (!uri.startsWith("xmpp:")) return undefined;
  const path = uri.slice(5).replace(/^\/\/[^/]*\//, "").split(/[?#]/)[0]!;
  let jid: string;
  try {
    jid = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  const slash = jid.indexOf("/");
  if (slash < 1) return undefined;
  const nick = jid.slice(slash + 1);
  if (roomJidKey(jid.slice(0, slash)) !== roomJidKey(room) || nick === "" || nick.length > 1023) return undefined;
  return nick;
}

/** The mention references of a message to `room` whose `<body>` (as sent) is `raw`. */
export function mentionReferences(stanza: Element, room: string, raw: string): MentionReference[] {
  const total = codePoints(raw);
  const out: MentionReference[] = [];
  for (const r of stanza.getChildren("reference", NS_REFERENCE).slice(0, MAX_REFERENCES)) {
    if (r.attrs.type !== "mention" || typeof r.attrs.uri !== "string") continue;
    const nick = nickOfUri(r.attrs.uri, room);
    if (!nick) continue;
    const begin = index(r.attrs.begin);
    const end = index(r.attrs.end);
    const fits = begin !== undefined && end !== undefined && begin < end && end <= total && end - begin <= MAX_LABEL;
    out.push(fits ? { nick, range: [begin, end] } : { nick });
  }
  return out;
}

function index(v: unknown): number | undefined {
  return typeof v === "string" && /^\d{1,7}$/.test(v) ? Number(v) : undefined;
}

/**
 * The body with each referenced occupant as a mention, and everyone the references mention.
 * `raw` is the body as sent and `plain` what is left of it after the reply fallback and `/me`
 * came off the front: a range is moved by what came off, and dropped when it pointed into it.
 * The referenced words are found in the tree as the same occurrence of the same words (styling
 * markers are not words); where they are not (inside code), the person is mentioned all the same.
 */
export function withReferences(body: Body, raw: string, plain: string, refs: readonly MentionReference[], mentionable: Mentionable): { body: Body; mentions: ActorId[] } {
  let doc: Doc | undefined;
  const cps = Array.from(plain);
  const shift = raw.endsWith(plain) ? codePoints(raw) - cps.length : undefined;
  // From the back, so the words before a range are still the text they were; overlaps once.
  let placedFrom = Infinity;
  const order = refs.map((ref, i) => ({ ref, i })).sort((a, b) => (b.ref.range?.[0] ?? -1) - (a.ref.range?.[0] ?? -1));
  const found: { i: number; id: ActorId }[] = [];
  for (const { ref, i } of order) {
    const who = mentionable(ref.nick);
    if (!who) continue; // not in the room now (or the bot): a name in a URI is no person
    found.push({ i, id: who.id });
    if (!ref.range || shift === undefined || ref.range[0] < shift || ref.range[1] > placedFrom) continue;
    placedFrom = ref.range[0];
    const begin = ref.range[0] - shift;
    const label = cps.slice(begin, ref.range[1] - shift).join("");
    if (label.trim() === "" || label.includes("\n")) continue;
    const nth = occurrences(cps.slice(0, begin).join(""), label);
    doc = placeMention(doc ?? docOf(body), label, nth, { t: "mention", id: who.id, name: ref.nick, network: who.network });
  }
  const out = doc ? richBody(doc) : body;
  const people = found.sort((a, b) => a.i - b.i).map((f) => f.id);
  return { body: out, mentions: [...new Set([...(out.rich ? mentionsIn(out.rich) : []), ...people])] };
}

function occurrences(s: string, label: string): number {
  let n = 0;
  for (let i = s.indexOf(label); i !== -1; i = s.indexOf(label, i + label.length)) n++;
  return n;
}

/** The document with the `nth` occurrence (0-based) of `label` in its text made `mention`. */
function placeMention(doc: Doc, label: string, nth: number, mention: Inline): Doc {
  let seen = 0;
  let placed = false;
  const inlines = (xs: readonly Inline[]): Inline[] => xs.flatMap((x): Inline[] => {
    if (placed) return [x];
    if (x.t === "text") {
      for (let i = x.text.indexOf(label); i !== -1; i = x.text.indexOf(label, i + label.length)) {
        if (seen++ === nth) {
          placed = true;
          return [text(x.text.slice(0, i)), mention, text(x.text.slice(i + label.length))];
        }
      }
      return [x];
    }
    // Never a mention inside a link (a link in a link), nor in code (which has no inlines).
    if (x.t === "link" || !("children" in x)) return [x];
    return [{ ...x, children: inlines(x.children) } as Inline];
  });
  const out = mapRuns(doc, (xs) => (placed ? [...xs] : inlines(xs)));
  return placed ? out : doc;
}

/** Where the styled body shows each mention: the nick and its [begin, end) in code points. */
export interface PlacedMention {
  readonly nick: string;
  readonly begin: number;
  readonly end: number;
}

/** `<reference>` elements for mentions placed in a body that has `offset` code points before it. */
export function referenceElements(room: string, placed: readonly PlacedMention[], offset: number): Element[] {
  return placed.map((p) => xml("reference", {
    xmlns: NS_REFERENCE, type: "mention",
    uri: `xmpp:${room}/${encodeURIComponent(p.nick)}`,
    begin: String(p.begin + offset), end: String(p.end + offset),
  }));
}

/** Marks around a mention while the body is styled; they never reach a stanza. */
export const MARK_OPEN = "\uFDD0";
export const MARK_CLOSE = "\uFDD1";

/** Takes the marks out of a styled body, noting where each mention went. */
export function unmark(marked: string): { text: string; placed: { begin: number; end: number }[] } {
  const placed: { begin: number; end: number }[] = [];
  let out = "";
  let n = 0;
  let open: number | undefined;
  for (const c of marked) {
    if (c === MARK_OPEN) { open = n; continue; }
    if (c === MARK_CLOSE) {
      if (open !== undefined && n > open) placed.push({ begin: open, end: n });
      open = undefined;
      continue;
    }
    out += c;
    n++;
  }
  return { text: out, placed };
}

