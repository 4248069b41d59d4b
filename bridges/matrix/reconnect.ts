/**
 * When the next connection attempt to the homeserver runs, and what the log says about it: one
 * try at a time after 1 s, doubling, never more than MAX_RETRY_MS apart (never a tight loop), and
 * one log line per change of state or of reason, each saying what to fix.
 */
import type { Logger } from "pino";
import { NotReadyError } from "../../core/adapter.ts";
import { errcodeOf, type Homeserver } from "./client.ts";

const FIRST_RETRY_MS = 1_000;
export const MAX_RETRY_MS = 30_000;

/** A homeserver that will take none of our requests until its operator changes something. */
export class Misconfigured extends Error {
  override readonly name = "Misconfigured";
}

/** A homeserver that does not know our as_token would refuse everything: say exactly what to fix. */
export async function checkToken(hs: Homeserver, registration: string): Promise<void> {
  try {
    await hs.request("GET", "/_matrix/client/v3/account/whoami");
  } catch (err) {
    if (errcodeOf(err) === "M_UNKNOWN_TOKEN" || (err as { statusCode?: unknown }).statusCode === 401) {
      throw new Misconfigured(`the homeserver at ${hs.url} does not know the as_token of ${registration}: ` +
        "add that file to app_service_config_files in homeserver.yaml (the same file, not an older copy) and restart the homeserver");
    }
    throw err;
  }
}

export class Reconnect {
  readonly #log: Logger;
  readonly #homeserver: string;
  readonly #attempt: () => void;
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;
  /** The reason of the current failure; undefined while connected (or before the first try). */
  #failing: string | undefined;
  #stopped = false;

  constructor(log: Logger, homeserver: string, attempt: () => void) {
    this.#log = log;
    this.#homeserver = homeserver;
    this.#attempt = attempt;
  }

  get #wait(): number {
    return Math.min(FIRST_RETRY_MS * 2 ** Math.min(this.#failures, 16), MAX_RETRY_MS);
  }

  /** Why the homeserver is not usable, as the log said it; undefined while connected. */
  get failing(): string | undefined {
    return this.#failing;
  }

  connected(): void {
    if (this.#failing !== undefined) this.#log.info({ after: this.#failing }, "matrix: homeserver usable again");
    this.#failing = undefined;
    this.#failures = 0;
  }

  /** An attempt failed: say so if the reason is new, and try again after the backoff. */
  failed(err: unknown): void {
    const reason = err instanceof NotReadyError
      ? `the homeserver at ${this.#homeserver} is unreachable (${err.message}): start it, or fix matrix.homeserver`
      : err instanceof Error ? err.message : String(err);
    if (reason !== this.#failing) {
      const fields = { homeserver: this.#homeserver, reason, retryingEveryMaxS: MAX_RETRY_MS / 1000 };
      if (err instanceof NotReadyError) this.#log.warn(fields, "matrix: cannot reach the homeserver; retrying until it answers (other networks keep working)");
      else this.#log.error(fields, err instanceof Misconfigured
        ? "matrix: the homeserver refuses Junction; fix this, the bridge connects on its own once fixed (other networks keep working)"
        : "matrix: the bridge could not start or connect; retrying (other networks keep working)");
      this.#failing = reason;
    } else {
      this.#log.debug({ failures: this.#failures + 1, wait: this.#wait }, "matrix: homeserver still not usable");
    }
    this.soon(this.#wait);
    this.#failures++;
  }

  /** Schedules an attempt (at most one pending); `after` defaults to the current backoff. */
  soon(after = this.#wait): void {
    if (this.#stopped || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#attempt();
    }, after * (0.8 + Math.random() * 0.4));
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  resume(): void {
    this.#stopped = false;
  }
}
