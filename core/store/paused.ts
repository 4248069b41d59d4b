import type { Db } from "./db.ts";

/** Who paused a link and when (an admin's id on their network). */
export interface PausedLink {
  readonly link: string;
  readonly by: string;
  readonly at: number;
}

const PREFIX = "paused:";

/**
 * Links an admin paused, kept in the `settings` table so a pause survives a restart (the held
 * deliveries are outbox rows and survive anyway).
 */
export class PausedStore {
  readonly #put;
  readonly #remove;
  readonly #all;

  constructor(db: Db) {
    this.#put = db.prepare<[string, string]>(`INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)`);
    this.#remove = db.prepare<[string]>(`DELETE FROM settings WHERE key = ?`);
    this.#all = db.prepare<[number, string], { key: string; value: string }>(`SELECT key, value FROM settings WHERE substr(key, 1, ?) = ? ORDER BY key`);
  }

  add(p: PausedLink): void { this.#put.run(PREFIX + p.link, JSON.stringify({ by: p.by, at: p.at })); }
  remove(link: string): void { this.#remove.run(PREFIX + link); }

  all(): PausedLink[] {
    return this.#all.all(PREFIX.length, PREFIX).flatMap(({ key, value }) => {
      try {
        const v = JSON.parse(value) as { by?: unknown; at?: unknown };
        return [{ link: key.slice(PREFIX.length), by: typeof v.by === "string" ? v.by : "", at: typeof v.at === "number" ? v.at : 0 }];
      } catch {
        return [{ link: key.slice(PREFIX.length), by: "", at: 0 }];
      }
    });
  }
}
