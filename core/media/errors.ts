/**
 * Why a fetch failed, classified where it happens: a DeliveryError whose class (permanent or
 * transient) follows from its kind, so the outbox gives up on permanent ones (or the adapter
 * degrades the file to a link) and retries transient ones with backoff, within its cap.
 */
import { DeliveryError, isRetryableStatus } from "../errors.ts";

export type MediaFailureKind =
  /** Not http(s) or data:, or not a URL at all. */
  | "scheme"
  /** The address is private, loopback, link-local… and not allowed. */
  | "refused"
  /** An HTTP status that will not change (404, 410, 403…). */
  | "status"
  /** Over media.maxBytes (by Content-Length or by the bytes read). */
  | "too-large"
  /** Too many redirects, or a redirect without a usable Location. */
  | "redirect"
  /** The name does not exist. */
  | "not-found"
  /** A 5xx, 408 or 429 answer: the server may do better later. */
  | "unavailable"
  /** Connect, headers or body took too long. */
  | "timeout"
  /** Refused, reset or unreachable connections, DNS trouble. */
  | "network";

const PERMANENT: ReadonlySet<MediaFailureKind> = new Set(["scheme", "refused", "status", "too-large", "redirect", "not-found"]);

export interface MediaFailure extends Error {
  readonly kind: MediaFailureKind;
  readonly permanent: boolean;
  /** The HTTP status, for "status" and "unavailable". */
  readonly status?: number;
  /**
   * What may be said in a room about it: nothing about addresses or names, so that nobody can use
   * the bridge to learn what an internal name resolves to.
   */
  readonly publicReason: string;
}

/** One error class for every media failure, classified by its kind (core/errors.ts's DeliveryError). */
class MediaError extends DeliveryError implements MediaFailure {
  override readonly name = "MediaError";
  readonly kind: MediaFailureKind;
  readonly publicReason: string;
  readonly status?: number;
  constructor(kind: MediaFailureKind, message: string, publicReason: string, status?: number, cause?: unknown) {
    super(PERMANENT.has(kind) ? "permanent" : "transient", message, cause === undefined ? undefined : { cause });
    this.kind = kind;
    this.publicReason = publicReason;
    if (status !== undefined) this.status = status;
  }
  get permanent(): boolean { return this.failure === "permanent"; }
}

export function mediaFailure(kind: MediaFailureKind, message: string, opts: { status?: number; cause?: unknown } = {}): MediaFailure {
  return new MediaError(kind, message, publicReasonOf(kind, opts.status), opts.status, opts.cause);
}

export function isMediaFailure(err: unknown): err is MediaFailure {
  return err instanceof MediaError;
}

/** 404, 410 and other 4xx are permanent, except those that invite a retry (408, 425, 429); 5xx are transient. */
export function statusFailure(status: number, what: string): MediaFailure {
  return mediaFailure(isRetryableStatus(status) ? "unavailable" : "status", `${what} answered HTTP ${status}`, { status });
}

function publicReasonOf(kind: MediaFailureKind, status: number | undefined): string {
  switch (kind) {
    case "too-large": return "too large to copy";
    case "status": case "unavailable": return `the server answered HTTP ${status}`;
    case "timeout": return "the server took too long";
    default: return "it could not be fetched";
  }
}
