/**
 * The client side of the appservice: matrix-bot-sdk's MatrixClient with the as_token, one instance
 * per identity (the bot, or a ghost through `?user_id=` masquerading). This wrapper adds what the
 * SDK leaves out: waiting out 429s, and telling "the homeserver is down" from "this request failed".
 */
import { LogService, MatrixClient, MatrixError, type ILogger } from "matrix-bot-sdk";
import type { Logger } from "pino";
import { NotReadyError } from "../../core/adapter.ts";

/** Error codes of a connection that never reached the homeserver. */
const UNREACHABLE = new Set(["ECONNREFUSED", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);
const MAX_RATE_LIMIT_WAITS = 8;
const MAX_RATE_LIMIT_WAIT_MS = 60_000;

export interface RequestOptions {
  /** Masquerade as this user (a ghost); the bot when absent. */
  readonly as?: string;
  readonly qs?: Record<string, string>;
  readonly body?: unknown;
  /** Send `body` (a Buffer) with this content type instead of JSON. */
  readonly contentType?: string;
  readonly timeoutMs?: number;
}

/** A non-JSON error answer (the SDK throws the bare response for those). */
export class HttpStatusError extends Error {
  override readonly name = "HttpStatusError";
  readonly statusCode: number;
  constructor(statusCode: number, what: string) {
    super(`${what}: HTTP ${statusCode}`);
    this.statusCode = statusCode;
  }
}

export function errcodeOf(err: unknown): string | undefined {
  return err instanceof MatrixError ? err.errcode : undefined;
}

export class Homeserver {
  readonly url: string;
  readonly #asToken: string;
  readonly #log: Logger;
  readonly #clients = new Map<string, MatrixClient>();
  readonly #onUnreachable: () => void;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(url: string, asToken: string, log: Logger, onUnreachable: () => void, sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))) {
    this.url = url.replace(/\/+$/, "");
    this.#asToken = asToken;
    this.#log = log;
    this.#onUnreachable = onUnreachable;
    this.#sleep = sleep;
    routeSdkLogs(log);
  }

  /** The header that authenticates the bot, for requests made outside the SDK (media downloads). */
  authorization(): Record<string, string> {
    return { authorization: `Bearer ${this.#asToken}` };
  }

  #client(as: string | undefined): MatrixClient {
    const key = as ?? "";
    let c = this.#clients.get(key);
    if (!c) {
      c = new MatrixClient(this.url, this.#asToken);
      if (as) c.impersonateUserId(as);
      this.#clients.set(key, c);
    }
    return c;
  }

  /**
   * One Client-Server API call. 429s are waited out (the server's `retry_after_ms`, never a busy
   * loop); an unreachable homeserver becomes NotReadyError; Matrix errors are rethrown as MatrixError.
   */
  async request<T = Record<string, unknown>>(method: "GET" | "POST" | "PUT" | "DELETE", path: string, opts: RequestOptions = {}): Promise<T> {
    const client = this.#client(opts.as);
    for (let waits = 0; ; waits++) {
      try {
        const body = opts.body === undefined ? null : opts.body;
        return await client.doRequest(method, path, opts.qs ? { ...opts.qs } : null, body, opts.timeoutMs ?? 60_000,
          false, opts.contentType ?? "application/json", false) as T;
      } catch (err) {
        if (err instanceof MatrixError) {
          if ((err.statusCode === 429 || err.errcode === "M_LIMIT_EXCEEDED") && waits < MAX_RATE_LIMIT_WAITS) {
            const wait = Math.min(Math.max(err.retryAfterMs ?? 1000, 100), MAX_RATE_LIMIT_WAIT_MS);
            this.#log.debug({ path, wait }, "homeserver rate limit; waiting");
            await this.#sleep(wait);
            continue;
          }
          throw err;
        }
        const code = (err as { code?: unknown }).code;
        if (typeof code === "string" && UNREACHABLE.has(code)) {
          this.#onUnreachable();
          throw new NotReadyError(`homeserver ${this.url} unreachable (${code})`);
        }
        const status = (err as { statusCode?: unknown }).statusCode;
        if (status === 502 || status === 503 || status === 504) {
          // A reverse proxy in front of a homeserver that is down answers these.
          this.#onUnreachable();
          throw new NotReadyError(`homeserver ${this.url} unavailable (HTTP ${status})`);
        }
        if (typeof status === "number") throw new HttpStatusError(status, `${method} ${path.split("?")[0]}`);
        throw err instanceof Error ? err : new Error(String(err));
      }
    }
  }
}

let routed = false;
/** The SDK logs every failed request at error level; ours are handled, so they go to debug. */
function routeSdkLogs(log: Logger): void {
  if (routed) return;
  routed = true;
  const sdk = log.child({ module: "matrix-bot-sdk" });
  const at = (level: "debug" | "trace") => (module: string, ...rest: unknown[]) =>
    sdk[level]({ sdkModule: module }, rest.map((r) => (typeof r === "string" ? r : safeJson(r))).join(" "));
  const logger: ILogger = { info: at("debug"), warn: at("debug"), error: at("debug"), debug: at("trace"), trace: at("trace") };
  LogService.setLogger(logger);
}

function safeJson(x: unknown): string {
  try {
    return x instanceof Error ? x.message : JSON.stringify(x);
  } catch {
    return String(x);
  }
}
