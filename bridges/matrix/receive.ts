/**
 * Inbound I/O: the homeserver's transactions and the catch-up after an outage, turned into emits.
 * The conversion is inbound.ts's (pure); here is what needs the room's state: who is in the room
 * (an event from someone outside it is not bridged), who may moderate (power.ts), the room cursor,
 * and the order of catch-up against live traffic.
 */
import type { Logger } from "pino";
import { NotReadyError, type AdapterHost } from "../../core/adapter.ts";
import { actorId, roomRef, type BridgeEvent, type RoomRef } from "../../core/events.ts";
import { gapNotice, missedEvents } from "./catchup.ts";
import type { Homeserver } from "./client.ts";
import type { MatrixCommands } from "./commands.ts";
import { diffTyping, presenceFromMatrix } from "./ephemeral.ts";
import { inOurNamespace, parseGhost, type GhostNaming } from "./ids.ts";
import { fromRoomEvent, senderOf, type InboundContext } from "./inbound.ts";
import { mayRedactOthers, type RoomPower } from "./power.ts";
import type { Rooms } from "./rooms.ts";
import type { RoomEvent, Transaction } from "./types.ts";

export interface ReceiveDeps {
  readonly host: AdapterHost;
  readonly hs: Homeserver;
  readonly rooms: Rooms;
  readonly power: RoomPower;
  readonly naming: GhostNaming;
  /** The bridge bot's mxid. */
  readonly bot: string;
  /** The linked rooms (the adapter adds rooms that resolve later). */
  readonly linked: ReadonlySet<string>;
  readonly log: Logger;
  /** The most events read back per room after an outage (config `matrix.catchUp`). */
  readonly catchUpLimit: number;
  /** The admin commands: they take what happens in rooms that are not linked. */
  readonly commands?: MatrixCommands;
}

type Handed = { commit: Promise<void> } | undefined;

export class Receiver {
  readonly #d: ReceiveDeps;
  readonly #typing = new Map<string, Set<string>>();
  /** Rooms whose live events wait until their catch-up is done (see hold). */
  readonly #gates = new Map<string, { readonly done: Promise<void>; open(): void }>();

  constructor(d: ReceiveDeps) {
    this.#d = d;
  }

  /**
   * Each room event is committed under its own key, `matrix:<event id>`, not the transaction id:
   * Synapse on SQLite numbers transactions from 1 again after a restart, and catch-up (which has no
   * transaction) must meet the same key for an event that did arrive. Ephemeral events need no key.
   */
  async transaction(txnId: string, txn: Transaction): Promise<void> {
    const { host, log } = this.#d;
    log.debug({ txnId, events: txn.events.length, ephemeral: txn.ephemeral.length }, "transaction from the homeserver");
    // Emits are handed over in order without waiting for each commit (the core commits one
    // turn's emits together); the transaction is answered once all of them are committed.
    const commits: Promise<void>[] = [];
    for (const ev of txn.events) {
      let handed: Handed;
      try {
        handed = await this.#bridge(ev, false);
      } catch (err) {
        // One event the bridge cannot handle must not hold back the stream: the homeserver would
        // send the same transaction again and again. A lost homeserver is worth the retry.
        if (err instanceof NotReadyError) throw err;
        log.error({ err, room: ev.room_id, event: ev.event_id, type: ev.type }, "an event could not be handled; skipped");
        continue;
      }
      if (handed) commits.push(handed.commit);
    }
    const eph = txn.ephemeral.flatMap((e) => this.#fromEphemeral(e.type, e.room_id, e.sender, e.content));
    if (eph.length > 0) commits.push(host.emit(eph));
    await Promise.all(commits);
  }

  /**
   * The room's live events wait from now until `release`: armed before the appservice listens
   * and whenever the homeserver is lost, released when the room's catch-up is done. Otherwise a
   * live event pushed first would be the newest known event, and catch-up would stop at it
   * before reaching the older ones it is there for.
   */
  hold(room: RoomRef): void {
    if (this.#gates.has(room)) return;
    let open!: () => void;
    const done = new Promise<void>((resolve) => { open = resolve; });
    this.#gates.set(room, { done, open });
  }

  release(room: RoomRef): void {
    const gate = this.#gates.get(room);
    this.#gates.delete(room);
    gate?.open();
  }

  /** Bridges what the homeserver may have dropped while we or it were down (see catchup.ts); resolves to how many events. */
  async catchUp(room: RoomRef): Promise<number> {
    const { host, hs, log, naming, catchUpLimit } = this.#d;
    const cursor = host.cursor(room);
    const c = await missedEvents(hs, room, {
      cursor, limit: catchUpLimit,
      known: (id) => host.findMessage(room, { remoteId: id }) !== undefined,
      ours: (mxid) => inOurNamespace(naming, mxid),
    });
    if (c.first) {
      // Nothing to catch up on the first time; from here on the room has a cursor.
      if (c.newest !== undefined) await host.emit([], { cursor: { room, value: c.newest } });
      return 0;
    }
    const commits: Promise<void>[] = [];
    if (c.lost > 0 || c.lostAtLeast) {
      log.warn({ room, lost: c.lost, atLeast: c.lostAtLeast, limit: catchUpLimit },
        "more events were missed than catch-up reads back (matrix.catchUp); the older ones are not bridged, and the other side is told so");
      commits.push(host.emit([this.#notice(room, gapNotice(c.lost, c.lostAtLeast), c.events[0]?.origin_server_ts)], {
        dedupeKey: `matrix:gap:${c.events[0]?.event_id ?? cursor ?? ""}`,
      }));
    }
    if (c.events.length > 0) log.info({ room, events: c.events.length }, "catching up on events the homeserver did not push");
    for (const ev of c.events) {
      const handed = await this.#bridge(ev, true);
      if (handed) commits.push(handed.commit);
    }
    await Promise.all(commits);
    return c.events.length;
  }

  /** Junction's own notice about this room (events.ts `bridgeNotice`), said by the bridge bot. */
  #notice(room: RoomRef, text: string, before: number | undefined): BridgeEvent {
    return {
      kind: "message", origin: "matrix", room, ts: before !== undefined ? before - 1 : Date.now(),
      sender: { id: actorId(this.#d.bot), name: "Junction", isBot: true },
      body: { text }, attachments: [], isAction: false, isNotice: true, bridgeNotice: true, mentions: [],
    };
  }

  /** `fromTimeline`: the event came from /messages (the room's own timeline), not a push. */
  async #bridge(ev: RoomEvent, fromTimeline: boolean): Promise<Handed> {
    const { host, rooms, power, naming, bot, linked, log } = this.#d;
    const room = roomRef(ev.room_id);
    if (!linked.has(room) && this.#d.commands && !fromTimeline) {
      this.#d.commands.take(ev);
      return;
    }
    if (ev.type === "m.room.member" && ev.state_key === bot && ev.content.membership === "invite" && linked.has(room)) {
      // Invited into a room it could not join at start: nothing was bridged from it, nothing to catch up on.
      if (await rooms.joinBot(room)) await power.load(room).catch(() => undefined);
      this.release(room);
      return;
    }
    if (ev.type === "m.room.member" && ev.state_key === bot && linked.has(room)
      && (ev.content.membership === "leave" || ev.content.membership === "ban")) {
      const by = typeof ev.sender === "string" ? ev.sender : "someone";
      rooms.botRemoved(room, `the bot was ${ev.content.membership === "ban" ? "banned" : "removed"} by ${by}`);
      log.error({ room, by, membership: ev.content.membership }, "the bridge bot is no longer in this linked matrix room; invite it back (or unban it)");
      return;
    }
    if (!linked.has(room) || inOurNamespace(naming, ev.sender)) return;
    if (!fromTimeline) await this.#gates.get(room)?.done;
    // The room's own timeline holds only events the room accepted (a sender may have left since);
    // a push is checked against the room's members. Either way the lookup fills the profile cache.
    const joined = ev.type === "m.room.member" ? true : await rooms.isJoined(room, ev.sender);
    if (joined === false && !fromTimeline) {
      log.info({ room, sender: ev.sender, type: ev.type, event: ev.event_id }, "event from someone who is not in the room; not bridged");
      return;
    }
    power.apply(ev);
    const ctx: InboundContext = {
      profile: (r, mxid) => rooms.profile(r, mxid),
      findMessage: (r, eventId) => host.findMessage(r, { remoteId: eventId }),
      mentioned: (mxid) => parseGhost(naming, mxid)?.actor ?? actorId(mxid),
      mentionedOn: (mxid) => parseGhost(naming, mxid)?.network ?? "matrix",
      refused: (why) => log.info({ room, sender: ev.sender, event: ev.event_id }, why),
    };
    let events: BridgeEvent[];
    if (ev.type === "m.room.member") {
      if (ev.state_key && inOurNamespace(naming, ev.state_key)) return;
      events = fromRoomEvent(ev, ctx);
      rooms.applyMember(ev);
    } else {
      events = await this.#authorised(ev, fromRoomEvent(ev, ctx));
    }
    if (events.length === 0) return;
    return { commit: host.emit(events, { dedupeKey: `matrix:${ev.event_id}`, cursor: { room, value: ev.event_id } }) };
  }

  /**
   * A redaction of someone else's event is a moderation: bridged only when the sender's power
   * level in the room reaches its `redact` level. The homeserver may push a federated redaction
   * before checking that, so its arrival proves nothing; when the levels cannot be read, no.
   */
  async #authorised(ev: RoomEvent, events: BridgeEvent[]): Promise<BridgeEvent[]> {
    if (!events.some((e) => e.kind === "retract" && e.moderated)) return events;
    const levels = await this.#d.power.of(roomRef(ev.room_id));
    if (levels && mayRedactOthers(levels, ev.sender)) return events;
    this.#d.log.warn({ room: ev.room_id, sender: ev.sender, event: ev.event_id, redacts: events.find((e) => e.kind === "retract")?.target },
      levels ? "redaction of someone else's message by a sender below the room's redact power level; not bridged"
        : "redaction of someone else's message, but the room's power levels cannot be read; not bridged");
    return events.filter((e) => !(e.kind === "retract" && e.moderated));
  }

  #fromEphemeral(type: string, roomId: string | undefined, sender: string | undefined, content: Record<string, unknown>): BridgeEvent[] {
    const { rooms, naming, linked } = this.#d;
    const now = Date.now();
    if (type === "m.typing" && typeof roomId === "string" && linked.has(roomId)) {
      const room = roomRef(roomId);
      const diff = diffTyping(this.#typing.get(roomId) ?? new Set(), content, (u) => !inOurNamespace(naming, u) && rooms.profile(room, u) !== undefined);
      this.#typing.set(roomId, diff.now);
      return [
        ...diff.started.map((u) => ({ kind: "typing" as const, active: true, u })),
        ...diff.stopped.map((u) => ({ kind: "typing" as const, active: false, u })),
      ].map(({ u, ...t }) => ({ ...t, origin: "matrix" as const, room, ts: now, sender: senderOf(u, rooms.profile(room, u)) }));
    }
    if (type === "m.presence" && typeof sender === "string" && !inOurNamespace(naming, sender)) {
      const p = presenceFromMatrix(content);
      if (!p) return [];
      return rooms.roomsOf(sender).filter((r) => linked.has(r)).map((room) => ({
        kind: "presence" as const, ...p, origin: "matrix" as const, room, ts: now, sender: senderOf(sender, rooms.profile(room, sender)),
      }));
    }
    return []; // receipts and anything newer are not bridged
  }
}
