/**
 * XEP-0363 HTTP File Upload: ask the upload service for a slot, PUT the bytes, and hand out the
 * GET URL, so files from other networks reach XMPP clients as ordinary OOB links.
 */
import xml from "@xmpp/xml";
import type { Logger } from "pino";
import type { DeliveryContext, Media, MediaHttpClient } from "../../core/adapter.ts";
import type { Attachment } from "../../core/events.ts";
import { attachmentNote, degradesNow, publicReasonOf } from "../../core/fallbacks.ts";
import type { XmppConnection } from "./connection.ts";

const NS_UPLOAD = "urn:xmpp:http:upload:0";
/** Only these headers may be copied from the slot into the PUT (XEP-0363 §5). */
const ALLOWED_HEADERS = new Set(["authorization", "cookie", "expires"]);

export async function uploadMedia(conn: XmppConnection, http: MediaHttpClient, from: string, service: string, media: Media, name: string): Promise<string> {
  const filename = name.replace(/[/\\\u0000-\u001f]/g, "_") || "file";
  const answer = await conn.request(xml("iq", { type: "get", from, to: service },
    xml("request", { xmlns: NS_UPLOAD, filename, size: media.data.byteLength, "content-type": media.mime })));
  // The PUT goes wherever the slot says, unchecked: so the slot must come from the service we asked.
  if ((answer.attrs.from ?? "").toLowerCase() !== service) throw new Error(`an upload slot answered by ${answer.attrs.from} instead of ${service}; ignored`);
  const slot = answer.getChild("slot", NS_UPLOAD);
  const put = slot?.getChild("put")?.attrs.url;
  const get = slot?.getChild("get")?.attrs.url;
  if (!put || !get) throw new Error(`the upload service ${service} answered without a put/get URL`);
  const headers: Record<string, string> = { "content-type": media.mime };
  for (const h of slot!.getChild("put")!.getChildren("header")) {
    const n = h.attrs.name?.toLowerCase();
    if (n && ALLOWED_HEADERS.has(n)) headers[n] = h.getText().replace(/[\r\n]/g, "");
  }
  // The slot is our server's answer to our request, so its host is allowed; timeouts still apply.
  await http.put(put, media.data, headers);
  return get;
}

/**
 * Attachment → a URL XMPP clients can open: http(s) links as they are, anything else (mxc:,
 * data:) uploaded through XEP-0363 when an upload service is configured. One that cannot be
 * moved for good (gone, too large, refused), or still not on the last try, gets a note in its
 * place; a passing failure throws, so the delivery is tried again. `skip` are attachment urls
 * whose parts were delivered already (never fetched again). Without an upload service,
 * attachments are shown by name (see outbound.ts).
 */
export async function attachmentUrls(
  attachments: readonly Attachment[], ctx: Pick<DeliveryContext, "fetchMedia" | "lastAttempt" | "attempt">,
  d: { conn: XmppConnection; http: MediaHttpClient; from: string; room: string; service?: string; log: Logger; skip?: ReadonlySet<string> },
): Promise<{ urls: Map<string, string>; notes: Map<string, string> }> {
  const urls = new Map<string, string>();
  const notes = new Map<string, string>();
  for (const a of attachments) {
    if (d.skip?.has(a.url)) { urls.set(a.url, a.url); continue; } // its part is dropped before sending
    if (/^https?:\/\//i.test(a.url)) {
      urls.set(a.url, a.url);
    } else if (d.service) {
      try {
        const media = await ctx.fetchMedia(a.url);
        urls.set(a.url, await uploadMedia(d.conn, d.http, d.from, d.service, media, a.name));
      } catch (err) {
        if (!degradesNow(err, ctx)) throw err;
        d.log.warn({ room: d.room, url: a.url.slice(0, 200), reason: (err as Error).message }, "an attachment cannot be moved to XMPP; a note goes in its place");
        notes.set(a.url, attachmentNote(a, publicReasonOf(err)));
      }
    }
  }
  return { urls, notes };
}
