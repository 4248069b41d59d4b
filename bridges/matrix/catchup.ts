/**
 * Catch-up after an outage. Synapse drops the events it had queued for an appservice but not yet
 * pushed when it restarts, so on every (re)connect the bridge pages back through each linked
 * room's timeline (`/messages`, newest first) until it meets an event the core already knows (the
 * room's cursor, or any bridged message), and hands back what came after it, oldest first.
 *
 * At most `limit` events are read back. When the known event lies further back, the newest
 * `limit` events are handed back and the messages before them are only counted (up to
 * COUNT_FACTOR × limit more events), so the other side can be told how many could not be bridged.
 * With no known event and no cursor at all (a room linked for the first time) nothing is handed
 * back: old history is not replayed into the other networks.
 */
import type { RoomRef } from "../../core/events.ts";
import type { Homeserver } from "./client.ts";
import { toRoomEvent, type RoomEvent } from "./types.ts";

const PAGE = 100;
/** `matrix.catchUp` when the config does not say. */
export const DEFAULT_CATCH_UP = 1000;
const COUNT_FACTOR = 10;

export interface CatchUpOptions {
  /** The room's cursor: the newest event the bridge handled. */
  readonly cursor: string | undefined;
  /** True for an event the core knows (bridged through or seen in this room). */
  known(eventId: string): boolean;
  /** True for events sent by Junction's own users (not counted as lost). */
  ours(mxid: string): boolean;
  /** The most events read back before giving up on meeting a known one. */
  readonly limit: number;
}

export interface CatchUp {
  /** What came after the known event, oldest first (at most `limit`). */
  readonly events: RoomEvent[];
  /** Messages older than `events` that were not handed back (the gap beyond the limit). */
  readonly lost: number;
  /** True when counting stopped before it met a known event: more than `lost` were lost. */
  readonly lostAtLeast: boolean;
  /** No cursor and nothing known: a first start; `newest` is where the cursor starts. */
  readonly first: boolean;
  readonly newest: string | undefined;
}

const isMessage = (e: RoomEvent) => e.type === "m.room.message" || e.type === "m.sticker";

export async function missedEvents(hs: Homeserver, room: RoomRef, opts: CatchUpOptions): Promise<CatchUp> {
  const pages = timeline(hs, room);
  const isMarker = (e: RoomEvent) => e.event_id === opts.cursor || opts.known(e.event_id);
  const newestFirst: RoomEvent[] = [];
  let newest: string | undefined;
  let found = false;
  let more = true;
  while (!found && more && newestFirst.length < opts.limit) {
    const page = await pages.next(Math.min(PAGE, opts.limit - newestFirst.length));
    more = page.more;
    for (const e of page.events) {
      newest ??= e.event_id;
      if (isMarker(e)) {
        found = true;
        break;
      }
      newestFirst.push(e);
    }
  }
  const events = newestFirst.reverse();
  if (found || !more) {
    // The whole gap fits (or the timeline began within it).
    const first = !found && opts.cursor === undefined;
    return { events: first ? [] : events, lost: 0, lostAtLeast: false, first, newest };
  }
  if (opts.cursor === undefined) return { events: [], lost: 0, lostAtLeast: false, first: true, newest };
  // The gap is larger than the limit: count what lies between the known event and what we hand back.
  let lost = 0;
  let read = 0;
  while (!found && more && read < COUNT_FACTOR * opts.limit) {
    const page = await pages.next(PAGE);
    more = page.more;
    for (const e of page.events) {
      read++;
      if (isMarker(e)) {
        found = true;
        break;
      }
      if (isMessage(e) && !opts.ours(e.sender)) lost++;
    }
  }
  return { events, lost, lostAtLeast: !found && more, first: false, newest };
}

/** `/messages` backwards from the newest event, one page per call. */
function timeline(hs: Homeserver, room: RoomRef) {
  let from: string | undefined;
  return {
    async next(limit: number): Promise<{ events: RoomEvent[]; more: boolean }> {
      const res = await hs.request<{ chunk?: unknown; end?: unknown }>("GET", `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/messages`, {
        qs: { dir: "b", limit: String(limit), ...(from !== undefined ? { from } : {}) },
      });
      const chunk = Array.isArray(res.chunk) ? res.chunk : [];
      const events = chunk
        .map((e: unknown) => toRoomEvent(typeof e === "object" && e !== null && !("room_id" in e) ? { ...e, room_id: room } : e))
        .filter((e): e is RoomEvent => e !== undefined);
      const end = typeof res.end === "string" ? res.end : undefined;
      const more = end !== undefined && end !== from && chunk.length > 0;
      from = end;
      return { events, more };
    },
  };
}

/** The notice posted on the other side when a gap was larger than the catch-up limit. */
export function gapNotice(lost: number, atLeast: boolean): string {
  const n = atLeast ? `More than ${lost}` : String(lost);
  return `${n} message${lost === 1 && !atLeast ? "" : "s"} from the Matrix room could not be bridged while Junction was away.`;
}
