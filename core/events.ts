/**
 * The neutral event model. Every adapter turns its native events into these and back; the core
 * routes, stores and orders them without knowing any wire format.
 */

import type { Doc } from "./richtext/tree.ts";

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

export type Network = "xmpp" | "matrix" | "discord";
export const NETWORKS: readonly Network[] = ["xmpp", "matrix", "discord"];

/** A native room: a MUC bare JID, a Matrix room id, a Discord channel id. Only its adapter parses it. */
export type RoomRef = Brand<string, "RoomRef">;
/** A native person: an occupant's real or room JID, an mxid, a Discord user id. */
export type ActorId = Brand<string, "ActorId">;
/** A native message id in one room: an XMPP stanza-id, a Matrix event id, a Discord snowflake. */
export type RemoteMessageId = Brand<string, "RemoteMessageId">;

export const roomRef = (s: string) => s as RoomRef;
export const actorId = (s: string) => s as ActorId;
export const remoteId = (s: string) => s as RemoteMessageId;

/** An avatar by reference; `hash` changes when the picture does (so puppets re-upload only then). */
export interface Avatar {
  readonly hash: string;
  /** Where the origin adapter can fetch it (http(s), mxc:, data:). Fetched through the media resolver. */
  readonly url: string;
  readonly mime?: string;
}

export interface Sender {
  readonly id: ActorId;
  readonly name: string;
  readonly avatar?: Avatar;
  readonly isBot: boolean;
}

/**
 * A message's text. `rich` is the formatted document (core/richtext), the contract between the
 * networks' converters; `text` is always its plain rendering (core/richtext/plain.ts), so a
 * destination without formatting, an excerpt or a log line need not know the tree. A body with no
 * formatting has no `rich`.
 */
export interface Body {
  readonly text: string;
  readonly rich?: Doc;
}

export interface Attachment {
  /** Opaque to everyone but the origin adapter, which resolves it to bytes on request. */
  readonly url: string;
  readonly name: string;
  readonly mime?: string;
  readonly size?: number;
  readonly width?: number;
  readonly height?: number;
}

export type PresenceState = "online" | "away" | "busy" | "offline";

interface Envelope {
  /** The adapter that saw it. */
  readonly origin: Network;
  /** The native room it happened in. */
  readonly room: RoomRef;
  readonly sender: Sender;
  /** Its native id in `room`, when the network gives it one (messages, reactions). */
  readonly remoteId?: RemoteMessageId;
  /**
   * A second native id that later references may use instead (XMPP: the sender's own message id,
   * which XEP-0308 corrections point at). Looked up only among the same sender's messages.
   */
  readonly altId?: string;
  /** Milliseconds since the epoch, as the origin dated it. */
  readonly ts: number;
}

export interface MessageEvent extends Envelope {
  readonly kind: "message";
  readonly body: Body;
  readonly attachments: readonly Attachment[];
  /** The origin's id of the message this one answers. */
  readonly replyTo?: RemoteMessageId;
  readonly thread?: RemoteMessageId;
  /** `/me` (XMPP), `m.emote` (Matrix). */
  readonly isAction: boolean;
  /** `m.notice`: a bot's automatic message. */
  readonly isNotice?: boolean;
  /**
   * Junction's own words about the link, not a person's: e.g. "120 messages from the Matrix room
   * could not be bridged while Junction was away". `sender` stands for the origin's side of the
   * bridge (the Matrix bridge bot, the XMPP room itself), never a puppet handle; destinations
   * post it as their own bridge bot (the XMPP bot occupant, the Matrix bridge bot as
   * `m.notice`), never through a puppet. Carries text only; `isNotice` is set too.
   */
  readonly bridgeNotice?: true;
  readonly mentions: readonly ActorId[];
}

export interface EditEvent extends Envelope {
  readonly kind: "edit";
  /** The origin's id of the message being replaced. */
  readonly target: RemoteMessageId;
  readonly body: Body;
}

export interface RetractEvent extends Envelope {
  readonly kind: "retract";
  readonly target: RemoteMessageId;
  readonly reason?: string;
  /** True when a moderator removed someone else's message (XEP-0425, Matrix redaction by another). */
  readonly moderated?: boolean;
}

export interface ReactionEvent extends Envelope {
  readonly kind: "reaction";
  readonly target: RemoteMessageId;
  /** A unicode emoji, or a custom emoji's `:name:` with its picture. */
  readonly emoji: string;
  readonly custom?: { readonly name: string; readonly url: string };
  readonly added: boolean;
}

export interface TypingEvent extends Envelope {
  readonly kind: "typing";
  readonly active: boolean;
}

export interface PresenceEvent extends Envelope {
  readonly kind: "presence";
  readonly state: PresenceState;
  readonly status?: string;
}

export interface JoinEvent extends Envelope {
  readonly kind: "join";
}

export interface LeaveEvent extends Envelope {
  readonly kind: "leave";
  readonly reason?: string;
}

/** A change of display name or avatar. `sender` carries the new profile. */
export interface ProfileEvent extends Envelope {
  readonly kind: "profile";
  readonly previousName?: string;
}

export type BridgeEvent =
  | MessageEvent
  | EditEvent
  | RetractEvent
  | ReactionEvent
  | TypingEvent
  | PresenceEvent
  | JoinEvent
  | LeaveEvent
  | ProfileEvent;

export type EventKind = BridgeEvent["kind"];

/** Events that are not worth keeping across a restart: they go through the queues in memory only. */
export function isEphemeral(e: BridgeEvent): e is TypingEvent | PresenceEvent {
  return e.kind === "typing" || e.kind === "presence";
}

/** The origin id an event points at, if any (edit, retract, reaction target; a message's reply). */
export function targetOf(e: BridgeEvent): RemoteMessageId | undefined {
  switch (e.kind) {
    case "edit":
    case "retract":
    case "reaction":
      return e.target;
    case "message":
      return e.replyTo;
    case "typing":
    case "presence":
    case "join":
    case "leave":
    case "profile":
      return undefined;
    default:
      return assertNever(e);
  }
}

export function assertNever(x: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(x)}`);
}
