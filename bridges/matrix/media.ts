/** Media repository: uploads for outbound attachments and avatars, authenticated downloads of mxc URIs. */
import type { Media } from "../../core/adapter.ts";
import type { Homeserver, RawResponse } from "./client.ts";
import type { Uploaded } from "./outbound.ts";

export function parseMxc(url: string): { server: string; mediaId: string } | undefined {
  const m = /^mxc:\/\/([^/]+)\/([A-Za-z0-9_-]+)$/.exec(url);
  return m ? { server: m[1]!, mediaId: m[2]! } : undefined;
}

export async function upload(hs: Homeserver, media: Media, as?: string): Promise<Uploaded> {
  const qs: Record<string, string> = media.name ? { filename: media.name } : {};
  const res = await hs.request<{ content_uri?: string }>("POST", "/_matrix/media/v3/upload", {
    ...(as ? { as } : {}), qs, body: Buffer.from(media.data), contentType: media.mime || "application/octet-stream",
  });
  if (typeof res.content_uri !== "string") throw new Error("the media repository answered an upload without content_uri");
  return { mxc: res.content_uri, mime: media.mime || "application/octet-stream", size: media.data.byteLength };
}

/** `mxc://server/id` → bytes, through the authenticated media API (spec v1.11) as the bot. */
export async function download(hs: Homeserver, url: string): Promise<Media> {
  const mxc = parseMxc(url);
  if (!mxc) throw new Error(`not a Matrix content URI: ${url}`);
  const res = await hs.request<RawResponse>("GET",
    `/_matrix/client/v1/media/download/${encodeURIComponent(mxc.server)}/${encodeURIComponent(mxc.mediaId)}`,
    { raw: true, timeoutMs: 120_000 });
  const type = res.headers["content-type"];
  const mime = (Array.isArray(type) ? type[0] : type)?.split(";")[0]?.trim() || "application/octet-stream";
  const name = filenameOf(res.headers["content-disposition"]);
  return { data: new Uint8Array(res.body), mime, ...(name ? { name } : {}) };
}

function filenameOf(header: string | string[] | undefined): string | undefined {
  const h = Array.isArray(header) ? header[0] : header;
  if (!h) return undefined;
  const star = /filename\*=(?:UTF-8'')?([^;]+)/i.exec(h);
  if (star) {
    try {
      return decodeURIComponent(star[1]!.trim().replace(/^"|"$/g, ""));
    } catch {
      // fall through to the plain form
    }
  }
  return /filename="?([^";]+)"?/i.exec(h)?.[1];
}
