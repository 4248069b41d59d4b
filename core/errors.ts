/**
 * How a failed delivery is classified, once, where the error is raised: the adapter (or the media
 * fetcher) knows whether a 404, a refused join or a closed socket can be fixed by trying again;
 * the queues only read the classification.
 *
 * - transient: try again with backoff, up to the configured cap in attempts and age;
 * - permanent: no retry can help; record the reason and move on;
 * - not-ready: the destination is not connected; wait for it without counting an attempt.
 *
 * Anything that is not a DeliveryError counts as transient (bounded by the cap, so an
 * unforeseen error can hold a room for at most `delivery.maxAge`).
 */
export type Failure = "transient" | "permanent" | "not-ready";

export class DeliveryError extends Error {
  readonly failure: Failure;
  constructor(failure: Failure, message: string, options?: ErrorOptions) {
    super(message, options);
    this.failure = failure;
  }
}

/** A delivery that can never succeed; the outbox records the reason and moves on. */
export class PermanentDeliveryError extends DeliveryError {
  override readonly name = "PermanentDeliveryError";
  constructor(message: string, options?: ErrorOptions) { super("permanent", message, options); }
}

/** Worth another try later (a timeout, a 5xx, a join that got no answer). */
export class TransientDeliveryError extends DeliveryError {
  override readonly name = "TransientDeliveryError";
  constructor(message: string, options?: ErrorOptions) { super("transient", message, options); }
}

/** The destination is not connected yet; the row waits for `setReady(true)` without counting as a failure. */
export class NotReadyError extends DeliveryError {
  override readonly name = "NotReadyError";
  constructor(message: string, options?: ErrorOptions) { super("not-ready", message, options); }
}

export function failureOf(err: unknown): Failure {
  return err instanceof DeliveryError ? err.failure : "transient";
}

/**
 * An HTTP answer as a classified error: 4xx is permanent (the resource is gone, too large,
 * refused), except those that say "later" (408 timeout, 425, 429 rate limit); 5xx is transient.
 */
export function httpError(status: number, message: string): DeliveryError {
  return isRetryableStatus(status) ? new TransientDeliveryError(message) : new PermanentDeliveryError(message);
}

/** Whether an HTTP status says "try again later" (5xx, 408, 425, 429) rather than "never". */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 425 || status === 429;
}

export function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
