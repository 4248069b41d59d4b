/** One destination room's queue, what the status page reads of it, and how log lines name its rows. */
import type { Network } from "./events.ts";
import type { EphemeralDelivery } from "./router.ts";
import type { OutboxRow } from "./store/outbox-store.ts";

export type Item = { readonly row: OutboxRow } | { readonly ephemeral: EphemeralDelivery };

export class RoomQueue {
  readonly items: Item[] = [];
  /** Set while a drain runs; cleared synchronously when it ends, so an enqueue never finds it stale. */
  active = false;
  running: Promise<void> | undefined;
  timer: NodeJS.Timeout | undefined;
  readonly network: Network;
  readonly room: string;
  /** When a delivery to this room last succeeded, and the last failure (either kind). */
  lastDelivery: number | undefined;
  lastFailure: RoomFailure | undefined;
  /** The link of the rows queued here (a room is in one link). */
  link: string | undefined;
  constructor(network: Network, room: string) {
    this.network = network;
    this.room = room;
  }

  state(): RoomQueueState {
    return {
      depth: this.items.length,
      ...(this.lastDelivery !== undefined ? { lastDelivery: this.lastDelivery } : {}),
      ...(this.lastFailure !== undefined ? { lastFailure: this.lastFailure } : {}),
    };
  }
}

export interface QueueStats { delivered: number; retried: number; failed: number }

/** One destination room's queue, for the status page. */
export interface RoomQueueState {
  readonly depth: number;
  readonly lastDelivery?: number;
  readonly lastFailure?: RoomFailure;
}

/** A room's last failed delivery: retried (`retrying`), or given up and why (the metric's cause). */
export interface RoomFailure {
  readonly at: number;
  readonly reason: string;
  readonly cause: "retrying" | "permanent" | "gave-up" | "bounced";
}

/** The fields every log line about one outbox row carries. */
export const whereOf = (row: OutboxRow) => ({ network: row.network, room: row.room, link: row.link, outbox: row.id });

/** The event kind of a row, read without parsing its JSON (for metrics and logs). */
export function kindOf(row: OutboxRow): string {
  return /"kind":"(\w+)"/.exec(row.event)?.[1] ?? "unknown";
}
