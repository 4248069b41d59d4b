import type { Db } from "./db.ts";

export interface Pruned { messages: number; copies: number; failed: number }

/**
 * Forgets what is older than the retention: bridged messages (their excerpts and names), their
 * ids on every network (copies), and failed deliveries (which hold the event's text). A
 * message that still has a pending delivery is kept until it is delivered. Deletes go in small
 * batches, each its own transaction, so inbound commits never wait long behind a prune.
 */
export class Retention {
  readonly #db: Db;
  readonly #oldMessages;
  readonly #deleteCopies;
  readonly #deleteMessage;
  readonly #deleteFailed;

  constructor(db: Db) {
    this.#db = db;
    this.#oldMessages = db.prepare<[number, number], { id: number }>(
      `SELECT id FROM messages WHERE created < ?
       AND NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.message_id = messages.id AND state = 'pending')
       ORDER BY created LIMIT ?`,
    );
    this.#deleteCopies = db.prepare<[number]>(`DELETE FROM copies WHERE message_id = ?`);
    this.#deleteMessage = db.prepare<[number]>(`DELETE FROM messages WHERE id = ?`);
    this.#deleteFailed = db.prepare<[number, number]>(
      `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE state = 'failed' AND created < ? LIMIT ?)`,
    );
  }

  /** One batch; call again while it returns a full batch. */
  pruneBatch(before: number, batch: number): Pruned {
    return this.#db.transaction(() => {
      const out: Pruned = { messages: 0, copies: 0, failed: 0 };
      for (const { id } of this.#oldMessages.all(before, batch)) {
        out.copies += this.#deleteCopies.run(id).changes;
        out.messages += this.#deleteMessage.run(id).changes;
      }
      out.failed = this.#deleteFailed.run(before, batch).changes;
      return out;
    })();
  }
}
