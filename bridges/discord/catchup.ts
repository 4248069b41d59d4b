/**
 * Catch-up after a gateway session that could not be resumed, or after Junction was down: the
 * channel's messages after its cursor (the newest message the core committed), oldest first.
 * Pages backwards from the newest message until the cursor is reached, so that when more were
 * missed than `cap`, the newest `cap` are bridged and the gap before them is reported.
 */
import { Routes, type REST } from "discord.js";
import { compareSnowflakes } from "./ids.ts";
import { isRawMessage, type RawMessage } from "./types.ts";

const PAGE = 100;

export interface Missed {
  /** Chronological. */
  readonly messages: RawMessage[];
  /** True when more messages than `cap` came after the cursor: some were not fetched. */
  readonly gap: boolean;
}

export async function missedMessages(rest: REST, channel: string, cursor: string, cap: number): Promise<Missed> {
  const got: RawMessage[] = [];
  let before: string | undefined;
  for (;;) {
    const query = new URLSearchParams({ limit: String(PAGE), ...(before ? { before } : {}) });
    const page = (await rest.get(Routes.channelMessages(channel), { query }) as unknown[]).filter(isRawMessage);
    const newer = page.filter((m) => compareSnowflakes(m.id, cursor) > 0);
    got.push(...newer);
    // Reached the cursor, or the start of the channel.
    if (newer.length < page.length || page.length < PAGE) break;
    if (got.length > cap) break;
    before = page.reduce((min, m) => (compareSnowflakes(m.id, min) < 0 ? m.id : min), page[0]!.id);
  }
  const all = chronological(got);
  return all.length > cap ? { messages: all.slice(-cap), gap: true } : { messages: all, gap: false };
}

/** Ids, deduplicated, oldest first (Discord answers newest first). */
export function chronological(messages: readonly RawMessage[]): RawMessage[] {
  const seen = new Map(messages.map((m) => [m.id, m]));
  return [...seen.values()].sort((a, b) => compareSnowflakes(a.id, b.id));
}
