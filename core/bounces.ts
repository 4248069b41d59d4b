import type { Network } from "./events.ts";
import type { OutboxRow } from "./store/outbox-store.ts";

/**
 * Deliveries done lately, by the ids they produced: what a late failure (an XMPP room bouncing
 * our message after `send` returned) is tied back to. In memory and bounded: a bounce comes
 * within seconds; one that comes after a restart or this long finds no row and is recorded as
 * a failure without a retry.
 */
const MAX = 5000;
const MAX_AGE_MS = 10 * 60_000;
/**
 * Each entry holds its row, whose event text may be large (a 64 KiB Matrix body, more with its
 * HTML): what all of them hold together is bounded too (characters of event JSON, counted once
 * per id), so a burst of big messages cannot keep hundreds of MiB for ten minutes.
 */
const MAX_CHARS = 8 * 1024 * 1024;

export interface Recent {
  readonly row: OutboxRow;
  readonly at: number;
  /** Set once a bounce re-opened the row, so a second bounced part does not re-open it again. */
  reopened: boolean;
}

export class RecentDeliveries {
  readonly #byId = new Map<string, Recent>();
  #chars = 0;

  remember(row: OutboxRow, ids: readonly string[], now = Date.now()): void {
    const entry: Recent = { row, at: now, reopened: false };
    for (const id of ids) {
      const key = keyOf(row.network, row.room, id);
      this.#drop(key); // re-inserted at the end: the map's order is age order
      this.#byId.set(key, entry);
      this.#chars += row.event.length;
    }
    for (const [k, e] of this.#byId) {
      if (this.#byId.size <= MAX && this.#chars <= MAX_CHARS && now - e.at <= MAX_AGE_MS) break;
      this.#drop(k);
    }
  }

  /** Characters of event text held (for tests and the bound above). */
  get chars(): number { return this.#chars; }

  #drop(key: string): void {
    const e = this.#byId.get(key);
    if (!e) return;
    this.#byId.delete(key);
    this.#chars -= e.row.event.length;
  }

  find(network: Network, room: string, id: string, now = Date.now()): Recent | undefined {
    const e = this.#byId.get(keyOf(network, room, id));
    return e && now - e.at <= MAX_AGE_MS ? e : undefined;
  }
}

const keyOf = (network: Network, room: string, id: string) => `${network}\u0000${room}\u0000${id}`;
