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

export interface Recent {
  readonly row: OutboxRow;
  readonly at: number;
  /** Set once a bounce re-opened the row, so a second bounced part does not re-open it again. */
  reopened: boolean;
}

export class RecentDeliveries {
  readonly #byId = new Map<string, Recent>();

  remember(row: OutboxRow, ids: readonly string[], now = Date.now()): void {
    const entry: Recent = { row, at: now, reopened: false };
    for (const id of ids) {
      const key = keyOf(row.network, row.room, id);
      this.#byId.delete(key); // re-inserted at the end: the map's order is age order
      this.#byId.set(key, entry);
    }
    for (const [k, e] of this.#byId) {
      if (this.#byId.size <= MAX && now - e.at <= MAX_AGE_MS) break;
      this.#byId.delete(k);
    }
  }

  find(network: Network, room: string, id: string, now = Date.now()): Recent | undefined {
    const e = this.#byId.get(keyOf(network, room, id));
    return e && now - e.at <= MAX_AGE_MS ? e : undefined;
  }
}

const keyOf = (network: Network, room: string, id: string) => `${network}\u0000${room}\u0000${id}`;
