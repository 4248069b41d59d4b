/**
 * What the adapter remembers about each linked room: its occupants (from the bot's view, ours
 * included), the nicks our own puppets hold, the bot's join, and small caches for corrections and
 * reaction sets. `ownsOccupant` is the one place that decides whether an occupant is ours.
 */
import type { Element } from "@xmpp/xml";
import type { DeliveryContext, MappedMessage } from "../../core/adapter.ts";
import { remoteId, type Network, type RoomRef, type Sender } from "../../core/events.ts";
import type { OccupantState } from "./presence.ts";
import { roomJidKey } from "./stanza.ts";
import type { CatchUp } from "./catchup.ts";
import { formatCursor } from "./cursor.ts";
import { Unconfirmed } from "./unconfirmed.ts";
import type { PuppetContext } from "./puppets.ts";

/** What it takes to send a delivery again: who speaks it and the stanzas, ids unchanged. */
export interface Resend {
  readonly origin: Network;
  readonly sender: Sender;
  /**
   * What a rejoin of the puppet needs from the delivery (its avatar), and no more: the whole
   * DeliveryContext holds the outbox row and the event, kept alive here until the reflection.
   */
  readonly ctx: PuppetContext;
  readonly stanzas: readonly Element[];
}

/** Entries kept per cache per room; old ones fall out first (Map keeps insertion order). */
const CACHE_MAX = 5000;
const RETIRED_MS = 60_000;

export interface PuppetOccupant {
  /** The puppet's bare JID. */
  readonly bare: string;
  nick: string;
  /** The (safe) name `nick` was chosen for; another name means the person was renamed. */
  forName?: string | undefined;
  /** Confirmed by the room's self-presence. */
  joined: boolean;
  /** The nick a join in flight asks for. */
  pendingNick?: string | undefined;
  /** A join in flight, shared by concurrent sends. */
  joining?: Promise<string> | undefined;
  /**
   * Not joined in this run, but the room still sends to it (it stayed in while Junction was
   * away): it holds `nick` until the room says it left.
   */
  lingering?: boolean | undefined;
}

/** An occupant as the bot sees it; `ours` when it is the bot or one of our puppets. */
export type RoomOccupant = OccupantState & { readonly ours?: true };

/** What the room vouches for about an occupant (a stanza's, else its presence's). */
export interface OccupantIdentity {
  readonly realJid?: string | undefined;
  readonly occupantId?: string | undefined;
}

export class RoomState {
  readonly room: RoomRef;
  readonly occupants = new Map<string, RoomOccupant>();
  /** XEP-0421 occupant-ids of the bot and our puppets here, from their own self-presences. */
  readonly ourOccupantIds = new Set<string>();
  /**
   * Presences seen while the bot joins, from a nick that a puppet of an earlier run held, where
   * the room shows neither real JID nor occupant-id: held until the room shows whether that puppet
   * is still in (then they were its own) or the join's history is complete (then a person's).
   */
  readonly undecided = new Map<string, () => void>();
  /** Nicks seen since the bot's latest join began, to find who left while we were away. */
  seenSinceJoin: Set<string> | undefined;
  botNick: string | undefined;
  botJoined = false;
  /** Puppets by bare JID (lower case). */
  readonly puppets = new Map<string, PuppetOccupant>();
  readonly #corrections = new Map<string, string>();
  /** Our origin-ids → the stanza-ids the room gave them (people point at stanza-ids). */
  readonly #stanzaIds = new Map<string, string>();
  readonly #stanzaIdWaiters = new Map<string, (sid: string) => void>();
  /** Ids we sent in this run whose reflection has not come back yet. */
  readonly #awaitingReflection = new Map<string, number>();
  /** Nicks our puppets just left by renaming: their reflected presences are still ours. */
  readonly #retired = new Map<string, number>();
  /** The newest archived message's id, when the bot asked for it (a first link's cursor). */
  lastArchivedId: string | undefined;
  /** The query id of that request while it runs. */
  lastArchivedQuery: string | undefined;
  /** The archive catch-up in progress: its query ids, and the live messages it holds back. */
  catchUp: CatchUp | undefined;
  /** The bot's join history is arriving (self-presence until subject): delays from the room count. */
  replaying = false;
  #cursor = 0;
  #cursorId: string | undefined;
  readonly #reactions = new Map<string, readonly string[]>();

  constructor(room: RoomRef) {
    this.room = room;
  }

  /**
   * Whether the occupant `nick` is the bot or one of our puppets, by what the room vouches for:
   * its real JID where the room shows it, else its occupant-id where the room gives one that we
   * know as ours, else the nick, but only while the bot or a puppet of ours holds it now.
   */
  ownsOccupant(nick: string, who: OccupantIdentity, inOurDomain: (jid: string) => boolean): boolean {
    if (who.realJid) return inOurDomain(who.realJid);
    if (who.occupantId && this.ourOccupantIds.has(who.occupantId)) return true;
    return this.heldByUs(nick);
  }

  /**
   * Whether the bot or one of our puppets holds `nick` now (joined, joining, still in from an
   * earlier run, or just renamed away from it). A nick a puppet held once and left is nobody's.
   */
  heldByUs(nick: string): boolean {
    if (nick === this.botNick) return true;
    const holder = this.occupants.get(nick);
    for (const p of this.puppets.values()) {
      if (p.nick === nick && (p.joined || p.lingering)) return true;
      // A join in flight claims its nick, unless a person here holds it (that join will get a
      // conflict and take a suffix): their messages must not be mistaken for our echo.
      if (p.pendingNick === nick && (!holder || holder.ours)) return true;
    }
    const retired = this.#retired.get(nick);
    return retired !== undefined && Date.now() - retired < RETIRED_MS;
  }

  /** The nick was last held by a puppet that has not joined in this run (nor been seen since). */
  heldBefore(nick: string): boolean {
    for (const p of this.puppets.values()) if (p.nick === nick && !p.joined && !p.joining && !p.lingering) return true;
    return false;
  }

  retire(nick: string): void {
    this.#retired.set(nick, Date.now());
  }

  /** The room reported our puppet gone from a nick it renamed away from: the nick is free now. */
  unretire(nick: string): void {
    this.#retired.delete(nick);
  }

  /** The catch-up cursor after a message dated `ts`: it never moves back (history is older). */
  /**
   * The catch-up cursor after a message dated `ts` with the room's `stanzaId`: it never moves back
   * (history is older), and keeps the id of the newest message only.
   */
  advanceCursor(ts: number, stanzaId?: string): string {
    if (ts >= this.#cursor) {
      this.#cursor = ts;
      this.#cursorId = stanzaId;
    }
    return formatCursor({ at: new Date(this.#cursor).toISOString(), ...(this.#cursorId ? { id: this.#cursorId } : {}) });
  }

  /** The puppet that holds `nick` now. */
  puppetByNick(nick: string): PuppetOccupant | undefined {
    for (const p of this.puppets.values()) if (p.nick === nick && (p.joined || p.lingering)) return p;
    return undefined;
  }

  rememberClientId(postedAs: string, clientId: string, key: string): void {
    remember(this.#corrections, `${postedAs}\n${clientId}`, key);
  }

  correctionTarget(postedAs: string, clientId: string): string | undefined {
    return this.#corrections.get(`${postedAs}\n${clientId}`);
  }

  /** Our deliveries the room has not reflected yet, to send again after a reconnect. */
  readonly unconfirmed = new Unconfirmed<Resend>();

  /** Puppets (bare JIDs, lower case) whose bridged `<composing/>` shows here: their next text ends it. */
  readonly typing = new Set<string>();

  /** Our message `id` went out; its reflection will carry the room's stanza-id. */
  sent(id: string): void {
    remember(this.#awaitingReflection, id, Date.now());
  }

  /** The room answered our message `id` with an error: true when we sent it and it was not reflected. */
  bounced(id: string): boolean {
    return this.#awaitingReflection.delete(id);
  }

  /** The stanza-id the room gave one of our ids, if its reflection (live or in history) was seen. */
  reflected(id: string): string | undefined {
    return this.#stanzaIds.get(id);
  }

  learnStanzaId(originId: string, stanzaId: string): void {
    this.#awaitingReflection.delete(originId);
    remember(this.#stanzaIds, originId, stanzaId);
    this.#stanzaIdWaiters.get(originId)?.(stanzaId);
    this.#stanzaIdWaiters.delete(originId);
  }

  /**
   * The stanza-id for one of our origin-ids, waiting up to `waitMs` for the reflection (a reaction
   * can follow its message by less than a round trip). Falls back to the id itself.
   */
  async stanzaIdFor(id: string, waitMs: number): Promise<string> {
    const known = this.#stanzaIds.get(id);
    // Only a reflection still on its way is worth waiting for (not one lost to a restart).
    if (known || !this.#awaitingReflection.has(id) || waitMs <= 0) return known ?? id;
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.#stanzaIdWaiters.delete(id); resolve(id); }, waitMs);
      this.#stanzaIdWaiters.set(id, (sid) => { clearTimeout(timer); resolve(sid); });
    });
  }

  /**
   * Targets we wrote ourselves are mapped under our origin-id until the reflection brings the
   * room's stanza-id; XMPP clients in a room point at stanza-ids, so use it when we know it.
   */
  async withStanzaIds(ctx: DeliveryContext, waitMs: number): Promise<DeliveryContext> {
    if (!ctx.target && !ctx.replyTo && !ctx.targets) return ctx; // a plain message points at nothing
    const fix = async (m: MappedMessage | undefined): Promise<MappedMessage | undefined> =>
      m ? { ...m, remoteId: remoteId(await this.stanzaIdFor(m.remoteId, waitMs)) } : undefined;
    const target = await fix(ctx.target);
    const replyTo = await fix(ctx.replyTo);
    const targets = ctx.targets ? await Promise.all(ctx.targets.map(async (t) => (await fix(t))!)) : undefined;
    return { ...ctx, ...(target ? { target } : {}), ...(replyTo ? { replyTo } : {}), ...(targets ? { targets } : {}) };
  }

  reactionsOf(target: string, actor: string): readonly string[] | undefined {
    return this.#reactions.get(`${target}\n${actor}`);
  }

  setReactions(target: string, actor: string, set: readonly string[]): void {
    remember(this.#reactions, `${target}\n${actor}`, set);
  }

  /** The occupant JID (`room/nick`) of an actor we emitted, if they are here now. */
  occupantJidOf(actor: string): string | undefined {
    if (actor.startsWith(`${this.room}/`)) return actor;
    for (const o of this.occupants.values()) {
      if (o.realJid === actor || (o.occupantId && `${this.room}#${o.occupantId}` === actor)) return `${this.room}/${o.nick}`;
    }
    return undefined;
  }
}

export class Rooms {
  readonly #rooms = new Map<string, RoomState>();

  set(rooms: readonly RoomRef[]): void {
    for (const r of rooms) if (!this.#rooms.has(roomJidKey(r))) this.#rooms.set(roomJidKey(r), new RoomState(r));
  }

  /** A room linked after start; undefined when it was linked already. */
  add(room: RoomRef): RoomState | undefined {
    if (this.#rooms.has(roomJidKey(room))) return undefined;
    const state = new RoomState(room);
    this.#rooms.set(roomJidKey(room), state);
    return state;
  }

  /** A room no link has any more: its stanzas are ignored from now on (receive.ts knows only linked rooms). */
  remove(room: RoomRef): RoomState | undefined {
    const state = this.#rooms.get(roomJidKey(room));
    this.#rooms.delete(roomJidKey(room));
    return state;
  }

  get(bare: string): RoomState | undefined {
    return this.#rooms.get(roomJidKey(bare));
  }

  all(): RoomState[] {
    return [...this.#rooms.values()];
  }
}

function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > CACHE_MAX) map.delete(map.keys().next().value!);
}
