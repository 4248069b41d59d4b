import type { EmitOptions } from "./adapter.ts";
import type { BridgeEvent, Network } from "./events.ts";
import type { Pacer } from "./pacing.ts";
import type { Queues } from "./queues.ts";
import type { Cursors, Routed, Router } from "./router.ts";
import { cannotWrite, type Store } from "./store/store.ts";

interface Settled { readonly p: Pending; readonly routed?: Routed; readonly err?: unknown }

interface Pending {
  readonly network: Network;
  readonly events: readonly BridgeEvent[];
  readonly opts: EmitOptions | undefined;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Commits what adapters emit in one event-loop turn together. A burst arrives as many stanzas
 * per socket read; one commit for all of them instead of one each is most of the difference
 * between a bridge that keeps up with the server and one that does not. Each emit still resolves
 * only after its own events are committed, and fails alone (a savepoint per emit).
 */
export class Ingest {
  readonly #store: Store;
  readonly #router: Router;
  readonly #queues: Queues;
  #pending: Pending[] = [];
  #scheduled = false;
  readonly #pace: Pacer | undefined;
  /** Membership events over their room's rate, in arrival order per room. */
  readonly #held = new Map<string, Pending[]>();
  readonly #timers = new Set<NodeJS.Timeout>();

  /**
   * `pace` bounds the joins, leaves and profile changes one room may commit per second (a join
   * wave would otherwise become a wave of outbox rows and puppets): the excess waits in memory,
   * in order, and its emit resolves when it is committed. Messages are never held behind them.
   */
  constructor(store: Store, router: Router, queues: Queues, pace?: Pacer) {
    this.#store = store;
    this.#router = router;
    this.#queues = queues;
    this.#pace = pace;
  }

  emit(network: Network, events: readonly BridgeEvent[], opts?: EmitOptions): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const p: Pending = { network, events, opts, resolve, reject };
      const key = membershipKey(events);
      if (key !== undefined && this.#pace) {
        const held = this.#held.get(key);
        if (held) {
          held.push(p);
          return;
        }
        const wait = this.#pace.take(key, membershipCost(events));
        if (wait > 0) {
          this.#held.set(key, [p]);
          this.#later(key, wait);
          return;
        }
      }
      this.#admit(p);
    });
  }

  /** Held membership events are not committed: Matrix sends their transaction again, XMPP shows the occupants on the next join. */
  stop(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const list of this.#held.values()) for (const p of list) p.reject(new Error("Junction is stopping; not committed"));
    this.#held.clear();
  }

  #admit(p: Pending): void {
    this.#pending.push(p);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.flush());
  }

  #later(key: string, ms: number): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      this.#release(key);
    }, ms);
    this.#timers.add(t);
  }

  #release(key: string): void {
    const list = this.#held.get(key);
    if (!list || !this.#pace) return;
    while (list.length > 0) {
      const wait = this.#pace.take(key, membershipCost(list[0]!.events));
      if (wait > 0) return this.#later(key, wait);
      this.#admit(list.shift()!);
    }
    this.#held.delete(key);
  }

  /** Commits everything pending now. */
  flush(): void {
    this.#scheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    const settled = this.#commitTogether(batch) ?? this.#commitEach(batch);
    if (!settled) return;
    // Only committed rows are queued, in emit order.
    for (const s of settled) {
      if (s.routed) {
        this.#queues.enqueue(s.routed.rows, s.routed.ephemeral);
        s.p.resolve();
      } else {
        s.p.reject(s.err);
      }
    }
  }

  /**
   * The whole batch in one transaction without a savepoint per emit (two statements each):
   * undefined when an emit failed, and the batch is then committed emit by emit.
   */
  #commitTogether(batch: readonly Pending[]): Settled[] | undefined {
    try {
      return this.#store.tx(() => {
        const cursors: Cursors = new Map();
        const settled = batch.map((p) => ({ p, routed: this.#router.route(p.network, p.events, p.opts, cursors) }));
        this.#router.writeCursors(cursors);
        return settled;
      });
    } catch (err) {
      if (!cannotWrite(err)) return undefined; // rolled back whole; each emit again, alone
      for (const p of batch) p.reject(this.#why(err));
      return [];
    }
  }

  /** A store that cannot be written is said with its file and what to do. */
  #why(err: unknown): unknown {
    return cannotWrite(err) ? storeCannotWrite(this.#store.db.name, err) : err;
  }

  /** Each emit in a savepoint of its own, so that one failing does not take the others with it. */
  #commitEach(batch: readonly Pending[]): Settled[] | undefined {
    const settled: Settled[] = [];
    try {
      this.#store.tx(() => {
        for (const p of batch) {
          try {
            settled.push({ p, routed: this.#router.ingest(p.network, p.events, p.opts) }); // nested: a savepoint of its own
          } catch (err) {
            // A full disk or an I/O error may have rolled back the whole transaction already
            // (SQLite does that for SQLITE_FULL): nothing of the batch may go on without it.
            if (cannotWrite(err) || !this.#store.db.inTransaction) throw err;
            settled.push({ p, err });
          }
        }
      });
    } catch (err) {
      // The commit itself failed: nothing of the batch is stored.
      for (const p of batch) p.reject(this.#why(err));
      return undefined;
    }
    return settled;
  }
}

const isMembership = (e: BridgeEvent) => e.kind === "join" || e.kind === "leave" || e.kind === "profile";

function membershipKey(events: readonly BridgeEvent[]): string | undefined {
  const e = events.find(isMembership);
  return e ? `${e.origin}\u0000${e.room}` : undefined;
}

const membershipCost = (events: readonly BridgeEvent[]) => events.filter(isMembership).length;

/** The reason every adapter logs when the store cannot take a commit: what SQLite said, and what to do. */
export function storeCannotWrite(path: string, err: unknown): Error {
  return new Error(`the store ${path} cannot write (${(err as Error).message}): is the disk full? Free space there; ` +
    "until then nothing new is bridged (Matrix sends its transactions again, XMPP rooms keep theirs in their history)", { cause: err });
}
