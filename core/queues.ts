import type { Logger } from "pino";
import type { Deliverer } from "./delivery.ts";
import { failureOf, reasonOf, type DeliveryError } from "./errors.ts";
import { Failures } from "./failures.ts";
import type { BridgeEvent, Network } from "./events.ts";
import { networkRoomKey } from "./links.ts";
import type { Metrics } from "./metrics.ts";
import type { EphemeralDelivery } from "./router.ts";
import { RoomQueue, whereOf, type QueueStats, type RoomQueueState } from "./room-queue.ts";
import { afterFailure, DEFAULT_RETRY, isLastAttempt, type RetryPolicy } from "./retry.ts";
import type { OutboxRow } from "./store/outbox-store.ts";
import type { Store } from "./store/store.ts";

export type { QueueStats, RoomFailure, RoomQueueState } from "./room-queue.ts";

const EPHEMERAL_BACKLOG = 50; // beyond this a room is behind; typing and presence would be stale
const NOT_READY_RETRY = 1000;
const BOOKKEEPING_RETRY_MS = 5000;

/** Decides how long a delivery must wait before it may start (puppet creation, membership churn). */
export type Pace = (network: Network, room: string, event: BridgeEvent) => number;

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
  readonly #failures: Failures;
  readonly #policy: RetryPolicy;
  readonly #pace: Pace;
  /** Links an admin paused: their rows stay queued (and in the outbox) until resumed. */
  readonly #paused = new Set<string>();
  #stopped = false;
  readonly stats: QueueStats = { delivered: 0, retried: 0, failed: 0 };

  constructor(deliverer: Deliverer, store: Store, log: Logger, metrics?: Metrics, policy: RetryPolicy = DEFAULT_RETRY, pace: Pace = () => 0) {
    this.#deliverer = deliverer;
    this.#store = store;
    this.#log = log;
    this.#policy = policy;
    this.#pace = pace;
    this.#failures = new Failures({
      log, metrics, stats: this.stats, forget: (id) => deliverer.forget(id),
      roomOf: (row) => this.#rooms.get(networkRoomKey(row.network, row.room)),
    });
  }

  /**
   * A delivery that was done failed later (the room bounced one of its parts; that part is
   * already forgotten in the copies table). Transient and not-ready: the row goes back to its
   * room's queue (behind what is waiting there) to send what is missing; permanent, or past
   * the cap: recorded as failed with the reason.
   */
  reopen(row: OutboxRow, err: DeliveryError): void {
    const reason = reasonOf(err);
    const next = afterFailure(this.#policy, row, failureOf(err), reason);
    if ("giveUp" in next) {
      this.#failures.record(row, () => this.#store.outbox.restore(row, "failed", next.giveUp));
      this.#failures.givenUp(row, next.giveUp, "bounced");
      return;
    }
    row.nextTry = next.retryAt;
    this.#failures.record(row, () => this.#store.outbox.restore(row, "pending", reason));
    this.#failures.retrying(row, reason);
    this.#log.warn({ ...whereOf(row), reason, attempt: row.attempts }, "the room bounced a delivery; sending it again");
    this.enqueue([row]);
  }

  enqueue(rows: readonly OutboxRow[], ephemeral: readonly EphemeralDelivery[] = []): void {
    const touched = new Set<RoomQueue>();
    for (const row of rows) {
      const q = this.#queue(row.network, row.room);
      q.items.push({ row });
      q.link = row.link;
      touched.add(q);
    }
    for (const e of ephemeral) {
      const q = this.#queue(e.network, e.room);
      // Typing and presence in a paused link would be stale by the time it resumes.
      if (!this.#isReady(e.network) || q.items.length > EPHEMERAL_BACKLOG || (q.link !== undefined && this.#paused.has(q.link))) continue;
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

  /** Holds a link's deliveries where they are (the row in flight, if any, finishes). */
  pause(link: string): void {
    this.#paused.add(link);
  }

  /** Lets a paused link's held deliveries go, in order; resolves to how many were waiting. */
  resume(link: string): number {
    if (!this.#paused.delete(link)) return 0;
    let held = 0;
    for (const q of this.#rooms.values()) {
      if (q.link !== link) continue;
      held += q.items.length;
      this.#kick(q);
    }
    return held;
  }

  isPaused(link: string): boolean { return this.#paused.has(link); }

  /** Pending items across rooms (memory view). */
  depth(): number {
    let n = 0;
    for (const q of this.#rooms.values()) n += q.items.length;
    return n;
  }

  /** One room's depth, last delivery and last failure (nothing yet: depth 0). */
  roomState(network: Network, room: string): RoomQueueState {
    return this.#rooms.get(networkRoomKey(network, room))?.state() ?? { depth: 0 };
  }

  /**
   * A room no link has any more (a reload): what is queued for it is delivered first, for up to
   * `timeoutMs`; what is still waiting then is recorded as failed with `reason` (the status page
   * lists it). Resolves to how many rows were delivered and how many failed.
   */
  async retire(network: Network, room: string, timeoutMs: number, reason: string): Promise<{ delivered: number; failed: number }> {
    const key = networkRoomKey(network, room);
    const q = this.#rooms.get(key);
    if (!q) return { delivered: 0, failed: 0 };
    const rows = () => q.items.filter((i) => "row" in i).length;
    const before = rows();
    const end = Date.now() + timeoutMs;
    while (rows() > 0 && Date.now() < end && !this.#stopped) await new Promise((r) => setTimeout(r, 50));
    const delivered = before - rows();
    // No new drain starts; one in flight may finish (its adapter still has the room until we return).
    this.#rooms.delete(key);
    clearTimeout(q.timer);
    if (q.running) await Promise.race([q.running, new Promise((r) => setTimeout(r, Math.max(0, end - Date.now())).unref())]);
    const left = q.items.splice(q.active ? 1 : 0).flatMap((i) => ("row" in i ? [i.row] : []));
    for (const row of left) {
      this.#failures.record(row, () => this.#store.outbox.fail(row, reason));
      this.#failures.counted(row, "permanent");
    }
    if (left.length > 0) this.#log.warn({ network, room, failed: left.length, reason }, "deliveries to a room no link has any more were not done in time; recorded as failed");
    return { delivered, failed: left.length };
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
    const key = networkRoomKey(network, room);
    let q = this.#rooms.get(key);
    if (!q) this.#rooms.set(key, (q = new RoomQueue(network, room)));
    return q;
  }

  #kick(q: RoomQueue): void {
    // Not before the network is ready: a drain that ends at once still clears `active` only a
    // microtask later, and would swallow the kick of a setReady(true) in between.
    if (q.active || this.#stopped || !this.#isReady(q.network)) return;
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
    } catch (err) {
      // Only bookkeeping can get here (a delivery's own errors are settled below): the room
      // tries again shortly rather than the process ending on an unhandled rejection.
      this.#log.error({ err, network: q.network, room: q.room }, "a room's queue failed; it resumes shortly");
      q.active = false;
      this.#later(q, BOOKKEEPING_RETRY_MS);
    } finally {
      q.active = false;
    }
  }

  async #drainLoop(q: RoomQueue): Promise<void> {
    while (q.items.length > 0 && !this.#stopped && this.#isReady(q.network)) {
      const item = q.items[0]!;
      if ("ephemeral" in item) {
        // Typing or presence from someone whose puppet would first have to be made: not worth a wait.
        if (this.#pace(item.ephemeral.network, item.ephemeral.room, item.ephemeral.event) > 0) {
          q.items.shift();
          continue;
        }
        try {
          await this.#deliverer.deliverEphemeral(item.ephemeral.network, item.ephemeral.room, item.ephemeral.event);
        } catch (err) {
          this.#log.debug({ err, room: q.room, network: q.network }, "ephemeral event not delivered; dropped");
        }
        q.items.shift();
        continue;
      }
      const row = item.row;
      if (this.#paused.has(row.link)) return; // resume() kicks the queue
      const wait = row.nextTry - Date.now();
      if (wait > 0) return this.#later(q, wait);
      const event = JSON.parse(row.event) as BridgeEvent;
      const paced = this.#pace(row.network, row.room, event);
      if (paced > 0) return this.#later(q, paced);
      try {
        await this.#deliverer.deliver(row, { lastAttempt: isLastAttempt(this.#policy, row), event });
        q.items.shift();
        q.lastDelivery = Date.now();
        this.stats.delivered++;
      } catch (err) {
        if (this.#settleFailure(q, row, err)) continue;
        return;
      }
    }
  }

  /** True when the row is given up (the queue moves on); false when the room waits. */
  #settleFailure(q: RoomQueue, row: OutboxRow, err: unknown): boolean {
    const reason = reasonOf(err);
    const failure = failureOf(err);
    if (failure === "not-ready") {
      this.#log.debug({ ...whereOf(row), reason }, "destination not ready; waiting");
      this.#later(q, NOT_READY_RETRY);
      return false;
    }
    const next = afterFailure(this.#policy, row, failure, reason);
    if ("giveUp" in next) {
      this.#failures.record(row, () => this.#store.outbox.fail(row, next.giveUp));
      q.items.shift();
      this.#failures.givenUp(row, next.giveUp, failure === "permanent" ? "permanent" : "gave-up");
      return true;
    }
    row.nextTry = next.retryAt;
    this.#failures.record(row, () => this.#store.outbox.retryLater(row, reason));
    this.#failures.retrying(row, reason);
    this.#log.warn({ ...whereOf(row), reason, attempt: row.attempts, retryInMs: row.nextTry - Date.now() }, "delivery failed; will retry");
    this.#later(q, row.nextTry - Date.now());
    return false;
  }
}
