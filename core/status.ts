/**
 * What the bridge knows about itself, gathered for /health and the status page: each network's
 * connection (and since when), each linked room (joined, queue, last delivery and failure), and
 * the recent permanent failures. "Since when" is kept here, by watching each state change, so
 * adapters only say what is true now.
 */
import type { Adapter } from "./adapter.ts";
import type { Network } from "./events.ts";
import type { LinkIndex } from "./links.ts";
import type { Queues, RoomQueueState } from "./queues.ts";
import type { FailedRow } from "./store/outbox-store.ts";

export interface NetworkState {
  readonly network: Network;
  readonly connected: boolean;
  /** When it last became (dis)connected, ms since the epoch. */
  readonly since: number;
  readonly lastError?: string;
}

export interface RoomState extends RoomQueueState {
  readonly link: string;
  readonly network: Network;
  readonly room: string;
  readonly joined: boolean;
  readonly since: number;
  readonly error?: string;
}

export interface Snapshot {
  readonly at: number;
  readonly networks: readonly NetworkState[];
  /** `paused`: an admin paused the link; its deliveries wait (core/steering.ts). */
  readonly links: readonly { readonly name: string; readonly paused: boolean; readonly rooms: readonly RoomState[] }[];
  readonly failures: readonly FailedRow[];
}

/** One thing /health names as not right. */
export interface Problem {
  readonly network: Network;
  readonly room?: string;
  readonly link?: string;
  readonly state: "disconnected" | "not joined";
  readonly since: string;
  readonly lastError?: string;
}

export interface StatusSources {
  readonly adapters: ReadonlyMap<Network, Adapter>;
  readonly links: LinkIndex;
  readonly queues: Queues;
  failed(limit: number): FailedRow[];
  now?(): number;
}

const RECENT_FAILURES = 20;

export class Status {
  readonly #s: StatusSources;
  readonly #connected = new Map<Network, boolean>();
  /** Since when each network / room has been in its present state. */
  readonly #since = new Map<string, { state: boolean; at: number }>();

  constructor(sources: StatusSources) {
    this.#s = sources;
  }

  #now(): number { return this.#s.now?.() ?? Date.now(); }

  /** Called by the core on every setReady. */
  setConnected(network: Network, connected: boolean): void {
    this.#connected.set(network, connected);
    this.#mark(`n:${network}`, connected);
  }

  isConnected(network: Network): boolean { return this.#connected.get(network) ?? false; }

  snapshot(): Snapshot {
    const networks: NetworkState[] = [];
    const roomsSeen = new Map<string, { joined: boolean; error?: string }>();
    for (const [network, adapter] of this.#s.adapters) {
      const connected = this.isConnected(network);
      const status = adapter.status?.();
      for (const r of status?.rooms ?? []) roomsSeen.set(`${network}:${r.room}`, r);
      const lastError = connected ? undefined : status?.lastError;
      networks.push({ network, connected, since: this.#mark(`n:${network}`, connected), ...(lastError ? { lastError } : {}) });
    }
    const links = this.#s.links.all().map((link) => ({
      name: link.name,
      paused: this.#s.queues.isPaused(link.name),
      rooms: link.rooms.map((r): RoomState => {
        const seen = roomsSeen.get(`${r.network}:${r.room}`);
        const joined = this.isConnected(r.network) && (seen?.joined ?? true);
        const error = joined ? undefined : (seen?.error ?? (this.isConnected(r.network) ? undefined : `${r.network} is not connected`));
        return {
          link: link.name, network: r.network, room: r.room, joined,
          since: this.#mark(`r:${r.network}:${r.room}`, joined),
          ...(error ? { error } : {}),
          ...this.#s.queues.roomState(r.network, r.room),
        };
      }),
    }));
    return { at: this.#now(), networks, links, failures: this.#s.failed(RECENT_FAILURES) };
  }

  /** What is not right now; empty when all is well. */
  problems(snap: Snapshot = this.snapshot()): Problem[] {
    const out: Problem[] = [];
    for (const n of snap.networks) {
      if (n.connected) continue;
      out.push({ network: n.network, state: "disconnected", since: iso(n.since), ...(n.lastError ? { lastError: n.lastError } : {}) });
    }
    for (const link of snap.links) {
      for (const r of link.rooms) {
        // A disconnected network is named once, above, not again for each of its rooms.
        if (r.joined || !this.isConnected(r.network)) continue;
        out.push({ network: r.network, link: r.link, room: r.room, state: "not joined", since: iso(r.since), ...(r.error ? { lastError: r.error } : {}) });
      }
    }
    return out;
  }

  #mark(key: string, state: boolean): number {
    const was = this.#since.get(key);
    if (was && was.state === state) return was.at;
    const at = this.#now();
    this.#since.set(key, { state, at });
    return at;
  }
}

function iso(ms: number): string { return new Date(ms).toISOString(); }
