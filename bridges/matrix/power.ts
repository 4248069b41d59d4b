/**
 * Who may act on someone else's event in a Matrix room: the room's `m.room.power_levels`.
 *
 * A homeserver pushes a redaction from a federated server before it has checked that the sender
 * could redact the target (the spec lets it defer that check to when the event is shown), so a
 * redaction in a transaction is not proof of power. The bridge reads the power levels from the
 * room state (once per room, then from the power-levels events in the transaction stream) and
 * bridges a moderation only when the sender's level reaches the room's `redact` level.
 */
import type { Logger } from "pino";
import { roomRef, type RoomRef } from "../../core/events.ts";
import { errcodeOf, type Homeserver } from "./client.ts";
import { isObject, type RoomEvent } from "./types.ts";

/** The parts of `m.room.power_levels` the bridge reads, with the spec's defaults filled in. */
export interface PowerLevels {
  readonly redact: number;
  readonly usersDefault: number;
  readonly users: ReadonlyMap<string, number>;
  /**
   * From room version 12 (MSC4289) the room's creators have unlimited power and are not listed
   * in `users`: the create event's sender and its `additional_creators`.
   */
  readonly creators?: ReadonlySet<string>;
}

/** The spec's defaults when a room has no power-levels event at all: its creator alone is 100. */
const NO_EVENT: PowerLevels = { redact: 50, usersDefault: 0, users: new Map() };
const MAX_USERS = 10_000;

/** Integer levels; room versions before 10 also allow numeric strings. Anything else is the default. */
function level(x: unknown, fallback: number): number {
  if (typeof x === "number" && Number.isSafeInteger(x)) return x;
  if (typeof x === "string" && /^\s*[+-]?\d{1,16}\s*$/.test(x)) return Number(x);
  return fallback;
}

/** Parses a power-levels content; a malformed field takes the spec's default, never more power. */
export function parsePowerLevels(content: unknown): PowerLevels {
  const c = isObject(content) ? content : {};
  const users = new Map<string, number>();
  if (isObject(c.users)) {
    for (const [mxid, v] of Object.entries(c.users)) {
      if (users.size >= MAX_USERS) break;
      const n = level(v, Number.NaN);
      if (!Number.isNaN(n)) users.set(mxid, n);
    }
  }
  return { redact: level(c.redact, 50), usersDefault: level(c.users_default, 0), users };
}

export function levelOf(p: PowerLevels, mxid: string): number {
  if (p.creators?.has(mxid)) return Number.POSITIVE_INFINITY;
  return p.users.get(mxid) ?? p.usersDefault;
}

/** Room versions whose creators are privileged (MSC4289): 12 and later, and its unstable name. */
function privilegedCreators(version: string): boolean {
  return /^\d+$/.test(version) ? Number(version) >= 12 : version === "org.matrix.hydra.11";
}

/** The creators of a room from its `m.room.create` event, where they are privileged; else undefined. */
export function creatorsOf(create: unknown): ReadonlySet<string> | undefined {
  if (!isObject(create) || !isObject(create.content)) return undefined;
  const version = typeof create.content.room_version === "string" ? create.content.room_version : "1";
  if (!privilegedCreators(version) || typeof create.sender !== "string") return undefined;
  const more = Array.isArray(create.content.additional_creators) ? create.content.additional_creators.filter((u): u is string => typeof u === "string") : [];
  return new Set([create.sender, ...more]);
}

/** True when `mxid` may redact events sent by others in a room with these power levels. */
export function mayRedactOthers(p: PowerLevels, mxid: string): boolean {
  return levelOf(p, mxid) >= p.redact;
}

/** The power levels of the linked rooms, as last read from the state or the transaction stream. */
export class RoomPower {
  readonly #hs: Homeserver;
  readonly #log: Logger;
  readonly #rooms = new Map<string, PowerLevels>();
  readonly #creators = new Map<string, ReadonlySet<string>>();

  constructor(hs: Homeserver, log: Logger) {
    this.#hs = hs;
    this.#log = log;
  }

  /** Reads the room's current power levels (and its privileged creators) from its state. Throws on transport trouble. */
  async load(room: RoomRef): Promise<PowerLevels> {
    const state = `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/state`;
    let p: PowerLevels;
    try {
      p = parsePowerLevels(await this.#hs.request("GET", `${state}/m.room.power_levels/`));
    } catch (err) {
      if (errcodeOf(err) !== "M_NOT_FOUND") throw err;
      p = NO_EVENT;
    }
    // The whole event (format=event), for its sender: the creator is not in the content since v11.
    const creators = creatorsOf(await this.#hs.request("GET", `${state}/m.room.create/`, { qs: { format: "event" } }));
    if (creators) {
      this.#creators.set(room, creators);
      p = { ...p, creators };
    }
    this.#rooms.set(room, p);
    return p;
  }

  /** The cached levels, read from the state on a miss; undefined when they cannot be read now. */
  async of(room: RoomRef): Promise<PowerLevels | undefined> {
    const known = this.#rooms.get(room);
    if (known) return known;
    try {
      return await this.load(room);
    } catch (err) {
      this.#log.warn({ room, err: (err as Error).message }, "cannot read the room's power levels");
      return undefined;
    }
  }

  /** Keeps the cache in step with an `m.room.power_levels` state event from the transaction stream. */
  apply(ev: RoomEvent): void {
    if (ev.type !== "m.room.power_levels" || ev.state_key !== "") return;
    const room = roomRef(ev.room_id);
    if (!this.#rooms.has(room)) return; // never read: read from the state on first need (with its creators)
    const creators = this.#creators.get(room);
    this.#rooms.set(room, { ...parsePowerLevels(ev.content), ...(creators ? { creators } : {}) });
  }
}
