import type { PuppetDirectory, PuppetRecord } from "../adapter.ts";
import type { ActorId, Network } from "../events.ts";
import type { Db } from "./db.ts";

interface Raw { network: Network; actor: string; handle: string; profile_hash: string | null; data: string | null }

const toRecord = (r: Raw): PuppetRecord => ({
  network: r.network,
  actor: r.actor as ActorId,
  handle: r.handle,
  ...(r.profile_hash !== null ? { profileHash: r.profile_hash } : {}),
  ...(r.data !== null ? { data: JSON.parse(r.data) as Record<string, unknown> } : {}),
});

/** Puppets, cached in memory: adapters read them on every send. */
export class PuppetStore implements PuppetDirectory {
  readonly #put;
  readonly #cache = new Map<string, PuppetRecord>();
  readonly #handles = new Map<Network, Set<string>>();

  constructor(db: Db) {
    this.#put = db.prepare<[string, string, string, string | null, string | null]>(
      `INSERT INTO puppets (network, actor, handle, profile_hash, data) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (network, actor) DO UPDATE SET handle = excluded.handle, profile_hash = excluded.profile_hash, data = excluded.data`,
    );
    for (const r of db.prepare<[], Raw>(`SELECT network, actor, handle, profile_hash, data FROM puppets`).all()) this.#remember(toRecord(r));
  }

  get(network: Network, actor: ActorId): PuppetRecord | undefined {
    return this.#cache.get(`${network}\u0000${actor}`);
  }

  put(record: PuppetRecord): void {
    this.#put.run(record.network, record.actor, record.handle, record.profileHash ?? null, record.data ? JSON.stringify(record.data) : null);
    this.#remember(record);
  }

  all(network: Network): PuppetRecord[] {
    return [...this.#cache.values()].filter((p) => p.network === network);
  }

  /** Whether `handle` is one of our own puppets on `network` (loop safety). */
  isPuppetHandle(network: Network, handle: string): boolean {
    return this.#handles.get(network)?.has(handle) ?? false;
  }

  /** Puppets known, on one network or on all. */
  count(network?: Network): number { return network === undefined ? this.#cache.size : (this.#handles.get(network)?.size ?? 0); }

  #remember(r: PuppetRecord): void {
    this.#cache.set(`${r.network}\u0000${r.actor}`, r);
    let set = this.#handles.get(r.network);
    if (!set) this.#handles.set(r.network, (set = new Set()));
    set.add(r.handle);
  }
}
