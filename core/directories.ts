/**
 * The records the core keeps in the store for adapters, reached through AdapterHost: puppets,
 * copies of files uploaded elsewhere, and avatar bytes.
 */
import type { ActorId, Network } from "./events.ts";

/** Persistent puppet records: one per remote person per network, with a hash of the profile sent. */
export interface PuppetDirectory {
  get(network: Network, actor: ActorId): PuppetRecord | undefined;
  put(record: PuppetRecord): void;
  all(network: Network): PuppetRecord[];
}

/**
 * Copies a network keeps of something from elsewhere, by what it was copied from: e.g. the mxc a
 * Discord custom emoji's picture got on the homeserver, so each is uploaded once. Kept for good.
 */
export interface UploadDirectory {
  get(network: Network, source: string): string | undefined;
  put(network: Network, source: string, copy: string): void;
}

/**
 * Avatar bytes a puppet shows, by the SHA-1 of the bytes (what XEP-0153 advertises). An avatar is
 * kept while some puppet's data names its hash as `photoSha1`; the store's prune forgets the rest.
 */
export interface AvatarDirectory {
  /** Stores the bytes (once per distinct picture) and returns their SHA-1 hex. */
  put(data: Uint8Array, mime: string): string;
  get(sha1: string): StoredAvatar | undefined;
}

export interface StoredAvatar {
  readonly data: Uint8Array;
  readonly mime: string;
}

export interface PuppetRecord {
  readonly network: Network;
  /** The remote person (from another network) this puppet speaks for. */
  readonly actor: ActorId;
  /** The puppet's handle on `network`: a JID, an mxid, a webhook name… */
  readonly handle: string;
  readonly profileHash?: string;
  /** Adapter-owned JSON (e.g. uploaded avatar mxc, nick per room). */
  readonly data?: Record<string, unknown>;
}
