/**
 * The text and files of a message body: XEP-0461/0428 reply fallback stripped, `/me` detected,
 * XEP-0066 out-of-band URLs and XEP-0447 (SIMS) file shares turned into attachments. A file's URL
 * in the body is the client's fallback for readers without OOB, not words: it is taken out, and
 * what is left (a caption typed with the picture) is the message's text.
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
  text = withoutUrls(text, attachments.map((a) => a.url));
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

/** The body without lines that are just a file's URL, and without a file's URL at its very end. */
function withoutUrls(text: string, urls: readonly string[]): string {
  if (urls.length === 0) return text;
  const lines = text.split("\n").filter((l) => !urls.includes(l.trim()));
  let out = lines.join("\n");
  for (const u of urls) if (out.trimEnd().endsWith(u)) out = out.trimEnd().slice(0, -u.length);
  return out.trim() === "" ? "" : out.replace(/\s+$/, "");
}

const NS_SFS = "urn:xmpp:sfs:0";
const NS_FILE = "urn:xmpp:file:metadata:0";
const NS_URL_DATA = "http://jabber.org/protocol/url-data";
const MAX_NAME = 255;
/**
 * Files taken from one message at most (Discord's own limit): each is fetched, up to
 * media.maxBytes, and becomes a part in every room, so a stanza stuffed with thousands of OOB
 * or SIMS elements must not multiply that. The URLs of any further ones stay in the text.
 */
export const MAX_FILES = 10;

function oobAttachments(stanza: Element): Attachment[] {
  const out: Attachment[] = [];
  for (const x of stanza.getChildren("x", NS.oob)) {
    const url = x.getChildText("url")?.trim();
    if (!url || !/^https?:\/\//i.test(url) || out.some((a) => a.url === url)) continue;
    const desc = x.getChildText("desc")?.trim();
    out.push({ url, name: (desc || fileNameOf(url)).slice(0, MAX_NAME) });
  }
  // XEP-0447: the file's metadata (XEP-0446) and where to get it. The sender's claims are hints:
  // the fetch learns the real type and size, and the bytes the real width and height.
  for (const share of stanza.getChildren("file-sharing", NS_SFS)) {
    const file = share.getChild("file", NS_FILE);
    const urls = (share.getChild("sources")?.getChildren("url-data", NS_URL_DATA) ?? [])
      .map((u) => String(u.attrs.target ?? "").trim()).filter((u) => /^https?:\/\//i.test(u));
    const url = urls[0];
    if (!url) continue;
    const name = file?.getChildText("name")?.trim();
    const mime = file?.getChildText("media-type")?.trim().toLowerCase();
    const meta: Partial<Attachment> = {
      ...(mime && /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(mime) ? { mime } : {}),
      ...positive("size", file?.getChildText("size")),
      ...positive("width", file?.getChildText("width")),
      ...positive("height", file?.getChildText("height")),
    };
    const i = out.findIndex((a) => a.url === url);
    const known = i >= 0 ? out[i]! : { url, name: (name || fileNameOf(url)).slice(0, MAX_NAME) };
    const merged: Attachment = { ...known, ...(name ? { name: name.slice(0, MAX_NAME) } : {}), ...meta };
    if (i >= 0) out[i] = merged;
    else out.push(merged);
  }
  return out.slice(0, MAX_FILES);
}

function positive(key: "size" | "width" | "height", text: string | null | undefined): Partial<Attachment> {
  const n = Number(text?.trim());
  return typeof text === "string" && Number.isSafeInteger(n) && n > 0 ? { [key]: n } : {};
}

function fileNameOf(url: string): string {
  try {
    const last = new URL(url).pathname.split("/").filter(Boolean).pop();
    return last ? decodeURIComponent(last) : "file";
  } catch {
    return "file";
  }
}
