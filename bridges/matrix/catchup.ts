/**
 * Catch-up after an outage. Synapse drops the events it had queued for an appservice but not yet
 * pushed when it restarts, so on every (re)connect the bridge reads the recent timeline of each
 * linked room and hands back what came after the newest event the core already knows. With no
 * known event in sight (a first start, or a gap longer than one page) it hands back nothing rather
 * than replaying old history into the other networks.
 */
import type { RoomRef } from "../../core/events.ts";
import type { Homeserver } from "./client.ts";
import { isRoomEvent, type RoomEvent } from "./types.ts";

const PAGE = 100;

export async function missedEvents(hs: Homeserver, room: RoomRef, known: (eventId: string) => boolean): Promise<RoomEvent[]> {
  const res = await hs.request<{ chunk?: unknown }>("GET", `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/messages`, {
    qs: { dir: "b", limit: String(PAGE) },
  });
  const newestFirst = Array.isArray(res.chunk) ? res.chunk.filter(isRoomEvent) : [];
  return newerThanKnown(newestFirst.map((e) => ({ ...e, room_id: e.room_id ?? room })), known);
}

/** `newestFirst` is a /messages page (dir=b); the result is chronological. */
export function newerThanKnown(newestFirst: readonly RoomEvent[], known: (eventId: string) => boolean): RoomEvent[] {
  const marker = newestFirst.findIndex((e) => known(e.event_id));
  return marker <= 0 ? [] : newestFirst.slice(0, marker).reverse();
}
