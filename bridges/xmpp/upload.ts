/**
 * XEP-0363 HTTP File Upload: ask the upload service for a slot, PUT the bytes, and hand out the
 * GET URL, so files from other networks reach XMPP clients as ordinary OOB links.
 */
import type { Logger } from "pino";
import type { DeliveryContext, Media, MediaHttpClient } from "../../core/adapter.ts";
import type { Attachment } from "../../core/events.ts";
import { failureOf } from "../../core/errors.ts";
import { isMediaFailure } from "../../core/media/errors.ts";
import { attachmentNote, degradesNow, MEDIA_ATTEMPTS, publicReasonOf } from "../../core/fallbacks.ts";
import { IqError, type XmppConnection } from "./connection.ts";
import { requestSlot } from "./slot.ts";
import type { UploadService } from "./upload-service.ts";

export async function uploadMedia(conn: XmppConnection, http: MediaHttpClient, from: string, service: string, media: Media, name: string): Promise<string> {
  const slot = await requestSlot(conn, from, service, { name, size: media.data.byteLength, mime: media.mime });
  // The slot is our server's answer to our request, so its host is allowed; timeouts still apply.
  await http.put(slot.put, media.data, slot.headers);
  return slot.get;
}

/** What moving one file needs beyond the delivery: the connection, the service, the public links. */
export interface MoveDeps {
  readonly conn: XmppConnection;
  readonly http: MediaHttpClient;
  readonly from: string;
  readonly room: string;
  /** The upload service (upload-service.ts), when the server has one. */
  readonly service?: UploadService;
  /** A signed link through Junction's HTTP server for the file (core/public-media.ts), if it serves them. */
  readonly publicLink: (url: string, name: string) => string | undefined;
  readonly log: Logger;
  /** Attachment urls whose parts were delivered already: never fetched again. */
  readonly skip?: ReadonlySet<string>;
}

/**
 * Attachment → what XMPP people get for it: a URL sent as body and XEP-0066 OOB (clients show it
 * as the file or picture), or a note with a link in its place.
 * - With an upload service: the file is fetched through the media fetcher and uploaded to an
 *   XEP-0363 slot (so it stays when the origin's link expires, as Discord's do). One over the
 *   service's max-file-size, or refused by it, is a note with a signed link through Junction.
 * - Without one: the signed link through Junction's HTTP server, or the file's own public URL when
 *   Junction serves no links; a note naming the file when there is neither.
 * A file that cannot be fetched for good (gone, too large, refused), or still not on the last
 * try, is a note; a passing failure throws, so the delivery is tried again.
 */
export async function attachmentUrls(
  attachments: readonly Attachment[], ctx: Pick<DeliveryContext, "fetchMedia" | "lastAttempt" | "attempt">, d: MoveDeps,
): Promise<{ urls: Map<string, string>; notes: Map<string, string> }> {
  const urls = new Map<string, string>();
  const notes = new Map<string, string>();
  for (const a of attachments) {
    if (d.skip?.has(a.url)) { urls.set(a.url, a.url); continue; } // its part is dropped before sending
    const link = d.publicLink(a.url, a.name);
    const note = (reason: string, size = a.size, withLink = true) => notes.set(a.url, attachmentNote({ ...a, ...(size !== undefined ? { size } : {}) }, reason, withLink ? link : undefined));
    const max = d.service?.maxBytes;
    if (!d.service) {
      const url = link ?? (/^https?:\/\//i.test(a.url) ? a.url : undefined);
      if (url) urls.set(a.url, url);
      else note("this XMPP server has no upload service, and Junction serves no links (http.publicUrl)");
      continue;
    }
    if (max !== undefined && a.size !== undefined && a.size > max) {
      note(OVER_LIMIT);
      continue;
    }
    let media: Media;
    try {
      media = await ctx.fetchMedia(a.url);
    } catch (err) {
      if (!degradesNow(err, ctx)) throw err;
      d.log.warn({ room: d.room, url: a.url.slice(0, 200), reason: (err as Error).message }, "an attachment cannot be moved to XMPP; a note goes in its place");
      note(publicReasonOf(err), a.size, false);
      continue;
    }
    if (max !== undefined && media.data.byteLength > max) {
      d.log.info({ room: d.room, file: a.name, bytes: media.data.byteLength, max }, "a file over the XMPP upload service's limit; linked instead");
      note(OVER_LIMIT, media.data.byteLength);
      continue;
    }
    try {
      urls.set(a.url, await uploadMedia(d.conn, d.http, d.from, d.service.jid, media, a.name));
    } catch (err) {
      // A refusal (too large, quota, not allowed) stays one; a passing failure (a slot that does not
      // come, a PUT that fails) is retried MEDIA_ATTEMPTS times like a fetch, not for the delivery's
      // whole budget: the upload service is not the XMPP stream, and the room's queue waits meanwhile.
      if (!uploadDegradesNow(err, ctx)) throw err;
      d.log.warn({ room: d.room, service: d.service.jid, file: a.name, reason: (err as Error).message }, "the XMPP upload service did not take a file; linked instead");
      note(err instanceof IqError ? "the XMPP server's upload service refused it"
        : isMediaFailure(err) ? publicReasonOf(err) : "the XMPP server's upload service did not answer", media.data.byteLength);
    }
  }
  return { urls, notes };
}

const OVER_LIMIT = "over the XMPP server's upload limit";

function uploadDegradesNow(err: unknown, ctx: Pick<DeliveryContext, "lastAttempt" | "attempt">): boolean {
  const failure = failureOf(err);
  if (failure === "not-ready") return false; // the stream is gone: the delivery waits for it anyway
  return failure === "permanent" || degradesNow(err, ctx) || ctx.attempt + 1 >= MEDIA_ATTEMPTS;
}
