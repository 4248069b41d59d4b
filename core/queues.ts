import type { Logger } from "pino";
import { NotReadyError, PermanentDeliveryError } from "./adapter.ts";
import type { Network } from "./events.ts";
import type { Deliverer } from "./delivery.ts";
import { roomKey } from "./links.ts";
import type { Metrics } from "./metrics.ts";
import type { EphemeralDelivery } from "./router.ts";
import type { OutboxRow } from "./store/outbox-store.ts";
import type { Store } from "./store/store.ts";

type Item = { readonly row: OutboxRow } | { readonly ephemeral: EphemeralDelivery };

/** Waits grow 1 s, 2 s, 4 s … up to 5 min, with jitter so that many rooms do not retry in step. */
export function backoff(attempt: number): number {
  const base = Math.min(1000 * 2 ** Math.max(0, attempt - 1), 300_000);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

const EPHEMERAL_BACKLOG = 50; // beyond this a room is behind; typing and presence would be stale
const NOT_READY_RETRY = 1000;

class RoomQueue {
  readonly items: Item[] = [];
  /** Set while a drain runs; cleared synchronously when it ends, so an enqueue never finds it stale. */
  active = false;
  running: Promise<void> | undefined;
  timer: NodeJS.Timeout | undefined;
  readonly network: Network;
  readonly room: string;
  constructor(network: Network, room: string) {
    this.network = network;
    this.room = room;
  }
}

export interface QueueStats { delivered: number; retried: number; failed: number }

/**
 * One ordered queue per destination room drains the outbox. A room waits on its head row, so an
 * edit, reaction or retraction never overtakes the message it points at; rooms run independently.
 */
export class Queues {
  readonly #rooms = new Map<string, RoomQueue>();
  readonly #ready = new Map<Network, boolean>();
  readonly #deliverer: Deliverer;
  readonly #store: Store;
  readonly #log: Logger;
  readonly #metrics: Metrics | undefined;
  #stopped = false;
  readonly stats: QueueStats = { delivered: 0, retried: 0, failed: 0 };

  constructor(deliverer: Deliverer, store: Store, log: Logger, metrics?: Metrics) {
    this.#deliverer = deliverer;
    this.#store = store;
    this.#log = log;
    this.#metrics = metrics;
  }

  enqueue(rows: readonly OutboxRow[], ephemeral: readonly EphemeralDelivery[] = []): void {
    const touched = new Set<RoomQueue>();
    for (const row of rows) {
      const q = this.#queue(row.network, row.room);
      q.items.push({ row });
      touched.add(q);
    }
    for (const e of ephemeral) {
      const q = this.#queue(e.network, e.room);
      if (!this.#isReady(e.network) || q.items.length > EPHEMERAL_BACKLOG) continue;
      q.items.push({ ephemeral: e });
      touched.add(q);
    }
    for (const q of touched) this.#kick(q);
  }

  setReady(network: Network, ready: boolean): void {
    this.#ready.set(network, ready);
    if (!ready) return;
    for (const q of this.#rooms.values()) {
      if (q.network !== network) continue;
      // A network that just came back: rows waiting out a backoff go now.
      for (const item of q.items) if ("row" in item) item.row.nextTry = 0;
      this.#kick(q);
    }
  }


  /** Pending items across rooms (memory view). */
  depth(): number {
    let n = 0;
    for (const q of this.#rooms.values()) n += q.items.length;
    return n;
  }

  /** Stops starting deliveries and waits (bounded) for those in flight. */
  async stop(timeoutMs: number): Promise<void> {
    this.#stopped = true;
    for (const q of this.#rooms.values()) clearTimeout(q.timer);
    const running = [...this.#rooms.values()].map((q) => q.running).filter((p): p is Promise<void> => p !== undefined);
    await Promise.race([Promise.allSettled(running), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }

  /** Resolves when every queue is empty (tests, benchmarks). */
  async idle(timeoutMs = 30_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.depth() > 0) {
      if (Date.now() > end) throw new Error(`queues not idle after ${timeoutMs} ms (${this.depth()} pending)`);
      await new Promise((r) => setTimeout(r, 10));
    }
    this.#store.flush();
  }

  #isReady(network: Network): boolean { return this.#ready.get(network) ?? false; }

  #queue(network: Network, room: string): RoomQueue {
    const key = roomKey(network, room);
    let q = this.#rooms.get(key);
    if (!q) this.#rooms.set(key, (q = new RoomQueue(network, room)));
    return q;
  }

  #kick(q: RoomQueue): void {
    if (q.active || this.#stopped) return;
    clearTimeout(q.timer);
    q.timer = undefined;
    q.active = true;
    q.running = this.#drain(q);
  }

  #later(q: RoomQueue, ms: number): void {
    clearTimeout(q.timer);
    q.timer = setTimeout(() => this.#kick(q), ms);
  }

  async #drain(q: RoomQueue): Promise<void> {
    try {
      await this.#drainLoop(q);
    } finally {
      q.active = false;
    }
  }

  async #drainLoop(q: RoomQueue): Promise<void> {
    while (q.items.length > 0 && !this.#stopped && this.#isReady(q.network)) {
      const item = q.items[0]!;
      if ("ephemeral" in item) {
        try {
          await this.#deliverer.deliverEphemeral(item.ephemeral.network, item.ephemeral.room, item.ephemeral.event);
        } catch (err) {
          this.#log.debug({ err, room: q.room, network: q.network }, "ephemeral event not delivered; dropped");
        }
        q.items.shift();
        continue;
      }
      const row = item.row;
      const wait = row.nextTry - Date.now();
      if (wait > 0) return this.#later(q, wait);
      try {
        await this.#deliverer.deliver(row);
        q.items.shift();
        this.stats.delivered++;
      } catch (err) {
        if (this.#settleFailure(q, row, err)) continue;
        return;
      }
    }
  }

  /** True when the row is given up (the queue moves on); false when the room waits. */
  #settleFailure(q: RoomQueue, row: OutboxRow, err: unknown): boolean {
    const reason = err instanceof Error ? err.message : String(err);
    const where = { network: row.network, room: row.room, link: row.link, outbox: row.id };
    if (err instanceof PermanentDeliveryError) {
      row.attempts++;
      this.#store.outbox.fail(row, reason);
      q.items.shift();
      this.stats.failed++;
      this.#metrics?.eventsOut.inc({ network: row.network, kind: kindOf(row), outcome: "failed" });
      this.#log.warn({ ...where, reason }, "delivery failed for good; recorded and skipped");
      return true;
    }
    if (err instanceof NotReadyError) {
      this.#log.debug({ ...where, reason }, "destination not ready; waiting");
      this.#later(q, NOT_READY_RETRY);
      return false;
    }
    row.attempts++;
    row.nextTry = Date.now() + backoff(row.attempts);
    this.#store.outbox.retryLater(row, reason);
    this.stats.retried++;
    this.#metrics?.retries.inc({ network: row.network });
    this.#log.warn({ ...where, reason, attempt: row.attempts, retryInMs: row.nextTry - Date.now() }, "delivery failed; will retry");
    this.#later(q, row.nextTry - Date.now());
    return false;
  }
}

function kindOf(row: OutboxRow): string {
  return /"kind":"(\w+)"/.exec(row.event)?.[1] ?? "unknown";
}
