/**
 * Everything a test person received, in order, with waiters: `waitFor` first looks at what already
 * arrived, so a test never races a fast server between acting and starting to wait.
 */
export type Predicate<T> = (item: T) => boolean;

interface Waiter<T> {
  predicate: Predicate<T>;
  resolve: (item: T) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class ArrivalBuffer<T> {
  readonly items: T[] = [];
  private waiters = new Set<Waiter<T>>();
  private closedWith: Error | undefined;
  private describe: (item: T) => string;

  constructor(describe: (item: T) => string) {
    this.describe = describe;
  }

  push(item: T): void {
    this.items.push(item);
    for (const w of this.waiters) {
      let hit = false;
      try {
        hit = w.predicate(item);
      } catch {
        hit = false; // a predicate that trips on an unexpected shape simply does not match
      }
      if (hit) {
        this.waiters.delete(w);
        clearTimeout(w.timer);
        w.resolve(item);
      }
    }
  }

  /** The first item (already arrived or arriving within timeoutMs) that matches. */
  waitFor(predicate: Predicate<T>, timeoutMs: number, what = "a matching item", from = 0): Promise<T> {
    for (let i = from; i < this.items.length; i++) {
      const item = this.items[i] as T;
      try {
        if (predicate(item)) return Promise.resolve(item);
      } catch {
        // no match
      }
    }
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          const recent = this.items.slice(-5).map((s) => this.describe(s)).join("\n  ");
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last arrivals:\n  ${recent || "(none)"}`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  close(reason: Error): void {
    this.closedWith = reason;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(reason);
    }
    this.waiters.clear();
  }
}
