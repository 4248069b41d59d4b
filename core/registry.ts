import type { Adapter } from "./adapter.ts";
import type { Network } from "./events.ts";

/** The adapters of one run, by network. Two adapters for one network is a configuration bug. */
export function registerAdapters(adapters: readonly Adapter[]): ReadonlyMap<Network, Adapter> {
  const map = new Map<Network, Adapter>();
  for (const a of adapters) {
    if (map.has(a.network)) throw new Error(`two adapters registered for ${a.network}; each network has exactly one`);
    map.set(a.network, a);
  }
  return map;
}
