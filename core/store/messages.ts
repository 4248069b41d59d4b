import type { FoundMessage, MappedMessage, MessageLookup } from "../adapter.ts";
import type { Network, RemoteMessageId } from "../events.ts";
import type { Db } from "./db.ts";

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
}

export interface Copy {
  readonly network: Network;
  readonly room: string;
  readonly remoteId: string;
  readonly altId?: string;
  readonly author?: string;
  readonly bridged: boolean;
}

interface MapRow {
  message_id: number;
  remote_id: string;
  alt_id: string | null;
  author: string | null;
  bridged: number;
}

/** Bridged messages and their copies in every room (message_map). */
export class MessageStore {
  readonly #insert;
  readonly #insertCopy;
  readonly #byRemote;
  readonly #byAlt;
  readonly #copyIn;
  readonly #message;
  readonly #activeReaction;
  readonly #reactionSet;
  readonly #markRemoved;
  readonly #alias;
  readonly #byAltAny;

  constructor(db: Db) {
    this.#insert = db.prepare<[string, string, string, string, string, string, string, number | null, string | null, number]>(
      `INSERT INTO messages (link, kind, origin_network, origin_room, sender, sender_name, excerpt, reaction_to, emoji, ts)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#insertCopy = db.prepare<[string, string, string, number, string | null, string | null, number]>(
      `INSERT OR IGNORE INTO message_map (network, room, remote_id, message_id, alt_id, author, bridged) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#byRemote = db.prepare<[string, string, string], MapRow>(
      `SELECT message_id, remote_id, alt_id, author, bridged FROM message_map WHERE network = ? AND room = ? AND remote_id = ?`,
    );
    this.#byAlt = db.prepare<[string, string, string, string], MapRow>(
      `SELECT message_id, remote_id, alt_id, author, bridged FROM message_map
       WHERE network = ? AND room = ? AND alt_id = ? AND author = ? ORDER BY message_id DESC LIMIT 1`,
    );
    this.#copyIn = db.prepare<[number, string, string], MapRow>(
      // A server-assigned id (XMPP stanza-id: remote_id differs from our alt_id) first: that is
      // what people's clients in the room point at.
      `SELECT message_id, remote_id, alt_id, author, bridged FROM message_map WHERE message_id = ? AND network = ? AND room = ?
       ORDER BY (alt_id IS NOT NULL AND remote_id = alt_id) LIMIT 1`,
    );
    this.#message = db.prepare<[number], { kind: "message" | "reaction"; sender: string; sender_name: string; excerpt: string; reaction_to: number | null; emoji: string | null }>(
      `SELECT kind, sender, sender_name, excerpt, reaction_to, emoji FROM messages WHERE id = ?`,
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
    this.#byAltAny = db.prepare<[string, string, string], MapRow>(
      // A client's own id (alt_id) is anybody's to copy: only our own copies are found by it.
      `SELECT message_id, remote_id, alt_id, author, bridged FROM message_map WHERE network = ? AND room = ? AND alt_id = ? AND bridged = 1 LIMIT 1`,
    );
    this.#alias = db.prepare<[string, string, string, number, string | null, string | null, number]>(
      `INSERT OR IGNORE INTO message_map (network, room, remote_id, message_id, alt_id, author, bridged) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  add(m: NewMessage): number {
    const r = this.#insert.run(m.link, m.kind, m.originNetwork, m.originRoom, m.sender, m.senderName, m.excerpt, m.reactionTo ?? null, m.emoji ?? null, m.ts);
    return Number(r.lastInsertRowid);
  }

  /** Records a copy; false when that native id is already mapped (a duplicate). */
  addCopy(messageId: number, c: Copy): boolean {
    return this.#insertCopy.run(c.network, c.room, c.remoteId, messageId, c.altId ?? null, c.author ?? null, c.bridged ? 1 : 0).changes > 0;
  }

  /**
   * Maps a second native id (e.g. an XMPP stanza-id learned from the reflection) onto a known copy:
   * one with that native id, or one of our own copies (bridged) with that id of ours. A person's
   * client id never matches here, so a copy of it cannot capture an alias.
   */
  addAlias(network: Network, room: string, knownId: string, newRemoteId: string): void {
    const known = this.#byRemote.get(network, room, knownId) ?? this.#byAltAny.get(network, room, knownId);
    if (!known) return;
    this.#alias.run(network, room, newRemoteId, known.message_id, known.alt_id, known.author, known.bridged);
  }

  idOf(network: Network, room: string, remoteId: string): number | undefined {
    return this.#byRemote.get(network, room, remoteId)?.message_id;
  }

  find(network: Network, room: string, by: MessageLookup): FoundMessage | undefined {
    const row = "remoteId" in by ? this.#byRemote.get(network, room, by.remoteId) : this.#byAlt.get(network, room, by.altId, by.author);
    if (!row) return undefined;
    const msg = this.#message.get(row.message_id);
    if (!msg) return undefined;
    const found: FoundMessage = {
      remoteId: row.remote_id as RemoteMessageId,
      kind: msg.kind,
      bridged: row.bridged === 1,
      ...(row.author !== null ? { author: row.author } : {}),
    };
    if (msg.kind === "reaction" && msg.reaction_to !== null) {
      const target = this.#copyIn.get(msg.reaction_to, network, room);
      return { ...found, ...(target ? { reactionTo: target.remote_id as RemoteMessageId } : {}), ...(msg.emoji ? { emoji: msg.emoji } : {}) };
    }
    return found;
  }

  /** The message as delivered in one room, with what a reply fallback needs. */
  mapped(messageId: number, network: Network, room: string): MappedMessage | undefined {
    const row = this.#copyIn.get(messageId, network, room);
    if (!row) return undefined;
    const msg = this.#message.get(messageId);
    return {
      remoteId: row.remote_id as RemoteMessageId,
      ...(row.alt_id !== null ? { altId: row.alt_id } : {}),
      ...(row.author !== null ? { author: row.author } : {}),
      authorName: msg?.sender_name ?? "",
      excerpt: msg?.excerpt ?? "",
    };
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

}
