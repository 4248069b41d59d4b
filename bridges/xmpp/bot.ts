/**
 * The bot occupant: the one that hears each linked room. It joins with the room's history since
 * our cursor (or the last `history` messages), accepts the default configuration of a room it
 * had to create, and on rejoin notices who left while we were away.
 */
import type { Logger } from "pino";
import type { AdapterHost } from "../../core/adapter.ts";
import type { XmppConnection } from "./connection.ts";
import { parseCursor, type Cursor } from "./cursor.ts";
import { CLOCK_MARGIN_MS, archiveQuery, discoInfoIq, hasMam, lastArchivedQuery, nextPage } from "./mam.ts";
import { instantRoomIq, joinPresence } from "./presence-out.ts";
import type { RoomState } from "./rooms.ts";
import { roomKey } from "./stanza.ts";

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
}

type Outcome = { nick: string; codes: readonly string[] } | { error: string };

export class Bot {
  readonly #d: BotDeps;
  readonly #waiters = new Map<string, (o: Outcome) => void>();
  readonly #historyWaiters = new Map<string, () => void>();

  constructor(d: BotDeps) {
    this.#d = d;
  }

  /** Joins one room; resolves true when in. Never throws: a room that fails is logged and retried by the caller. */
  async join(state: RoomState): Promise<boolean> {
    const { conn, host, log } = this.#d;
    const cursor = parseCursor(host.cursor(state.room));
    // With a cursor and an archive, catch up from the archive (complete) instead of the join
    // history (capped by the server); without an archive, history since the cursor is the best.
    const archived = await this.#archived(state.room);
    const fromArchive = cursor !== undefined && archived;
    const history = fromArchive ? { maxstanzas: 0 } : cursor ? { since: cursor.at } : { maxstanzas: this.#d.history };
    state.seenSinceJoin = new Set();
    for (const nick of [this.#d.nick, `${this.#d.nick} (2)`, `${this.#d.nick} (3)`]) {
      // Registered before the join goes out: the subject can follow self-presence within one read.
      const historyDone = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, HISTORY_TIMEOUT_MS);
        this.#historyWaiters.set(roomKey(state.room), () => { clearTimeout(timer); resolve(); });
      });
      const outcome = new Promise<Outcome>((resolve) => {
        const timer = setTimeout(() => resolve({ error: "remote-server-timeout" }), JOIN_TIMEOUT_MS);
        this.#waiters.set(roomKey(state.room), (o) => { clearTimeout(timer); resolve(o); });
      });
      state.botNick = nick;
      try {
        await conn.send(joinPresence({ from: this.#d.jid, to: `${state.room}/${nick}` }, history));
      } catch (err) {
        log.warn({ room: state.room, err: (err as Error).message }, "could not send the bot's join");
        return false;
      }
      const o = await outcome;
      this.#waiters.delete(roomKey(state.room));
      if ("nick" in o) {
        state.botNick = o.nick;
        // History (the catch-up, and our own messages that a crash left unrecorded) is processed
        // before the room's queue may send again.
        await historyDone;
        this.#historyWaiters.delete(roomKey(state.room));
        if (fromArchive && !(await this.#catchUp(state, cursor))) {
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
        return true;
      }
      if (o.error !== "conflict") {
        log.error({ room: state.room, nick, condition: o.error }, "the bot cannot join this room; check the room exists and lets the bridge's domain in. Retrying later");
        return false;
      }
    }
    log.error({ room: state.room }, "every bot nick is taken in this room; set xmpp.nick to a free one");
    return false;
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
    try {
      await this.#d.conn.request(lastArchivedQuery(this.#d.jid, state.room));
    } catch (err) {
      this.#d.log.debug({ room: state.room, err: (err as Error).message }, "could not ask the archive for its newest message");
    }
    return state.lastArchivedId;
  }

  async #pages(state: RoomState, from: { after: string } | { start: string }): Promise<boolean> {
    let after = "after" in from ? from.after : undefined;
    const start = "start" in from ? from.start : undefined;
    let pages = 0;
    try {
      do {
        const result = await this.#d.conn.request(archiveQuery(this.#d.jid, state.room, `cu-${pages}`, start, after));
        after = nextPage(result);
        pages++;
      } while (after !== undefined && pages < 1000);
      this.#d.log.info({ room: state.room, from, pages }, "caught up from the room's archive");
      return true;
    } catch (err) {
      this.#d.log.debug({ room: state.room, from, err: (err as Error).message }, "archive query failed");
      return false;
    }
  }

  /** The room's subject arrived: its history is complete. */
  onSubject(room: string): void {
    this.#historyWaiters.get(roomKey(room))?.();
  }

  /** Self-presence or a join error for the bot in `room`. */
  onSelf(room: string, o: Outcome): void {
    this.#waiters.get(roomKey(room))?.(o);
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
