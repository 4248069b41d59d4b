import { describe, expect, it } from "vitest";
import type { Db } from "../../core/store/db.ts";
import { openDb } from "../../core/store/db.ts";
import { MessageStore } from "../../core/store/messages.ts";
import { OutboxStore } from "../../core/store/outbox-store.ts";
import { Retention } from "../../core/store/retention.ts";

/**
 * Every lookup the hot path makes must reach its rows through an index that narrows to them, not
 * a scan of the table or of a whole room: the planner has no statistics (no ANALYZE), and once
 * picked the primary key's (network, room) prefix for lookups by message, reading every copy in
 * the room on each delivery.
 */
function statementsOf(make: (db: Db) => unknown): { db: Db; sql: string[] } {
  const db = openDb(":memory:");
  const sql: string[] = [];
  const spy = new Proxy(db, {
    get(target, key) {
      if (key === "prepare") return (s: string) => { sql.push(s); return target.prepare(s); };
      const v = Reflect.get(target, key) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  make(spy);
  return { db, sql };
}

function plan(db: Db, sql: string): string[] {
  const params = (sql.match(/\?/g) ?? []).map((_, i) => (i === 0 ? 1 : "x"));
  return db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params).map((r) => (r as { detail: string }).detail);
}

describe("store query plans", () => {
  for (const [name, make] of [["messages", (db: Db) => new MessageStore(db)], ["outbox", (db: Db) => new OutboxStore(db)], ["retention", (db: Db) => new Retention(db)]] as const) {
    it(`${name}: no lookup by message or alt id scans a room`, () => {
      const { db, sql } = statementsOf(make);
      // Those run per message; the listings (pending rows at start, failed ones for the status page) read the table.
      const lookups = sql.filter((s) => /^\s*(SELECT|DELETE|UPDATE)/i.test(s) && /\bcopies\b|WHERE id = \?|message_id = \?/.test(s));
      expect(lookups.length).toBeGreaterThan(name === "retention" ? 1 : 3);
      for (const s of lookups) {
        const steps = plan(db, s).join("; ");
        expect(steps, s).not.toMatch(/\bSCAN\b/);
        // An index's room prefix alone reads every copy in the room.
        expect(steps, s).not.toMatch(/\(place=\?\)/);
        if (/message_id = \?/.test(s) && /\bcopies\b/.test(s)) expect(steps, s).toMatch(/copies_by_message/);
        if (/alt_id = \?/.test(s) && /alt_id <> remote_id/.test(s)) expect(steps, s).toMatch(/copies_by_alt/);
        if (/remote_id = \?/.test(s)) expect(steps, s).toMatch(/copies_by_remote \(place=\? AND remote_id=\?\)/);
      }
    });
  }
});
