/**
 * Our messages that the room has not reflected yet. The room's reflection (live, in join
 * history, or in the archive after a reconnect) is the only proof a message got in: a stanza the
 * kernel accepted can still be lost with the connection when the server goes down. After a
 * reconnect, whatever is still unconfirmed is sent again, under the same ids, a bounded number of
 * times: a stanza that makes the server close the stream is never confirmed, and sending it after
 * every reconnect would keep the stream down for good.
 */
const MAX = 5000;

export interface Entry<T> {
  readonly ids: readonly string[];
  /** When it was first sent (a resend keeps it, so the age cap holds). */
  readonly at: number;
  readonly value: T;
  /** How often it was written to a stream so far. */
  readonly sends: number;
}

export class Unconfirmed<T> {
  readonly #byId = new Map<string, Entry<T>>();

  add(ids: readonly string[], value: T, at = Date.now(), sends = 1): void {
    if (ids.length === 0) return;
    const entry = { ids, at, value, sends };
    for (const id of ids) this.#byId.set(id, entry);
    while (this.#byId.size > MAX) this.#remove(this.#byId.values().next().value!);
  }

  /** The room reflected one of the ids: the whole delivery is in. */
  confirm(id: string): void {
    const entry = this.#byId.get(id);
    if (entry) this.#remove(entry);
  }

  /** Everything unconfirmed and younger than `maxAgeMs`, oldest first; all of it is forgotten. */
  take(maxAgeMs: number, now = Date.now()): T[] {
    const entries = [...new Set(this.#byId.values())];
    this.#byId.clear();
    return entries.filter((e) => now - e.at <= maxAgeMs).sort((a, b) => a.at - b.at).map((e) => e.value);
  }

  /**
   * Takes everything unconfirmed, oldest first: what may be sent again (younger than `maxAgeMs`,
   * sent fewer than `maxSends` times) and what is given up. All of it is forgotten here.
   */
  takeForResend(maxAgeMs: number, maxSends: number, now = Date.now()): { resend: Entry<T>[]; givenUp: Entry<T>[] } {
    const entries = [...new Set(this.#byId.values())].sort((a, b) => a.at - b.at);
    this.#byId.clear();
    const ok = (e: Entry<T>) => now - e.at <= maxAgeMs && e.sends < maxSends;
    return { resend: entries.filter(ok), givenUp: entries.filter((e) => !ok(e)) };
  }

  get size(): number {
    return new Set(this.#byId.values()).size;
  }

  #remove(entry: Entry<T>): void {
    for (const id of entry.ids) if (this.#byId.get(id) === entry) this.#byId.delete(id);
  }
}
