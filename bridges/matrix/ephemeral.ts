/**
 * Ephemeral events from the appservice push (typing, presence, receipts). Matrix sends the full set
 * of typing users per room; the neutral model wants a start/stop per sender, so this diffs sets.
 */
import type { PresenceState } from "../../core/events.ts";
import { isObject, str } from "./types.ts";

export interface TypingDiff {
  readonly started: string[];
  readonly stopped: string[];
  readonly now: Set<string>;
}

/** `keep` drops ids that must never be bridged (our own ghosts and bot). */
export function diffTyping(before: ReadonlySet<string>, content: Record<string, unknown>, keep: (mxid: string) => boolean): TypingDiff {
  const ids = Array.isArray(content.user_ids) ? content.user_ids.filter((u): u is string => typeof u === "string") : [];
  const now = new Set(ids.filter(keep));
  return {
    started: [...now].filter((u) => !before.has(u)),
    stopped: [...before].filter((u) => !now.has(u)),
    now,
  };
}

export interface PresenceUpdate {
  readonly state: PresenceState;
  readonly status?: string;
}

/** `m.presence` content → neutral presence. `unavailable` is idle/away; Matrix has no "busy". */
export function presenceFromMatrix(content: Record<string, unknown>): PresenceUpdate | undefined {
  const p = str(content.presence);
  const status = str(content.status_msg)?.trim() || undefined;
  const state: PresenceState | undefined =
    p === "online" ? "online" : p === "unavailable" ? "away" : p === "offline" ? "offline" : undefined;
  if (!state) return undefined;
  return status ? { state, status } : { state };
}

/** Neutral presence → `PUT /presence/{userId}/status` body. Busy becomes `unavailable` with its text. */
export function presenceToMatrix(state: PresenceState, status: string | undefined): { presence: string; status_msg?: string } {
  switch (state) {
    case "online": return status ? { presence: "online", status_msg: status } : { presence: "online" };
    case "away": return status ? { presence: "unavailable", status_msg: status } : { presence: "unavailable" };
    case "busy": return { presence: "unavailable", status_msg: status || "Busy" };
    case "offline": return status ? { presence: "offline", status_msg: status } : { presence: "offline" };
  }
}

/** Read receipts are not bridged (yet); this only tells who read up to which event, for logs. */
export function receiptReaders(content: Record<string, unknown>): { eventId: string; userId: string }[] {
  const out: { eventId: string; userId: string }[] = [];
  for (const [eventId, kinds] of Object.entries(content)) {
    if (!isObject(kinds)) continue;
    for (const kind of ["m.read", "m.read.private"]) {
      const readers = kinds[kind];
      if (isObject(readers)) for (const userId of Object.keys(readers)) out.push({ eventId, userId });
    }
  }
  return out;
}
