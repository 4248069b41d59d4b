/**
 * The hourly prune (and the one a minute after start): seen-ids past a week, avatars no puppet
 * shows any more, and what is older than `store.retentionDays` (0 keeps everything), in batches
 * with a turn of the event loop between them so that inbound commits are not held up.
 */
import type { Logger } from "pino";
import type { Metrics } from "./metrics.ts";
import type { Pruned } from "./store/retention.ts";
import type { Store } from "./store/store.ts";

const SEEN_KEEP_MS = 7 * 24 * 3600_000;
const PRUNE_EVERY_MS = 3600_000;
const PRUNE_FIRST_MS = 60_000;
const PRUNE_BATCH = 500;

const aTurn = () => new Promise((resolve) => setImmediate(resolve));

export class Pruning {
  readonly #store: Store;
  readonly #metrics: Metrics;
  readonly #log: Logger;
  readonly #retentionDays: number;
  #timers: NodeJS.Timeout[] = [];

  constructor(store: Store, metrics: Metrics, log: Logger, retentionDays: number) {
    this.#store = store;
    this.#metrics = metrics;
    this.#log = log;
    this.#retentionDays = retentionDays;
  }

  /** Prunes now; resolves to what the retention removed. */
  async prune(now = Date.now()): Promise<Pruned> {
    const store = this.#store;
    const total: Pruned = { messages: 0, copies: 0, failed: 0 };
    store.pruneSeen(now - SEEN_KEEP_MS);
    store.flush();
    // Avatars no puppet shows any more (an old picture): they are not kept for any retention.
    let avatars = 0;
    for (let n = PRUNE_BATCH; n === PRUNE_BATCH; avatars += n) {
      n = store.avatars.pruneBatch(PRUNE_BATCH);
      if (n === PRUNE_BATCH) await aTurn();
    }
    this.#metrics.pruned.inc({ table: "avatars" }, avatars);
    if (avatars > 0) this.#log.info({ avatars }, "pruned avatars no puppet shows any more");
    if (this.#retentionDays === 0) return total;
    const before = now - this.#retentionDays * 24 * 3600_000;
    for (;;) {
      const r = store.retention.pruneBatch(before, PRUNE_BATCH);
      total.messages += r.messages; total.copies += r.copies; total.failed += r.failed;
      if (r.messages < PRUNE_BATCH && r.failed < PRUNE_BATCH) break;
      await aTurn(); // let inbound commits in between batches
    }
    this.#metrics.pruned.inc({ table: "messages" }, total.messages);
    this.#metrics.pruned.inc({ table: "copies" }, total.copies);
    this.#metrics.pruned.inc({ table: "outbox" }, total.failed);
    if (total.messages + total.failed > 0) this.#log.info({ ...total, retentionDays: this.#retentionDays }, "pruned what is older than the retention");
    return total;
  }

  /** Runs the prune a minute from now and then hourly, skipped once `stopping()` says so. */
  start(stopping: () => boolean): void {
    const scheduled = () => {
      if (stopping()) return;
      this.prune().catch((err: unknown) => this.#log.error({ err }, "pruning the store failed; trying again in an hour"));
    };
    const first = setTimeout(scheduled, PRUNE_FIRST_MS);
    const every = setInterval(scheduled, PRUNE_EVERY_MS);
    first.unref();
    every.unref();
    this.#timers = [first, every];
  }

  stop(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers = [];
  }
}
