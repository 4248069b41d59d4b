/**
 * One room's catch-up from its archive while it runs: the query ids the bot issued (only their
 * results are archive results), the archived messages read so far (the newest `max` of them),
 * and the room's live messages held back until the archive has been emitted, so that the other
 * side sees the room in order and the cursor never passes a page not yet read.
 */
import type { Element } from "@xmpp/xml";
import { newQueryId } from "./mam.ts";
import { roomStanzaId } from "./stanza.ts";

/** Live messages held per room while its archive is read; older ones are in the archive anyway. */
const LIVE_MAX = 5000;

export class CatchUp {
  readonly #max: number;
  readonly #queries = new Set<string>();
  readonly #archived: Element[] = [];
  readonly #live: Element[] = [];
  /** Archived messages read and not kept: over `max`, so never bridged. */
  #skipped = 0;
  #liveDropped = 0;

  constructor(max: number) {
    this.#max = max;
  }

  /** A query id for the next page; its results count until `finished`. */
  query(): string {
    const id = newQueryId();
    this.#queries.add(id);
    return id;
  }

  finished(queryId: string): void {
    this.#queries.delete(queryId);
  }

  issued(queryId: string | undefined): boolean {
    return queryId !== undefined && this.#queries.has(queryId);
  }

  /** An archived message (already in its live form), oldest first. */
  archived(el: Element): void {
    this.#archived.push(el);
    if (this.#archived.length > this.#max) {
      this.#archived.shift();
      this.#skipped++;
    }
  }

  /** A live message from the room while the archive is read. */
  hold(el: Element): void {
    this.#live.push(el);
    if (this.#live.length > LIVE_MAX) {
      this.#live.shift();
      this.#liveDropped++;
    }
  }

  get skipped(): number {
    return this.#skipped;
  }

  get liveDropped(): number {
    return this.#liveDropped;
  }

  /**
   * What to emit, in order: the archived messages kept, then the live ones the archive did not
   * already give (by the room's stanza-id).
   */
  drain(room: string): { el: Element; archived: boolean }[] {
    const seen = new Set(this.#archived.map((el) => roomStanzaId(el, room)).filter((id) => id !== undefined));
    const live = this.#live.filter((el) => {
      const id = roomStanzaId(el, room);
      return id === undefined || !seen.has(id);
    });
    const out = [...this.#archived.map((el) => ({ el, archived: true })), ...live.map((el) => ({ el, archived: false }))];
    this.#archived.length = 0;
    this.#live.length = 0;
    return out;
  }
}
