/**
 * HTTP for media: GETs of URLs that people supplied, and the PUT of an XEP-0363 upload slot.
 *
 * Built on undici (Node's own HTTP client, as a package so that its Agent and connector are ours
 * to configure): its connector gives one place that sees the socket actually connected, after DNS,
 * for every connection and every redirect hop, so a name that resolves to a public address for a
 * check and to 127.0.0.1 for the connection (DNS rebinding) is still refused. It also has separate
 * connect, headers and body timeouts, and does not follow redirects unless asked, so we follow them
 * here, each one checked again.
 */
import { Agent, request, type Dispatcher } from "undici";
import type { Media } from "../adapter.ts";
import { isMediaFailure, mediaFailure, statusFailure, type MediaFailure } from "./errors.ts";
import { checkedConnector, RefusedConnection } from "./connect.ts";
import type { AddressPolicy } from "./policy.ts";

export interface MediaLimits {
  /** The largest body read, in bytes; a longer one is cut off and the fetch fails. */
  readonly maxBytes: number;
  readonly connectMs: number;
  /** Until the response headers arrive, and the longest pause between two parts of the body. */
  readonly headersMs: number;
  /** The whole exchange, redirects and body included. */
  readonly totalMs: number;
}

export const DEFAULT_LIMITS: MediaLimits = { maxBytes: 100 * 1024 * 1024, connectMs: 10_000, headersMs: 30_000, totalMs: 120_000 };

const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Headers that belong to one origin and are not carried across a redirect to another. */
const ORIGIN_BOUND = ["authorization", "cookie", "proxy-authorization"];
const PUT_ANSWER_BYTES = 64 * 1024;

export interface GetOptions {
  readonly headers?: Readonly<Record<string, string>>;
  readonly maxBytes?: number;
}

/**
 * URLs under an adapter's file service (MediaScope), and the policy they are fetched under: one
 * that also allows those services' hosts.
 */
export interface ScopedPolicy {
  covers(url: URL): boolean;
  readonly policy: AddressPolicy;
}

export class MediaHttp {
  readonly #limits: MediaLimits;
  readonly #checked: Agent;
  readonly #trusted: Agent;
  readonly #scoped: { readonly covers: (url: URL) => boolean; readonly agent: Agent } | undefined;

  constructor(policy: AddressPolicy, limits: MediaLimits = DEFAULT_LIMITS, scoped?: ScopedPolicy) {
    this.#limits = limits;
    const common = { keepAliveTimeout: 4000, connections: 8, headersTimeout: limits.headersMs, bodyTimeout: limits.headersMs };
    this.#checked = new Agent({ ...common, connect: checkedConnector(policy, limits.connectMs) });
    this.#trusted = new Agent({ ...common, connect: { timeout: limits.connectMs } });
    // An agent of its own, so a connection made for a URL in scope is never reused for one outside it.
    this.#scoped = scoped && { covers: (url) => scoped.covers(url), agent: new Agent({ ...common, connect: checkedConnector(scoped.policy, limits.connectMs) }) };
  }

  /** GETs a user-supplied http(s) or data: URL under the address policy, redirects checked hop by hop. */
  async get(url: string, opts: GetOptions = {}): Promise<Media> {
    const max = opts.maxBytes ?? this.#limits.maxBytes;
    if (/^data:/i.test(url)) return dataUrl(url, max);
    return this.#timed((signal) => this.#get(httpUrl(url), { ...opts.headers }, max, signal));
  }

  async #get(first: URL, firstHeaders: Record<string, string>, max: number, signal: AbortSignal): Promise<Media> {
    let current = first;
    let headers = firstHeaders;
    for (let hop = 0; ; hop++) {
      const agent = this.#scoped?.covers(current) ? this.#scoped.agent : this.#checked; // each hop anew
      const res = await this.#request(agent, current, { method: "GET", headers, signal });
      if (REDIRECTS.has(res.statusCode)) {
        discard(res);
        if (hop >= MAX_REDIRECTS) throw mediaFailure("redirect", `${show(first.href)}: more than ${MAX_REDIRECTS} redirects`);
        const location = headerOf(res.headers, "location");
        if (!location) throw mediaFailure("redirect", `${show(current.href)} redirected without a Location`);
        let next: URL;
        try {
          next = httpUrl(new URL(location, current).href);
        } catch (err) {
          throw isMediaFailure(err) ? err : mediaFailure("redirect", `${show(current.href)} redirected to an unusable Location`);
        }
        if (next.origin !== current.origin) headers = withoutKeys(headers, ORIGIN_BOUND);
        current = next;
        continue;
      }
      if (res.statusCode < 200 || res.statusCode > 299) {
        discard(res);
        throw statusFailure(res.statusCode, `GET ${show(current.href)}`);
      }
      const data = await readCapped(res, max, current.href, signal);
      const mime = headerOf(res.headers, "content-type")?.split(";")[0]?.trim() || "application/octet-stream";
      const name = filenameOf(headerOf(res.headers, "content-disposition"));
      return { data, mime, ...(name ? { name } : {}) };
    }
  }

  /**
   * PUTs bytes to an upload slot. The slot comes from our own XMPP server, so its host is allowed
   * whatever its address; the timeouts and the cap on what is read back apply all the same.
   */
  async put(url: string, body: Uint8Array, headers: Readonly<Record<string, string>>): Promise<void> {
    const target = httpUrl(url);
    await this.#timed(async (signal) => {
      const res = await this.#request(this.#trusted, target, { method: "PUT", headers: { ...headers }, body, signal });
      if (res.statusCode < 200 || res.statusCode > 299) {
        discard(res);
        throw statusFailure(res.statusCode, `PUT ${show(target.href)}`);
      }
      await readCapped(res, PUT_ANSWER_BYTES, target.href, signal).catch(() => undefined);
    });
  }

  /** Runs one exchange under the whole-exchange timeout, and clears it when done. */
  async #timed<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error("the whole-exchange timeout passed")), this.#limits.totalMs);
    try {
      return await run(abort.signal);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends every connection, aborting fetches still in flight (shutdown: the outbox retries them). */
  async close(): Promise<void> {
    await Promise.allSettled([this.#checked.destroy(), this.#trusted.destroy(), ...(this.#scoped ? [this.#scoped.agent.destroy()] : [])]);
  }

  async #request(agent: Agent, url: URL, opts: { method: "GET" | "PUT"; headers: Record<string, string>; body?: Uint8Array; signal: AbortSignal }): Promise<Dispatcher.ResponseData> {
    try {
      return await request(url, { dispatcher: agent, ...opts, headersTimeout: this.#limits.headersMs, bodyTimeout: this.#limits.headersMs });
    } catch (err) {
      throw classify(err, `${opts.method} ${show(url.href)}`, opts.signal);
    }
  }
}

function httpUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw mediaFailure("scheme", `not a URL: ${show(raw)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw mediaFailure("scheme", `not an http(s) URL: ${show(raw)}`);
  return url;
}

/** Reads the body up to `max` bytes: the count of bytes read decides, not Content-Length alone. */
async function readCapped(res: Dispatcher.ResponseData, max: number, url: string, signal: AbortSignal): Promise<Uint8Array> {
  const declared = Number(headerOf(res.headers, "content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > max) {
    discard(res);
    throw mediaFailure("too-large", `${show(url)} is ${declared} bytes, over the limit of ${max} (media.maxBytes)`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      total += chunk.byteLength;
      if (total > max) {
        discard(res);
        throw mediaFailure("too-large", `${show(url)} sent more than ${max} bytes (media.maxBytes); cut off`);
      }
      chunks.push(chunk);
    }
  } catch (err) {
    throw classify(err, `reading ${show(url)}`, signal);
  }
  return new Uint8Array(Buffer.concat(chunks, total));
}

function dataUrl(url: string, max: number): Media {
  const m = /^data:([^;,]*)((?:;[^;,]*)*?)(;base64)?,(.*)$/is.exec(url);
  if (!m) throw mediaFailure("scheme", "malformed data URL");
  // Base64 is 4 characters per 3 bytes: a string this long cannot be under the cap.
  if (m[4]!.length * (m[3] ? 0.75 : 1 / 3) > max) throw mediaFailure("too-large", `a data URL over the limit of ${max} bytes (media.maxBytes)`);
  let data: Buffer;
  try {
    data = m[3] ? Buffer.from(m[4]!, "base64") : Buffer.from(decodeURIComponent(m[4]!));
  } catch {
    throw mediaFailure("scheme", "malformed data URL");
  }
  if (data.byteLength > max) throw mediaFailure("too-large", `a data URL of ${data.byteLength} bytes, over the limit of ${max} (media.maxBytes)`);
  return { data: new Uint8Array(data), mime: m[1] || "application/octet-stream" };
}

function classify(err: unknown, what: string, signal: AbortSignal): MediaFailure {
  if (isMediaFailure(err)) return err;
  const e = err as { code?: unknown; message?: unknown; name?: unknown; cause?: unknown };
  const code = typeof e.code === "string" ? e.code : undefined;
  const message = typeof e.message === "string" ? e.message : String(err);
  if (err instanceof RefusedConnection) return mediaFailure("refused", `${what}: ${message}`);
  if (signal.aborted) return mediaFailure("timeout", `${what}: took longer than the whole-exchange timeout`, { cause: err });
  switch (code) {
    case "UND_ERR_CONNECT_TIMEOUT": case "UND_ERR_HEADERS_TIMEOUT": case "UND_ERR_BODY_TIMEOUT": case "ETIMEDOUT":
      return mediaFailure("timeout", `${what}: ${message}`, { cause: err });
    case "ENOTFOUND":
      return mediaFailure("not-found", `${what}: no such host`, { cause: err });
    case "UND_ERR_RES_EXCEEDED_MAX_SIZE":
      return mediaFailure("too-large", `${what}: ${message}`, { cause: err });
    default:
      // Refused, reset, unreachable, DNS trouble, TLS trouble: the server may do better later.
      return mediaFailure("network", `${what}: ${code ? `${code} ` : ""}${message}`, { cause: err });
  }
}

/** Drops a response body we will not read; the connection goes with it. */
function discard(res: Dispatcher.ResponseData): void {
  res.body.on("error", () => undefined);
  res.body.destroy();
}

function headerOf(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The file name a Content-Disposition header gives, if any (RFC 6266, with the RFC 5987 form first). */
export function filenameOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const star = /filename\*=(?:UTF-8'')?([^;]+)/i.exec(header);
  if (star) {
    try {
      return decodeURIComponent(star[1]!.trim().replace(/^"|"$/g, ""));
    } catch {
      // fall through to the plain form
    }
  }
  return /filename="?([^";]+)"?/i.exec(header)?.[1];
}

function withoutKeys(h: Record<string, string>, keys: readonly string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(h).filter(([k]) => !keys.includes(k.toLowerCase())));
}

/** URLs in messages and logs, cut: a URL may be very long, or carry a token in its query. */
function show(url: string): string {
  const noQuery = url.replace(/[?#].*$/s, "?…");
  return noQuery.length > 120 ? `${noQuery.slice(0, 117)}…` : noQuery;
}
