/** Linked rooms as the bot sees them: alias resolution, the bot's own joins, and who is in each room. */
import type { Logger } from "pino";
import { roomRef, type RoomRef } from "../../core/events.ts";
import { errcodeOf, type Homeserver } from "./client.ts";
import type { MemberProfile } from "./inbound.ts";
import { isObject, str, type RoomEvent } from "./types.ts";

const enc = encodeURIComponent;
const MAX_OUTSIDERS = 10_000;
const OUTSIDER_TTL_MS = 60_000;

export class Rooms {
  readonly #hs: Homeserver;
  readonly #log: Logger;
  readonly #members = new Map<string, Map<string, MemberProfile>>();
  /** `room \0 mxid` → until when that sender counts as outside the room (see isJoined). */
  readonly #outsiders = new Map<string, number>();

  constructor(hs: Homeserver, log: Logger) {
    this.#hs = hs;
    this.#log = log;
  }

  /** `#alias:server` → room id (directory lookup); a room id passes as it is. */
  async resolve(configured: string): Promise<RoomRef> {
    if (configured.startsWith("!")) return roomRef(configured);
    if (!configured.startsWith("#")) {
      throw new Error(`matrix room "${configured}" is neither a room id (!id:server) nor an alias (#name:server)`);
    }
    try {
      const res = await this.#hs.request<{ room_id?: string }>("GET", `/_matrix/client/v3/directory/room/${enc(configured)}`);
      if (typeof res.room_id !== "string") throw new Error("the directory answered without room_id");
      return roomRef(res.room_id);
    } catch (err) {
      if (errcodeOf(err) === "M_NOT_FOUND") {
        throw new Error(`matrix room alias ${configured} does not exist on the homeserver: create the room or fix the link in the config`);
      }
      throw err;
    }
  }

  /** Each linked room the bot tried to join: in or not, and why not (for the adapter's status). */
  readonly botIn = new Map<string, { readonly joined: boolean; readonly error?: string }>();

  /** The bot was kicked or banned from `room` (its membership event says so). */
  botRemoved(room: RoomRef, reason: string): void {
    this.botIn.set(room, { joined: false, error: reason });
  }

  /** The bot joins a linked room; false (and a clear log line) when it cannot. */
  async joinBot(room: RoomRef): Promise<boolean> {
    try {
      await this.#hs.request("POST", `/_matrix/client/v3/join/${enc(room)}`, { body: {} });
      await this.loadMembers(room);
      this.botIn.set(room, { joined: true });
      return true;
    } catch (err) {
      const code = errcodeOf(err);
      if (code === undefined) throw err; // transport trouble: the caller retries the whole start
      this.#log.error({ room, errcode: code, reason: (err as Error).message },
        "the bridge bot cannot join this linked matrix room (invite it, or make the room joinable); other rooms keep working");
      this.botIn.set(room, { joined: false, error: `${code}: ${(err as Error).message}` });
      return false;
    }
  }

  /** The bot leaves a room no link has any more; what is known about it is forgotten. */
  async leaveBot(room: RoomRef): Promise<void> {
    this.botIn.delete(room);
    this.#members.delete(room);
    try {
      await this.#hs.request("POST", `/_matrix/client/v3/rooms/${enc(room)}/leave`, { body: {} });
    } catch (err) {
      if (errcodeOf(err) === undefined) throw err; // not in it: nothing to leave
    }
  }

  /** Who the room has joined, as last seen (the bot's view). */
  members(room: RoomRef): string[] {
    return [...(this.#members.get(room)?.keys() ?? [])];
  }

  async loadMembers(room: RoomRef): Promise<void> {
    const res = await this.#hs.request<{ joined?: unknown }>("GET", `/_matrix/client/v3/rooms/${enc(room)}/joined_members`);
    const map = new Map<string, MemberProfile>();
    if (isObject(res.joined)) {
      for (const [mxid, p] of Object.entries(res.joined)) {
        map.set(mxid, isObject(p) ? profileOf(p.display_name, p.avatar_url) : {});
      }
    }
    this.#members.set(room, map);
  }

  profile(room: RoomRef, mxid: string): MemberProfile | undefined {
    return this.#members.get(room)?.get(mxid);
  }

  /**
   * Whether `mxid` is a joined member of `room`, as the homeserver's room state says: the cache of
   * joined members first, else the member's state (which also fills the cache). False for someone
   * outside the room (an event "from" them was not something the room accepted), undefined when
   * the homeserver cannot tell us now. Refusals are remembered for a while, in a bounded map, so a
   * stream of invented senders costs one lookup each.
   */
  async isJoined(room: RoomRef, mxid: string): Promise<boolean | undefined> {
    if (this.profile(room, mxid)) return true;
    const key = `${room}\u0000${mxid}`;
    const refused = this.#outsiders.get(key);
    if (refused !== undefined && refused > Date.now()) return false;
    try {
      const c = await this.#hs.request("GET", `/_matrix/client/v3/rooms/${enc(room)}/state/m.room.member/${enc(mxid)}`);
      if (str(c.membership) === "join") {
        this.#set(room, mxid, profileOf(c.displayname, c.avatar_url));
        return true;
      }
    } catch (err) {
      const code = errcodeOf(err);
      if (code !== "M_NOT_FOUND" && code !== "M_FORBIDDEN" && code !== "M_INVALID_PARAM" && code !== "M_UNRECOGNIZED") {
        this.#log.debug({ room, mxid, err: (err as Error).message }, "cannot read member state now");
        return undefined;
      }
    }
    if (this.#outsiders.size >= MAX_OUTSIDERS) this.#outsiders.delete(this.#outsiders.keys().next().value!);
    this.#outsiders.set(key, Date.now() + OUTSIDER_TTL_MS);
    return false;
  }

  /** Keeps the cache in step with a member event (after it was converted, so the old name is known). */
  applyMember(ev: RoomEvent): void {
    if (!ev.state_key) return;
    const room = roomRef(ev.room_id);
    const membership = str(ev.content.membership);
    if (membership === "join") {
      this.#set(room, ev.state_key, profileOf(ev.content.displayname, ev.content.avatar_url));
      this.#outsiders.delete(`${room}\u0000${ev.state_key}`);
    }
    else if (membership === "leave" || membership === "ban") this.#members.get(room)?.delete(ev.state_key);
  }

  /** Linked rooms the user is in (presence is per user; the neutral model is per room). */
  roomsOf(mxid: string): RoomRef[] {
    return [...this.#members].filter(([, m]) => m.has(mxid)).map(([room]) => roomRef(room));
  }

  #set(room: RoomRef, mxid: string, p: MemberProfile): void {
    let m = this.#members.get(room);
    if (!m) this.#members.set(room, (m = new Map()));
    m.set(mxid, p);
  }
}

function profileOf(name: unknown, avatar: unknown): MemberProfile {
  const n = str(name);
  const a = str(avatar);
  return { ...(n ? { name: n } : {}), ...(a ? { avatar: a } : {}) };
}
