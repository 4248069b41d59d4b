/**
 * How the queues account for failed deliveries: each state written to the outbox (and, when the
 * disk refuses it, logged instead of stopping the room), the counters and metrics, the room's
 * last failure on the status page, and the one log line of a give-up.
 */
import type { Logger } from "pino";
import type { Metrics } from "./metrics.ts";
import { kindOf, whereOf, type QueueStats, type RoomFailure, type RoomQueue } from "./room-queue.ts";
import type { OutboxRow } from "./store/outbox-store.ts";

export type GiveUpCause = Exclude<RoomFailure["cause"], "retrying">;

export interface FailuresDeps {
  readonly log: Logger;
  readonly metrics: Metrics | undefined;
  readonly stats: QueueStats;
  /** The delivery's state kept in memory (parts sent) is dropped with a give-up. */
  forget(outboxId: number): void;
  /** The queue of the row's room, while it has one. */
  roomOf(row: OutboxRow): RoomQueue | undefined;
}

export class Failures {
  readonly #deps: FailuresDeps;

  constructor(deps: FailuresDeps) {
    this.#deps = deps;
  }

  /**
   * Outbox bookkeeping that fails (disk full) is logged with its row; the queue goes on with
   * what it knows in memory. A failure not recorded is found pending again after a restart, and
   * meets the same cap then (the age counts from the commit).
   */
  record(row: OutboxRow, write: () => void): void {
    try {
      write();
    } catch (err) {
      this.#deps.log.error({ ...whereOf(row), err }, "could not record a delivery's state in the store; continuing from memory");
    }
  }

  /** The count, metric and room status of a failure that is tried again. */
  retrying(row: OutboxRow, reason: string): void {
    this.#deps.stats.retried++;
    const q = this.#deps.roomOf(row);
    if (q) q.lastFailure = { at: Date.now(), reason, cause: "retrying" };
    this.#deps.metrics?.retries.inc({ network: row.network });
  }

  /** The one log line and metric of a give-up, and the room's status. */
  givenUp(row: OutboxRow, reason: string, cause: GiveUpCause): void {
    this.counted(row, cause);
    const q = this.#deps.roomOf(row);
    if (q) q.lastFailure = { at: Date.now(), reason, cause };
    this.#deps.log.warn({ ...whereOf(row), kind: kindOf(row), attempts: row.attempts, cause, reason }, "delivery failed for good; recorded and skipped");
  }

  /** A give-up counted without a line of its own (the caller logs a summary). */
  counted(row: OutboxRow, cause: GiveUpCause): void {
    this.#deps.forget(row.id);
    this.#deps.stats.failed++;
    this.#deps.metrics?.eventsOut.inc({ network: row.network, kind: kindOf(row), outcome: "failed" });
    this.#deps.metrics?.failures.inc({ network: row.network, cause });
  }
}
