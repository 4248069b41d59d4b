import type { EmitOptions } from "./adapter.ts";
import type { BridgeEvent, Network } from "./events.ts";
import type { Queues } from "./queues.ts";
import type { Routed, Router } from "./router.ts";
import type { Store } from "./store/store.ts";

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

  constructor(store: Store, router: Router, queues: Queues) {
    this.#store = store;
    this.#router = router;
    this.#queues = queues;
  }

  emit(network: Network, events: readonly BridgeEvent[], opts?: EmitOptions): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ network, events, opts, resolve, reject });
      if (this.#scheduled) return;
      this.#scheduled = true;
      setImmediate(() => this.flush());
    });
  }

  /** Commits everything pending now. */
  flush(): void {
    this.#scheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    const settled: { p: Pending; routed?: Routed; err?: unknown }[] = [];
    try {
      this.#store.tx(() => {
        for (const p of batch) {
          try {
            settled.push({ p, routed: this.#router.ingest(p.network, p.events, p.opts) }); // nested: a savepoint of its own
          } catch (err) {
            settled.push({ p, err });
          }
        }
      });
    } catch (err) {
      // The commit itself failed: nothing of the batch is stored.
      for (const p of batch) p.reject(err);
      return;
    }
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
}
