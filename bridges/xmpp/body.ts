/**
 * The text and files of a message body: XEP-0461/0428 reply fallback stripped, `/me` detected,
 * XEP-0066 out-of-band URLs turned into attachments (a body that is just the URL becomes empty).
 */
import type { Element } from "@xmpp/xml";
import type { Attachment } from "../../core/events.ts";
import { MAX_BODY_BYTES, NS, codePoints, removeCodePointRange } from "./stanza.ts";

export interface ParsedBody {
  /** undefined when the stanza has no `<body>` at all. */
  readonly text?: string;
  readonly isAction: boolean;
  readonly attachments: Attachment[];
  /** Set to the body's size when it is over MAX_BODY_BYTES: such a body is refused, not cut. */
  readonly tooLarge?: number;
}

export function parseBody(stanza: Element): ParsedBody {
  const bodyEl = stanza.getChild("body");
  const attachments = oobAttachments(stanza);
  if (!bodyEl) return { isAction: false, attachments };
  let text = bodyEl.getText();
  const size = Buffer.byteLength(text, "utf8");
  if (size > MAX_BODY_BYTES) return { isAction: false, attachments, tooLarge: size };

  text = stripFallback(stanza, text, NS.reply);
  if (attachments.some((a) => a.url === text.trim())) text = "";
  const isAction = text.startsWith("/me ");
  if (isAction) text = text.slice(4);
  return { text, isAction, attachments };
}

/** Removes the ranges a `<fallback for=ns>` marks; a `<body/>` without a range marks all of it. */
export function stripFallback(stanza: Element, text: string, forNs: string): string {
  const ranges: [number, number][] = [];
  const total = codePoints(text);
  for (const fb of stanza.getChildren("fallback", NS.fallback)) {
    if (fb.attrs.for !== forNs) continue;
    const bodies = fb.getChildren("body");
    if (bodies.length === 0) ranges.push([0, total]);
    for (const b of bodies) {
      const start = b.attrs.start === undefined ? 0 : Number(b.attrs.start);
      const end = b.attrs.end === undefined ? total : Number(b.attrs.end);
      // A range that does not fit the body is a lie; keep the text rather than cut at random.
      if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > total || start > end) continue;
      ranges.push([start, end]);
    }
  }
  // Remove from the back so earlier offsets stay valid.
  ranges.sort((a, b) => b[0] - a[0]);
  for (const [start, end] of ranges) text = removeCodePointRange(text, start, end);
  return text;
}

function oobAttachments(stanza: Element): Attachment[] {
  const out: Attachment[] = [];
  for (const x of stanza.getChildren("x", NS.oob)) {
    const url = x.getChildText("url")?.trim();
    if (!url || !/^https?:\/\//i.test(url)) continue;
    const desc = x.getChildText("desc")?.trim();
    out.push({ url, name: desc || fileNameOf(url) });
  }
  return out;
}

function fileNameOf(url: string): string {
  try {
    const last = new URL(url).pathname.split("/").filter(Boolean).pop();
    return last ? decodeURIComponent(last) : "file";
  } catch {
    return "file";
  }
}
