/**
 * Public, signed URLs for media that another network must fetch by itself: Discord takes a
 * webhook's avatar only as a URL, and a file over its upload limit is linked instead. The URL
 * names the origin network and the origin's own reference (an mxc URI, a Discord CDN link...),
 * signed with a key kept in the store, so it stays valid across restarts and nobody can make
 * Junction fetch anything it did not hand out. A request fetches through the origin adapter
 * (the same media fetcher deliveries use) and is cached in memory for a while.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Media } from "./adapter.ts";
import { NETWORKS, type Network } from "./events.ts";

export type OriginFetcher = (origin: Network, url: string) => Promise<Media>;

const PREFIX = "/media/";
/** A reference longer than this (an inline data: URL) is not worth a URL: no link is made. */
const MAX_REF = 2048;
const CACHE_BYTES = 32 * 1024 * 1024;
const CACHE_MS = 3600_000;

interface Cached { media: Media; until: number }

export class PublicMedia {
  readonly #base: string;
  readonly #key: Buffer;
  readonly #fetch: OriginFetcher;
  readonly #cache = new Map<string, Cached>();
  #cachedBytes = 0;

  constructor(publicUrl: string, key: string, fetch: OriginFetcher) {
    this.#base = `${publicUrl.replace(/\/+$/, "")}${PREFIX}`;
    this.#key = Buffer.from(key, "hex");
    this.#fetch = fetch;
  }

  readonly prefix = PREFIX;

  /** The public URL of `url` as `origin` knows it; undefined when it is too long to be one. */
  urlFor(origin: Network, url: string, name = "file"): string | undefined {
    if (url.length > MAX_REF) return undefined;
    const payload = Buffer.from(JSON.stringify([origin, url])).toString("base64url");
    return `${this.#base}${payload}/${this.#sign(payload)}/${encodeURIComponent(safeName(name))}`;
  }

  /** Serves `rest` = `<payload>/<signature>/<name>`. */
  async serve(req: IncomingMessage, res: ServerResponse, rest: string): Promise<void> {
    const [payload = "", sig = ""] = rest.split("/");
    const ref = this.#verify(payload, sig);
    if (!ref) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    const media = await this.#get(payload, ref.origin, ref.url);
    const image = /^image\/(png|jpeg|gif|webp)$/.test(media.mime);
    res.writeHead(200, {
      "content-type": image ? media.mime : "application/octet-stream",
      "content-length": String(media.data.byteLength),
      // Whatever the file is, it never runs as a page of ours.
      "x-content-type-options": "nosniff",
      "content-security-policy": "sandbox; default-src 'none'",
      "cache-control": "public, max-age=86400",
      ...(image ? {} : { "content-disposition": "attachment" }),
    });
    res.end(req.method === "HEAD" ? undefined : media.data);
  }

  #sign(payload: string): string {
    return createHmac("sha256", this.#key).update(payload).digest("base64url").slice(0, 32);
  }

  #verify(payload: string, sig: string): { origin: Network; url: string } | undefined {
    const want = Buffer.from(this.#sign(payload));
    const got = Buffer.from(sig);
    if (got.length !== want.length || !timingSafeEqual(got, want)) return undefined;
    try {
      const [origin, url] = JSON.parse(Buffer.from(payload, "base64url").toString()) as unknown[];
      if (typeof url !== "string" || !NETWORKS.includes(origin as Network)) return undefined;
      return { origin: origin as Network, url };
    } catch {
      return undefined;
    }
  }

  async #get(key: string, origin: Network, url: string): Promise<Media> {
    const now = Date.now();
    const hit = this.#cache.get(key);
    if (hit && hit.until > now) return hit.media;
    const media = await this.#fetch(origin, url);
    if (hit) this.#drop(key, hit);
    if (media.data.byteLength <= CACHE_BYTES / 4) {
      for (const [k, v] of this.#cache) {
        if (this.#cachedBytes + media.data.byteLength <= CACHE_BYTES && v.until > now) break;
        this.#drop(k, v);
      }
      this.#cache.set(key, { media, until: now + CACHE_MS });
      this.#cachedBytes += media.data.byteLength;
    }
    return media;
  }

  #drop(key: string, v: Cached): void {
    this.#cache.delete(key);
    this.#cachedBytes -= v.media.data.byteLength;
  }
}

function safeName(name: string): string {
  const flat = name.replace(/[\u0000-\u001f\u007f/\\]/g, "_").trim().slice(0, 120);
  return flat || "file";
}
