import { mkdtempSync, readdirSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openDb } from "../../core/store/db.ts";
import { WalFlusher } from "../../core/store/wal-flusher.ts";
import { Store } from "../../core/store/store.ts";

/** Descriptors this process holds on the WAL file, also one SQLite has deleted ("… (deleted)"). */
const walDescriptors = (wal: string): number =>
  readdirSync("/proc/self/fd").filter((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`).startsWith(wal); } catch { return false; } }).length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("WAL flusher", () => {
  it("flushes the WAL only after it was written, and once per change", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "junction-wal-")), "j.db");
    const db = openDb(path);
    const flusher = new WalFlusher(path, 10);
    db.exec("CREATE TABLE t (v TEXT)");
    await sleep(80);
    const afterFirst = flusher.flushes;
    expect(afterFirst).toBeGreaterThanOrEqual(1);
    await sleep(80);
    expect(flusher.flushes).toBe(afterFirst); // nothing written since: nothing to flush
    db.prepare("INSERT INTO t VALUES (?)").run("x");
    await sleep(80);
    expect(flusher.flushes).toBe(afterFirst + 1);
    flusher.stop();
    db.close();
  });

  it("leaves no descriptor open on the WAL once the store is closed", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "junction-wal-")), "j.db");
    const store = new Store(path);
    store.tx(() => store.setCursor("xmpp", "room", "1"));
    await sleep(250); // the flusher has opened the WAL by now
    expect(walDescriptors(`${path}-wal`)).toBeGreaterThanOrEqual(2); // SQLite's and the flusher's
    store.close();
    await sleep(50);
    expect(walDescriptors(`${path}-wal`)).toBe(0);
    const again = new Store(path);
    expect(again.cursor("xmpp", "room")).toBe("1");
    again.close();
  });

  it("checkpoints every 4,000 pages and bounds the WAL file at 32 MiB", () => {
    const db = openDb(join(mkdtempSync(join(tmpdir(), "junction-wal-")), "j.db"));
    expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(4000);
    expect(db.pragma("journal_size_limit", { simple: true })).toBe(32 * 1024 * 1024);
    db.close();
  });
});
