/**
 * What happens on the emulated Discord when someone acts, whether through REST (the bot, a
 * webhook) or through a test's person: the state changes, the gateway dispatches what Discord
 * would dispatch, and observers hear of it.
 */
import { EventEmitter } from "node:events";
import { imageSize } from "image-size";
import type { CdnSigner } from "./cdn.ts";
import type { Gateway } from "./gateway.ts";
import { Intent } from "./gateway.ts";
import { type Json, channelJson, memberJson, messageJson, roleJson } from "./shapes.ts";
import { snowflake } from "./snowflake.ts";
import type { Attachment, Channel, Message, Pinged, ReactionRecord, Role, State, Status, Webhook } from "./state.ts";

export type EmojiRef = ReactionRecord["emoji"];

export interface NewMessage {
  channelId: string; authorId: string; content: string; webhook?: Webhook; username?: string | null;
  avatarUrl?: string | null; embeds?: unknown[]; attachments?: Attachment[]; reference?: Message["reference"];
  stickerIds?: string[]; pinged?: Pinged; nonce?: string | number | null; type?: number;
}

export interface EmulatorEvents {
  messageCreate: [Message]; messageUpdate: [Message]; messageDelete: [Message];
  reactionAdd: [Message, string, EmojiRef]; reactionRemove: [Message, string, EmojiRef];
  typing: [channelId: string, userId: string];
}

const sameEmoji = (a: EmojiRef, b: EmojiRef): boolean => (a.id ?? a.name) === (b.id ?? b.name);

export class Actions {
  readonly events = new EventEmitter<EmulatorEvents>();

  readonly state: State;
  readonly gateway: Gateway;
  readonly signer: CdnSigner;

  constructor(state: State, gateway: Gateway, signer: CdnSigner) {
    this.state = state;
    this.gateway = gateway;
    this.signer = signer;
  }

  json(m: Message, gateway: boolean): Json { return messageJson({ state: this.state, signer: this.signer, gateway }, m); }

  channel(id: string): Channel | undefined { return this.state.channels.get(id); }

  createMessage(n: NewMessage): Message {
    const ch = this.channel(n.channelId);
    if (!ch) throw new Error(`emulator: no channel ${n.channelId}`);
    const m: Message = {
      id: snowflake(), channelId: ch.id, guildId: ch.guildId, authorId: n.webhook ? n.webhook.id : n.authorId,
      type: n.type ?? (n.reference ? 19 : 0), webhookId: n.webhook?.id ?? null, applicationId: n.webhook?.applicationId ?? null,
      username: n.webhook ? (n.username ?? n.webhook.name) : null, avatarUrl: n.webhook ? (n.avatarUrl ?? null) : null,
      content: n.content, timestamp: new Date().toISOString(), editedTimestamp: null, attachments: n.attachments ?? [],
      embeds: n.embeds ?? [], reactions: [], reference: n.reference ?? null, stickerIds: n.stickerIds ?? [],
      pinged: n.pinged ?? { users: [], roles: [], everyone: false }, flags: 0, nonce: n.nonce ?? null,
    };
    this.state.insertMessage(m);
    this.gateway.dispatch("MESSAGE_CREATE", this.json(m, true), { intent: messagesIntent(m), channelId: ch.id, messageAuthorId: m.authorId });
    this.events.emit("messageCreate", m);
    return m;
  }

  /** An edit (edited_timestamp set) or, with edited = false, a link preview arriving. */
  updateMessage(m: Message, changes: { content?: string; embeds?: unknown[]; attachments?: Attachment[]; pinged?: Pinged }, edited = true): Message {
    if (changes.content !== undefined) m.content = changes.content;
    if (changes.embeds !== undefined) m.embeds = changes.embeds;
    if (changes.attachments !== undefined) m.attachments = changes.attachments;
    if (changes.pinged !== undefined) m.pinged = changes.pinged;
    if (edited) m.editedTimestamp = new Date().toISOString();
    this.gateway.dispatch("MESSAGE_UPDATE", this.json(m, true), { intent: messagesIntent(m), channelId: m.channelId, messageAuthorId: m.authorId });
    this.events.emit("messageUpdate", m);
    return m;
  }

  deleteMessage(m: Message): void {
    this.remove(m);
    this.gateway.dispatch("MESSAGE_DELETE", { id: m.id, channel_id: m.channelId, ...guildField(m.guildId) }, { intent: messagesIntent(m), channelId: m.channelId });
    this.events.emit("messageDelete", m);
  }

  bulkDelete(channelId: string, ids: string[]): void {
    const gone = ids.flatMap((id) => { const m = this.state.findMessage(channelId, id); return m ? [m] : []; });
    for (const m of gone) this.remove(m);
    const ch = this.channel(channelId)!;
    this.gateway.dispatch("MESSAGE_DELETE_BULK", { ids: gone.map((m) => m.id), channel_id: channelId, guild_id: ch.guildId }, { intent: Intent.GuildMessages, channelId });
    for (const m of gone) this.events.emit("messageDelete", m);
  }

  /** False when this user had already reacted with this emoji (Discord answers 204 all the same). */
  addReaction(m: Message, userId: string, emoji: EmojiRef): boolean {
    let r = m.reactions.find((x) => sameEmoji(x.emoji, emoji));
    if (!r) { r = { emoji, users: [] }; m.reactions.push(r); }
    if (r.users.includes(userId)) return false;
    r.users.push(userId);
    const member = this.state.memberIn(m.guildId, userId);
    this.gateway.dispatch("MESSAGE_REACTION_ADD", {
      user_id: userId, channel_id: m.channelId, message_id: m.id, ...guildField(m.guildId), emoji: emojiJson(emoji),
      ...(member ? { member: memberJson(this.state, member) } : {}), message_author_id: m.authorId, burst: false, burst_colors: [], type: 0,
    }, { intent: m.guildId === null ? Intent.DirectMessageReactions : Intent.GuildMessageReactions, channelId: m.channelId });
    this.events.emit("reactionAdd", m, userId, emoji);
    return true;
  }

  removeReaction(m: Message, userId: string, emoji: EmojiRef): boolean {
    const r = m.reactions.find((x) => sameEmoji(x.emoji, emoji));
    if (!r || !r.users.includes(userId)) return false;
    r.users = r.users.filter((u) => u !== userId);
    if (!r.users.length) m.reactions = m.reactions.filter((x) => x !== r);
    this.gateway.dispatch("MESSAGE_REACTION_REMOVE", {
      user_id: userId, channel_id: m.channelId, message_id: m.id, ...guildField(m.guildId), emoji: emojiJson(emoji), burst: false, type: 0,
    }, { intent: m.guildId === null ? Intent.DirectMessageReactions : Intent.GuildMessageReactions, channelId: m.channelId });
    this.events.emit("reactionRemove", m, userId, emoji);
    return true;
  }

  typing(channelId: string, userId: string): void {
    const ch = this.channel(channelId)!;
    const member = this.state.memberIn(ch.guildId, userId);
    this.gateway.dispatch("TYPING_START", {
      channel_id: channelId, ...guildField(ch.guildId), user_id: userId, timestamp: Math.floor(Date.now() / 1000),
      ...(member ? { member: memberJson(this.state, member) } : {}),
    }, { intent: ch.guildId === null ? Intent.DirectMessageTyping : Intent.GuildMessageTyping, channelId });
    this.events.emit("typing", channelId, userId);
  }

  presence(userId: string, status: Status, activities: unknown[] = []): void {
    this.state.presences.set(userId, { status, activities });
    for (const g of this.state.guilds.values()) {
      if (!g.members.has(userId)) continue;
      this.gateway.dispatch("PRESENCE_UPDATE", {
        user: { id: userId }, guild_id: g.id, status, activities, client_status: status === "offline" ? {} : { desktop: status },
      }, { intent: Intent.GuildPresences });
    }
  }

  memberUpdate(guildId: string, userId: string): void {
    const member = this.state.guild(guildId).members.get(userId)!;
    this.gateway.dispatch("GUILD_MEMBER_UPDATE", { guild_id: guildId, ...memberJson(this.state, member) }, { intent: Intent.GuildMembers });
  }

  threadCreate(thread: Channel): void {
    this.gateway.dispatch("THREAD_CREATE", { ...channelJson(thread, this.state), newly_created: true }, { intent: Intent.Guilds, channelId: thread.id });
  }

  /** Set-up after login reaches the client as Discord would announce it. */
  channelChanged(channel: Channel, created: boolean): void {
    this.gateway.dispatch(created ? "CHANNEL_CREATE" : "CHANNEL_UPDATE", channelJson(channel, this.state), { intent: Intent.Guilds });
  }

  roleChanged(guildId: string, role: Role, created: boolean): void {
    this.gateway.dispatch(created ? "GUILD_ROLE_CREATE" : "GUILD_ROLE_UPDATE", { guild_id: guildId, role: roleJson(role) }, { intent: Intent.Guilds });
  }

  memberAdded(guildId: string, userId: string): void {
    const member = this.state.guild(guildId).members.get(userId)!;
    this.gateway.dispatch("GUILD_MEMBER_ADD", { guild_id: guildId, ...memberJson(this.state, member) }, { intent: Intent.GuildMembers });
  }

  webhooksUpdate(channel: Channel): void {
    this.gateway.dispatch("WEBHOOKS_UPDATE", { guild_id: channel.guildId, channel_id: channel.id }, { intent: Intent.GuildWebhooks, channelId: channel.id });
  }

  /** Keeps an uploaded file on the CDN and describes it as a message attachment. */
  storeUpload(channelId: string, filename: string, bytes: Buffer, contentType: string | null): Attachment {
    const id = snowflake();
    const path = `attachments/${channelId}/${id}/${filename.replace(/[^A-Za-z0-9._-]/g, "_")}`;
    this.state.cdn.set(path, { bytes, contentType: contentType ?? "application/octet-stream" });
    // Discord measures pictures it is given and says their size (width/height) on the attachment.
    let dims: { width?: number; height?: number } = {};
    try {
      const found = imageSize(bytes);
      if (found.width && found.height && found.type !== "svg") dims = { width: found.width, height: found.height };
    } catch {
      // not a picture
    }
    return { id, filename, size: bytes.length, contentType, path, ...dims };
  }

  private remove(m: Message): void {
    const list = this.state.messages.get(m.channelId);
    if (list) this.state.messages.set(m.channelId, list.filter((x) => x !== m));
  }
}

/** A DM's events come under the Direct Messages intents, a guild's under the Guild ones. */
function messagesIntent(m: Message): number { return m.guildId === null ? Intent.DirectMessages : Intent.GuildMessages; }

/** Discord leaves guild_id out of a DM's dispatches. */
function guildField(guildId: string | null): Json { return guildId === null ? {} : { guild_id: guildId }; }

export function emojiJson(e: EmojiRef): Json {
  return e.id ? { id: e.id, name: e.name, animated: e.animated } : { id: null, name: e.name };
}
