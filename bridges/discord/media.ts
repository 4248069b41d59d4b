/**
 * Discord media: attachments, stickers, custom emoji and avatars live on Discord's CDN, under
 * signed URLs that expire (so other networks get the file, re-hosted, never the link). Fetched
 * through the core's media client (address policy, byte cap, timeouts), and only from the CDN
 * this bridge was configured with (or Discord's own media hosts): an attachment URL is one
 * Discord's server gave us.
 */
import { PermanentDeliveryError, type Media, type MediaHttpClient } from "../../core/adapter.ts";

const DISCORD_MEDIA_HOSTS = new Set(["cdn.discordapp.com", "media.discordapp.net"]);

export function isDiscordMedia(url: string, cdn: string): boolean {
  if (url.startsWith(`${cdn}/`)) return true;
  try {
    const u = new URL(url);
    return u.protocol === "https:" && DISCORD_MEDIA_HOSTS.has(u.hostname);
  } catch {
    return false;
  }
}

export async function download(http: MediaHttpClient, url: string, cdn: string): Promise<Media> {
  if (!isDiscordMedia(url, cdn)) throw new PermanentDeliveryError(`not a Discord media URL: ${url.slice(0, 120)}`);
  const media = await http.get(url);
  let name = media.name;
  try {
    name ??= decodeURIComponent(new URL(url).pathname.split("/").pop() ?? "") || undefined;
  } catch {
    // a malformed escape: no name from the URL
  }
  return { ...media, mime: media.mime.split(";")[0]!.trim() || "application/octet-stream", ...(name ? { name } : {}) };
}
