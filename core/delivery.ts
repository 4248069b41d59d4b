import type { Adapter, DeliveryContext, Media, RemoteIds } from "./adapter.ts";
import { targetOf, type BridgeEvent, type Network, type RoomRef } from "./events.ts";
import { adaptForDestination } from "./fallbacks.ts";
import type { Metrics } from "./metrics.ts";
import type { OutboxRow } from "./store/outbox-store.ts";
import type { Store } from "./store/store.ts";

export type MediaFetcher = (origin: Network, url: string) => Promise<Media>;

/**
 * Delivers one outbox row (or ephemeral event) to its destination: resolves what it points at
 * through message_map, applies the destination's fallbacks, sends, and records the copies.
 */
export class Deliverer {
  readonly #store: Store;
  readonly #adapters: ReadonlyMap<Network, Adapter>;
  readonly #fetchMedia: MediaFetcher;
  readonly #metrics: Metrics | undefined;

  constructor(store: Store, adapters: ReadonlyMap<Network, Adapter>, fetchMedia: MediaFetcher, metrics?: Metrics) {
    this.#store = store;
    this.#adapters = adapters;
    this.#fetchMedia = fetchMedia;
    this.#metrics = metrics;
  }

  /** Sends and records; throws what the adapter threw. */
  async deliver(row: OutboxRow): Promise<void> {
    const event = JSON.parse(row.event) as BridgeEvent;
    const ctx = this.#context(row, event);
    if (row.attempts === 0) this.#metrics?.hop.observe({ network: row.network }, (Date.now() - row.created) / 1000);
    const ids = await this.#send(row.network, row.room, event, ctx);
    const creates = event.kind === "message" || (event.kind === "reaction" && event.added);
    this.#store.defer(() => {
      if (creates && row.messageId !== null) {
        for (const r of ids) {
          this.#store.messages.addCopy(row.messageId, {
            network: row.network, room: row.room, remoteId: r.id, bridged: true,
            ...(r.altId !== undefined ? { altId: r.altId } : {}), ...(r.author !== undefined ? { author: r.author } : {}),
          });
        }
      }
      this.#store.outbox.done(row.id);
    });
    this.#metrics?.delivery.observe({ network: row.network }, (Date.now() - row.created) / 1000);
    this.#metrics?.eventsOut.inc({ network: row.network, kind: event.kind, outcome: "delivered" });
  }

  async deliverEphemeral(network: Network, room: string, event: BridgeEvent): Promise<void> {
    await this.#send(network, room, event, this.#baseContext(`e${Date.now()}`, 0, event.origin));
  }

  async #send(network: Network, room: string, event: BridgeEvent, ctx: DeliveryContext): Promise<RemoteIds> {
    const adapter = this.#adapters.get(network);
    if (!adapter) throw new Error(`no adapter for ${network}`);
    const adapted = adaptForDestination(event, adapter.capabilities, ctx);
    if (!adapted) return [];
    return adapter.send(room as RoomRef, adapted, ctx);
  }

  #context(row: OutboxRow, e: BridgeEvent): DeliveryContext {
    const m = this.#store.messages;
    // A target may have been delivered moments ago, its copy still waiting in a deferred write.
    if (targetOf(e) !== undefined) this.#store.flush();
    const base = this.#baseContext(String(row.id), row.attempts, e.origin);
    const here = (id: number | undefined | null) => (id == null ? undefined : m.mapped(id, row.network, row.room));
    switch (e.kind) {
      case "message": {
        const replyTo = e.replyTo !== undefined ? here(m.idOf(e.origin, e.room, e.replyTo)) : undefined;
        return { ...base, ...(replyTo ? { replyTo } : {}) };
      }
      case "edit":
      case "retract": {
        const target = here(row.messageId);
        return { ...base, ...(target ? { target } : {}) };
      }
      case "reaction": {
        const targetId = m.idOf(e.origin, e.room, e.target);
        const target = here(targetId);
        const reactionSet = targetId !== undefined ? m.reactionSet(targetId, e.sender.id) : [];
        const reaction = e.added ? undefined : here(row.messageId);
        return { ...base, reactionSet, ...(target ? { target } : {}), ...(reaction ? { reaction } : {}) };
      }
      default:
        return base;
    }
  }

  #baseContext(deliveryId: string, attempt: number, origin: Network): DeliveryContext {
    return { deliveryId, attempt, fetchMedia: (url: string) => this.#fetchMedia(origin, url) };
  }
}
