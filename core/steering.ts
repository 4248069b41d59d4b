/**
 * What an admin can do to a running Junction: look at its links, retry a link's failed
 * deliveries, pause and resume a link, reload the config. The bridges' admin commands (XMPP
 * ad-hoc commands, Matrix `!junction`) are front ends to this; who may use it is decided in
 * core/admin.ts, which also logs every use.
 */
import type { Network } from "./events.ts";
import type { LinkIndex } from "./links.ts";
import type { Queues } from "./queues.ts";
import type { ReloadOutcome } from "./reload.ts";
import type { NetworkState, RoomState, Status } from "./status.ts";
import type { Store } from "./store/store.ts";

export interface LinkSummary {
  readonly name: string;
  readonly paused: boolean;
  readonly rooms: readonly { readonly network: Network; readonly room: string }[];
  /** Deliveries waiting in its rooms' queues (held ones too, while paused). */
  readonly queued: number;
  /** Deliveries given up on (permanent failures, gave-ups, bounces) that a retry would send again. */
  readonly failed: number;
}

export interface LinkStatus extends LinkSummary {
  readonly rooms: readonly RoomState[];
  /** Who paused it and when, while it is paused. */
  readonly pausedBy?: { readonly by: string; readonly at: number };
}

export interface StatusReport {
  readonly networks: readonly NetworkState[];
  readonly links: readonly LinkStatus[];
}

export interface RetryOutcome { readonly link: string; readonly requeued: number; readonly more: boolean }
export interface PauseOutcome { readonly link: string; readonly paused: boolean; readonly changed: boolean; readonly queued: number }

/** What a reload did (core/reload.ts, the one definition). */
export type { ReloadOutcome };

/** Said when this Junction has no reload to call. */
export const RELOAD_UNAVAILABLE = "reload is not available in this Junction: restart it to apply a new config";

export interface Steering {
  links(): LinkSummary[];
  /** Every link, or the one named. */
  status(link?: string): StatusReport;
  retry(link: string): RetryOutcome;
  pause(link: string, by: string): PauseOutcome;
  resume(link: string): PauseOutcome;
  reload(): Promise<ReloadOutcome>;
}

/** A link name that is not configured: said back to the admin with the names there are. */
export class UnknownLink extends Error {
  override readonly name = "UnknownLink";
}

/** At most this many failed deliveries are put back per retry (the rest on the next one). */
export const RETRY_BATCH = 1000;

export interface SteeringSources {
  readonly links: LinkIndex;
  readonly queues: Queues;
  readonly store: Store;
  readonly status: Status;
  /** Undefined while this Junction cannot reload (the reply says so). */
  readonly reload?: () => Promise<ReloadOutcome>;
  now?(): number;
}

export class CoreSteering implements Steering {
  readonly #s: SteeringSources;

  constructor(sources: SteeringSources) {
    this.#s = sources;
  }

  /**
   * Holds the links paused before a restart (call before the outbox is enqueued). A paused link
   * the config no longer has is held too: its deliveries were held for a reason, and going out
   * into rooms that are no longer linked is not what removing it meant. `unconfigured` names
   * them, for the log: `resume` still takes them (it lets their deliveries go).
   */
  restorePaused(): { paused: string[]; unconfigured: string[] } {
    const names = new Set(this.#s.links.all().map((l) => l.name));
    const paused: string[] = [];
    const unconfigured: string[] = [];
    for (const p of this.#s.store.paused.all()) {
      this.#s.queues.pause(p.link);
      (names.has(p.link) ? paused : unconfigured).push(p.link);
    }
    return { paused, unconfigured };
  }

  links(): LinkSummary[] {
    return this.#s.links.all().map((l) => this.#summary(l.name));
  }

  status(link?: string): StatusReport {
    if (link !== undefined) this.#check(link);
    const snap = this.#s.status.snapshot();
    const pausedBy = new Map(this.#s.store.paused.all().map((p) => [p.link, p]));
    return {
      networks: snap.networks,
      links: snap.links.filter((l) => link === undefined || l.name === link).map((l) => {
        const by = pausedBy.get(l.name);
        return { ...this.#summary(l.name), rooms: l.rooms, ...(by && this.#s.queues.isPaused(l.name) ? { pausedBy: { by: by.by, at: by.at } } : {}) };
      }),
    };
  }

  retry(link: string): RetryOutcome {
    this.#check(link);
    const { store, queues } = this.#s;
    store.flush();
    const now = this.#now();
    const rows = store.tx(() => store.outbox.failedOf(link, RETRY_BATCH).map((r) => store.outbox.requeue(r, now)));
    queues.enqueue(rows);
    return { link, requeued: rows.length, more: store.outbox.failedCount(link) > 0 };
  }

  pause(link: string, by: string): PauseOutcome {
    this.#check(link);
    const { store, queues } = this.#s;
    const changed = !queues.isPaused(link);
    if (changed) {
      store.paused.add({ link, by, at: this.#now() });
      queues.pause(link);
    }
    return { link, paused: true, changed, queued: this.#queued(link) };
  }

  resume(link: string): PauseOutcome {
    if (!this.#s.queues.isPaused(link)) this.#check(link);
    const { store, queues } = this.#s;
    const changed = queues.isPaused(link);
    store.paused.remove(link);
    const queued = changed ? queues.resume(link) : this.#queued(link);
    return { link, paused: false, changed, queued };
  }

  async reload(): Promise<ReloadOutcome> {
    if (!this.#s.reload) return { applied: false, reason: RELOAD_UNAVAILABLE };
    return this.#s.reload();
  }

  #summary(name: string): LinkSummary {
    const link = this.#s.links.all().find((l) => l.name === name);
    return {
      name,
      paused: this.#s.queues.isPaused(name),
      rooms: (link?.rooms ?? []).map((r) => ({ network: r.network, room: r.room })),
      queued: this.#queued(name),
      failed: this.#s.store.outbox.failedCount(name),
    };
  }

  #queued(name: string): number {
    const link = this.#s.links.all().find((l) => l.name === name);
    return (link?.rooms ?? []).reduce((n, r) => n + this.#s.queues.roomState(r.network, r.room).depth, 0);
  }

  #check(link: string): void {
    const names = this.#s.links.all().map((l) => l.name);
    if (!names.includes(link)) {
      throw new UnknownLink(`there is no link named "${link}"${names.length > 0 ? `; the links are: ${names.join(", ")}` : " (no links are configured)"}`);
    }
  }

  #now(): number { return this.#s.now?.() ?? Date.now(); }
}
