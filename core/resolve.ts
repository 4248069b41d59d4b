/**
 * Turning configured rooms into native room ids, also when a network is down at start. A room
 * that cannot be resolved yet (a Matrix alias while the homeserver is unreachable, an alias not
 * created yet) is retried with a bounded backoff and joins its link once it resolves, without a
 * restart; a network that becomes ready is retried at once. Each room logs once per change of
 * its state (failing with this reason, resolved), never once per attempt.
 */
import type { Logger } from "pino";
import type { Adapter } from "./adapter.ts";
import { NETWORKS, type Network, type RoomRef } from "./events.ts";
import type { Link, LinkedRoom } from "./links.ts";
import type { ConfiguredLinks } from "./reload.ts";
import { inParallel } from "./parallel.ts";

const FIRST_RETRY_MS = 1_000;
/** Room lookups in flight at once at start (a homeserver answers a few dozen at once easily). */
const RESOLVE_AT_ONCE = 16;
/** The longest wait between two tries of one room: a room fixed by its operator joins within this. */
export const MAX_RETRY_MS = 30_000;

export interface ResolvedLater {
  readonly link: string;
  readonly room: LinkedRoom;
}

interface Pending {
  readonly link: string;
  readonly network: Network;
  readonly configured: string;
  readonly adapter: Adapter;
  attempts: number;
  lastError: string;
  timer: NodeJS.Timeout | undefined;
  busy: boolean;
}

export class RoomResolver {
  readonly #log: Logger;
  readonly #pending = new Set<Pending>();
  #onResolved: (r: ResolvedLater) => void = () => undefined;
  #stopped = false;
  #started = false;
  /** Configured rooms resolved so far (network, room as written → native id): a reload resolves only what is new. */
  readonly #known = new Map<string, RoomRef>();

  constructor(log: Logger) {
    this.#log = log;
  }

  /**
   * Resolves every configured room once. What fails is left out of the returned links and retried
   * in the background; `onResolved` is called for each room that resolves later. `refresh` (a
   * reload) resolves rooms resolved before again (an alias may point elsewhere now), keeping the
   * earlier answer where the network cannot answer now.
   */
  async resolveAll(links: ConfiguredLinks, adapters: ReadonlyMap<Network, Adapter>, opts: { readonly refresh?: boolean } = {}): Promise<Link[]> {
    // Every room is looked up at once (at most RESOLVE_AT_ONCE in flight): with 100 links, one
    // after another would be 100 homeserver round trips before anything joins.
    const wanted = Object.entries(links).map(([name, link]) => ({
      name,
      rooms: NETWORKS.flatMap((network) => {
        const adapter = adapters.get(network);
        return adapter ? (link[network] ?? []).map((configured) => ({ network, configured, adapter })) : [];
      }),
    }));
    const lookups = wanted.flatMap((l) => l.rooms.map((r) => ({ link: l.name, ...r })));
    const resolvedNow = await inParallel(lookups, RESOLVE_AT_ONCE, async (r): Promise<boolean> => {
      const key = knownKey(r.network, r.configured);
      const known = this.#known.get(key);
      if (known !== undefined && !opts.refresh) return true;
      if (this.#isPending(r.link, r.network, r.configured)) return false;
      try {
        this.#known.set(key, await r.adapter.resolveRoom(r.configured) as RoomRef);
        return true;
      } catch (err) {
        if (known !== undefined) {
          // Resolved before (a reload): the room it was stays linked rather than leaving for an outage.
          this.#log.debug({ err, link: r.link, network: r.network, room: r.configured }, "could not resolve a room again; keeping the room it resolved to");
          return true;
        }
        const p: Pending = { link: r.link, network: r.network, configured: r.configured, adapter: r.adapter, attempts: 1, lastError: message(err), timer: undefined, busy: false };
        this.#log.error({ err, link: r.link, network: r.network, room: r.configured, reason: p.lastError },
          `cannot resolve ${r.network} room ${r.configured} of link "${r.link}" yet: ${p.lastError}; retrying (at most every ${MAX_RETRY_MS / 1000} s), it joins the link once it resolves`);
        this.#pending.add(p);
        if (this.#started) this.#schedule(p);
        return false;
      }
    });
    let i = 0;
    for (const { name, rooms } of wanted) {
      const resolved = resolvedNow.slice(i, (i += rooms.length)).filter(Boolean).length;
      if (rooms.length < 2) this.#log.warn({ link: name }, `link "${name}" has fewer than two usable rooms; nothing will cross it`);
      else if (resolved < 2) this.#log.warn({ link: name }, `link "${name}" has fewer than two rooms resolved so far; nothing crosses it until more resolve`);
    }
    return this.linksFrom(links);
  }

  /**
   * The links with every room resolved so far (the rest joins later through `onResolved`), in
   * config order. Synchronous: a reload builds its new set and swaps it in the same turn.
   */
  linksFrom(links: ConfiguredLinks): Link[] {
    return Object.entries(links).map(([name, link]) => {
      const rooms: LinkedRoom[] = [];
      for (const network of NETWORKS) {
        for (const configured of link[network] ?? []) {
          const room = this.#known.get(knownKey(network, configured));
          if (room !== undefined && !rooms.some((r) => r.network === network && r.room === room)) rooms.push({ network, room });
        }
      }
      return { name, rooms };
    });
  }

  /** A reload: rooms still waiting to resolve that the new config no longer has under that link stop being tried. */
  retain(links: ConfiguredLinks): void {
    for (const p of this.#pending) {
      if ((links[p.link]?.[p.network] ?? []).includes(p.configured)) continue;
      clearTimeout(p.timer);
      this.#pending.delete(p);
      this.#log.info({ link: p.link, network: p.network, room: p.configured }, "no longer configured; not trying to resolve it any more");
    }
  }

  #isPending(link: string, network: Network, configured: string): boolean {
    for (const p of this.#pending) if (p.link === link && p.network === network && p.configured === configured) return true;
    return false;
  }

  /** Starts the background retries; `onResolved` adds a room to its link. */
  start(onResolved: (r: ResolvedLater) => void): void {
    this.#onResolved = onResolved;
    this.#started = true;
    for (const p of this.#pending) this.#schedule(p);
  }

  /** A network became ready: its rooms that are still unresolved are tried now. */
  retryNow(network: Network): void {
    for (const p of this.#pending) {
      if (p.network !== network || p.busy) continue;
      clearTimeout(p.timer);
      p.timer = setTimeout(() => void this.#try(p), 0);
    }
  }

  get pending(): number {
    return this.#pending.size;
  }

  stop(): void {
    this.#stopped = true;
    for (const p of this.#pending) clearTimeout(p.timer);
    this.#pending.clear();
  }

  #schedule(p: Pending): void {
    if (this.#stopped) return;
    const wait = Math.min(FIRST_RETRY_MS * 2 ** Math.min(p.attempts - 1, 16), MAX_RETRY_MS);
    clearTimeout(p.timer);
    p.timer = setTimeout(() => void this.#try(p), wait * (0.8 + Math.random() * 0.4));
    p.timer.unref();
  }

  async #try(p: Pending): Promise<void> {
    if (this.#stopped || p.busy || !this.#pending.has(p)) return;
    p.busy = true;
    try {
      const room = await p.adapter.resolveRoom(p.configured) as RoomRef;
      if (this.#stopped || !this.#pending.has(p)) return; // a reload dropped it meanwhile
      this.#pending.delete(p);
      this.#known.set(knownKey(p.network, p.configured), room);
      this.#log.info({ link: p.link, network: p.network, room: p.configured, resolved: room, attempts: p.attempts + 1 },
        `${p.network} room ${p.configured} resolved; it joins link "${p.link}" now`);
      try {
        this.#onResolved({ link: p.link, room: { network: p.network, room } });
      } catch (err) {
        this.#log.error({ link: p.link, network: p.network, room: p.configured, err }, "a resolved room could not join its link");
      }
    } catch (err) {
      p.attempts++;
      const why = message(err);
      if (why !== p.lastError) {
        this.#log.error({ err, link: p.link, network: p.network, room: p.configured, reason: why },
          `still cannot resolve ${p.network} room ${p.configured} of link "${p.link}": ${why}; retrying`);
        p.lastError = why;
      } else {
        this.#log.debug({ link: p.link, network: p.network, room: p.configured, attempts: p.attempts }, "room still unresolved");
      }
      this.#schedule(p);
    } finally {
      p.busy = false;
    }
  }
}

const knownKey = (network: Network, configured: string) => `${network}\u0000${configured.trim()}`;

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
