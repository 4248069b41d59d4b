/**
 * Progress of long operations (joining many rooms, catching up after an outage), as adapters
 * report it through AdapterHost.progress: logged with counts at the start, at the end and at most
 * every PROGRESS_LOG_MS between, and kept in two gauges so a dashboard can show "12 of 40".
 */
import type { Logger } from "pino";
import type { Operation } from "./adapter.ts";
import type { Network } from "./events.ts";
import type { Metrics } from "./metrics.ts";

export const PROGRESS_LOG_MS = 5000;

const WORDS: Record<Operation, string> = { join: "joining linked rooms", "catch-up": "catching up on missed messages" };

export class Progress {
  readonly #log: Logger;
  readonly #metrics: Metrics | undefined;
  readonly #now: () => number;
  readonly #runs = new Map<string, { started: number; logged: number }>();

  constructor(log: Logger, metrics?: Metrics, now: () => number = Date.now) {
    this.#log = log;
    this.#metrics = metrics;
    this.#now = now;
  }

  report(network: Network, operation: Operation, done: number, total: number, extra: Readonly<Record<string, number>> = {}): void {
    const labels = { network, operation };
    this.#metrics?.progressDone.set(labels, done);
    this.#metrics?.progressTotal.set(labels, total);
    if (operation === "catch-up" && extra.events) this.#metrics?.caughtUp.inc({ network }, extra.events);
    // A run of one step is over as soon as it starts: only longer ones are worth lines.
    if (total <= 1) return;
    const key = `${network}:${operation}`;
    const now = this.#now();
    let run = this.#runs.get(key);
    const first = run === undefined || done === 0;
    if (first) this.#runs.set(key, (run = { started: now, logged: -Infinity }));
    const last = done >= total;
    if (!first && !last && now - run!.logged < PROGRESS_LOG_MS) return;
    run!.logged = now;
    const fields = { network, operation, done, total, ...extra, elapsedMs: now - run!.started };
    if (last) this.#runs.delete(key);
    this.#log.info(fields, `${network}: ${WORDS[operation]}: ${last ? "done, " : ""}${done} of ${total}`);
  }
}
