import type { Logger } from "pino";
import type { EmitOptions } from "./adapter.ts";
import { assertNever, isEphemeral, type BridgeEvent, type Network } from "./events.ts";
import { networkRoomKey, type LinkIndex } from "./links.ts";
import type { OutboxRow } from "./store/outbox-store.ts";
import type { Store } from "./store/store.ts";

/** A delivery that lives in memory only (typing, presence): stale after a restart anyway. */
export interface EphemeralDelivery {
  readonly network: Network;
  readonly room: string;
  readonly event: BridgeEvent;
}

export interface Routed {
  readonly rows: OutboxRow[];
  readonly ephemeral: EphemeralDelivery[];
}

const EXCERPT = 200;

/** Cursors to write at the end of a batch, by network and room. */
export type Cursors = Map<string, { readonly network: Network; readonly room: string; readonly value: string }>;

/**
 * Turns inbound events into outbox rows, one per destination room, in the same transaction that
 * records the message (and the batch key and cursor). After it returns, nothing is lost by a crash.
 */
export class Router {
  readonly #store: Store;
  readonly #links: LinkIndex;
  readonly #log: Logger;

  constructor(store: Store, links: LinkIndex, log: Logger) {
    this.#store = store;
    this.#links = links;
    this.#log = log;
  }

  /** `network` is the emitting adapter's (it owns the cursor, also when `events` is empty). */
  ingest(network: Network, events: readonly BridgeEvent[], opts: EmitOptions = {}): Routed {
    return this.#store.tx(() => this.route(network, events, opts));
  }

  /**
   * As ingest, inside the caller's open transaction: its rollback undoes all of it. With
   * `cursors`, the cursor is put there (the last one per room wins) for the caller to write once
   * for a whole batch: a burst moves one room's cursor with every message.
   */
  route(network: Network, events: readonly BridgeEvent[], opts: EmitOptions = {}, cursors?: Cursors): Routed {
    const out: Routed = { rows: [], ephemeral: [] };
    const now = Date.now();
    if (opts.dedupeKey !== undefined && !this.#store.markSeen(opts.dedupeKey, now)) {
      this.#log.debug({ key: opts.dedupeKey }, "batch already committed; ignored");
      return out;
    }
    for (const e of events) this.#route(e, now, out);
    if (opts.cursor) {
      if (cursors) cursors.set(networkRoomKey(network, opts.cursor.room), { network, ...opts.cursor });
      else this.#store.setCursor(network, opts.cursor.room, opts.cursor.value);
    }
    return out;
  }

  /** Writes the cursors route() collected. */
  writeCursors(cursors: Cursors): void {
    for (const c of cursors.values()) this.#store.setCursor(c.network, c.room, c.value);
  }

  #route(e: BridgeEvent, now: number, out: Routed): void {
    const link = this.#links.linkOf(e.origin, e.room);
    if (!link) return;
    if (this.#store.puppets.isPuppetHandle(e.origin, e.sender.id)) return; // our own puppet: never bridged back
    const dests = this.#links.destinations(e.origin, e.room);
    if (dests.length === 0) return;
    if (isEphemeral(e)) {
      for (const d of dests) out.ephemeral.push({ network: d.network, room: d.room, event: e });
      return;
    }
    const messageId = this.#record(e, link.name, now);
    if (messageId === false) return;
    const json = JSON.stringify(e);
    for (const d of dests) out.rows.push(this.#store.outbox.add(link.name, d.network, d.room, messageId, json, now));
  }

  /** Records what the event creates or finds what it points at; false when there is nothing to send. */
  #record(e: BridgeEvent, link: string, now: number): number | null | false {
    const m = this.#store.messages;
    switch (e.kind) {
      case "message": {
        const id = m.add({
          link, kind: "message", originNetwork: e.origin, originRoom: e.room, sender: e.sender.id, senderName: e.sender.name,
          excerpt: excerpt(e.body.text || e.attachments[0]?.name || ""), ts: e.ts || now,
        });
        // A replay's native id is mapped already: its copy is not added, and the row goes again.
        // (Cheaper than a lookup first, which every message would pay for the few replays.)
        if (e.remoteId !== undefined && !m.addCopy(id, {
          network: e.origin, room: e.room, remoteId: e.remoteId, postedAs: e.sender.id, bridged: false,
          ...(e.altId !== undefined ? { altId: e.altId } : {}),
        })) {
          m.discard(id);
          return false;
        }
        return id;
      }
      case "edit":
        return this.#target(e.origin, e.room, e.target, e.kind) ?? false;
      case "retract": {
        const target = this.#target(e.origin, e.room, e.target, e.kind);
        if (target === undefined) return false;
        // Its text goes now: no later reply fallback quotes it, no failed delivery keeps it.
        m.erase(target);
        this.#store.outbox.purgeFailed(target);
        return target;
      }
      case "reaction": {
        const target = this.#target(e.origin, e.room, e.target, e.kind);
        if (target === undefined) return false;
        const active = m.activeReaction(target, e.sender.id, e.emoji);
        if (!e.added) {
          if (active === undefined) return false;
          m.markRemoved(active);
          return active;
        }
        if (active !== undefined) return false; // already there
        if (e.remoteId !== undefined && m.idOf(e.origin, e.room, e.remoteId) !== undefined) return false;
        const id = m.add({
          link, kind: "reaction", originNetwork: e.origin, originRoom: e.room, sender: e.sender.id, senderName: e.sender.name,
          excerpt: e.emoji, reactionTo: target, emoji: e.emoji, ts: e.ts || now,
        });
        if (e.remoteId !== undefined) m.addCopy(id, { network: e.origin, room: e.room, remoteId: e.remoteId, postedAs: e.sender.id, bridged: false });
        return id;
      }
      case "join":
      case "leave":
      case "profile":
        return null;
      case "typing":
      case "presence":
        return false;
      default:
        return assertNever(e);
    }
  }

  #target(network: Network, room: string, target: string, kind: string): number | undefined {
    const id = this.#store.messages.idOf(network, room, target);
    if (id === undefined) this.#log.debug({ network, room, target, kind }, "target was never bridged; nothing to send");
    return id;
  }

}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > EXCERPT ? `${flat.slice(0, EXCERPT - 1)}…` : flat;
}
