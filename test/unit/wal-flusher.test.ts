import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openDb } from "../../core/store/db.ts";
import { WalFlusher } from "../../core/store/wal-flusher.ts";
import { Store } from "../../core/store/store.ts";
import { until } from "../harness/until.ts";

/** Descriptors this process holds on the WAL file, also one SQLite has deleted ("… (deleted)"). */
const walDescriptors = (wal: string): number =>
  readdirSync("/proc/self/fd").filter((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`).startsWith(wal); } catch { return false; } }).length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const newDir = () => mkdtempSync(join(tmpdir(), "junction-wal-"));

describe("WAL flusher", () => {
  it("flushes the WAL after it was written, and not again until it changes", async () => {
    const path = join(newDir(), "j.db");
    const db = openDb(path);
    const flusher = new WalFlusher(path, 10);
    db.exec("CREATE TABLE t (v TEXT)");
    await until("a first flush", () => flusher.flushes >= 1, 5000);
    await sleep(100); // nothing written meanwhile: whatever was in flight has settled, no new flush
    const settled = flusher.flushes;
    await sleep(100);
    expect(flusher.flushes).toBe(settled);
    db.prepare("INSERT INTO t VALUES (?)").run("x");
    await until("a flush after the write", () => flusher.flushes > settled, 5000);
    flusher.stop();
    db.close();
  });

  it("leaves no descriptor open on the WAL once the store is closed, also right after a write", async () => {
    const path = join(newDir(), "j.db");
    const wal = `${path}-wal`;
    const store = new Store(path);
    store.tx(() => store.setCursor("xmpp", "room", "1"));
    await until("the flusher's descriptor on the WAL", () => walDescriptors(wal) >= 2, 5000); // SQLite's and the flusher's
    store.tx(() => store.setCursor("xmpp", "room", "2")); // a change for the next tick to flush
    await sleep(100); // close at a moment a call may be in flight
    store.close();
    await until("no descriptor left on the WAL", () => walDescriptors(wal) === 0, 5000);
    const again = new Store(path);
    expect(again.cursor("xmpp", "room")).toBe("2");
    again.close();
  });

  it("follows a symlinked store path to the WAL SQLite writes beside the real file", async () => {
    const dir = newDir();
    mkdirSync(join(dir, "real"));
    const real = join(dir, "real", "j.db");
    const db = openDb(real);
    db.close();
    symlinkSync(real, join(dir, "link.db"));
    const store = new Store(join(dir, "link.db"));
    store.tx(() => store.setCursor("xmpp", "room", "1"));
    await until("the flusher's descriptor on the real WAL", () => walDescriptors(`${real}-wal`) >= 2, 5000);
    store.close();
  });

  it("checkpoints every 4,000 pages and bounds the WAL file at 32 MiB", () => {
    const db = openDb(join(newDir(), "j.db"));
    expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(4000);
    expect(db.pragma("journal_size_limit", { simple: true })).toBe(32 * 1024 * 1024);
    db.close();
  });
});
