/**
 * Keeps the bot in every linked room. A room the bot could not join, or was removed from (kicked,
 * banned, the room destroyed, the service shut down, an error presence), is joined again with a
 * backoff that doubles up to a cap and never gives up; each room's state is logged once per
 * change, with the reason, and can be read with `status()`. A silent drop (the room forgot us
 * without telling: a restart of the MUC, a lost presence) is found by XEP-0410 self-ping.
 */
import xml from "@xmpp/xml";
import type { Logger } from "pino";
import type { JoinResult } from "./bot.ts";
import { IqError, IqTimeout, type XmppConnection } from "./connection.ts";
import type { RoomState } from "./rooms.ts";
import { NS } from "./stanza.ts";

const REJOIN_MIN_MS = 2000;

export type RoomPhase = "joining" | "joined" | "rejoining" | "offline";

export interface RoomStatus {
  readonly room: string;
  readonly phase: RoomPhase;
  /** Why the bot is not in the room (the last failure or removal). */
  readonly reason?: string;
  /** Join attempts since it was last in. */
  readonly attempts: number;
}

export interface RejoinDeps {
  readonly conn: XmppConnection;
  readonly log: Logger;
  /** The bot's full JID. */
  readonly jid: string;
  join(state: RoomState): Promise<JoinResult>;
  /** Called after a room was joined again, so that what waits for it can go. */
  rejoined(state: RoomState): void;
  readonly rejoinMaxMs: number;
  /** 0: no self-ping. */
  readonly selfPingMs: number;
}

interface Watch {
  phase: RoomPhase;
  reason?: string;
  attempts: number;
  delay: number;
  timer?: NodeJS.Timeout | undefined;
  /** A join in flight. */
  busy: boolean;
}

export class RoomWatch {
  readonly #d: RejoinDeps;
  readonly #watch = new Map<RoomState, Watch>();
  #pinger: NodeJS.Timeout | undefined;

  constructor(d: RejoinDeps) {
    this.#d = d;
  }

  status(): RoomStatus[] {
    return [...this.#watch].map(([s, w]) => ({ room: s.room, phase: w.phase, attempts: w.attempts, ...(w.reason ? { reason: w.reason } : {}) }));
  }

  /** The stream is up: join every room (the first try for each at once); `settled` after each try. */
  async joinAll(states: readonly RoomState[], settled?: () => void): Promise<void> {
    for (const s of states) this.#entry(s);
    this.#startPinger();
    await Promise.all(states.map(async (s) => {
      await this.#attempt(s, this.#entry(s));
      settled?.();
    }));
  }

  /** A room linked after start: joined now (and kept joined like the others). */
  async join(state: RoomState): Promise<void> {
    if (!this.#pinger) this.#startPinger();
    await this.#attempt(state, this.#entry(state));
  }

  /** A room no link has any more: no more joins, pings or status for it. */
  forget(state: RoomState): void {
    const w = this.#watch.get(state);
    clearTimeout(w?.timer);
    this.#watch.delete(state);
  }

  /** The bot is out of `state`'s room, for `reason`: join again after the backoff. */
  removed(state: RoomState, reason: string): void {
    const w = this.#entry(state);
    state.botJoined = false;
    for (const p of state.puppets.values()) p.joined = false; // they rejoin on their next message
    if (w.busy || w.timer) return;
    this.#enter(state, w, "rejoining", reason);
    this.#schedule(state, w);
  }

  /** The stream went down: nothing to retry until it is back (joinAll). */
  offline(): void {
    clearInterval(this.#pinger);
    this.#pinger = undefined;
    for (const w of this.#watch.values()) {
      clearTimeout(w.timer);
      w.timer = undefined;
      w.phase = "offline";
    }
  }

  stop(): void {
    this.offline();
  }

  #entry(state: RoomState): Watch {
    let w = this.#watch.get(state);
    if (!w) {
      w = { phase: "joining", attempts: 0, delay: REJOIN_MIN_MS, busy: false };
      this.#watch.set(state, w);
    }
    return w;
  }

  async #attempt(state: RoomState, w: Watch): Promise<void> {
    if (w.busy || !this.#d.conn.online || this.#watch.get(state) !== w) return; // forgotten: unlinked
    w.busy = true;
    w.attempts++;
    let r: JoinResult;
    try {
      r = await this.#d.join(state);
    } catch (err) {
      r = { ok: false, reason: (err as Error).message };
    } finally {
      w.busy = false;
    }
    if (!this.#d.conn.online || this.#watch.get(state) !== w) return;
    if (r.ok) {
      const wasOut = w.phase === "rejoining";
      this.#enter(state, w, "joined");
      w.attempts = 0;
      w.delay = REJOIN_MIN_MS;
      if (wasOut) this.#d.rejoined(state);
      return;
    }
    this.#enter(state, w, "rejoining", r.reason);
    this.#schedule(state, w);
  }

  /** Logs a change of phase or reason, never the same one twice in a row. */
  #enter(state: RoomState, w: Watch, phase: RoomPhase, reason?: string): void {
    const prev = { phase: w.phase, reason: w.reason };
    w.phase = phase;
    w.reason = reason;
    if (phase === prev.phase && reason === prev.reason) return;
    if (phase === "joined" && prev.phase === "rejoining") this.#d.log.info({ room: state.room, attempts: w.attempts }, "the bot is back in the room");
    else if (phase === "rejoining") this.#d.log.error({ room: state.room, reason }, "the bot is not in the room; it keeps trying to join (backoff up to xmpp.rejoinMaxSeconds)");
  }

  #schedule(state: RoomState, w: Watch): void {
    clearTimeout(w.timer);
    const delay = w.delay;
    w.delay = Math.min(w.delay * 2, this.#d.rejoinMaxMs);
    w.timer = setTimeout(() => {
      w.timer = undefined;
      void this.#attempt(state, w);
    }, delay);
    w.timer.unref();
  }

  /** Pings every watched room (a room linked later included, a room unlinked no more). */
  #startPinger(): void {
    clearInterval(this.#pinger);
    this.#pinger = undefined;
    if (this.#d.selfPingMs <= 0) return;
    this.#pinger = setInterval(() => {
      for (const [s, w] of this.#watch) {
        if (w.phase === "joined" && s.botJoined && !w.busy) void this.#selfPing(s);
      }
    }, this.#d.selfPingMs);
    this.#pinger.unref();
  }

  /** XEP-0410: a ping to our own occupant. The room answers for it, or passes it to us (iq.ts answers). */
  async #selfPing(state: RoomState): Promise<void> {
    const nick = state.botNick;
    if (!nick) return;
    const ping = xml("iq", { type: "get", from: this.#d.jid, to: `${state.room}/${nick}` }, xml("ping", { xmlns: NS.ping }));
    try {
      await this.#d.conn.request(ping, Math.min(this.#d.selfPingMs, 30_000));
    } catch (err) {
      if (err instanceof IqTimeout || !(err instanceof IqError)) return; // inconclusive: the keepalive watches the stream
      // §3.2: these mean the occupant is still there, only its client does not answer pings.
      if (["service-unavailable", "feature-not-implemented"].includes(err.condition)) return;
      if (state.botJoined) this.removed(state, `self-ping: the room no longer has the bot as an occupant (${err.condition})`);
    }
  }
}
