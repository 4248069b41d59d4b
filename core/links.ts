import type { Network, RoomRef } from "./events.ts";

export interface LinkedRoom {
  readonly network: Network;
  readonly room: RoomRef;
}

export interface Link {
  readonly name: string;
  readonly rooms: readonly LinkedRoom[];
}

export const networkRoomKey = (network: Network, room: string): string => `${network}\u0000${room}`;

/** Which link a native room belongs to, and the other rooms an event there goes to. */
export class LinkIndex {
  #byRoom = new Map<string, Link>();
  #links: Link[] = [];

  constructor(links: readonly Link[]) {
    for (const link of links) this.add(link);
  }

  add(link: Link): void {
    index(this.#byRoom, link);
    this.#links.push(link);
  }

  /**
   * The whole set at once (a reload): checked first, then swapped in one step, so every event
   * is routed by the old set or the new one. Throws, changing nothing, when a room is in two links.
   */
  replace(links: readonly Link[]): void {
    const byRoom = new Map<string, Link>();
    for (const link of links) index(byRoom, link);
    this.#byRoom = byRoom;
    this.#links = [...links];
  }

  /** A room that could be resolved only after start joins its link (see core/resolve.ts). */
  addRoom(name: string, room: LinkedRoom): void {
    const i = this.#links.findIndex((l) => l.name === name);
    const old = this.#links[i];
    if (!old) throw new Error(`no link named "${name}"`);
    if (old.rooms.some((r) => r.network === room.network && r.room === room.room)) return;
    const other = this.#byRoom.get(networkRoomKey(room.network, room.room));
    if (other) throw new Error(`room ${room.room} (${room.network}) is in two links: "${other.name}" and "${name}"`);
    const link: Link = { name, rooms: [...old.rooms, room] };
    this.#links[i] = link;
    for (const r of link.rooms) this.#byRoom.set(networkRoomKey(r.network, r.room), link);
  }

  linkOf(network: Network, room: string): Link | undefined {
    return this.#byRoom.get(networkRoomKey(network, room));
  }

  /** Every room of the link except the one the event came from: never back to its origin. */
  destinations(network: Network, room: string): readonly LinkedRoom[] {
    const link = this.linkOf(network, room);
    if (!link) return [];
    return link.rooms.filter((r) => !(r.network === network && r.room === room));
  }

  roomsOn(network: Network): RoomRef[] {
    const out: RoomRef[] = [];
    for (const l of this.#links) for (const r of l.rooms) if (r.network === network) out.push(r.room);
    return out;
  }

  all(): readonly Link[] {
    return this.#links;
  }

  has(name: string): boolean {
    return this.#links.some((l) => l.name === name);
  }
}

function index(byRoom: Map<string, Link>, link: Link): void {
  for (const r of link.rooms) {
    const key = networkRoomKey(r.network, r.room);
    const other = byRoom.get(key);
    if (other && other.name !== link.name) {
      throw new Error(`room ${r.room} (${r.network}) is in two links: "${other.name}" and "${link.name}"`);
    }
    byRoom.set(key, link);
  }
}
