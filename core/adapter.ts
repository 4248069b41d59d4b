/**
 * The contract between the core and one network's bridge. Nothing in core/ imports from bridges/;
 * bridges implement this and receive an AdapterHost from the core at start.
 */
import type { Logger } from "pino";
import type { AdminDesk } from "./admin.ts";
import type { AvatarDirectory, PuppetDirectory, UploadDirectory } from "./directories.ts";
import type { DeliveryError } from "./errors.ts";
import type {
  Attachment, BridgeEvent, Network, RemoteMessageId, RoomRef,
} from "./events.ts";

export interface Capabilities {
  readonly edits: boolean;
  readonly retractions: boolean;
  readonly reactions: boolean;
  readonly replies: boolean;
  readonly threads: boolean;
  readonly typing: boolean;
  readonly presence: boolean;
  readonly media: boolean;
  readonly richText: boolean;
  /** The longest body (UTF-8 bytes) the destination takes; a longer one fails for good instead of retrying. */
  readonly maxBodyBytes?: number;
}

/**
 * One native message of a delivery made of several (text plus files; later, a long Discord
 * message in parts). `part` is the adapter's stable ordinal (the same on every retry, whichever
 * parts exist); `role` says which part an edit goes to. The main part (replies, reactions) is the
 * lowest ordinal delivered.
 */
export type PartRole = "text" | "file";

/** What a destination knows about a message that was bridged into one of its rooms. */
export interface MappedMessage {
  /** The message's id in the destination room. */
  readonly remoteId: RemoteMessageId;
  /** A second native id where the network has one (XMPP: our origin-id / the client's own id). */
  readonly altId?: string;
  /** The identity the copy is posted as in the destination room (puppet JID/nick, ghost mxid, webhook id…). */
  readonly postedAs?: string;
  /** The original author's name and the start of the text, for reply fallbacks and quotes. */
  readonly authorName: string;
  /** Empty once the message was retracted or redacted: its text is erased from the store. */
  readonly excerpt: string;
  readonly retracted?: boolean;
  /** Which part of a multi-part delivery this is (absent: 0, "text"). */
  readonly part?: number;
  readonly role?: PartRole;
}

/** Where a delivery stands; the core resolves targets before calling `send`. */
export interface DeliveryContext {
  /** The outbox row's id: stable across retries and restarts, the base for idempotency keys. */
  readonly deliveryId: string;
  /** 0 on the first try. A retry after a crash may find the first try already delivered. */
  readonly attempt: number;
  /**
   * True when this is the last try the retry cap allows: an attachment that still cannot be
   * fetched should be degraded to a note now rather than failing the whole delivery.
   */
  readonly lastAttempt?: boolean;
  /** Parts of this delivery that earlier attempts already delivered: never send them again. */
  readonly delivered?: readonly DeliveredPart[];
  /**
   * Records a part the moment it lands, so a later failure of another part does not re-send it.
   * For an edit: a part the edit added to its target (a longer text that needs another message).
   */
  partDelivered?(part: DeliveredPart): void;
  /** For an edit: a part of the target the edit deleted (a shorter text needs fewer messages). */
  partRemoved?(part: number): void;
  /**
   * For edit / retract / reaction: the target as delivered in this room (absent if never bridged
   * here): for an edit its text part, for a reaction its main part, for a retraction its main part.
   */
  readonly target?: MappedMessage;
  /** For a retraction and an edit: every part of the target in this room, in part order (main part first). */
  readonly targets?: readonly MappedMessage[];
  /** For a message that answers another: that message as delivered in this room. */
  readonly replyTo?: MappedMessage;
  /** For a reaction: the sender's whole set of reactions on the target after this event (XEP-0444 sends sets). */
  readonly reactionSet?: readonly string[];
  /** For a removed reaction: the reaction as delivered in this room, if it was. */
  readonly reaction?: MappedMessage;
  /** Fetches an attachment's or avatar's bytes through the adapter that saw it. */
  fetchMedia(url: string): Promise<Media>;
}

export interface Media {
  readonly data: Uint8Array;
  readonly mime: string;
  readonly name?: string;
  /** An image's size in pixels, as its bytes say (core/media/measure.ts); absent for other files. */
  readonly width?: number;
  readonly height?: number;
}

/** One id a delivery produced in the destination room. `part`/`role` default to the index and "text". */
export interface RemoteId {
  readonly id: RemoteMessageId;
  readonly altId?: string;
  /** The identity this copy is posted as (as in `MappedMessage.postedAs`). */
  readonly postedAs?: string;
  readonly part?: number;
  readonly role?: PartRole;
}
export interface DeliveredPart extends RemoteId {
  readonly part: number;
  readonly role: PartRole;
}

/** Ids a delivery produced in the destination room; the first is the message's own id. */
export type RemoteIds = readonly RemoteId[];

/** Everything the core gives an adapter. */
export interface AdapterHost {
  readonly log: Logger;
  /**
   * Hands inbound events to the core. Resolves once they are committed to the outbox, so an
   * adapter may acknowledge the native event then. `dedupeKey` (e.g. a Matrix transaction id)
   * makes a second emit with the same key a no-op, also across restarts. `cursor` is stored in
   * the same transaction.
   */
  emit(events: readonly BridgeEvent[], opts?: EmitOptions): Promise<void>;
  /** The network is (dis)connected: queues for its rooms pause, and resume at once when ready. */
  setReady(ready: boolean): void;
  /** Rooms that config links on this network (resolved). */
  rooms(): readonly RoomRef[];
  /** Looks up a message bridged through (or seen in) one of this network's rooms. */
  findMessage(room: RoomRef, by: MessageLookup): FoundMessage | undefined;
  /** Records a second id for a message in this network once the server assigns it (XMPP stanza-id). */
  addAlias(room: RoomRef, knownId: string, newRemoteId: RemoteMessageId): void;
  cursor(room: RoomRef): string | undefined;
  /**
   * The reactions `actor` has on the message `target` (its id in `room`) as the core recorded
   * them: what a network that sends whole reaction sets (XEP-0444) diffs against after a restart.
   */
  reactions(room: RoomRef, target: string, actor: string): readonly string[];
  /**
   * A delivery this adapter already returned ids for failed later: the room bounced it (an XMPP
   * error stanza for our message: no voice, not an occupant, the room is gone). `remoteId` is
   * one of the ids `send` returned. The core retries where the error is transient or not-ready
   * (within the delivery's cap; only the bounced part is sent again), otherwise it records the
   * delivery as failed with the reason. The adapter must believe a bounce only from the room
   * the message went to, for an id it sent.
   */
  deliveryFailed(room: RoomRef, remoteId: string, error: DeliveryError): void;
  puppets: PuppetDirectory;
  /** Puppet avatars by content hash, kept in the store and read when asked for. */
  avatars: AvatarDirectory;
  /** What this network already has a copy of (a custom emoji's picture uploaded once), by source. */
  uploads: UploadDirectory;
  /** The one HTTP client for media (core/media): address policy, byte cap, timeouts. */
  readonly media: MediaHttpClient;
  /**
   * A public URL on Junction's HTTP server for media `origin` knows by `url` (an avatar, a file too
   * large to upload), for a network that can only take media by URL. Undefined when no `http`
   * section is configured (or the reference cannot be one).
   */
  publicMedia(origin: Network, url: string, name?: string): string | undefined;
  /**
   * Progress of a long operation (joining many rooms, a catch-up): `done` of `total` steps so far.
   * The core logs it with counts (the first and last call, and at most every few seconds between)
   * and shows it in the metrics. Call with done = 0 first and done = total at the end.
   */
  progress(operation: Operation, done: number, total: number, extra?: Readonly<Record<string, number>>): void;
  /**
   * The admin commands (core/admin.ts): the adapter says who asked, as their server vouches for
   * it; the desk decides whether they may, runs the command and logs it. Absent in unit tests.
   */
  readonly admin?: AdminDesk;
}

/** The long operations whose progress is reported. */
export type Operation = "join" | "catch-up";

/** One linked room as its adapter sees it. */
export interface RoomStatus {
  readonly room: string;
  /** Whether the bridge (its bot) is in the room and can post there. */
  readonly joined: boolean;
  /** Why not, when it is not (the last join failure or removal). */
  readonly error?: string;
}

/** What an adapter says about itself for /health and the status page. */
export interface AdapterStatus {
  /** The last connection failure, said as the log says it; absent when connected. */
  readonly lastError?: string;
  /** The linked rooms it knows about; a room it leaves out counts as joined while the network is connected. */
  readonly rooms: readonly RoomStatus[];
}

/**
 * HTTP for media, as the core gives it to adapters. `get` fetches a URL someone supplied (or one
 * of the adapter's own server, with its headers); `put` writes an upload slot our server gave us.
 * Failures are MediaFailures (core/media/errors.ts), DeliveryErrors classified by their kind.
 */
export interface MediaHttpClient {
  get(url: string, opts?: { readonly headers?: Readonly<Record<string, string>>; readonly maxBytes?: number }): Promise<Media>;
  put(url: string, body: Uint8Array, headers: Readonly<Record<string, string>>): Promise<void>;
}

export interface EmitOptions {
  readonly dedupeKey?: string;
  readonly cursor?: { readonly room: RoomRef; readonly value: string };
}

export type MessageLookup =
  | { readonly remoteId: string }
  /** By the sender's own id (XEP-0308 corrections), only among that sender's messages. */
  | { readonly altId: string; readonly postedAs: string };

export interface FoundMessage {
  readonly remoteId: RemoteMessageId;
  readonly kind: "message" | "reaction";
  /** For a reaction: the reacted message's id in this room and the emoji. */
  readonly reactionTo?: RemoteMessageId;
  readonly emoji?: string;
  /** The identity it is posted as in this room (the native actor id the adapter emitted as sender.id, or our puppet's handle). */
  readonly postedAs?: string;
  /** Whether the message was written by Junction (a puppet) rather than a native person. */
  readonly bridged: boolean;
}

export interface Adapter {
  readonly network: Network;
  readonly capabilities: Capabilities;
  /** Turns a room as written in config into the room's native id (a Matrix alias into a room id). */
  resolveRoom(configured: string): Promise<RoomRef>;
  /** Connect, join linked rooms and begin emitting. */
  start(host: AdapterHost): Promise<void>;
  /**
   * A configured room that could be resolved only after start (its network was unreachable)
   * has joined its link: join it and begin emitting its events. `host.rooms()` includes it now.
   */
  linkRoom?(room: RoomRef): Promise<void>;
  /**
   * No link has this room any more (a reload removed it; `host.rooms()` no longer lists it): stop
   * hearing it, and the puppets (ghosts) and the bot leave it. The core has delivered or failed
   * what was queued for it before it calls this. A network that is down leaves nothing.
   */
  unlinkRoom?(room: RoomRef): Promise<void>;
  stop(): Promise<void>;
  send(room: RoomRef, event: BridgeEvent, ctx: DeliveryContext): Promise<RemoteIds>;
  /** Resolves media this adapter saw (an attachment url or avatar url it emitted) to bytes. */
  fetchMedia?(url: string): Promise<Media>;
  /**
   * Hosts of this network's own servers (the homeserver, the upload service), in media.allowHosts
   * form: fetched from even where their address is private, as if the operator had listed them.
   */
  readonly mediaHosts?: readonly string[];
  /**
   * Like mediaHosts, but only for URLs under a path: where this network's file service keeps
   * people's files (XMPP's upload service), so that nothing else that host serves can be asked for.
   */
  readonly mediaScopes?: readonly MediaScope[];
  /** Its connection and rooms, for /health and the status page (read on each request: cheap). */
  status?(): AdapterStatus;
}

/** A host in media.allowHosts form (`host:port`), and the path its files are under (`/file_share/`). */
export interface MediaScope {
  readonly host: string;
  readonly path: string;
}

export { DeliveryError, NotReadyError, PermanentDeliveryError, TransientDeliveryError } from "./errors.ts";
export type { AvatarDirectory, PuppetDirectory, PuppetRecord, StoredAvatar, UploadDirectory } from "./directories.ts";
export type { Attachment, RemoteMessageId };
