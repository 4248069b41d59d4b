/**
 * XEP-0444 reactions. A stanza carries the sender's whole set on one message, so events are the
 * difference from the set we saw before.
 *
 * Limits: the previous set lives in the adapter's memory. After a restart it is unknown until
 * the person reacts again; then every emoji in the new set is emitted as added (the core ignores
 * a reaction it already mapped) and emojis that disappeared meanwhile cannot be seen as removed.
 */
import type { Element } from "@xmpp/xml";
import type { BridgeEvent, RoomRef, Sender } from "../../core/events.ts";
import { remoteId } from "../../core/events.ts";

/** More distinct reactions than this from one person on one message is noise or an attack. */
export const MAX_REACTIONS = 32;

interface Base {
  readonly origin: "xmpp";
  readonly room: RoomRef;
  readonly sender: Sender;
  readonly ts: number;
  readonly remoteId?: string;
}

export interface ReactionDiff {
  readonly events: BridgeEvent[];
  readonly reason?: string;
  readonly set?: { readonly target: string; readonly actor: string; readonly set: readonly string[] };
}

export function reactionEvents(
  reactions: Element,
  base: Base,
  ctx: { previousReactions(room: RoomRef, target: string, actor: string): readonly string[] | undefined },
): ReactionDiff {
  const target = reactions.attrs.id;
  if (!target) return { events: [], reason: "reactions without a target id" };
  const set: string[] = [];
  for (const r of reactions.getChildren("reaction")) {
    const emoji = r.getText().trim();
    if (emoji && !set.includes(emoji) && emoji.length <= 64) set.push(emoji);
  }
  if (set.length > MAX_REACTIONS) return { events: [], reason: `${set.length} reactions in one stanza, over ${MAX_REACTIONS}` };
  const before = ctx.previousReactions(base.room, target, base.sender.id) ?? [];
  const added = set.filter((e) => !before.includes(e));
  const removed = before.filter((e) => !set.includes(e));
  const { origin, room, sender, ts } = base;
  const event = (emoji: string, isAdded: boolean): BridgeEvent => ({
    origin, room, sender, ts,
    kind: "reaction",
    target: remoteId(target),
    emoji,
    added: isAdded,
    // One stanza may add several: each event gets its own id so the core can map them apart.
    ...(base.remoteId ? { remoteId: remoteId(`${base.remoteId}#${emoji}`) } : {}),
  });
  const events = [...removed.map((e) => event(e, false)), ...added.map((e) => event(e, true))];
  return {
    events,
    ...(events.length === 0 ? { reason: "reaction set unchanged" } : {}),
    set: { target, actor: base.sender.id, set },
  };
}
