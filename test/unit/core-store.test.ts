import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { MIGRATIONS } from "../../core/store/migrations.ts";
import { Store } from "../../core/store/store.ts";

describe("store", () => {
  it("migrates a new file to the latest schema and refuses one from a newer Junction", () => {
    const path = join(mkdtempSync(join(tmpdir(), "junction-store-")), "j.db");
    new Store(path).close();
    const db = new Database(path);
    expect(db.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => new Store(path)).toThrow(/written by a newer Junction/);
  });

  it("commits deferred writes with the next transaction, on flush, or at the end of the next turn", async () => {
    const store = new Store(":memory:");
    const add = (v: string) => store.defer(() => store.setCursor("xmpp", "room", v));
    add("one");
    expect(store.cursor("xmpp", "room")).toBeUndefined(); // not yet
    store.tx(() => undefined);
    expect(store.cursor("xmpp", "room")).toBe("one");
    add("two");
    store.flush();
    expect(store.cursor("xmpp", "room")).toBe("two");
    add("three");
    await new Promise((r) => setImmediate(r));
    // Not at the end of this turn: the next turn's inbound commit (a burst) may take it along.
    expect(store.cursor("xmpp", "room")).toBe("two");
    await new Promise((r) => setImmediate(r));
    expect(store.cursor("xmpp", "room")).toBe("three");
    store.close();
  });

  it("skips a failing deferred write but commits the rest of its batch", () => {
    const store = new Store(":memory:");
    const errors: unknown[] = [];
    store.onDeferredError = (e) => errors.push(e);
    store.defer(() => { throw new Error("boom"); });
    store.defer(() => store.setCursor("xmpp", "r", "kept"));
    store.flush();
    expect(errors).toHaveLength(1);
    expect(store.cursor("xmpp", "r")).toBe("kept");
    store.close();
  });

  it("flushes deferred writes when it closes", () => {
    const path = join(mkdtempSync(join(tmpdir(), "junction-store-")), "j.db");
    const store = new Store(path);
    store.defer(() => store.setCursor("matrix", "!r", "last"));
    store.close();
    const again = new Store(path);
    expect(again.cursor("matrix", "!r")).toBe("last");
    again.close();
  });
});
