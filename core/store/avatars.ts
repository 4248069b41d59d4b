import { createHash } from "node:crypto";
import type { AvatarDirectory, StoredAvatar } from "../adapter.ts";
import type { Db } from "./db.ts";

/**
 * Puppet avatars by the SHA-1 of their bytes (the hash XEP-0153 advertises), on disk: read when
 * someone asks for one (a vCard request), never held in memory for every puppet. An avatar is
 * kept while a puppet's data names it (`photoSha1`, see AvatarDirectory); prune() forgets the
 * others (a person's old pictures).
 */
export class AvatarStore implements AvatarDirectory {
  readonly #put;
  readonly #get;
  readonly #prune;

  constructor(db: Db) {
    this.#put = db.prepare<[string, string, Buffer, number]>(`INSERT OR IGNORE INTO avatars (sha1, mime, data, created) VALUES (?, ?, ?, ?)`);
    this.#get = db.prepare<[string], { mime: string; data: Buffer }>(`SELECT mime, data FROM avatars WHERE sha1 = ?`);
    // NOT IN over the referenced hashes: SQLite builds that set once per statement, not per row.
    this.#prune = db.prepare<[number]>(
      `DELETE FROM avatars WHERE rowid IN (
         SELECT rowid FROM avatars WHERE sha1 NOT IN (
           SELECT json_extract(data, '$.photoSha1') FROM puppets
           WHERE data IS NOT NULL AND json_extract(data, '$.photoSha1') IS NOT NULL)
         LIMIT ?)`,
    );
  }

  /** Forgets up to `batch` avatars no puppet shows any more; returns how many. */
  pruneBatch(batch: number): number {
    return this.#prune.run(batch).changes;
  }

  put(data: Uint8Array, mime: string): string {
    const sha1 = createHash("sha1").update(data).digest("hex");
    this.#put.run(sha1, mime, Buffer.from(data.buffer, data.byteOffset, data.byteLength), Date.now());
    return sha1;
  }

  get(sha1: string): StoredAvatar | undefined {
    const row = this.#get.get(sha1);
    return row ? { data: new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength), mime: row.mime } : undefined;
  }
}
