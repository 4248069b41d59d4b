/**
 * Junction's logger: pino. JSON lines for log collectors, or readable lines on a terminal
 * (pino-pretty, the pretty printer pino's own authors keep, run in-process and synchronously so
 * that a line is out before the process exits). Secrets that end up in a logged object (the
 * component secret, tokens) are censored, since logs get pasted into bug reports.
 */
import { pino, type DestinationStream, type Logger } from "pino";
import pretty from "pino-pretty";

export type { Logger };
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error";
/** auto: pretty when stdout is a terminal, JSON otherwise. */
export type LogFormat = "auto" | "pretty" | "json";

export interface LoggerOptions {
  /** Where lines go; stdout when absent. */
  readonly destination?: DestinationStream;
  /** Shown as `name` on every line. */
  readonly name?: string;
  readonly format?: LogFormat;
}

const SECRET_KEYS = ["secret", "token", "as_token", "hs_token", "password", "accessToken", "adminToken"];

/** Whether lines are printed for a person: `auto` asks whether stdout is a terminal. */
export function isPretty(format: LogFormat, isTTY = process.stdout.isTTY === true): boolean {
  return format === "pretty" || (format === "auto" && isTTY);
}

export function createLogger(level: LogLevel, opts: LoggerOptions = {}): Logger {
  const options = {
    level,
    name: opts.name ?? "junction",
    redact: { paths: [...SECRET_KEYS, ...SECRET_KEYS.map((k) => `*.${k}`)], censor: "[redacted]" },
  };
  if (isPretty(opts.format ?? "json")) {
    const stream = pretty({
      sync: true,
      colorize: opts.destination === undefined && process.stdout.isTTY === true,
      translateTime: "SYS:HH:MM:ss",
      ignore: "pid,hostname,name",
      singleLine: true,
      ...(opts.destination ? { destination: opts.destination as unknown as NodeJS.WritableStream } : {}),
    });
    return pino(options, stream);
  }
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
