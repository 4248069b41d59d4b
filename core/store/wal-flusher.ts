import { close, fdatasync, fstat, openSync, realpathSync } from "node:fs";
import { resolve } from "node:path";

/** How often the WAL is flushed to disk in the background while it is being written. */
const FLUSH_EVERY_MS = 100;

/**
 * Flushes the WAL file to disk from libuv's thread pool, off the event loop, while Junction
 * writes it.
 *
 * SQLite (better-sqlite3 is synchronous) checkpoints on the event loop whenever the WAL reaches
 * wal_autocheckpoint pages, and with synchronous=NORMAL a checkpoint first fsyncs the WAL: every
 * frame written since the last checkpoint. At 100 msg/s that was 4 MB twice a second, 11-15 ms
 * of fsync each time on this machine's disk, in which no message moved (measured with strace;
 * it was the whole of Junction's added p99). With the WAL flushed here every FLUSH_EVERY_MS,
 * the checkpoint's own fsync finds at most that much left to write.
 *
 * Nothing about durability changes: SQLite still issues every fsync it would; this only makes
 * them find less to do. The file is opened read-only; SQLite's unix VFS takes its POSIX locks on
 * the database file and the -shm file, never on the WAL, so this descriptor cannot drop them.
 * A WAL that SQLite removed (no links left) is let go and opened again once it is back; any
 * error does the same, without a log line of its own: a disk that fails this fdatasync fails
 * SQLite's own fsync at the next checkpoint or commit, and that is reported where commits are
 * (Store.onCommitError and the inbound commit's error, each with SQLite's code: core/app.ts).
 */
export class WalFlusher {
  readonly #path: string;
  #fd: number | undefined;
  #timer: NodeJS.Timeout;
  #lastChange = -1n;
  #busy = false;
  #stopped = false;
  /** How many flushes were started (for tests and the curious). */
  flushes = 0;

  /** `dbPath`: the database file, opened by SQLite already (a symlink is followed, as SQLite does). */
  constructor(dbPath: string, everyMs = FLUSH_EVERY_MS) {
    let real = resolve(dbPath);
    try {
      real = realpathSync(real);
    } catch { /* kept as given */ }
    this.#path = `${real}-wal`;
    this.#timer = setInterval(() => this.#tick(), everyMs).unref();
  }

  #tick(): void {
    if (this.#busy || this.#stopped) return;
    if (this.#fd === undefined) {
      try {
        this.#fd = openSync(this.#path, "r");
      } catch {
        return; // no WAL yet (nothing written)
      }
    }
    const fd = this.#fd;
    this.#busy = true;
    fstat(fd, { bigint: true }, (err, st) => {
      if (this.#stopped || err || st.nlink === 0n) return this.#letGo();
      if (st.mtimeNs === this.#lastChange) {
        this.#busy = false;
        return;
      }
      this.#lastChange = st.mtimeNs;
      this.flushes++;
      fdatasync(fd, (syncErr) => {
        if (this.#stopped || syncErr) return this.#letGo();
        this.#busy = false;
      });
    });
  }

  /** Closes the descriptor (a later tick opens the file again unless stopped). */
  #letGo(): void {
    this.#busy = false;
    this.#lastChange = -1n;
    this.#closeFd();
  }

  /** Stops flushing; the descriptor is closed now, or when a call in flight returns. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    if (!this.#busy) this.#closeFd();
  }

  #closeFd(): void {
    if (this.#fd === undefined) return;
    close(this.#fd, () => undefined);
    this.#fd = undefined;
  }
}
