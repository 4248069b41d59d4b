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

  constructor(log: Logger) {
    this.#log = log;
  }

  /**
   * Resolves every configured room once. What fails is left out of the returned links and retried
   * in the background; `onResolved` is called for each room that resolves later.
   */
  async resolveAll(
    links: Readonly<Record<string, Readonly<Partial<Record<Network, readonly string[]>>>>>,
    adapters: ReadonlyMap<Network, Adapter>,
  ): Promise<Link[]> {
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
    const found = await inParallel(lookups, RESOLVE_AT_ONCE, async (r) => {
      try {
        return { network: r.network, room: await r.adapter.resolveRoom(r.configured) as RoomRef } satisfies LinkedRoom;
      } catch (err) {
        const p: Pending = { link: r.link, network: r.network, configured: r.configured, adapter: r.adapter, attempts: 1, lastError: message(err), timer: undefined, busy: false };
        this.#log.error({ err, link: r.link, network: r.network, room: r.configured, reason: p.lastError },
          `cannot resolve ${r.network} room ${r.configured} of link "${r.link}" yet: ${p.lastError}; retrying (at most every ${MAX_RETRY_MS / 1000} s), it joins the link once it resolves`);
        this.#pending.add(p);
        return undefined;
      }
    });
    const out: Link[] = [];
    let i = 0;
    for (const { name, rooms: configured } of wanted) {
      const rooms = found.slice(i, (i += configured.length)).filter((r): r is LinkedRoom => r !== undefined);
      if (configured.length < 2) this.#log.warn({ link: name }, `link "${name}" has fewer than two usable rooms; nothing will cross it`);
      else if (rooms.length < 2) this.#log.warn({ link: name }, `link "${name}" has fewer than two rooms resolved so far; nothing crosses it until more resolve`);
      out.push({ name, rooms });
    }
    return out;
  }

  /** Starts the background retries; `onResolved` adds a room to its link. */
  start(onResolved: (r: ResolvedLater) => void): void {
    this.#onResolved = onResolved;
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
      if (this.#stopped) return;
      this.#pending.delete(p);
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

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
