import type { Network } from "../events.ts";
import type { Db } from "./db.ts";

export interface OutboxRow {
  readonly id: number;
  readonly link: string;
  readonly network: Network;
  readonly room: string;
  /** The bridged message this delivery creates (message, reaction) or concerns (edit, retract). */
  readonly messageId: number | null;
  /** The BridgeEvent as JSON. */
  readonly event: string;
  /** When the row was committed (ms since the epoch). */
  readonly created: number;
  attempts: number;
  nextTry: number;
  /**
   * Committed by this process and not yet handed to a destination: nothing of it can have landed
   * anywhere, so its delivery needs no look for parts delivered before (cleared at the first try).
   */
  untried?: boolean;
}

interface Raw {
  id: number; link: string; network: Network; room: string; message_id: number | null; event: string; created: number; attempts: number; next_try: number;
}

const toRow = (r: Raw): OutboxRow => ({
  id: r.id, link: r.link, network: r.network, room: r.room, messageId: r.message_id, event: r.event, created: r.created, attempts: r.attempts, nextTry: r.next_try,
});

export interface FailedRow { readonly id: number; readonly link: string; readonly network: Network; readonly room: string; readonly error: string; readonly attempts: number }

/** Pending and failed deliveries. */
export class OutboxStore {
  readonly #insert;
  readonly #done;
  readonly #retry;
  readonly #fail;
  readonly #pending;
  readonly #failed;
  readonly #depth;
  readonly #put;
  readonly #purgeFailed;
  readonly #failedOf;
  readonly #failedCount;
  readonly #requeue;

  constructor(db: Db) {
    this.#insert = db.prepare<[string, string, string, number | null, string, number]>(
      `INSERT INTO outbox (link, network, room, message_id, event, created) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.#done = db.prepare<[number]>(`DELETE FROM outbox WHERE id = ?`);
    this.#retry = db.prepare<[number, number, string, number]>(`UPDATE outbox SET attempts = ?, next_try = ?, last_error = ? WHERE id = ?`);
    this.#fail = db.prepare<[number, string, number]>(`UPDATE outbox SET state = 'failed', attempts = ?, last_error = ? WHERE id = ?`);
    this.#pending = db.prepare<[], Raw>(
      `SELECT id, link, network, room, message_id, event, created, attempts, next_try FROM outbox WHERE state = 'pending' ORDER BY id`,
    );
    this.#failed = db.prepare<[number], { id: number; link: string; network: Network; room: string; last_error: string | null; attempts: number }>(
      `SELECT id, link, network, room, last_error, attempts FROM outbox WHERE state = 'failed' ORDER BY id DESC LIMIT ?`,
    );
    this.#depth = db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM outbox WHERE state = 'pending'`);
    // Under its old id: the id is the delivery's idempotency key and its parts' ids derive from it.
    this.#put = db.prepare<[number, string, string, string, number | null, string, string, number, number, string, number]>(
      `INSERT OR REPLACE INTO outbox (id, link, network, room, message_id, event, state, attempts, next_try, last_error, created)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#purgeFailed = db.prepare<[number]>(`DELETE FROM outbox WHERE message_id = ? AND state = 'failed'`);
    this.#failedOf = db.prepare<[string, number], Raw>(
      `SELECT id, link, network, room, message_id, event, created, attempts, next_try FROM outbox WHERE state = 'failed' AND link = ? ORDER BY id LIMIT ?`,
    );
    this.#failedCount = db.prepare<[string], { n: number }>(`SELECT count(*) AS n FROM outbox WHERE state = 'failed' AND link = ?`);
    this.#requeue = db.prepare<[number, number]>(`UPDATE outbox SET state = 'pending', attempts = 0, next_try = 0, created = ? WHERE id = ? AND state = 'failed'`);
  }

  add(link: string, network: Network, room: string, messageId: number | null, event: string, now: number): OutboxRow {
    const r = this.#insert.run(link, network, room, messageId, event, now);
    return { id: Number(r.lastInsertRowid), link, network, room, messageId, event, created: now, attempts: 0, nextTry: 0, untried: true };
  }

  done(id: number): void { this.#done.run(id); }
  retryLater(row: OutboxRow, error: string): void { this.#retry.run(row.attempts, row.nextTry, error, row.id); }
  fail(row: OutboxRow, error: string): void { this.#fail.run(row.attempts, error, row.id); }
  /**
   * Writes back a row that was already done (a late bounce): pending to be retried, or failed
   * with the reason.
   */
  restore(row: OutboxRow, state: "pending" | "failed", error: string): void {
    this.#put.run(row.id, row.link, row.network, row.room, row.messageId, row.event, state, row.attempts, row.nextTry, error, row.created);
  }
  /** Failed deliveries of a retracted message still hold its text in their event: gone with it. */
  purgeFailed(messageId: number): void { this.#purgeFailed.run(messageId); }
  /** Every pending row, oldest first: what a restart must still deliver. */
  pending(): OutboxRow[] { return this.#pending.all().map(toRow); }
  failed(limit = 50): FailedRow[] {
    return this.#failed.all(limit).map((r) => ({ id: r.id, link: r.link, network: r.network, room: r.room, error: r.last_error ?? "", attempts: r.attempts }));
  }
  /** A link's failed deliveries, oldest first (an admin's retry). */
  failedOf(link: string, limit: number): OutboxRow[] { return this.#failedOf.all(link, limit).map(toRow); }
  failedCount(link: string): number { return this.#failedCount.get(link)?.n ?? 0; }
  /**
   * A failed row pending again under its old id (its idempotency key; parts that landed stay
   * recorded), with a fresh budget: its attempts and age count from now.
   */
  requeue(row: OutboxRow, now: number): OutboxRow {
    this.#requeue.run(now, row.id);
    return { ...row, created: now, attempts: 0, nextTry: 0 };
  }
  depth(): number { return this.#depth.get()?.n ?? 0; }
}
