/**
 * Custom emoji on Matrix: a Discord emoji's picture, fetched from the Discord CDN through the
 * origin adapter (so the media policy and Discord's own host check apply), uploaded to the
 * homeserver once and remembered by its CDN URL (one per emoji id) in the store. The tree's emoji
 * then carries the mxc, which html-out.ts writes as an inline `<img data-mx-emoticon>`. An emoji
 * whose picture cannot be had stays its `:name:` text; the next message tries again.
 *
 * Any emoji id that exists on Discord's CDN can be written into a message (a webhook's content,
 * a Nitro person's emoji from any server), and each new one is an upload to the homeserver and a
 * row in the store for good: at most MAX_NEW_EMOJI_PER_HOUR new pictures are copied an hour
 * (EmojiBudget), the rest stay names until the budget allows them.
 */
import type { Logger } from "pino";
import type { Media, UploadDirectory } from "../../core/adapter.ts";
import type { Body, Network } from "../../core/events.ts";
import { inlinesOf, mapRuns, type Doc, type Inline } from "../../core/richtext/tree.ts";

/** Distinct pictures looked up per message; further emoji stay text. */
export const MAX_EMOJI_PER_MESSAGE = 20;
/** Discord's own cap for an emoji's picture is 256 KiB. */
export const MAX_EMOJI_BYTES = 256 * 1024;

/** New pictures copied to the homeserver per hour, for the whole process (at most ~15 MiB an hour). */
export const MAX_NEW_EMOJI_PER_HOUR = 60;
const HOUR_MS = 3_600_000;

/** How many new emoji pictures may still be copied in this hour; one warning when it runs out. */
export class EmojiBudget {
  readonly #now: () => number;
  #hour = -1;
  #used = 0;
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }
  /** Takes one copy from this hour's budget: false when it is spent (and the first time, warns). */
  take(log: Logger): boolean {
    const hour = Math.floor(this.#now() / HOUR_MS);
    if (hour !== this.#hour) {
      this.#hour = hour;
      this.#used = 0;
    }
    if (this.#used === MAX_NEW_EMOJI_PER_HOUR) log.warn({ limit: MAX_NEW_EMOJI_PER_HOUR }, "copied as many new custom emoji pictures as an hour allows; further new ones are shown as their names until the next hour");
    return ++this.#used <= MAX_NEW_EMOJI_PER_HOUR;
  }
}

export interface EmojiDeps {
  readonly uploads: UploadDirectory;
  readonly budget: EmojiBudget;
  fetch(url: string): Promise<Media>;
  upload(media: Media): Promise<string>;
  readonly log: Logger;
}

/** The document with each emoji's url replaced by `map` (undefined: no picture, its :name: then). */
function mapEmoji(doc: Doc, map: (url: string | undefined) => string | undefined): Doc {
  const inl = (xs: readonly Inline[]): Inline[] => xs.map((x): Inline => {
    if (x.t === "emoji") {
      const url = map(x.url);
      return url ? { t: "emoji", name: x.name, url } : { t: "emoji", name: x.name };
    }
    return "children" in x ? ({ ...x, children: inl(x.children) } as Inline) : x;
  });
  return mapRuns(doc, inl);
}

/** The mxc of one picture: from the store, else fetched and uploaded (and then stored). */
async function mxcOf(url: string, d: EmojiDeps): Promise<string | undefined> {
  const known = d.uploads.get("matrix", url);
  if (known) return known;
  if (!d.budget.take(d.log)) return undefined;
  try {
    const media = await d.fetch(url);
    if (!media.mime.startsWith("image/") || media.data.byteLength > MAX_EMOJI_BYTES) {
      d.log.warn({ url: url.slice(0, 200), mime: media.mime, bytes: media.data.byteLength }, "a custom emoji's picture is no small image; shown as its name");
      return undefined;
    }
    const mxc = await d.upload(media);
    d.uploads.put("matrix", url, mxc);
    return mxc;
  } catch (err) {
    d.log.warn({ url: url.slice(0, 200), err: (err as Error).message }, "could not copy a custom emoji's picture; shown as its name this time");
    return undefined;
  }
}

/**
 * The body with its custom emoji as homeserver pictures. Only Discord's emoji are copied: their
 * URLs are ones our own converter made from the configured CDN and an emoji id; an emoji from
 * anywhere else (an XHTML-IM image's address is the sender's choice) is its name.
 */
export async function withEmojiPictures(body: Body, origin: Network, d: EmojiDeps): Promise<Body> {
  if (!body.rich) return body;
  const nodes = inlinesOf(body.rich).filter((x) => x.t === "emoji");
  if (nodes.length === 0) return body;
  const wanted = [...new Set(nodes.map((n) => (n.t === "emoji" ? n.url : undefined)).filter((u): u is string => !!u && origin === "discord"))]
    .slice(0, MAX_EMOJI_PER_MESSAGE);
  const found = new Map<string, string>();
  let failing = false;
  for (const url of wanted) {
    // Once a picture could not be had, the rest are only looked up (a slow CDN holds a message once, not 20 times).
    const mxc = failing ? d.uploads.get("matrix", url) : await mxcOf(url, d);
    if (mxc) found.set(url, mxc);
    else failing = true;
  }
  return { ...body, rich: mapEmoji(body.rich, (url) => (url ? found.get(url) : undefined)) };
}
