/**
 * The bot occupant: the one that hears each linked room. It joins with the room's history since
 * our cursor (or the last `history` messages), accepts the default configuration of a room it
 * had to create, and on rejoin notices who left while we were away.
 *
 * With an archive, the room's catch-up is read completely before any of it is emitted, and the
 * room's live messages are held meanwhile (catchup.ts): the other side sees the room in order,
 * and the cursor only ever moves with what was emitted. A gap over `catchUpMax` messages keeps
 * the newest ones and says, in the linked rooms, how many could not be bridged.
 */
import type { Logger } from "pino";
import type { Element } from "@xmpp/xml";
import type { AdapterHost } from "../../core/adapter.ts";
import { actorId, remoteId, type BridgeEvent } from "../../core/events.ts";
import { CatchUp } from "./catchup.ts";
import type { XmppConnection } from "./connection.ts";
import { parseCursor, type Cursor } from "./cursor.ts";
import { CLOCK_MARGIN_MS, archiveQuery, discoInfoIq, hasMam, lastArchivedQuery, newQueryId, nextPage } from "./mam.ts";
import { joinRefusal } from "./join-refusal.ts";
import { instantRoomIq, joinPresence } from "./presence-out.ts";
import type { RoomState } from "./rooms.ts";
import { roomJidKey } from "./stanza.ts";

const JOIN_TIMEOUT_MS = 15_000;
/** After self-presence a room sends its history, then its subject; wait at most this long for it. */
const HISTORY_TIMEOUT_MS = 5_000;

export interface BotDeps {
  readonly conn: XmppConnection;
  readonly host: AdapterHost;
  readonly log: Logger;
  /** The bot's full JID. */
  readonly jid: string;
  readonly nick: string;
  readonly history: number;
  /** The most archived messages one catch-up bridges; an older rest is announced, not bridged. */
  readonly catchUpMax: number;
  /** Hands a room message to the receive path (`replayed`: from the archive). */
  replay(state: RoomState, el: Element, replayed: boolean): void;
  emit(events: BridgeEvent[]): void;
}

type Outcome = { nick: string; codes: readonly string[] } | { error: string };

/** A join's result: in, or why not (for the caller to log once per change). */
export type JoinResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Archive pages read at most per catch-up (Prosody gives 50 per page). */
const MAX_PAGES = 1000;

export class Bot {
  readonly #d: BotDeps;
  readonly #waiters = new Map<string, (o: Outcome) => void>();
  readonly #historyWaiters = new Map<string, () => void>();

  constructor(d: BotDeps) {
    this.#d = d;
  }

  /** Joins one room. Never throws: a room that fails is retried by the caller, which logs it. */
  async join(state: RoomState): Promise<JoinResult> {
    const { host } = this.#d;
    const cursor = parseCursor(host.cursor(state.room));
    // With a cursor and an archive, catch up from the archive (complete) instead of the join
    // history (capped by the server); without an archive, history since the cursor is the best.
    const archived = await this.#archived(state.room);
    const fromArchive = cursor !== undefined && archived;
    const history = fromArchive ? { maxstanzas: 0 } : cursor ? { since: cursor.at } : { maxstanzas: this.#d.history };
    state.seenSinceJoin = new Set();
    // Live messages wait while the archive is read (set before the join: they may follow it at once).
    state.catchUp = fromArchive ? new CatchUp(this.#d.catchUpMax) : undefined;
    try {
      return await this.#join(state, cursor, fromArchive, archived, history);
    } finally {
      this.#flush(state);
      state.replaying = false;
    }
  }

  async #join(
    state: RoomState, cursor: Cursor | undefined, fromArchive: boolean, archived: boolean,
    history: { maxstanzas: number } | { since: string },
  ): Promise<JoinResult> {
    const { conn, host, log } = this.#d;
    for (const nick of [this.#d.nick, `${this.#d.nick} (2)`, `${this.#d.nick} (3)`]) {
      // Registered before the join goes out: the subject can follow self-presence within one read.
      const historyDone = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, HISTORY_TIMEOUT_MS);
        this.#historyWaiters.set(roomJidKey(state.room), () => { clearTimeout(timer); resolve(); });
      });
      const outcome = new Promise<Outcome>((resolve) => {
        const timer = setTimeout(() => resolve({ error: "remote-server-timeout" }), JOIN_TIMEOUT_MS);
        this.#waiters.set(roomJidKey(state.room), (o) => { clearTimeout(timer); resolve(o); });
      });
      state.botNick = nick;
      state.replaying = true;
      try {
        await conn.send(joinPresence({ from: this.#d.jid, to: `${state.room}/${nick}` }, history));
      } catch (err) {
        return { ok: false, reason: `could not send the bot's join: ${(err as Error).message}` };
      }
      const o = await outcome;
      this.#waiters.delete(roomJidKey(state.room));
      if ("nick" in o) {
        state.botNick = o.nick;
        // History (the catch-up, and our own messages that a crash left unrecorded) is processed
        // before the room's queue may send again.
        await historyDone;
        this.#historyWaiters.delete(roomJidKey(state.room));
        state.replaying = false;
        if (fromArchive && cursor && !(await this.#catchUp(state, cursor))) {
          log.warn({ room: state.room }, "could not read the room's archive; messages from while the bridge was away may be missing");
        }
        if (cursor === undefined) {
          // A room linked for the first time: from now on an outage is caught up, even one that
          // comes before anybody said anything here; what was said before the link is not.
          const lastId = archived ? await this.#lastArchived(state) : undefined;
          await host.emit([], { cursor: { room: state.room, value: state.advanceCursor(Date.now(), lastId) } })
            .catch((err: Error) => log.warn({ room: state.room, err: err.message }, "could not record the room's first cursor"));
        }
        state.botJoined = true;
        if (o.codes.includes("201")) await this.#unlock(state);
        log.info({ room: state.room, nick: o.nick, catchUp: history }, "bot joined room");
        return { ok: true };
      }
      if (o.error !== "conflict") return { ok: false, reason: joinRefusal(o.error) };
    }
    return { ok: false, reason: "every bot nick is taken in this room; set xmpp.nick to a free one" };
  }

  /**
   * The catch-up is over (read, failed or abandoned): emit what the archive gave, in order, after
   * a notice of what it could not give, then the live messages it held back.
   */
  #flush(state: RoomState): void {
    const catchUp = state.catchUp;
    if (!catchUp) return;
    state.catchUp = undefined;
    if (catchUp.skipped > 0) {
      this.#d.log.warn({ room: state.room, skipped: catchUp.skipped, max: this.#d.catchUpMax }, "more messages were said while the bridge was away than a catch-up bridges (xmpp.catchUpMax); the oldest are not bridged");
      this.#d.emit([gapNotice(state.room, catchUp.skipped)]);
    }
    if (catchUp.liveDropped > 0) this.#d.log.warn({ room: state.room, dropped: catchUp.liveDropped }, "live messages held during the catch-up overflowed; the oldest are left to the archive");
    for (const { el, archived } of catchUp.drain(state.room)) this.#d.replay(state, el, archived);
  }

  async #archived(room: string): Promise<boolean> {
    try {
      return hasMam(await this.#d.conn.request(discoInfoIq(this.#d.jid, room)));
    } catch {
      return false; // the room does not exist yet, or does not answer: join history it is
    }
  }

  /** Pages through the archive since the cursor; archived messages arrive before each page's result. */
  async #catchUp(state: RoomState, cursor: Cursor): Promise<boolean> {
    // After the last message we saw, by its id: exact. By time only when there is no id or the
    // archive has forgotten it (a minute early for clock skew; duplicates are dropped anyway).
    if (cursor.id !== undefined && (await this.#pages(state, { after: cursor.id }))) return true;
    return this.#pages(state, { start: new Date(Date.parse(cursor.at) - CLOCK_MARGIN_MS).toISOString() });
  }

  /** The id of the newest message in the room's archive (its result is kept, not bridged: see receive.ts). */
  async #lastArchived(state: RoomState): Promise<string | undefined> {
    state.lastArchivedId = undefined;
    state.lastArchivedQuery = newQueryId();
    try {
      await this.#d.conn.request(lastArchivedQuery(this.#d.jid, state.room, state.lastArchivedQuery));
    } catch (err) {
      this.#d.log.debug({ room: state.room, err: (err as Error).message }, "could not ask the archive for its newest message");
    } finally {
      state.lastArchivedQuery = undefined;
    }
    return state.lastArchivedId;
  }

  async #pages(state: RoomState, from: { after: string } | { start: string }): Promise<boolean> {
    let after = "after" in from ? from.after : undefined;
    const start = "start" in from ? from.start : undefined;
    let pages = 0;
    const catchUp = state.catchUp;
    if (!catchUp) return false;
    this.#d.log.info({ room: state.room, from }, "catching up from the room's archive");
    try {
      do {
        const queryId = catchUp.query();
        try {
          after = nextPage(await this.#d.conn.request(archiveQuery(this.#d.jid, state.room, queryId, start, after)));
        } finally {
          catchUp.finished(queryId);
        }
        pages++;
      } while (after !== undefined && pages < MAX_PAGES);
      if (after !== undefined) this.#d.log.warn({ room: state.room, pages }, "the archive has more than a catch-up reads; the rest is not bridged");
      this.#d.log.info({ room: state.room, from, pages }, "caught up from the room's archive");
      return true;
    } catch (err) {
      this.#d.log.debug({ room: state.room, from, err: (err as Error).message }, "archive query failed");
      return false;
    }
  }

  /** The room's subject arrived: its history is complete. */
  onSubject(room: string): void {
    this.#historyWaiters.get(roomJidKey(room))?.();
  }

  /** Self-presence or a join error for the bot in `room`. */
  onSelf(room: string, o: Outcome): void {
    this.#waiters.get(roomJidKey(room))?.(o);
  }

  /** Occupants we knew before a rejoin that the new roster no longer lists: they left meanwhile. */
  departed(state: RoomState): string[] {
    const seen = state.seenSinceJoin;
    state.seenSinceJoin = undefined;
    if (!seen) return [];
    return [...state.occupants.keys()].filter((n) => !seen.has(n));
  }

  async #unlock(state: RoomState): Promise<void> {
    try {
      await this.#d.conn.request(instantRoomIq(this.#d.jid, state.room));
      this.#d.log.info({ room: state.room }, "created the room and accepted its default configuration");
    } catch (err) {
      this.#d.log.warn({ room: state.room, err: (err as Error).message }, "created the room but could not unlock it");
    }
  }
}

/** Said in the linked rooms when a catch-up could not bridge everything. */
export function gapNotice(room: string, skipped: number): BridgeEvent {
  const ts = Date.now();
  return {
    origin: "xmpp", room: room as BridgeEvent["room"], ts,
    sender: { id: actorId(room), name: room, isBot: true },
    remoteId: remoteId(`junction-gap-${ts}`),
    kind: "message",
    body: { text: `${skipped} message${skipped === 1 ? "" : "s"} from the XMPP room ${room} could not be bridged while Junction was away.` },
    attachments: [], isAction: false, isNotice: true, bridgeNotice: true, mentions: [],
  };
}
