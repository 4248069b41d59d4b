/** How a transient delivery failure is retried: the wait before each try, and when to stop. */
import type { Failure } from "./errors.ts";
import type { OutboxRow } from "./store/outbox-store.ts";

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

/** Past the cap in attempts, or in age (counted from the commit). */
export function capped(policy: RetryPolicy, row: OutboxRow, now = Date.now()): boolean {
  return row.attempts >= policy.maxAttempts || now - row.created >= policy.maxAgeMs;
}

/** Whether a transient failure of the coming attempt would be the last one allowed. */
export function isLastAttempt(policy: RetryPolicy, row: OutboxRow): boolean {
  return row.attempts + 1 >= policy.maxAttempts || Date.now() + backoff(row.attempts + 1) - row.created >= policy.maxAgeMs;
}

/** The reason a give-up records: how many attempts over how long, then the last failure. */
export function gaveUpReason(row: OutboxRow, reason: string): string {
  const hours = ((Date.now() - row.created) / 3600_000).toFixed(1);
  return `gave up after ${row.attempts} attempts over ${hours} h: ${reason}`;
}

/**
 * What follows a failed attempt: counts it (a not-ready wait is no attempt), then either the
 * reason to record as the give-up (permanent, or past the cap) or when to try again.
 */
export function afterFailure(policy: RetryPolicy, row: OutboxRow, failure: Failure, reason: string, now = Date.now()): { giveUp: string } | { retryAt: number } {
  if (failure !== "not-ready") row.attempts++;
  if (failure === "permanent") return { giveUp: reason };
  if (capped(policy, row, now)) return { giveUp: gaveUpReason(row, reason) };
  return { retryAt: now + (failure === "not-ready" ? 0 : backoff(row.attempts)) };
}
