import type { Network } from "../events.ts";
import { networkRoomKey } from "../links.ts";
import type { Db } from "./db.ts";

/**
 * Rooms interned as place ids (the places table), so that every copy's keys hold an integer
 * instead of the network and room JID. An id is cached only once the transaction that read or
 * made it is over and it is still there: a rolled-back insert's id is handed out again.
 */
export class Places {
  readonly #db: Db;
  readonly #select;
  readonly #insert;
  /** Place ids by network and room, as committed. */
  readonly #ids = new Map<string, number>();
  /** Places read or made inside the open transaction, cached by settle() if still there. */
  readonly #unsettled = new Map<string, readonly [Network, string]>();

  constructor(db: Db) {
    this.#db = db;
    this.#select = db.prepare<[string, string], { id: number }>(`SELECT id FROM places WHERE network = ? AND room = ?`);
    this.#insert = db.prepare<[string, string]>(`INSERT INTO places (network, room) VALUES (?, ?)`);
  }

  /** The room's place id; made when `create` (a copy is being recorded), else undefined for a room with no copies. */
  of(network: Network, room: string, create: boolean): number | undefined {
    const key = networkRoomKey(network, room);
    const cached = this.#ids.get(key);
    if (cached !== undefined) return cached;
    let id = this.#select.get(network, room)?.id;
    if (id === undefined) {
      if (!create) return undefined;
      id = Number(this.#insert.run(network, room).lastInsertRowid);
    }
    if (this.#db.inTransaction) this.#unsettled.set(key, [network, room]);
    else this.#ids.set(key, id);
    return id;
  }

  /** The transaction is over (committed or rolled back): Store.tx calls it after every outermost one. */
  settle(): void {
    if (this.#unsettled.size === 0) return;
    for (const [key, [network, room]] of this.#unsettled) {
      const id = this.#select.get(network, room)?.id;
      if (id !== undefined) this.#ids.set(key, id);
    }
    this.#unsettled.clear();
  }
}
