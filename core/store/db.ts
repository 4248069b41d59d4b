import Database from "better-sqlite3";
import { MIGRATIONS } from "./migrations.ts";

export type Db = Database.Database;

/** The page cache's bound, in KiB (see openDb). */
export const PAGE_CACHE_KIB = 4096;
/** WAL pages between checkpoints (see openDb). */
export const CHECKPOINT_EVERY_PAGES = 4000;

/**
 * Opens the SQLite file (or ":memory:") with WAL and brings its schema up to date.
 * synchronous=NORMAL in WAL mode keeps every commit durable against a process crash (kill -9),
 * and loses at most the last commits on a power cut, at a fraction of FULL's cost per commit.
 */
export function openDb(path: string): Db {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 5000");
  // SQLite's page cache, per connection: better-sqlite3 builds SQLite with 16 MB, which avatar
  // blobs fill at once and which then stays resident. 4 MiB holds the hot pages (copies,
  // outbox, cursors); an avatar read now and then comes from the OS's file cache.
  db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
  // A checkpoint runs on the event loop, so its fsyncs hold up every message in flight (see
  // WalFlusher, which does most of their writing beforehand). A message writes 10-20 WAL pages,
  // so SQLite's 1,000 checkpointed twice a second at 100 msg/s; 4,000 (16 MiB of WAL on disk)
  // is once every two seconds. journal_size_limit gives the disk back after a burst.
  db.pragma(`wal_autocheckpoint = ${CHECKPOINT_EVERY_PAGES}`);
  db.pragma(`journal_size_limit = ${32 * 1024 * 1024}`);
  migrate(db);
  return db;
}

export function migrate(db: Db): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(
      `the store was written by a newer Junction (schema ${current}, this one knows ${MIGRATIONS.length}); ` +
        "upgrade Junction or restore a backup of the database",
    );
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}
