/**
 * Live reload of the config file (SIGHUP, the admin commands): what a reload reports, and the
 * pure comparisons it is made of. The link set is applied live; any other key that changed is
 * named as needing a restart (see core/reloader.ts for how the swap is done).
 */
import { NETWORKS, type Network } from "./events.ts";
import { networkRoomKey, type Link } from "./links.ts";

/** What `RunningJunction.reload()` did. */
export type ReloadOutcome =
  | {
    readonly applied: true;
    /** Link names, each list sorted. */
    readonly added: readonly string[];
    readonly removed: readonly string[];
    readonly changed: readonly string[];
  }
  | {
    readonly applied: false;
    /** Exactly what `junction check-config` prints for the file (or why the links cannot be swapped). */
    readonly reason: string;
  };

/** Links as config writes them: name → network → configured rooms. */
export type ConfiguredLinks = Readonly<Record<string, Readonly<Partial<Record<Network, readonly string[]>>>>>;

export interface LinkDiff {
  readonly added: string[];
  readonly removed: string[];
  /** In both, with rooms added to or removed from it. */
  readonly changed: string[];
}

/** Which links a new config adds, removes or changes, by name (rooms compared as written, per network). */
export function diffLinks(before: ConfiguredLinks, after: ConfiguredLinks): LinkDiff {
  const added = Object.keys(after).filter((n) => !Object.hasOwn(before, n)).sort();
  const removed = Object.keys(before).filter((n) => !Object.hasOwn(after, n)).sort();
  const changed = Object.keys(after)
    .filter((n) => Object.hasOwn(before, n) && !sameRooms(before[n]!, after[n]!))
    .sort();
  return { added, removed, changed };
}

function sameRooms(a: Readonly<Partial<Record<Network, readonly string[]>>>, b: Readonly<Partial<Record<Network, readonly string[]>>>): boolean {
  return NETWORKS.every((n) => {
    const x = new Set((a[n] ?? []).map((r) => r.trim()));
    const y = new Set((b[n] ?? []).map((r) => r.trim()));
    return x.size === y.size && [...x].every((r) => y.has(r));
  });
}

export interface RoomRefOnNetwork {
  readonly network: Network;
  readonly room: string;
}

export interface RoomDiff {
  /** Native rooms no link had before: the bridge joins them. */
  readonly join: RoomRefOnNetwork[];
  /** Native rooms no link has any more: the bridge and its puppets leave them. */
  readonly leave: RoomRefOnNetwork[];
}

/** Which native rooms a new (resolved) link set joins and leaves; a room that only moves to another link stays. */
export function diffRooms(before: readonly Link[], after: readonly Link[]): RoomDiff {
  const keys = (links: readonly Link[]) => {
    const m = new Map<string, RoomRefOnNetwork>();
    for (const l of links) for (const r of l.rooms) m.set(networkRoomKey(r.network, r.room), { network: r.network, room: r.room });
    return m;
  };
  const was = keys(before);
  const now = keys(after);
  return {
    join: [...now].filter(([k]) => !was.has(k)).map(([, r]) => r),
    leave: [...was].filter(([k]) => !now.has(k)).map(([, r]) => r),
  };
}

/**
 * Keys (dotted paths, as config.md names them) whose values differ between two configs, outside
 * of `live` (paths applied without a restart, and everything under them). Values are compared,
 * never shown: secrets stay out of the log.
 */
export function changedKeys(before: unknown, after: unknown, live: readonly string[], path = ""): string[] {
  if (live.includes(path)) return [];
  if (isRecord(before) && isRecord(after)) {
    const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return names.flatMap((k) => changedKeys(before[k], after[k], live, path ? `${path}.${k}` : k));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [path];
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
