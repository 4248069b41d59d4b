import type { DeliveredPart, FoundMessage, MappedMessage, MessageLookup, PartRole } from "../adapter.ts";
import type { Network, RemoteMessageId } from "../events.ts";
import type { Db } from "./db.ts";
import { Places } from "./places.ts";

export interface NewMessage {
  readonly link: string;
  readonly kind: "message" | "reaction";
  readonly originNetwork: Network;
  readonly originRoom: string;
  readonly sender: string;
  readonly senderName: string;
  readonly excerpt: string;
  readonly reactionTo?: number;
  readonly emoji?: string;
  readonly ts: number;
  /** When it was recorded (retention counts from here); defaults to now. */
  readonly created?: number;
}

export interface Copy {
  readonly network: Network;
  readonly room: string;
  readonly remoteId: string;
  readonly altId?: string;
  readonly postedAs?: string;
  readonly bridged: boolean;
  /** Which native message of a multi-part delivery this is (0 when there is one). */
  readonly part?: number;
  readonly role?: PartRole;
}

interface MapRow {
  message_id: number;
  remote_id: string;
  alt_id: string | null;
  posted_as: string | null;
  bridged: number;
  part: number;
  role: PartRole;
}

const COLS = "message_id, remote_id, alt_id, posted_as, bridged, part, role";

// INDEXED BY: the planner has no statistics (no ANALYZE); a lookup that took the wrong index
// read every copy in the room, and a delivery cost more the longer the room had been bridged.
const BY_REMOTE = "copies INDEXED BY copies_by_remote";
const BY_MESSAGE = "copies INDEXED BY copies_by_message";
// Only copies whose alt_id is not their native id are in it; the others are found BY_REMOTE.
const BY_ALT = "copies INDEXED BY copies_by_alt";

/** Which part of a message a reference goes to: edits to the text, replies and reactions to the main one. */
export type PartPick = "main" | "text";

/** Bridged messages and their copies in every room (the copies table; rooms are places). */
export class MessageStore {
  readonly #places: Places;
  readonly #insert;
  readonly #insertCopy;
  readonly #byRemote;
  readonly #byAlt;
  readonly #byAltOwn;
  readonly #copiesInRows;
  readonly #message;
  readonly #activeReaction;
  readonly #reactionSet;
  readonly #markRemoved;
  readonly #byAltAny;
  readonly #byAltAnyOwn;
  readonly #erase;
  readonly #removePart;
  readonly #discard;

  constructor(db: Db) {
    this.#places = new Places(db);
    this.#insert = db.prepare<[string, string, string, string, string, string, string, number | null, string | null, number, number]>(
      `INSERT INTO messages (link, kind, origin_network, origin_room, sender, sender_name, excerpt, reaction_to, emoji, ts, created)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#insertCopy = db.prepare<[number, string, number, string | null, string | null, number, number, string]>(
      `INSERT OR IGNORE INTO copies (place, remote_id, message_id, alt_id, posted_as, bridged, part, role) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#byRemote = db.prepare<[number, string], MapRow>(`SELECT ${COLS} FROM ${BY_REMOTE} WHERE place = ? AND remote_id = ?`);
    // By a client's own id and who posted it, the latest: in the index, or the copy whose native id it is.
    this.#byAlt = db.prepare<[number, string, string], MapRow>(
      `SELECT ${COLS} FROM ${BY_ALT} WHERE place = ? AND alt_id = ? AND alt_id <> remote_id AND posted_as = ? ORDER BY message_id DESC LIMIT 1`,
    );
    this.#byAltOwn = db.prepare<[number, string, string], MapRow>(
      `SELECT ${COLS} FROM ${BY_REMOTE} WHERE place = ? AND remote_id = ? AND alt_id = remote_id AND posted_as = ?`,
    );
    // Ordered by #copiesIn() (an ORDER BY here costs a sorter per call, four times the lookup).
    this.#copiesInRows = db.prepare<[number, number], MapRow>(`SELECT ${COLS} FROM ${BY_MESSAGE} WHERE message_id = ? AND place = ?`);
    this.#message = db.prepare<[number], { kind: "message" | "reaction"; sender: string; sender_name: string; excerpt: string; reaction_to: number | null; emoji: string | null; retracted: number }>(
      `SELECT kind, sender, sender_name, excerpt, reaction_to, emoji, retracted FROM messages WHERE id = ?`,
    );
    this.#activeReaction = db.prepare<[number, string, string], { id: number }>(
      `SELECT id FROM messages WHERE kind = 'reaction' AND reaction_to = ? AND sender = ? AND emoji = ? AND removed = 0 ORDER BY id DESC LIMIT 1`,
    );
    this.#reactionSet = db.prepare<[number, string], { emoji: string }>(
      `SELECT DISTINCT emoji FROM messages WHERE kind = 'reaction' AND reaction_to = ? AND sender = ? AND removed = 0 ORDER BY id`,
    );
    this.#markRemoved = db.prepare<[number]>(`UPDATE messages SET removed = 1 WHERE id = ?`);
    // Two lookups, not one with OR: SQLite cannot use an index for "remote_id = ? OR alt_id = ?",
    // and this runs for every message a MUC reflects back to us.
    // A client's own id (alt_id) is anybody's to copy: only our own copies are found by it.
    this.#byAltAny = db.prepare<[number, string], MapRow>(
      `SELECT ${COLS} FROM ${BY_ALT} WHERE place = ? AND alt_id = ? AND alt_id <> remote_id AND bridged = 1 LIMIT 1`,
    );
    this.#byAltAnyOwn = db.prepare<[number, string], MapRow>(
      `SELECT ${COLS} FROM ${BY_REMOTE} WHERE place = ? AND remote_id = ? AND alt_id = remote_id AND bridged = 1`,
    );
    this.#erase = db.prepare<[number]>(`UPDATE messages SET excerpt = '', retracted = 1 WHERE id = ?`);
    this.#discard = db.prepare<[number]>(`DELETE FROM messages WHERE id = ?`);
    this.#removePart = db.prepare<[number, number, number]>(`DELETE FROM ${BY_MESSAGE} WHERE message_id = ? AND place = ? AND part = ?`);
  }

  /** See Places.settle. */
  settle(): void {
    this.#places.settle();
  }

  add(m: NewMessage): number {
    const r = this.#insert.run(m.link, m.kind, m.originNetwork, m.originRoom, m.sender, m.senderName, m.excerpt, m.reactionTo ?? null, m.emoji ?? null, m.ts, m.created ?? Date.now());
    return Number(r.lastInsertRowid);
  }

  /** Takes back a message just added that turned out to be known (no copy, nothing refers to it). */
  discard(messageId: number): void {
    this.#discard.run(messageId);
  }

  /** Records a copy; false when that native id is already mapped (a duplicate). */
  addCopy(messageId: number, c: Copy): boolean {
    const place = this.#places.of(c.network, c.room, true)!;
    return this.#insertCopy.run(place, c.remoteId, messageId, c.altId ?? null, c.postedAs ?? null, c.bridged ? 1 : 0, c.part ?? 0, c.role ?? "text").changes > 0;
  }

  /**
   * Maps a second native id (e.g. an XMPP stanza-id learned from the reflection) onto a known copy,
   * same part: one with that native id, or one of our own copies (bridged) with that id of ours. A
   * person's client id never matches here, so a copy of it cannot capture an alias.
   */
  addAlias(network: Network, room: string, knownId: string, newRemoteId: string): void {
    const place = this.#places.of(network, room, false);
    if (place === undefined) return;
    const known = this.#byRemote.get(place, knownId) ?? this.#ourCopyByAlt(place, knownId);
    if (!known) return;
    this.#insertCopy.run(place, newRemoteId, known.message_id, known.alt_id, known.posted_as, known.bridged, known.part, known.role);
  }

  idOf(network: Network, room: string, remoteId: string): number | undefined {
    const place = this.#places.of(network, room, false);
    return place === undefined ? undefined : this.#byRemote.get(place, remoteId)?.message_id;
  }

  /** The copy a native id names: which message, and which part of it. */
  copyOf(network: Network, room: string, remoteId: string): { messageId: number; part: number; role: PartRole; bridged: boolean } | undefined {
    const place = this.#places.of(network, room, false);
    const row = place === undefined ? undefined : this.#byRemote.get(place, remoteId) ?? this.#ourCopyByAlt(place, remoteId);
    return row ? { messageId: row.message_id, part: row.part, role: row.role, bridged: row.bridged === 1 } : undefined;
  }

  find(network: Network, room: string, by: MessageLookup): FoundMessage | undefined {
    const place = this.#places.of(network, room, false);
    if (place === undefined) return undefined;
    const row = "remoteId" in by ? this.#byRemote.get(place, by.remoteId) : this.#byClientId(place, by.altId, by.postedAs);
    if (!row) return undefined;
    const msg = this.#message.get(row.message_id);
    if (!msg) return undefined;
    const found: FoundMessage = {
      remoteId: row.remote_id as RemoteMessageId,
      kind: msg.kind,
      bridged: row.bridged === 1,
      ...(row.posted_as !== null ? { postedAs: row.posted_as } : {}),
    };
    if (msg.kind === "reaction" && msg.reaction_to !== null) {
      const target = this.#parts(msg.reaction_to, network, room)[0];
      return { ...found, ...(target ? { reactionTo: target.remote_id as RemoteMessageId } : {}), ...(msg.emoji ? { emoji: msg.emoji } : {}) };
    }
    return found;
  }

  /**
   * The message as delivered in one room, with what a reply fallback needs: its main part (the
   * lowest ordinal: replies, reactions) or its text part (edits; the main part when it has none).
   */
  mapped(messageId: number, network: Network, room: string, pick: PartPick = "main"): MappedMessage | undefined {
    const parts = this.#parts(messageId, network, room);
    const row = (pick === "text" ? parts.find((p) => p.role === "text") : undefined) ?? parts[0];
    return row ? this.#toMapped(messageId, row) : undefined;
  }

  /** Every part of the message in one room, main part first (a retraction removes them all). */
  allParts(messageId: number, network: Network, room: string): MappedMessage[] {
    return this.#parts(messageId, network, room).map((r) => this.#toMapped(messageId, r));
  }

  /** The parts that Junction delivered into a room, each under the id `send` returned for it. */
  delivered(messageId: number, network: Network, room: string): DeliveredPart[] {
    const byPart = new Map<number, MapRow>();
    for (const r of this.#copiesIn(messageId, network, room)) {
      if (r.bridged !== 1) continue;
      const ours = r.alt_id === null || r.remote_id === r.alt_id;
      if (!byPart.has(r.part) || ours) byPart.set(r.part, r);
    }
    return [...byPart.values()].map((r) => ({
      id: r.remote_id as RemoteMessageId, part: r.part, role: r.role,
      ...(r.alt_id !== null ? { altId: r.alt_id } : {}), ...(r.posted_as !== null ? { postedAs: r.posted_as } : {}),
    }));
  }

  /** Forgets one part of a delivery in a room (the room bounced it): it may be sent again. */
  removePart(messageId: number, network: Network, room: string, part: number): void {
    const place = this.#places.of(network, room, false);
    if (place !== undefined) this.#removePart.run(messageId, place, part);
  }

  /** A retracted or redacted message keeps its ids (later references still resolve) but not its text. */
  erase(messageId: number): void {
    this.#erase.run(messageId);
  }

  activeReaction(targetId: number, sender: string, emoji: string): number | undefined {
    return this.#activeReaction.get(targetId, sender, emoji)?.id;
  }

  reactionSet(targetId: number, sender: string): string[] {
    return this.#reactionSet.all(targetId, sender).map((r) => r.emoji);
  }

  markRemoved(reactionId: number): void {
    this.#markRemoved.run(reactionId);
  }

  /**
   * A message's copies in one room by part; per part, a server-assigned id (XMPP stanza-id:
   * remote_id differs from our alt_id) first: that is what people's clients in the room point at.
   */
  #copiesIn(messageId: number, network: Network, room: string): MapRow[] {
    const place = this.#places.of(network, room, false);
    if (place === undefined) return [];
    const rows = this.#copiesInRows.all(messageId, place);
    if (rows.length < 2) return rows;
    const ours = (r: MapRow) => (r.alt_id !== null && r.remote_id === r.alt_id ? 1 : 0);
    return rows.sort((a, b) => a.part - b.part || ours(a) - ours(b));
  }

  /** The latest copy a client id names, posted as `postedAs` (XEP-0308 corrections point at it). */
  #byClientId(place: number, altId: string, postedAs: string): MapRow | undefined {
    const indexed = this.#byAlt.get(place, altId, postedAs);
    const own = this.#byAltOwn.get(place, altId, postedAs);
    return !indexed ? own : !own ? indexed : own.message_id > indexed.message_id ? own : indexed;
  }

  /** One of our own copies (bridged) by the id of ours it carries. */
  #ourCopyByAlt(place: number, altId: string): MapRow | undefined {
    return this.#byAltAny.get(place, altId) ?? this.#byAltAnyOwn.get(place, altId);
  }

  /** One row per part, the preferred id of each (see #copiesIn's order). */
  #parts(messageId: number, network: Network, room: string): MapRow[] {
    const seen = new Set<number>();
    return this.#copiesIn(messageId, network, room).filter((r) => !seen.has(r.part) && seen.add(r.part));
  }

  #toMapped(messageId: number, row: MapRow): MappedMessage {
    const msg = this.#message.get(messageId);
    return {
      remoteId: row.remote_id as RemoteMessageId,
      ...(row.alt_id !== null ? { altId: row.alt_id } : {}),
      ...(row.posted_as !== null ? { postedAs: row.posted_as } : {}),
      authorName: msg?.sender_name ?? "",
      excerpt: msg?.excerpt ?? "",
      ...(msg?.retracted ? { retracted: true } : {}),
      part: row.part,
      role: row.role,
    };
  }
}
