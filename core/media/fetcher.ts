/**
 * The media fetcher: the one way Junction fetches a URL that a person supplied. An adapter that
 * saw the URL resolves it (an mxc: URI through the homeserver, a vCard photo over XMPP), through
 * the same HTTP client where it needs HTTP; anything else is fetched here under the address policy.
 */
import type { Adapter, Media } from "../adapter.ts";
import type { Network } from "../events.ts";
import { DEFAULT_LIMITS, MediaHttp, type MediaLimits } from "./http.ts";
import { measured } from "./measure.ts";
import { AddressPolicy, inScope } from "./policy.ts";

export interface MediaConfig {
  /** Hosts fetched from even where their address is private (see policy.ts for the forms). */
  readonly allowHosts: readonly string[];
  readonly maxBytes: number;
  /** In seconds. */
  readonly timeouts: { readonly connect: number; readonly headers: number; readonly total: number };
}

export const DEFAULT_MEDIA: MediaConfig = {
  allowHosts: [], maxBytes: DEFAULT_LIMITS.maxBytes,
  timeouts: { connect: DEFAULT_LIMITS.connectMs / 1000, headers: DEFAULT_LIMITS.headersMs / 1000, total: DEFAULT_LIMITS.totalMs / 1000 },
};

/**
 * An HTTP client: config's allowances plus the servers the adapters name as their own. Each
 * network has its own (core/app.ts), so one network's servers are never another's allowance.
 */
export function mediaHttp(config: MediaConfig = DEFAULT_MEDIA, adapters: Iterable<Adapter> = []): MediaHttp {
  const list = [...adapters];
  // Read on each check: an adapter may learn its servers' hosts while running (XMPP's upload service).
  const own = () => list.flatMap((a) => a.mediaHosts ?? []);
  const scopes = () => list.flatMap((a) => a.mediaScopes ?? []);
  const limits: MediaLimits = {
    maxBytes: config.maxBytes,
    connectMs: config.timeouts.connect * 1000,
    headersMs: config.timeouts.headers * 1000,
    totalMs: config.timeouts.total * 1000,
  };
  // A URL under a file service's path is fetched under a policy that also allows that host; any
  // other URL, on that host too, under one that does not (and through connections of its own).
  return new MediaHttp(new AddressPolicy(config.allowHosts, own), limits, {
    covers: (url) => inScope(scopes(), url),
    policy: new AddressPolicy(config.allowHosts, () => [...own(), ...scopes().map((s) => s.host)]),
  });
}

/**
 * Fetches media through the adapter that saw it (plain http(s) and data: URLs need no adapter),
 * and measures what came: an image's width and height go with it to every destination.
 */
export function mediaFetcher(adapters: ReadonlyMap<Network, Adapter>, http: MediaHttp | ((origin: Network) => MediaHttp)) {
  return async (origin: Network, url: string): Promise<Media> => {
    const adapter = adapters.get(origin);
    return measured(adapter?.fetchMedia ? await adapter.fetchMedia(url) : await (typeof http === "function" ? http(origin) : http).get(url));
  };
}
