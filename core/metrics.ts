import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Network } from "./events.ts";

/**
 * Junction's measurements, in Prometheus form. One registry per running Junction (not the
 * global one), so tests and benchmarks can run several side by side.
 */
export interface MetricSources {
  outboxDepth(): number;
  /** Puppets known on `network`. */
  puppets(network: Network): number;
  /** The networks configured. */
  networks(): readonly Network[];
  /** Every linked room and whether the bridge is in it. */
  rooms(): readonly { readonly network: Network; readonly joined: boolean }[];
}

export class Metrics {
  readonly registry = new Registry();
  readonly #sources: MetricSources;
  readonly eventsIn = new Counter({ name: "junction_events_in_total", help: "Events received, by network and kind", labelNames: ["network", "kind"], registers: [this.registry] });
  readonly eventsOut = new Counter({ name: "junction_events_out_total", help: "Deliveries settled, by destination network, kind and outcome", labelNames: ["network", "kind", "outcome"], registers: [this.registry] });
  /** The bridge's own share of a hop: from the inbound commit until the destination send begins. */
  // A histogram, not a summary: prom-client's summary feeds every observation into five
  // t-digests (one per age bucket), 4-5 % of Junction's CPU per bridged message; a histogram
  // adds one to a bucket, and Prometheus can aggregate it (histogram_quantile). Fine buckets at
  // the low end, where "p50 under 10 ms" is read; the top ones are a room waiting out a rate limit.
  readonly hop = new Histogram({
    name: "junction_bridge_hop_seconds", help: "From an event's commit to the start of its send, by destination network", labelNames: ["network"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30, 300], registers: [this.registry],
  });
  readonly delivery = new Histogram({
    name: "junction_delivery_seconds", help: "From an event's commit until its destination confirmed it", labelNames: ["network"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300], registers: [this.registry],
  });
  readonly failures = new Counter({ name: "junction_delivery_failures_total", help: "Deliveries given up, by destination network and cause (permanent, gave-up after the retry cap, bounced by the room)", labelNames: ["network", "cause"], registers: [this.registry] });
  readonly pruned = new Counter({ name: "junction_store_pruned_total", help: "Rows removed by the retention, by table", labelNames: ["table"], registers: [this.registry] });
  readonly storeErrors = new Counter({ name: "junction_store_errors_total", help: "Store writes that failed (disk full, I/O error), by what was written", labelNames: ["what"], registers: [this.registry] });
  readonly retries = new Counter({ name: "junction_delivery_retries_total", help: "Deliveries retried after a transient failure", labelNames: ["network"], registers: [this.registry] });
  readonly outboxDepth: Gauge = new Gauge({
    name: "junction_outbox_depth", help: "Deliveries waiting in memory queues", registers: [this.registry],
    collect: (): void => this.outboxDepth.set(this.#sources.outboxDepth()),
  });
  readonly connected = new Gauge({ name: "junction_network_connected", help: "1 when the network's adapter is connected and ready", labelNames: ["network"], registers: [this.registry] });
  readonly puppets: Gauge = new Gauge({
    name: "junction_puppets", help: "Puppets known, by the network they appear on", labelNames: ["network"], registers: [this.registry],
    collect: (): void => { for (const network of this.#sources.networks()) this.puppets.set({ network }, this.#sources.puppets(network)); },
  });
  readonly rooms: Gauge = new Gauge({
    name: "junction_rooms", help: "Linked rooms, by network and whether the bridge is in them (state: joined, not_joined)", labelNames: ["network", "state"], registers: [this.registry],
    collect: (): void => {
      const rooms = this.#sources.rooms();
      for (const network of this.#sources.networks()) {
        const here = rooms.filter((r) => r.network === network);
        const joined = here.filter((r) => r.joined).length;
        this.rooms.set({ network, state: "joined" }, joined);
        this.rooms.set({ network, state: "not_joined" }, here.length - joined);
      }
    },
  });
  /** A long operation's progress (core/progress.ts): steps done and steps in all, for the current run of it. */
  readonly progressDone = new Gauge({ name: "junction_progress_done", help: "Steps done of a long operation (join: rooms, catch-up: rooms), by network and operation", labelNames: ["network", "operation"], registers: [this.registry] });
  readonly progressTotal = new Gauge({ name: "junction_progress_total", help: "Steps in all of a long operation's current run, by network and operation", labelNames: ["network", "operation"], registers: [this.registry] });
  readonly caughtUp = new Counter({ name: "junction_catchup_events_total", help: "Events bridged by catch-ups after an outage, by origin network", labelNames: ["network"], registers: [this.registry] });

  constructor(sources: MetricSources) {
    this.#sources = sources;
  }
}
