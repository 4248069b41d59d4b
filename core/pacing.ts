/**
 * Token buckets by key: how much work one sender or one room may cause per second. Excess is
 * delayed, never dropped: `take` answers how long to wait before the work may start.
 */
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
