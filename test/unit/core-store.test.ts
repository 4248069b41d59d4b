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

describe("copies (schema 5)", () => {
  it("migrates message_map's rows, and finds each copy as before: by native id, by a client's id, by message", () => {
    const path = join(mkdtempSync(join(tmpdir(), "junction-store-")), "j.db");
    const old = new Database(path);
    for (const m of MIGRATIONS.slice(0, 4)) old.exec(m);
    old.pragma("user_version = 4");
    old.exec(`INSERT INTO messages (id, link, kind, origin_network, origin_room, sender, sender_name, ts, created) VALUES (7, 'l', 'message', 'xmpp', 'a@muc', 'a@muc/al', 'al', 1, 1)`);
    const copy = old.prepare("INSERT INTO message_map (network, room, remote_id, message_id, alt_id, author, bridged, part, role) VALUES (?, ?, ?, 7, ?, ?, ?, ?, ?)");
    copy.run("xmpp", "a@muc", "sid-a", "client-1", "a@muc/al", 0, 0, "text"); // the person's own message
    copy.run("xmpp", "b@muc", "jn-1-x", "jn-1-x", "b@muc/al", 1, 0, "text"); // our copy, under our id
    copy.run("xmpp", "b@muc", "sid-b", "jn-1-x", "b@muc/al", 1, 0, "text"); // its stanza-id, learned from the reflection
    copy.run("matrix", "!r:hs", "$file", null, "@al:hs", 1, 1, "file");
    old.close();

    const store = new Store(path);
    const m = store.messages;
    expect(m.idOf("xmpp", "a@muc", "sid-a")).toBe(7);
    expect(m.idOf("xmpp", "b@muc", "sid-a")).toBeUndefined(); // a native id is a room's own
    expect(m.find("xmpp", "a@muc", { altId: "client-1", postedAs: "a@muc/al" })?.remoteId).toBe("sid-a");
    expect(m.find("xmpp", "a@muc", { altId: "client-1", postedAs: "a@muc/bob" })).toBeUndefined();
    // Our own id finds our copy both where it is the native id and where the stanza-id is.
    expect(m.copyOf("xmpp", "b@muc", "jn-1-x")).toEqual({ messageId: 7, part: 0, role: "text", bridged: true });
    expect(m.find("xmpp", "b@muc", { altId: "jn-1-x", postedAs: "b@muc/al" })).toBeDefined();
    // Clients in the room point at the stanza-id: it comes first.
    expect(m.mapped(7, "xmpp", "b@muc")?.remoteId).toBe("sid-b");
    expect(m.delivered(7, "xmpp", "b@muc").map((p) => p.id)).toEqual(["jn-1-x"]);
    expect(m.allParts(7, "matrix", "!r:hs").map((p) => [p.remoteId, p.role])).toEqual([["$file", "file"]]);
    // A new room gets its place; an alias learned now is found like the migrated one.
    m.addCopy(7, { network: "xmpp", room: "c@muc", remoteId: "jn-2-y", altId: "jn-2-y", postedAs: "c@muc/al", bridged: true });
    m.addAlias("xmpp", "c@muc", "jn-2-y", "sid-c");
    expect(m.idOf("xmpp", "c@muc", "sid-c")).toBe(7);
    expect(store.db.prepare("SELECT count(*) AS n FROM places").get()).toEqual({ n: 4 });
    expect(store.db.prepare("SELECT name FROM sqlite_schema WHERE name = 'message_map'").get()).toBeUndefined();
    store.close();
  });

  it("a room's place made in a transaction that rolled back is not remembered under an id handed out again", () => {
    const store = new Store(":memory:");
    const m = store.messages;
    expect(() => store.tx(() => {
      m.addCopy(1, { network: "xmpp", room: "gone@muc", remoteId: "x", bridged: false });
      throw new Error("rolled back");
    })).toThrow("rolled back");
    store.tx(() => { m.addCopy(2, { network: "xmpp", room: "other@muc", remoteId: "y", bridged: false }); }); // may get the same place id
    store.tx(() => { m.addCopy(3, { network: "xmpp", room: "gone@muc", remoteId: "z", bridged: false }); });
    expect(m.idOf("xmpp", "other@muc", "y")).toBe(2);
    expect(m.idOf("xmpp", "gone@muc", "z")).toBe(3);
    expect(m.idOf("xmpp", "gone@muc", "y")).toBeUndefined();
    expect(m.idOf("xmpp", "gone@muc", "x")).toBeUndefined();
    store.close();
  });
});
