/**
 * The bot occupant: the one that hears each linked room. It joins with the room's history since
 * our cursor (or the last `history` messages), accepts the default configuration of a room it
 * had to create, and on rejoin notices who left while we were away.
 */
import type { Logger } from "pino";
import type { AdapterHost } from "../../core/adapter.ts";
import type { XmppConnection } from "./connection.ts";
import { instantRoomIq, joinPresence } from "./presence-out.ts";
import type { RoomState } from "./rooms.ts";
import { roomKey } from "./stanza.ts";

const JOIN_TIMEOUT_MS = 15_000;

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

  constructor(d: BotDeps) {
    this.#d = d;
  }

  /** Joins one room; resolves true when in. Never throws: a room that fails is logged and retried by the caller. */
  async join(state: RoomState): Promise<boolean> {
    const { conn, host, log } = this.#d;
    const cursor = host.cursor(state.room);
    const history = cursor ? { since: cursor } : { maxstanzas: this.#d.history };
    state.seenSinceJoin = new Set();
    for (const nick of [this.#d.nick, `${this.#d.nick} (2)`, `${this.#d.nick} (3)`]) {
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
