/**
 * Junction's logger: pino, JSON lines on stdout. Secrets that end up in a logged object (the
 * component secret, tokens) are censored, since logs get pasted into bug reports.
 */
import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger };
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error";

export interface LoggerOptions {
  /** Where JSON lines go; stdout when absent. */
  readonly destination?: DestinationStream;
  /** Shown as `name` on every line. */
  readonly name?: string;
}

const SECRET_KEYS = ["secret", "token", "as_token", "hs_token", "password", "accessToken"];

export function createLogger(level: LogLevel, opts: LoggerOptions = {}): Logger {
  const options = {
    level,
    name: opts.name ?? "junction",
    redact: { paths: [...SECRET_KEYS, ...SECRET_KEYS.map((k) => `*.${k}`)], censor: "[redacted]" },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
