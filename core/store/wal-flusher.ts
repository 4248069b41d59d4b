import { close, fdatasync, fstat, openSync } from "node:fs";

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
 * them find less to do. The file is opened once, read-only, and closed only before the
 * database is (closing a descriptor drops the process's POSIX locks on that file, and SQLite
 * keeps none on the WAL, but the order keeps it so).
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

  constructor(dbPath: string, everyMs = FLUSH_EVERY_MS) {
    this.#path = `${dbPath}-wal`;
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
      if (err || this.#stopped || st.mtimeNs === this.#lastChange) {
        this.#busy = false;
        return;
      }
      this.#lastChange = st.mtimeNs;
      this.flushes++;
      fdatasync(fd, () => {
        this.#busy = false;
        if (this.#stopped) this.#closeFd();
      });
    });
  }

  /** Before the database is closed. */
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
