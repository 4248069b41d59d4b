import type { Adapter, DeliveredPart, DeliveryContext, Media, RemoteIds } from "./adapter.ts";
import { RecentDeliveries } from "./bounces.ts";
import { PermanentDeliveryError } from "./errors.ts";
import { targetOf, type BridgeEvent, type Network, type RoomRef } from "./events.ts";
import { adaptForDestination } from "./fallbacks.ts";
import type { Metrics } from "./metrics.ts";
import type { OutboxRow } from "./store/outbox-store.ts";
import type { Store } from "./store/store.ts";

export type MediaFetcher = (origin: Network, url: string) => Promise<Media>;

export interface DeliverOptions {
  /** The retry cap allows no further attempt (see DeliveryContext.lastAttempt). */
  readonly lastAttempt: boolean;
  /** The row's event, when the caller has parsed it already (a fresh copy: it is not shared). */
  readonly event?: BridgeEvent;
}

/**
 * Delivers one outbox row (or ephemeral event) to its destination: resolves what it points at
 * through the copies table, applies the destination's fallbacks, sends, and records the copies.
 */
export class Deliverer {
  readonly #store: Store;
  readonly #adapters: ReadonlyMap<Network, Adapter>;
  readonly #fetchMedia: MediaFetcher;
  readonly #metrics: Metrics | undefined;
  /** Parts that landed for rows not yet done: also when their deferred write has not committed. */
  readonly #landed = new Map<number, DeliveredPart[]>();
  readonly recent = new RecentDeliveries();

  constructor(store: Store, adapters: ReadonlyMap<Network, Adapter>, fetchMedia: MediaFetcher, metrics?: Metrics) {
    this.#store = store;
    this.#adapters = adapters;
    this.#fetchMedia = fetchMedia;
    this.#metrics = metrics;
  }

  /** Sends and records; throws what the adapter threw. */
  async deliver(row: OutboxRow, opts: DeliverOptions = { lastAttempt: false }): Promise<void> {
    const event = opts.event ?? (JSON.parse(row.event) as BridgeEvent);
    const creates = row.messageId !== null && (event.kind === "message" || (event.kind === "reaction" && event.added));
    const ctx = this.#context(row, event, creates, opts);
    if (row.attempts === 0) this.#metrics?.hop.observe({ network: row.network }, (Date.now() - row.created) / 1000);
    const ids = await this.#send(row.network, row.room, event, ctx);
    const parts = ids.map((r, i): DeliveredPart => ({ ...r, part: r.part ?? i, role: r.role ?? "text" }));
    this.#landed.delete(row.id);
    this.recent.remember(row, parts.map((p) => p.id));
    this.#store.defer(() => {
      if (creates) for (const p of parts) this.#record(row, p);
      this.#store.outbox.done(row.id);
    });
    this.#metrics?.delivery.observe({ network: row.network }, (Date.now() - row.created) / 1000);
    this.#metrics?.eventsOut.inc({ network: row.network, kind: event.kind, outcome: "delivered" });
  }

  /** The row was given up: what landed of it stays recorded, the memory of it goes. */
  forget(rowId: number): void {
    this.#landed.delete(rowId);
  }

  async deliverEphemeral(network: Network, room: string, event: BridgeEvent): Promise<void> {
    await this.#send(network, room, event, this.#baseContext(`e${Date.now()}`, 0, event.origin));
  }

  async #send(network: Network, room: string, event: BridgeEvent, ctx: DeliveryContext): Promise<RemoteIds> {
    const adapter = this.#adapters.get(network);
    if (!adapter) throw new Error(`no adapter for ${network}`);
    const adapted = adaptForDestination(event, adapter.capabilities, ctx);
    if (!adapted) return [];
    const max = adapter.capabilities.maxBodyBytes;
    if (max !== undefined && (adapted.kind === "message" || adapted.kind === "edit")) {
      // The formatted rendering goes beside the text; the tree's JSON is a fair upper bound of it.
      const bytes = Buffer.byteLength(adapted.body.text) + (adapted.body.rich ? Buffer.byteLength(JSON.stringify(adapted.body.rich)) : 0);
      if (bytes > max) throw new PermanentDeliveryError(`the text is ${bytes} bytes, over the ${max} bytes a ${network} message may have`);
    }
    return adapter.send(room as RoomRef, adapted, ctx);
  }

  #record(row: OutboxRow, p: DeliveredPart): void {
    this.#store.messages.addCopy(row.messageId!, {
      network: row.network, room: row.room, remoteId: p.id, bridged: true, part: p.part, role: p.role,
      ...(p.altId !== undefined ? { altId: p.altId } : {}), ...(p.postedAs !== undefined ? { postedAs: p.postedAs } : {}),
    });
  }

  #context(row: OutboxRow, e: BridgeEvent, creates: boolean, opts: DeliverOptions): DeliveryContext {
    const m = this.#store.messages;
    // A target may have been delivered moments ago, its copy still waiting in a deferred write.
    if (targetOf(e) !== undefined) this.#store.flush();
    // What landed in this run is in #landed (also when its write has not committed); what landed
    // before a restart is in the store.
    const landed = this.#landed.get(row.id) ?? [];
    const stored = creates && !row.untried ? m.delivered(row.messageId!, row.network, row.room) : [];
    row.untried = false;
    const delivered = [...stored, ...landed.filter((l) => !stored.some((s) => s.part === l.part))];
    const base: DeliveryContext = {
      ...this.#baseContext(String(row.id), row.attempts, e.origin),
      lastAttempt: opts.lastAttempt,
      delivered,
      partDelivered: (p) => {
        // An edit may add a part to its target (a longer text on Discord): recorded the same way.
        if (!creates && !(e.kind === "edit" && row.messageId !== null)) return;
        const list = this.#landed.get(row.id) ?? [];
        list.push(p);
        this.#landed.set(row.id, list);
        this.#store.defer(() => this.#record(row, p));
      },
      partRemoved: (part) => {
        if (e.kind !== "edit" || row.messageId === null) return;
        const id = row.messageId;
        this.#store.defer(() => m.removePart(id, row.network, row.room, part));
      },
    };
    const here = (id: number | undefined | null, pick: "main" | "text" = "main") => (id == null ? undefined : m.mapped(id, row.network, row.room, pick));
    switch (e.kind) {
      case "message": {
        const replyTo = e.replyTo !== undefined ? here(m.idOf(e.origin, e.room, e.replyTo)) : undefined;
        return { ...base, ...(replyTo ? { replyTo } : {}) };
      }
      case "edit": {
        const target = here(row.messageId, "text");
        const targets = row.messageId === null ? [] : m.allParts(row.messageId, row.network, row.room);
        return { ...base, ...(target ? { target, targets } : {}) };
      }
      case "retract": {
        const targets = row.messageId === null ? [] : m.allParts(row.messageId, row.network, row.room);
        return { ...base, ...(targets[0] ? { target: targets[0], targets } : {}) };
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
    return {
      deliveryId, attempt, lastAttempt: false, delivered: [], partDelivered: () => undefined, partRemoved: () => undefined,
      fetchMedia: (url: string) => this.#fetchMedia(origin, url),
    };
  }
}
