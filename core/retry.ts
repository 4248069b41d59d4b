/** How a transient delivery failure is retried: the wait before each try, and when to stop. */

/** Waits grow 1 s, 2 s, 4 s … up to 5 min, with jitter so that many rooms do not retry in step. */
export function backoff(attempt: number): number {
  const base = Math.min(1000 * 2 ** Math.max(0, attempt - 1), 300_000);
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** How long a transient failure is retried before the row is failed with its reason. */
export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly maxAgeMs: number;
}
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 10, maxAgeMs: 24 * 3600_000 };
