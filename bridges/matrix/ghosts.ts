/**
 * Ghosts: one Matrix user per remote person, registered on demand in the appservice's exclusive
 * namespace, with that person's display name and avatar, joined to the rooms they speak in. What
 * was done is kept in the puppet directory (survives restarts) and in memory, so that a steady-state
 * send costs one HTTP call.
 */
import type { Logger } from "pino";
import type { Media, PuppetDirectory, PuppetRecord } from "../../core/adapter.ts";
import { PermanentDeliveryError } from "../../core/adapter.ts";
import type { Network, RoomRef, Sender } from "../../core/events.ts";
import { errcodeOf, type Homeserver } from "./client.ts";
import { ghostUserId, splitUserId, type GhostNaming } from "./ids.ts";
import { upload } from "./media.ts";

const enc = encodeURIComponent;
const MAX_NAME = 255;

interface GhostState {
  name?: string;
  avatarHash?: string;
  avatarMxc?: string;
  rooms: Set<string>;
}

export class Ghosts {
  readonly #hs: Homeserver;
  readonly #naming: GhostNaming;
  readonly #log: Logger;
  readonly #puppets: () => PuppetDirectory;
  readonly #state = new Map<string, GhostState>();
  /** One profile/join update at a time per ghost, so parallel rooms do not race each other. */
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(hs: Homeserver, naming: GhostNaming, puppets: () => PuppetDirectory, log: Logger) {
    this.#hs = hs;
    this.#naming = naming;
    this.#puppets = puppets;
    this.#log = log;
  }

  mxidFor(origin: Network, sender: Sender): string {
    return ghostUserId(this.#naming, origin, sender.id);
  }

  /** The ghost for `sender`, registered, with the current profile, and joined to `room`. */
  async ensure(room: RoomRef, origin: Network, sender: Sender, fetchMedia: (url: string) => Promise<Media>): Promise<string> {
    const mxid = this.mxidFor(origin, sender);
    const st = this.#state.get(mxid);
    if (st && st.rooms.has(room) && st.name === displayName(sender) && (st.avatarHash ?? "") === (sender.avatar?.hash ?? st.avatarHash ?? "")) {
      return mxid;
    }
    return this.#locked(mxid, () => this.#ensure(mxid, room, origin, sender, fetchMedia));
  }

  /** The ghost was refused in a room it was thought to be in: make sure it exists and is in. */
  async repair(mxid: string, room: RoomRef): Promise<void> {
    await this.#locked(mxid, async () => {
      const st = this.#state.get(mxid);
      st?.rooms.delete(room);
      await this.#register(mxid);
      await this.#join(mxid, room);
      st?.rooms.add(room);
    });
  }

  async leave(room: RoomRef, origin: Network, sender: Sender): Promise<void> {
    const mxid = this.mxidFor(origin, sender);
    const st = this.#load(mxid, sender);
    if (!st?.rooms.has(room)) return;
    try {
      await this.#hs.request("POST", `/_matrix/client/v3/rooms/${enc(room)}/leave`, { as: mxid, body: {} });
    } catch (err) {
      if (errcodeOf(err) === undefined) throw err;
    }
    st.rooms.delete(room);
    this.#save(mxid, origin, sender, st);
  }

  /**
   * A room no link has any more: every ghost in it leaves, those the store remembers there and
   * `members` (ours that the room lists now). Resolves to how many left.
   */
  async leaveRoom(room: RoomRef, members: readonly string[]): Promise<number> {
    const records = this.#puppets().all("matrix").filter((r) => Array.isArray(r.data?.rooms) && r.data.rooms.includes(room));
    let left = 0;
    for (const mxid of new Set([...members, ...records.map((r) => r.handle)])) {
      await this.#locked(mxid, async () => {
        try {
          await this.#hs.request("POST", `/_matrix/client/v3/rooms/${enc(room)}/leave`, { as: mxid, body: {} });
          left++;
        } catch (err) {
          if (errcodeOf(err) === undefined) throw err; // not in it (any more): nothing to leave
        }
        const st = this.#state.get(mxid);
        st?.rooms.delete(room);
        const rec = records.find((r) => r.handle === mxid);
        const rooms = st ? [...st.rooms] : (rec?.data?.rooms as unknown[] | undefined ?? []).filter((r) => r !== room);
        if (rec) this.#puppets().put({ ...rec, data: { ...rec.data, rooms } });
      });
    }
    return left;
  }

  async #ensure(mxid: string, room: RoomRef, origin: Network, sender: Sender, fetchMedia: (url: string) => Promise<Media>): Promise<string> {
    let st = this.#load(mxid, sender);
    if (!st) {
      await this.#register(mxid);
      st = { rooms: new Set() };
      this.#state.set(mxid, st);
      this.#save(mxid, origin, sender, st);
    }
    const name = displayName(sender);
    if (st.name !== name) {
      await this.#hs.request("PUT", `/_matrix/client/v3/profile/${enc(mxid)}/displayname`, { as: mxid, body: { displayname: name } });
      st.name = name;
      this.#save(mxid, origin, sender, st);
    }
    if (sender.avatar && sender.avatar.hash !== st.avatarHash) {
      await this.#setAvatar(mxid, sender.avatar, fetchMedia, st);
      this.#save(mxid, origin, sender, st);
    }
    if (!st.rooms.has(room)) {
      await this.#join(mxid, room);
      st.rooms.add(room);
      this.#save(mxid, origin, sender, st);
    }
    return mxid;
  }

  async #register(mxid: string): Promise<void> {
    const localpart = splitUserId(mxid)!.localpart;
    try {
      await this.#hs.request("POST", "/_matrix/client/v3/register", {
        body: { type: "m.login.application_service", username: localpart, inhibit_login: true },
      });
      this.#log.info({ ghost: mxid }, "registered ghost");
    } catch (err) {
      if (errcodeOf(err) !== "M_USER_IN_USE") throw err;
    }
  }

  /** A picture that cannot be fetched or uploaded is not worth failing a message for. */
  async #setAvatar(mxid: string, avatar: NonNullable<Sender["avatar"]>, fetchMedia: (url: string) => Promise<Media>, st: GhostState): Promise<void> {
    try {
      const mxc = avatar.url.startsWith("mxc://") ? avatar.url : (await upload(this.#hs, await fetchMedia(avatar.url), mxid)).mxc;
      await this.#hs.request("PUT", `/_matrix/client/v3/profile/${enc(mxid)}/avatar_url`, { as: mxid, body: { avatar_url: mxc } });
      st.avatarHash = avatar.hash;
      st.avatarMxc = mxc;
    } catch (err) {
      if (err instanceof Error && err.name === "NotReadyError") throw err;
      this.#log.warn({ ghost: mxid, err: (err as Error).message }, "could not set the ghost's avatar; will try again with its next message");
    }
  }

  /** Joins, asking the bot for an invite first when the room is not public. */
  async #join(mxid: string, room: RoomRef): Promise<void> {
    const join = () => this.#hs.request("POST", `/_matrix/client/v3/join/${enc(room)}`, { as: mxid, body: {} });
    try {
      await join();
      return;
    } catch (err) {
      if (errcodeOf(err) !== "M_FORBIDDEN") throw err;
    }
    try {
      await this.#hs.request("POST", `/_matrix/client/v3/rooms/${enc(room)}/invite`, { body: { user_id: mxid } });
      await join();
    } catch (err) {
      const code = errcodeOf(err);
      if (code === "M_FORBIDDEN" || code === "M_NOT_FOUND") {
        throw new PermanentDeliveryError(`ghost ${mxid} cannot join ${room} and the bridge bot cannot invite it (${(err as Error).message}); give the bot invite rights in that room`);
      }
      throw err;
    }
  }

  #load(mxid: string, sender: Sender): GhostState | undefined {
    const cached = this.#state.get(mxid);
    if (cached) return cached;
    const rec = this.#puppets().get("matrix", sender.id);
    if (!rec || rec.handle !== mxid) return undefined;
    const d = rec.data ?? {};
    const st: GhostState = {
      ...(typeof d.name === "string" ? { name: d.name } : {}),
      ...(typeof d.avatarHash === "string" ? { avatarHash: d.avatarHash } : {}),
      ...(typeof d.avatarMxc === "string" ? { avatarMxc: d.avatarMxc } : {}),
      rooms: new Set(Array.isArray(d.rooms) ? d.rooms.filter((r): r is string => typeof r === "string") : []),
    };
    this.#state.set(mxid, st);
    return st;
  }

  #save(mxid: string, origin: Network, sender: Sender, st: GhostState): void {
    const rec: PuppetRecord = {
      network: "matrix", actor: sender.id, handle: mxid,
      ...(st.avatarHash ? { profileHash: st.avatarHash } : {}),
      data: {
        origin, rooms: [...st.rooms],
        ...(st.name !== undefined ? { name: st.name } : {}),
        ...(st.avatarHash ? { avatarHash: st.avatarHash, avatarMxc: st.avatarMxc } : {}),
      },
    };
    this.#puppets().put(rec);
  }

  async #locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.#locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.#locks.get(key) === tail) this.#locks.delete(key);
    }
  }
}

function displayName(sender: Sender): string {
  const name = sender.name.trim() || String(sender.id);
  return name.length > MAX_NAME ? name.slice(0, MAX_NAME) : name;
}
