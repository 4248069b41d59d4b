/**
 * Applying a new config to a running Junction (SIGHUP, the admin commands' reload). The file is
 * read and checked as check-config does; a file it refuses changes nothing. Otherwise the new
 * rooms are resolved first (the running set keeps routing meanwhile), then the new link set is
 * swapped in within one turn of the event loop: every event is routed by the old set or by the
 * new one, none is dropped in between. Then the rooms no link has any more are left (what was
 * queued for them is delivered first, for a bounded time) and the new rooms are joined. Keys
 * other than `links` are not applied live: each one that changed is named as needing a restart.
 */
import type { Logger } from "pino";
import type { Adapter } from "./adapter.ts";
import type { CoreConfig } from "./app.ts";
import { NETWORKS, type Network, type RoomRef } from "./events.ts";
import type { LinkIndex } from "./links.ts";
import type { Queues } from "./queues.ts";
import { changedKeys, diffLinks, diffRooms, type ConfiguredLinks, type ReloadOutcome, type RoomRefOnNetwork } from "./reload.ts";
import type { RoomResolver } from "./resolve.ts";

/** Keys a reload applies; every other key that changed needs a restart. */
const LIVE_KEYS = ["links"];
/** How long the deliveries queued for a room that leaves its link may take before they are failed. */
export const RETIRE_MS = 10_000;
const RETIRED_REASON = "its link was removed from the config by a reload before this could be delivered";

export interface ReloadDeps {
  readonly log: Logger;
  readonly adapters: ReadonlyMap<Network, Adapter>;
  readonly links: LinkIndex;
  readonly resolver: RoomResolver;
  readonly queues: Queues;
  /** Reads and checks the config file as `junction check-config` does; throws with its message. */
  reread(): Promise<CoreConfig>;
  /** The link set changed: keep it in the store. */
  saveLinks(): void;
  stopping(): boolean;
}

/** Why a config's links cannot run with these adapters (a network with rooms but no section). */
export function missingAdapter(links: ConfiguredLinks, adapters: ReadonlyMap<Network, unknown>): string | undefined {
  for (const [name, link] of Object.entries(links)) {
    for (const network of NETWORKS) {
      if ((link[network]?.length ?? 0) > 0 && !adapters.has(network)) {
        return `link "${name}" has ${network} rooms but no ${network} adapter is configured`;
      }
    }
  }
  return undefined;
}

export class Reloader {
  readonly #d: ReloadDeps;
  #config: CoreConfig;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(config: CoreConfig, deps: ReloadDeps) {
    this.#config = config;
    this.#d = deps;
  }

  /** The links of the config running now. */
  get links(): ConfiguredLinks {
    return this.#config.links;
  }

  /** One reload at a time: a second signal during a reload runs after it, with the file as it is then. */
  reload(): Promise<ReloadOutcome> {
    const run = this.#chain.then(() => this.#reload());
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #reload(): Promise<ReloadOutcome> {
    const { log, adapters, links, resolver } = this.#d;
    if (this.#d.stopping()) return this.#refuse("Junction is stopping");
    let next: CoreConfig;
    try {
      next = await this.#d.reread();
    } catch (err) {
      return this.#refuse(messageOf(err));
    }
    const missing = missingAdapter(next.links, adapters);
    if (missing) return this.#refuse(`${missing}; adding a network needs a restart`);
    const diff = diffLinks(this.#config.links, next.links);
    const restart = changedKeys(this.#config, next, LIVE_KEYS);
    // An alias may point elsewhere now; a room that cannot be resolved now stays as it was, and a
    // new one that fails joins its link when it resolves (as at start).
    await resolver.resolveAll(next.links, adapters, { refresh: true });
    if (this.#d.stopping()) return this.#refuse("Junction is stopping");
    const before = links.all();
    const after = resolver.linksFrom(next.links);
    try {
      links.replace(after);
    } catch (err) {
      resolver.retain(this.#config.links);
      return this.#refuse(messageOf(err));
    }
    resolver.retain(next.links);
    this.#config = next;
    this.#d.saveLinks();
    const rooms = diffRooms(before, after);
    if (rooms.leave.length + rooms.join.length > 0) {
      log.info({ join: rooms.join.length, leave: rooms.leave.length }, `reload: leaving ${plural(rooms.leave.length, "room")}, joining ${plural(rooms.join.length, "room")}`);
    }
    const left = await Promise.all(rooms.leave.map((r) => this.#leave(r)));
    const joined = await Promise.all(rooms.join.map((r) => this.#join(r)));
    const counts = {
      added: diff.added.length, removed: diff.removed.length, changed: diff.changed.length,
      roomsJoined: joined.filter(Boolean).length, roomsLeft: left.filter((l) => l.ok).length,
      deliveriesDone: sum(left.map((l) => l.delivered)), deliveriesFailed: sum(left.map((l) => l.failed)),
    };
    log.info({ ...counts, links: diff, restartNeeded: restart },
      `reload applied: ${plural(counts.added, "link")} added, ${counts.removed} removed, ${counts.changed} changed; ` +
      `${plural(counts.roomsJoined, "room")} joined, ${counts.roomsLeft} left`);
    if (restart.length > 0) log.warn({ keys: restart }, `restart to apply: ${restart.join(", ")}`);
    return { applied: true, added: diff.added, removed: diff.removed, changed: diff.changed };
  }

  /** Said once; the running config stays. */
  #refuse(reason: string): ReloadOutcome {
    this.#d.log.error({ reason }, `reload refused; the running config stays: ${reason}`);
    return { applied: false, reason };
  }

  async #leave(r: RoomRefOnNetwork): Promise<{ ok: boolean; delivered: number; failed: number }> {
    const { delivered, failed } = await this.#d.queues.retire(r.network, r.room, RETIRE_MS, RETIRED_REASON);
    try {
      await this.#d.adapters.get(r.network)?.unlinkRoom?.(r.room as RoomRef);
      return { ok: true, delivered, failed };
    } catch (err) {
      this.#d.log.error({ err, network: r.network, room: r.room }, "could not leave a room no link has any more");
      return { ok: false, delivered, failed };
    }
  }

  async #join(r: RoomRefOnNetwork): Promise<boolean> {
    try {
      await this.#d.adapters.get(r.network)?.linkRoom?.(r.room as RoomRef);
      return true;
    } catch (err) {
      this.#d.log.error({ err, network: r.network, room: r.room }, "the adapter could not take up a room a reload linked");
      return false;
    }
  }
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
