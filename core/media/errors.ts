/**
 * Why a fetch failed, classified where it happens. Permanent failures are PermanentDeliveryErrors,
 * so the outbox gives up on them (or the adapter degrades the file to a link); transient ones are
 * plain errors, which the outbox retries with backoff.
 */
import { PermanentDeliveryError } from "../adapter.ts";

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

const MARK = Symbol("junction.media-failure");

class PermanentMediaError extends PermanentDeliveryError implements MediaFailure {
  readonly [MARK] = true;
  readonly permanent = true;
  readonly kind: MediaFailureKind;
  readonly publicReason: string;
  readonly status?: number;
  constructor(kind: MediaFailureKind, message: string, publicReason: string, status?: number) {
    super(message);
    this.kind = kind;
    this.publicReason = publicReason;
    if (status !== undefined) this.status = status;
  }
}

class TransientMediaError extends Error implements MediaFailure {
  override readonly name = "TransientMediaError";
  readonly [MARK] = true;
  readonly permanent = false;
  readonly kind: MediaFailureKind;
  readonly publicReason: string;
  readonly status?: number;
  constructor(kind: MediaFailureKind, message: string, publicReason: string, status?: number) {
    super(message);
    this.kind = kind;
    this.publicReason = publicReason;
    if (status !== undefined) this.status = status;
  }
}

export function mediaFailure(kind: MediaFailureKind, message: string, opts: { status?: number; cause?: unknown } = {}): MediaFailure {
  const reason = publicReasonOf(kind, opts.status);
  const err = PERMANENT.has(kind)
    ? new PermanentMediaError(kind, message, reason, opts.status)
    : new TransientMediaError(kind, message, reason, opts.status);
  if (opts.cause !== undefined) (err as { cause?: unknown }).cause = opts.cause;
  return err;
}

export function isMediaFailure(err: unknown): err is MediaFailure {
  return typeof err === "object" && err !== null && (err as { [MARK]?: boolean })[MARK] === true;
}

/** 404, 410 and other 4xx are permanent, except those that invite a retry (408, 425, 429); 5xx are transient. */
export function statusFailure(status: number, what: string): MediaFailure {
  const transient = status >= 500 || status === 408 || status === 425 || status === 429;
  return mediaFailure(transient ? "unavailable" : "status", `${what} answered HTTP ${status}`, { status });
}

function publicReasonOf(kind: MediaFailureKind, status: number | undefined): string {
  switch (kind) {
    case "too-large": return "too large to copy";
    case "status": case "unavailable": return `the server answered HTTP ${status}`;
    case "timeout": return "the server took too long";
    default: return "it could not be fetched";
  }
}
