/**
 * Matrix room events (as pushed in an appservice transaction) → neutral BridgeEvents. Pure: the
 * adapter passes in what it knows about members and bridged messages.
 */
import type { FoundMessage } from "../../core/adapter.ts";
import {
  actorId, remoteId, roomRef,
  type ActorId, type Attachment, type BridgeEvent, type Body, type Network, type RoomRef, type Sender,
} from "../../core/events.ts";
import { richBody } from "../../core/richtext/body.ts";
import { stripReplyFallbackHtml, stripReplyFallbackText } from "./html.ts";
import { docFromHtml } from "./html-in.ts";
import { isObject, num, str, type RoomEvent } from "./types.ts";

export interface MemberProfile {
  readonly name?: string;
  /** An `mxc://` URI. */
  readonly avatar?: string;
}

export interface InboundContext {
  /** The sender's profile in the room as last seen (member state); undefined when unknown. */
  profile(room: RoomRef, mxid: string): MemberProfile | undefined;
  /** A message or reaction bridged through or seen in `room`. */
  findMessage(room: RoomRef, eventId: string): FoundMessage | undefined;
  /**
   * The person a mentioned mxid stands for: a ghost's remote actor (so the network it came from
   * recognises its own id), or the mxid itself for a Matrix user.
   */
  mentioned?(mxid: string): ActorId;
  /** Told why an event is not bridged when that is a decision about trust (for the log). */
  refused?(why: string): void;
  /** The network of the person a mentioned mxid stands for (a ghost's, else Matrix). */
  mentionedOn?(mxid: string): Network;
}

const MEDIA_TYPES = new Set(["m.image", "m.file", "m.video", "m.audio"]);

export function senderOf(mxid: string, profile: MemberProfile | undefined): Sender {
  const name = profile?.name?.trim() || localpartOf(mxid);
  return {
    id: actorId(mxid),
    name,
    ...(profile?.avatar ? { avatar: { hash: profile.avatar, url: profile.avatar } } : {}),
    isBot: false,
  };
}

function localpartOf(mxid: string): string {
  const m = /^@([^:]+)/.exec(mxid);
  return m ? m[1]! : mxid;
}

/** One Matrix room event → zero or more BridgeEvents (zero for what the bridge does not carry). */
export function fromRoomEvent(ev: RoomEvent, ctx: InboundContext): BridgeEvent[] {
  const room = roomRef(ev.room_id);
  const envelope = {
    origin: "matrix" as const,
    room,
    sender: senderOf(ev.sender, ctx.profile(room, ev.sender)),
    remoteId: remoteId(ev.event_id),
    ts: num(ev.origin_server_ts) ?? Date.now(),
  };
  switch (ev.type) {
    case "m.room.message":
    case "m.sticker":
      return fromMessage(ev, envelope, ctx);
    case "m.reaction": {
      const rel = ev.content["m.relates_to"];
      if (!isObject(rel) || rel.rel_type !== "m.annotation") return [];
      const target = str(rel.event_id);
      const key = str(rel.key);
      if (!target || !key) return [];
      if (key.startsWith("mxc://")) {
        const name = str(ev.content.shortcode) ?? ":custom:";
        return [{ ...envelope, kind: "reaction", target: remoteId(target), emoji: name, custom: { name, url: key }, added: true }];
      }
      return [{ ...envelope, kind: "reaction", target: remoteId(target), emoji: key, added: true }];
    }
    case "m.room.redaction": {
      const target = str(ev.content.redacts) ?? str(ev.redacts);
      if (!target) return [];
      const found = ctx.findMessage(room, target);
      if (found?.kind === "reaction") {
        // A moderator removing someone else's reaction has no neutral form (a reaction event speaks
        // for its sender), so it stays on Matrix.
        if (!found.reactionTo || !found.emoji || (found.postedAs !== undefined && found.postedAs !== ev.sender)) return [];
        return [{ ...envelope, kind: "reaction", target: found.reactionTo, emoji: found.emoji, added: false }];
      }
      const reason = str(ev.content.reason);
      const moderated = found?.postedAs !== undefined && found.postedAs !== ev.sender;
      return [{
        ...envelope, kind: "retract", target: remoteId(target),
        ...(reason ? { reason } : {}), ...(moderated ? { moderated } : {}),
      }];
    }
    case "m.room.member":
      return fromMember(ev, ctx);
    default:
      return [];
  }
}

type Envelope = Omit<Extract<BridgeEvent, { kind: "message" }>, "kind" | "body" | "attachments" | "isAction" | "mentions">;

function fromMessage(ev: RoomEvent, envelope: Envelope, ctx: InboundContext): BridgeEvent[] {
  const c = ev.content;
  const rel = isObject(c["m.relates_to"]) ? c["m.relates_to"] : undefined;
  if (rel?.rel_type === "m.replace") {
    const target = str(rel.event_id);
    if (!target) return [];
    // The spec lets clients ignore an edit from anyone but the author; a bridge must, or anyone
    // could rewrite someone else's words on the other networks.
    const original = ctx.findMessage(roomRef(ev.room_id), target);
    if (original?.postedAs !== undefined && original.postedAs !== ev.sender) {
      ctx.refused?.("an edit of someone else's message; not bridged (only the author's own edits are)");
      return [];
    }
    const fresh = isObject(c["m.new_content"]) ? c["m.new_content"] : undefined;
    // A media event's new content whose body is just its file name has no caption any more.
    const uncaptioned = fresh !== undefined && str(fresh.filename) !== undefined && fresh.body === fresh.filename;
    const body = uncaptioned ? { text: "" }
      : fresh ? bodyOf(fresh, false, ctx) : bodyOf({ ...c, body: str(c.body)?.replace(/^\* /, "") }, false, ctx);
    if (!body) return [];
    return [{ ...envelope, kind: "edit", target: remoteId(target), body }];
  }
  const inReply = rel && isObject(rel["m.in_reply_to"]) ? str(rel["m.in_reply_to"].event_id) : undefined;
  const isThread = rel?.rel_type === "m.thread";
  // In a thread, `m.in_reply_to` with `is_falling_back` only points at the thread's latest event.
  const replyTo = inReply && !(isThread && rel?.is_falling_back === true) ? inReply : undefined;
  const thread = isThread ? str(rel?.event_id) : undefined;
  const msgtype = ev.type === "m.sticker" ? "m.image" : str(c.msgtype);
  const mentions = mentionsOf(c, ctx);
  const common = {
    ...envelope,
    kind: "message" as const,
    ...(replyTo ? { replyTo: remoteId(replyTo) } : {}),
    ...(thread ? { thread: remoteId(thread) } : {}),
    mentions,
  };
  if (msgtype && MEDIA_TYPES.has(msgtype)) {
    const att = attachmentOf(c);
    if (!att) return [];
    // Since spec v1.10 a `filename` next to a different `body` makes the body a caption; a
    // `formatted_body` is a caption too (it is never a file name).
    const filename = str(c.filename);
    const formatted = c.format === "org.matrix.custom.html" && str(c.formatted_body) !== undefined && str(c.formatted_body)!.trim() !== "";
    const captioned = (filename !== undefined && str(c.body) !== undefined && c.body !== filename) || formatted;
    const caption = captioned ? bodyOf(c, replyTo !== undefined, ctx) : undefined;
    return [{ ...common, body: caption ?? { text: "" }, attachments: [att], isAction: false }];
  }
  if (msgtype === "m.location") {
    const geo = str(c.geo_uri);
    const text = [str(c.body), geo].filter(Boolean).join(" ");
    return text ? [{ ...common, body: { text }, attachments: [], isAction: false }] : [];
  }
  const body = bodyOf(c, replyTo !== undefined, ctx);
  if (!body) return [];
  return [{
    ...common, body, attachments: [],
    isAction: msgtype === "m.emote",
    ...(msgtype === "m.notice" ? { isNotice: true } : {}),
  }];
}

/**
 * The formatted body when there is one and anything readable survives the sanitiser (its plain
 * rendering then becomes `text`), else the plain body as sent.
 */
function bodyOf(c: Record<string, unknown>, isReply: boolean, ctx: InboundContext): Body | undefined {
  let text = str(c.body);
  if (text === undefined) return undefined;
  if (isReply) text = stripReplyFallbackText(text);
  const formatted = c.format === "org.matrix.custom.html" ? str(c.formatted_body) : undefined;
  if (formatted === undefined) return { text };
  const doc = docFromHtml(isReply ? stripReplyFallbackHtml(formatted) : formatted, {
    mentioned: (mxid) => ctx.mentioned?.(mxid) ?? actorId(mxid),
    networkOf: (mxid) => ctx.mentionedOn?.(mxid) ?? "matrix",
  });
  return doc.length > 0 ? richBody(doc) : { text };
}

function attachmentOf(c: Record<string, unknown>): Attachment | undefined {
  const url = str(c.url);
  if (!url || !url.startsWith("mxc://")) return undefined; // encrypted files (`file`) are not bridged
  const info = isObject(c.info) ? c.info : {};
  const name = str(c.filename) ?? str(c.body) ?? "file";
  const mime = str(info.mimetype);
  const size = num(info.size);
  const width = num(info.w);
  const height = num(info.h);
  return {
    url, name,
    ...(mime ? { mime } : {}),
    ...(size !== undefined ? { size } : {}),
    ...(width !== undefined ? { width } : {}),
    ...(height !== undefined ? { height } : {}),
  };
}

function mentionsOf(c: Record<string, unknown>, ctx: InboundContext): ActorId[] {
  const m = c["m.mentions"];
  if (!isObject(m) || !Array.isArray(m.user_ids)) return [];
  return m.user_ids.filter((u): u is string => typeof u === "string").map((u) => ctx.mentioned?.(u) ?? actorId(u));
}

/** Joins, leaves and profile changes of a member; `sender` is the member, not who changed it. */
function fromMember(ev: RoomEvent, ctx: InboundContext): BridgeEvent[] {
  const target = ev.state_key;
  if (!target) return [];
  const room = roomRef(ev.room_id);
  const c = ev.content;
  const prev = isObject(ev.unsigned) && isObject(ev.unsigned.prev_content) ? ev.unsigned.prev_content : undefined;
  const known = ctx.profile(room, target);
  const membership = str(c.membership);
  const prevMembership = prev ? str(prev.membership) : undefined;
  const now: MemberProfile = { name: str(c.displayname), avatar: str(c.avatar_url) };
  const before: MemberProfile = prev ? { name: str(prev.displayname), avatar: str(prev.avatar_url) } : known ?? {};
  const envelope = {
    origin: "matrix" as const, room,
    remoteId: remoteId(ev.event_id),
    ts: num(ev.origin_server_ts) ?? Date.now(),
  };
  if (membership === "join") {
    const sender = senderOf(target, now);
    if (prevMembership !== "join") return [{ ...envelope, sender, kind: "join" }];
    if ((before.name ?? "") === (now.name ?? "") && (before.avatar ?? "") === (now.avatar ?? "")) return [];
    const previousName = before.name !== now.name ? before.name ?? localpartOf(target) : undefined;
    return [{ ...envelope, sender, kind: "profile", ...(previousName !== undefined ? { previousName } : {}) }];
  }
  if ((membership === "leave" || membership === "ban") && (prevMembership === "join" || prevMembership === undefined)) {
    const reason = str(c.reason);
    return [{ ...envelope, sender: senderOf(target, known ?? before), kind: "leave", ...(reason ? { reason } : {}) }];
  }
  return [];
}
