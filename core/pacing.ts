/**
 * Token buckets by key: how much work one sender or one room may cause per second. Excess is
 * delayed, never dropped: `take` answers how long to wait before the work may start.
 */
import type { BridgeEvent, Network } from "./events.ts";
import type { Pace } from "./queues.ts";
import type { Store } from "./store/store.ts";

export interface Rate {
  /** Tokens added per second. */
  readonly perSecond: number;
  /** Most tokens held (the burst allowed after a quiet spell). */
  readonly burst: number;
}

interface Bucket { tokens: number; at: number }

const MAX_BUCKETS = 10_000;

export class Pacer {
  readonly #rate: Rate;
  readonly #buckets = new Map<string, Bucket>();
  readonly #now: () => number;

  constructor(rate: Rate, now: () => number = Date.now) {
    this.#rate = rate;
    this.#now = now;
  }

  /** Takes `cost` tokens and returns 0, or takes nothing and returns the milliseconds to wait. */
  take(key: string, cost = 1): number {
    const wait = this.wait(key, cost);
    if (wait === 0) this.#buckets.get(key)!.tokens -= Math.min(cost, this.#rate.burst);
    return wait;
  }

  /** How long until `cost` tokens are there (0: now), taking nothing. */
  wait(key: string, cost = 1): number {
    const b = this.#refill(key, this.#now());
    const need = Math.min(cost, this.#rate.burst);
    return b.tokens >= need ? 0 : Math.max(1, Math.ceil(((need - b.tokens) / this.#rate.perSecond) * 1000));
  }

  #refill(key: string, now: number): Bucket {
    let b = this.#buckets.get(key);
    if (!b) {
      // Full buckets are forgotten first: a key that is quiet again costs no memory.
      if (this.#buckets.size >= MAX_BUCKETS) this.#forgetFull(now);
      b = { tokens: this.#rate.burst, at: now };
      this.#buckets.set(key, b);
      return b;
    }
    b.tokens = Math.min(this.#rate.burst, b.tokens + ((now - b.at) / 1000) * this.#rate.perSecond);
    b.at = now;
    return b;
  }

  #forgetFull(now: number): void {
    for (const [k, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.#rate.perSecond >= this.#rate.burst) this.#buckets.delete(k);
    }
    // Still full of busy keys: drop the oldest (they get a fresh burst; bounded memory wins).
    for (const k of this.#buckets.keys()) {
      if (this.#buckets.size < MAX_BUCKETS) break;
      this.#buckets.delete(k);
    }
  }
}

/** One person's joins, leaves and profile changes delivered per room. */
const PERSON_CHURN = { perSecond: 0.5, burst: 5 };

/** Puppet creation per destination room, and one person's membership churn per room, paced. */
export function deliveryPace(store: Store, puppets: Rate): Pace {
  const creation = new Pacer(puppets);
  const churn = new Pacer(PERSON_CHURN);
  return (network: Network, room: string, e: BridgeEvent): number => {
    const here = `${network}\u0000${room}`;
    const membership = e.kind === "join" || e.kind === "leave" || e.kind === "profile";
    const creates = e.kind !== "leave" && store.puppets.get(network, e.sender.id) === undefined;
    const person = `${here}\u0000${e.origin}\u0000${e.sender.id}`;
    const wait = Math.max(creates ? creation.wait(here) : 0, membership ? churn.wait(person) : 0);
    if (wait > 0) return wait;
    if (creates) creation.take(here);
    if (membership) churn.take(person);
    return 0;
  };
}
