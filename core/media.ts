import type { Adapter, Media } from "./adapter.ts";
import type { Network } from "./events.ts";

const MAX_MEDIA = 100 * 1024 * 1024;

/** Fetches media through the adapter that saw it; plain http(s) and data: URLs need no adapter. */
export function mediaFetcher(adapters: ReadonlyMap<Network, Adapter>) {
  return async (origin: Network, url: string): Promise<Media> => {
    const adapter = adapters.get(origin);
    if (adapter?.fetchMedia) return adapter.fetchMedia(url);
    return fetchUrl(url);
  };
}

export async function fetchUrl(url: string): Promise<Media> {
  if (url.startsWith("data:")) {
    const m = /^data:([^;,]*)(;base64)?,(.*)$/s.exec(url);
    if (!m) throw new Error(`malformed data URL`);
    const data = m[2] ? Buffer.from(m[3]!, "base64") : Buffer.from(decodeURIComponent(m[3]!));
    return { data, mime: m[1] || "application/octet-stream" };
  }
  if (!/^https?:\/\//i.test(url)) throw new Error(`cannot fetch ${url.slice(0, 80)}: not an http(s) or data URL`);
  const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
  if (!res.ok) throw new Error(`fetching ${url.slice(0, 120)} answered ${res.status}`);
  const length = Number(res.headers.get("content-length") ?? 0);
  if (length > MAX_MEDIA) throw new Error(`media at ${url.slice(0, 120)} is ${length} bytes, over the ${MAX_MEDIA} limit`);
  const data = new Uint8Array(await res.arrayBuffer());
  return { data, mime: res.headers.get("content-type") ?? "application/octet-stream" };
}
