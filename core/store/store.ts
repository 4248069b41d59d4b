import { randomBytes } from "node:crypto";
import type { UploadDirectory } from "../adapter.ts";
import type { Network } from "../events.ts";
import { openDb, type Db } from "./db.ts";
import { MessageStore } from "./messages.ts";
import { OutboxStore } from "./outbox-store.ts";
import { AvatarStore } from "./avatars.ts";
import { PausedStore } from "./paused.ts";
import { PuppetStore } from "./puppets.ts";
import { Retention } from "./retention.ts";
import { WalFlusher } from "./wal-flusher.ts";

/** A failing commit of deferred writes is tried again after 1 s, 2 s, 4 s … up to a minute … */
const COMMIT_RETRY_MAX_MS = 60_000;
/** … and its writes are given up once commits have failed for this long. */
const COMMIT_GIVE_UP_MS = 10 * 60_000;

/**
 * The core's persistent state. SQL lives only under core/store, so a PostgreSQL store can later
 * be added behind the same shape.
 */
export class Store {
  readonly db: Db;
  readonly messages: MessageStore;
  readonly outbox: OutboxStore;
  readonly puppets: PuppetStore;
  readonly avatars: AvatarStore;
  readonly retention: Retention;
  readonly paused: PausedStore;
  readonly #getCursor;
  readonly #setCursor;
  readonly #seen;
  readonly #markSeen;
  readonly #pruneSeen;
  readonly #putLink;
  readonly #clearLinks;
  readonly #getSetting;
  readonly #putSetting;
  readonly #walFlusher: WalFlusher | undefined;
  /** One transaction function for every tx(): db.transaction() builds a new wrapper on each call. */
  readonly #transaction: (fn: () => unknown) => unknown;

  constructor(path: string) {
    this.db = openDb(path);
    this.#walFlusher = path === ":memory:" || path === "" ? undefined : new WalFlusher(path);
    this.#transaction = this.db.transaction((fn: () => unknown) => fn());
    this.messages = new MessageStore(this.db);
    this.outbox = new OutboxStore(this.db);
    this.puppets = new PuppetStore(this.db);
    this.avatars = new AvatarStore(this.db);
    this.retention = new Retention(this.db);
    this.paused = new PausedStore(this.db);
    this.#getCursor = this.db.prepare<[string, string], { value: string }>(`SELECT value FROM cursors WHERE network = ? AND room = ?`);
    this.#setCursor = this.db.prepare<[string, string, string]>(
      `INSERT INTO cursors (network, room, value) VALUES (?, ?, ?) ON CONFLICT (network, room) DO UPDATE SET value = excluded.value`,
    );
    this.#seen = this.db.prepare<[string], { key: string }>(`SELECT key FROM seen WHERE key = ?`);
    this.#markSeen = this.db.prepare<[string, number]>(`INSERT OR IGNORE INTO seen (key, ts) VALUES (?, ?)`);
    this.#pruneSeen = this.db.prepare<[number]>(`DELETE FROM seen WHERE ts < ?`);
    this.#putLink = this.db.prepare<[string, string, string, string]>(
      `INSERT OR REPLACE INTO links (name, network, configured, room) VALUES (?, ?, ?, ?)`,
    );
    this.#clearLinks = this.db.prepare(`DELETE FROM links`);
    this.#getSetting = this.db.prepare<[string], { value: string }>(`SELECT value FROM settings WHERE key = ?`);
    this.#putSetting = this.db.prepare<[string, string]>(`INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)`);
  }

  /** Writes that may wait for the next commit (see defer). */
  #deferred: (() => void)[] = [];
  #flushScheduled = false;
  /** Told about a deferred write that failed (it is skipped; the rest of its batch commits). */
  onDeferredError: ((err: unknown) => void) | undefined;
  /**
   * Told when a commit of deferred writes failed (disk full): `retryInMs` when it is tried
   * again, undefined when the writes were given up (commits failed for COMMIT_GIVE_UP_MS).
   */
  onCommitError: ((err: unknown, writes: number, retryInMs: number | undefined) => void) | undefined;
  #commitFailures = 0;
  #failingSince: number | undefined;
  /** For tests: the clock commits are timed by. */
  now: () => number = Date.now;
  #retryTimer: NodeJS.Timeout | undefined;

  /**
   * Runs `fn` in one SQLite transaction, together with every deferred write before it. Each
   * commit writes every page it touched to the WAL, so one commit for many small writes is what
   * keeps a burst of messages cheap. When the transaction fails, the deferred writes it carried
   * were rolled back with it: they wait for the next commit.
   */
  tx<T>(fn: () => T): T {
    if (this.db.inTransaction) return this.#transaction(fn) as T; // nested: a savepoint
    const writes = this.#deferred;
    this.#deferred = [];
    try {
      return this.#transaction(() => {
        this.#run(writes);
        return fn();
      }) as T;
    } catch (err) {
      this.#deferred = [...writes, ...this.#deferred];
      throw err;
    } finally {
      this.messages.settle();
    }
  }

  /**
   * Queues a write for the next commit: the next tx(), an explicit flush(), or the end of the
   * next event-loop turn, whichever comes first. Used for bookkeeping after a delivery (its
   * copies and the outbox row's removal): a crash can lose at most two turns of it, which means
   * those deliveries are sent again after a restart (at least once, never lost).
   */
  defer(write: () => void): void {
    this.#deferred.push(write);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // One turn later than the next setImmediate: in a burst, the next turn reads more messages
    // and commits them (Ingest), and these writes go in that commit instead of one of their own.
    // A commit writes every page it touched, so two commits per turn cost nearly twice one.
    setImmediate(() => setImmediate(() => this.flush()));
  }

  /**
   * Commits deferred writes now (before a read that must see them). Never throws: a failed
   * commit is reported and tried again with backoff; once commits have failed for
   * COMMIT_GIVE_UP_MS its writes are dropped (their deliveries are sent again after a restart:
   * at least once).
   */
  flush(): void {
    this.#flushScheduled = false;
    if (this.#deferred.length === 0 || !this.db.open) return;
    try {
      this.tx(() => undefined);
      this.#commitFailures = 0;
      this.#failingSince = undefined;
    } catch (err) {
      const now = this.now();
      this.#failingSince ??= now;
      if (now - this.#failingSince >= COMMIT_GIVE_UP_MS) {
        const lost = this.#deferred.length;
        this.#deferred = [];
        this.#commitFailures = 0;
        this.#failingSince = undefined;
        this.onCommitError?.(err, lost, undefined);
        return;
      }
      this.#commitFailures++;
      const retryInMs = Math.min(1000 * 2 ** (this.#commitFailures - 1), COMMIT_RETRY_MAX_MS);
      this.onCommitError?.(err, this.#deferred.length, retryInMs);
      clearTimeout(this.#retryTimer);
      this.#retryTimer = setTimeout(() => this.flush(), retryInMs);
      this.#retryTimer.unref();
    }
  }

  /**
   * A write that fails on its own (a constraint, a bug) is skipped; one that fails because the
   * database cannot be written (disk full, I/O error, read-only) fails the whole transaction,
   * so that every write in it waits for the next commit instead of being lost.
   */
  #run(writes: readonly (() => void)[]): void {
    for (const w of writes) {
      try {
        w();
      } catch (err) {
        if (cannotWrite(err)) throw err;
        this.onDeferredError?.(err);
      }
    }
  }

  cursor(network: Network, room: string): string | undefined {
    return this.#getCursor.get(network, room)?.value;
  }

  setCursor(network: Network, room: string, value: string): void {
    this.#setCursor.run(network, room, value);
  }

  /** Marks an inbound batch key as committed; false if it was already. */
  markSeen(key: string, now: number): boolean {
    if (this.#seen.get(key)) return false;
    this.#markSeen.run(key, now);
    return true;
  }

  /** Forgets batch keys older than `before` (a homeserver resends for minutes, not weeks). */
  pruneSeen(before: number): void {
    this.#pruneSeen.run(before);
  }

  /** Records the resolved rooms of the configured links, for operators reading the file. */
  saveLinks(rows: readonly { name: string; network: Network; configured: string; room: string }[]): void {
    this.tx(() => {
      this.#clearLinks.run();
      for (const r of rows) this.#putLink.run(r.name, r.network, r.configured, r.room);
    });
  }

  /** Copies a network keeps of media from elsewhere (settings rows `upload:<network>:<source>`). */
  readonly uploads: UploadDirectory = {
    get: (network, source) => this.#getSetting.get(`upload:${network}:${source}`)?.value,
    put: (network, source, copy) => { this.#putSetting.run(`upload:${network}:${source}`, copy); },
  };

  /** A random secret (hex) made on first use and kept, e.g. the key that signs public media URLs. */
  secret(name: string): string {
    return this.tx(() => {
      this.#putSetting.run(`secret:${name}`, randomBytes(32).toString("hex"));
      return this.#getSetting.get(`secret:${name}`)!.value;
    });
  }

  close(): void {
    clearTimeout(this.#retryTimer);
    this.flush();
    this.#walFlusher?.stop();
    if (this.db.open) this.db.close();
  }
}

/** SQLite's answers for "the file cannot take this write", as opposed to "this write is wrong". */
export function cannotWrite(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && /^SQLITE_(FULL|IOERR|READONLY|BUSY|LOCKED|NOMEM|CANTOPEN|CORRUPT|NOTADB)/.test(code);
}
