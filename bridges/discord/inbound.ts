/**
 * Pure converters from Discord gateway / REST payloads (API v10 shapes) to neutral events.
 * The adapter has already dropped what is ours (our webhooks, the bot): these only translate.
 */
import {
  actorId, remoteId,
  type Attachment, type BridgeEvent, type EditEvent, type MessageEvent, type PresenceState,
  type ReactionEvent, type RetractEvent, type RoomRef, type Sender,
} from "../../core/events.ts";
import { prefixBody, richBody, suffixBody } from "../../core/richtext/body.ts";
import { foreignWebhookActor } from "./ids.ts";
import { docFromMarkdown, type MarkdownInContext } from "./markdown-in.ts";
import type { RawMember, RawMessage, RawPresence, RawReaction, RawSticker, RawTyping, RawUser } from "./types.ts";

/** What the converters may ask of the adapter's caches. */
export interface InboundContext {
  /** The CDN base, like https://cdn.discordapp.com (or the emulator's). */
  readonly cdn: string;
  channelName(id: string): string | undefined;
  roleName(guildId: string, id: string): string | undefined;
  /** A member's shown name from the cache, for payloads that carry only an id. */
  memberName(guildId: string | undefined, userId: string): string | undefined;
}

/** A message in a thread of a linked channel: bridged as a reply to the thread's first message. */
export interface ThreadInfo { readonly parentId: string; readonly name: string; readonly starterId: string }

/** Message types that are someone speaking: DEFAULT, REPLY, CHAT_INPUT_COMMAND, CONTEXT_MENU_COMMAND. */
const SPOKEN = new Set([0, 19, 20, 23]);

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

export function avatarUrl(cdn: string, user: RawUser, member: RawMember | undefined, guildId: string | undefined): { hash: string; url: string } | undefined {
  const mem = str(member?.avatar);
  if (mem && guildId) return { hash: mem, url: `${cdn}/guilds/${guildId}/users/${user.id}/avatars/${mem}.png` };
  const own = str(user.avatar);
  if (own) return { hash: own, url: `${cdn}/avatars/${user.id}/${own}.png` };
  return undefined;
}

/** The name a person shows in a guild: nick, then display name, then username. */
export function shownName(user: RawUser, member: RawMember | undefined): string {
  return str(member?.nick) ?? str(user.global_name) ?? str(user.username) ?? user.id;
}

export function senderOf(cdn: string, user: RawUser, member: RawMember | undefined, guildId: string | undefined): Sender {
  const avatar = avatarUrl(cdn, user, member, guildId);
  return { id: actorId(user.id), name: shownName(user, member), isBot: user.bot === true, ...(avatar ? { avatar } : {}) };
}

/** A message's sender: a person or bot by user id; another application's webhook by webhook and name. */
export function messageSender(m: RawMessage, cdn: string): Sender {
  if (m.webhook_id) {
    const name = str(m.author.username) ?? "webhook";
    const avatar = str(m.author.avatar);
    return {
      id: foreignWebhookActor(m.webhook_id, name), name, isBot: true,
      ...(avatar ? { avatar: { hash: avatar, url: `${cdn}/avatars/${m.author.id}/${avatar}.png` } } : {}),
    };
  }
  return senderOf(cdn, m.author, m.member, m.guild_id);
}

/** `<@id>`, `<#id>`, `<@&id>`, `<:name:id>` into what a person reads: `@Alice`, `#general`, `@mods`, `:name:`. */
/** Names for the ids a message's markdown holds: the payload's own mentions first, then the caches. */
function markdownContext(m: RawMessage, ctx: InboundContext): MarkdownInContext {
  const names = new Map((m.mentions ?? []).map((u) => [u.id, shownName(u, u.member)]));
  return {
    cdn: ctx.cdn,
    userName: (id) => names.get(id) ?? ctx.memberName(m.guild_id, id),
    channelName: (id) => ctx.channelName(id),
    roleName: (id) => (m.guild_id ? ctx.roleName(m.guild_id, id) : undefined),
  };
}

export function attachmentsOf(m: RawMessage, cdn: string): Attachment[] {
  const files: Attachment[] = (m.attachments ?? []).filter((a) => typeof a.url === "string" && typeof a.filename === "string").map((a) => ({
    url: a.url, name: a.filename,
    ...(a.content_type ? { mime: a.content_type } : {}),
    ...(typeof a.size === "number" ? { size: a.size } : {}),
    ...(typeof a.width === "number" ? { width: a.width } : {}),
    ...(typeof a.height === "number" ? { height: a.height } : {}),
  }));
  for (const s of m.sticker_items ?? []) {
    const file = stickerFile(s, cdn);
    if (file) files.push(file);
  }
  return files;
}

/** Stickers as images: PNG and APNG as .png, GIF as .gif; Lottie (JSON animation) has no image. */
export function stickerFile(s: RawSticker, cdn: string): Attachment | undefined {
  const ext = s.format_type === 1 || s.format_type === 2 ? "png" : s.format_type === 4 ? "gif" : undefined;
  if (!ext || !/^\d{17,20}$/.test(s.id)) return undefined;
  return { url: `${cdn}/stickers/${s.id}.${ext}`, name: `${s.name}.${ext}`, mime: ext === "png" ? "image/png" : "image/gif" };
}

/**
 * MESSAGE_CREATE (or a message from history) into a message event; undefined for the kinds that
 * are not someone speaking (joins, pins, thread announcements). `room` is the linked channel;
 * for a thread message, `thread` names it.
 */
export function messageFromDiscord(m: RawMessage, room: RoomRef, ctx: InboundContext, thread?: ThreadInfo): MessageEvent | undefined {
  if (!SPOKEN.has(m.type ?? 0)) return undefined;
  let body = richBody(docFromMarkdown(m.content ?? "", markdownContext(m, ctx)));
  const stickersAsText = (m.sticker_items ?? []).filter((s) => !stickerFile(s, ctx.cdn)).map((s) => `[sticker: ${s.name}]`);
  if (stickersAsText.length > 0) body = suffixBody(body, stickersAsText.join(" "));
  const attachments = attachmentsOf(m, ctx.cdn);
  if (body.text.trim() === "" && attachments.length === 0) return undefined;
  let replyTo = m.type === 19 && m.message_reference?.message_id ? m.message_reference.message_id : undefined;
  if (thread) {
    body = prefixBody(body, `[thread “${thread.name}”] `);
    replyTo ??= thread.starterId;
  }
  return {
    kind: "message", origin: "discord", room, sender: messageSender(m, ctx.cdn), remoteId: remoteId(m.id),
    ts: dateOf(m.timestamp), body, attachments, isAction: false,
    mentions: (m.mentions ?? []).map((u) => actorId(u.id)),
    ...(replyTo ? { replyTo: remoteId(replyTo) } : {}),
  };
}

/**
 * MESSAGE_UPDATE into an edit. Discord also sends an update when it adds a link preview (an
 * embed) to a message: its `edited_timestamp` stays null, and it is not an edit.
 */
export function editFromDiscord(m: Partial<RawMessage> & { id: string; channel_id: string }, room: RoomRef, ctx: InboundContext): EditEvent | undefined {
  if (!m.edited_timestamp || typeof m.content !== "string" || !m.author) return undefined;
  const full = m as RawMessage;
  return {
    kind: "edit", origin: "discord", room, sender: messageSender(full, ctx.cdn), remoteId: remoteId(m.id),
    ts: dateOf(m.edited_timestamp), target: remoteId(m.id), body: richBody(docFromMarkdown(full.content ?? "", markdownContext(full, ctx))),
  };
}

/**
 * MESSAGE_DELETE / MESSAGE_DELETE_BULK: Discord does not say who deleted. `author` is who wrote
 * it (from the core's records); a bulk delete is always a moderator's.
 */
export function retractFromDiscord(room: RoomRef, messageId: string, author: Sender, moderated: boolean): RetractEvent {
  return { kind: "retract", origin: "discord", room, sender: author, target: remoteId(messageId), ts: Date.now(), ...(moderated ? { moderated } : {}) };
}

/** MESSAGE_REACTION_ADD / _REMOVE. A custom emoji is `:name:` with its picture on the CDN. */
export function reactionFromDiscord(r: RawReaction, room: RoomRef, added: boolean, sender: Sender, cdn: string): ReactionEvent | undefined {
  const { id, name, animated } = r.emoji ?? { id: null, name: null };
  if (!name) return undefined; // a custom emoji whose guild we cannot see has no name
  const custom = id ? { name, url: `${cdn}/emojis/${id}.${animated ? "gif" : "png"}` } : undefined;
  return {
    kind: "reaction", origin: "discord", room, sender, target: remoteId(r.message_id), ts: Date.now(),
    emoji: custom ? `:${name}:` : name, added, ...(custom ? { custom } : {}),
  };
}

/** online → online, idle → away, dnd → busy, offline and invisible → offline. */
export function presenceState(status: string | undefined): PresenceState | undefined {
  switch (status) {
    case "online": return "online";
    case "idle": return "away";
    case "dnd": return "busy";
    case "offline":
    case "invisible": return "offline";
    default: return undefined;
  }
}

export function presenceFromDiscord(p: RawPresence, room: RoomRef, sender: Sender): BridgeEvent | undefined {
  const state = presenceState(p.status);
  if (!state) return undefined;
  const custom = (p.activities ?? []).find((a) => a.type === 4);
  const status = str(custom?.state ?? undefined);
  return { kind: "presence", origin: "discord", room, sender, ts: Date.now(), state, ...(status ? { status } : {}) };
}

export function typingFromDiscord(t: RawTyping, room: RoomRef, sender: Sender, active: boolean): BridgeEvent {
  return { kind: "typing", origin: "discord", room, sender, ts: typeof t.timestamp === "number" ? t.timestamp * 1000 : Date.now(), active };
}

/** A nick or avatar change (GUILD_MEMBER_UPDATE) as a profile event; undefined when neither changed. */
export function profileChange(before: Sender | undefined, now: Sender, room: RoomRef): BridgeEvent | undefined {
  if (before && before.name === now.name && before.avatar?.hash === now.avatar?.hash) return undefined;
  return { kind: "profile", origin: "discord", room, sender: now, ts: Date.now(), ...(before && before.name !== now.name ? { previousName: before.name } : {}) };
}

function dateOf(iso: string | null | undefined): number {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? t : Date.now();
}
