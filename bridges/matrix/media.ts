/** Media repository: uploads for outbound attachments and avatars, authenticated downloads of mxc URIs. */
import { PermanentDeliveryError, type Media, type MediaHttpClient } from "../../core/adapter.ts";
import type { Homeserver } from "./client.ts";
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
  return {
    mxc: res.content_uri, mime: media.mime || "application/octet-stream", size: media.data.byteLength,
    ...(media.width !== undefined && media.height !== undefined ? { width: media.width, height: media.height } : {}),
  };
}

/**
 * `mxc://server/id` → bytes, through the authenticated media API (spec v1.11) as the bot, over the
 * core's media client: the byte cap and timeouts apply, and a redirect (to a media store) is checked
 * like any other and does not carry our token to another origin.
 */
export async function download(hs: Homeserver, http: MediaHttpClient, url: string): Promise<Media> {
  const mxc = parseMxc(url);
  if (!mxc) throw new PermanentDeliveryError(`not a Matrix content URI: ${url.slice(0, 120)}`);
  return http.get(`${hs.url}/_matrix/client/v1/media/download/${encodeURIComponent(mxc.server)}/${encodeURIComponent(mxc.mediaId)}`,
    { headers: hs.authorization() });
}
