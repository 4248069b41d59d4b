/**
 * A Discord person for tests: a user and guild member who acts in channels the way the Discord
 * client would, so the bot receives the gateway dispatches Discord would send.
 */
import type { Actions, EmojiRef } from "./actions.ts";
import { resolveMentions } from "./mentions.ts";
import { Permission } from "./permissions.ts";
import { snowflake } from "./snowflake.ts";
import type { Channel, Emoji, Message, Status, User } from "./state.ts";

export interface PersonOptions {
  username: string; globalName?: string; nick?: string; avatar?: Buffer; bot?: boolean;
  /** Which guild to join (default: the emulator's first guild); role ids to hold there. */
  guildId?: string; roles?: string[];
}
export interface FileInput { filename: string; data: Buffer | string; contentType?: string }
export interface SendOptions {
  attachments?: FileInput[]; embeds?: unknown[]; stickers?: string[];
  /** Id of the message this one replies to. */
  reply?: string;
  /** A reply pings its target's author unless this is false (the client's "@ on" switch). */
  pingReplied?: boolean;
}
/** A unicode emoji ("👍"), a custom one from State (`{id, name, animated}`), or "<:name:id>". */
export type EmojiInput = string | Emoji | EmojiRef;

export class Person {
  readonly user: User;
  readonly guildId: string;

  private readonly actions: Actions;

  constructor(actions: Actions, opts: PersonOptions) {
    this.actions = actions;
    const state = actions.state;
    this.guildId = opts.guildId ?? state.guilds.keys().next().value!;
    this.user = state.addUser({ username: opts.username, globalName: opts.globalName ?? null, bot: opts.bot ?? false, avatar: opts.avatar });
    state.addMember(this.guildId, this.user.id, { nick: opts.nick ?? null, roles: opts.roles ?? [] });
    actions.memberAdded(this.guildId, this.user.id);
  }

  get id(): string { return this.user.id; }

  send(channelId: string, content: string, opts: SendOptions = {}): Message {
    const state = this.actions.state;
    const channel = this.channel(channelId);
    let reference: Message["reference"] = null;
    let replyAuthor: string | null = null;
    if (opts.reply) {
      const target = this.find(opts.reply);
      reference = { messageId: target.id, channelId: target.channelId, guildId: target.guildId };
      replyAuthor = opts.pingReplied === false || target.webhookId ? null : target.authorId;
    }
    const r = resolveMentions({
      content, allowed: undefined, guild: channel.guildId === null ? undefined : state.guild(channel.guildId), webhook: false, webhookDefault: "users",
      mayMentionEveryone: (state.permissionsIn(channel.id, this.id) & Permission.MentionEveryone) !== 0n, replyAuthorId: replyAuthor,
    });
    const attachments = (opts.attachments ?? []).map((f) =>
      this.actions.storeUpload(channel.id, f.filename, Buffer.isBuffer(f.data) ? f.data : Buffer.from(f.data), f.contentType ?? null));
    return this.actions.createMessage({
      channelId: channel.id, authorId: this.id, content, embeds: opts.embeds, attachments, reference, stickerIds: opts.stickers,
      pinged: "pinged" in r ? r.pinged : undefined,
    });
  }

  /** Writes to the bot in a DM (opened on first use): MESSAGE_CREATE without a guild_id. */
  dm(content: string, opts: SendOptions = {}): Message {
    return this.send(this.actions.state.openDm(this.id).id, content, opts);
  }

  /** An edit: MESSAGE_UPDATE with edited_timestamp set. */
  edit(messageId: string, content: string): Message {
    return this.actions.updateMessage(this.own(messageId), { content }, true);
  }

  /**
   * Discord unfurling a link: MESSAGE_UPDATE with the embed and edited_timestamp still null
   * (not an edit). Without embeds, one link embed for the first URL in the content.
   */
  linkPreview(messageId: string, embeds?: unknown[]): Message {
    const m = this.find(messageId);
    const url = /https?:\/\/\S+/.exec(m.content)?.[0] ?? "https://example.org/";
    return this.actions.updateMessage(m, { embeds: embeds ?? [{ type: "link", url, title: url }] }, false);
  }

  delete(messageId: string): void { this.actions.deleteMessage(this.find(messageId)); }

  react(messageId: string, emoji: EmojiInput): void { this.actions.addReaction(this.find(messageId), this.id, emojiRef(emoji)); }

  unreact(messageId: string, emoji: EmojiInput): void { this.actions.removeReaction(this.find(messageId), this.id, emojiRef(emoji)); }

  typing(channelId: string): void { this.actions.typing(this.channel(channelId).id, this.id); }

  setPresence(status: Status, activities: unknown[] = []): void { this.actions.presence(this.id, status, activities); }

  /** A guild nickname change (null clears it): GUILD_MEMBER_UPDATE. */
  setNick(nick: string | null): void {
    this.actions.state.guild(this.guildId).members.get(this.id)!.nick = nick;
    this.actions.memberUpdate(this.guildId, this.id);
  }

  /** A new avatar, the guild-specific one by default or the account's (`scope: "user"`): GUILD_MEMBER_UPDATE. */
  setAvatar(image: Buffer | null, scope: "guild" | "user" = "guild"): void {
    const state = this.actions.state;
    const member = state.guild(this.guildId).members.get(this.id)!;
    if (scope === "user") this.user.avatar = image ? state.storeImage(`avatars/${this.id}`, image) : null;
    else member.avatar = image ? state.storeImage(`guilds/${this.guildId}/users/${this.id}/avatars`, image) : null;
    this.actions.memberUpdate(this.guildId, this.id);
  }

  /** Starts a public thread (from a message: the thread takes that message's id, as on Discord): THREAD_CREATE. */
  startThread(channelId: string, name: string, fromMessageId?: string): Channel {
    const parent = this.channel(channelId);
    const thread = this.actions.state.addChannel(this.actions.state.guildIdOf(parent), {
      id: fromMessageId ?? snowflake(), name, type: 11, parentId: parent.id, ownerId: this.id,
    });
    this.actions.threadCreate(thread);
    return thread;
  }

  private channel(id: string): Channel {
    const ch = this.actions.state.channels.get(id);
    if (!ch) throw new Error(`emulator: no channel ${id}`);
    return ch;
  }

  private find(messageId: string): Message {
    for (const list of this.actions.state.messages.values()) {
      const m = list.find((x) => x.id === messageId);
      if (m) return m;
    }
    throw new Error(`emulator: no message ${messageId}`);
  }

  private own(messageId: string): Message {
    const m = this.find(messageId);
    if (m.authorId !== this.id) throw new Error(`emulator: ${this.user.username} cannot edit message ${messageId} (not theirs)`);
    return m;
  }
}

export function emojiRef(e: EmojiInput): EmojiRef {
  if (typeof e !== "string") return { id: e.id, name: e.name, animated: e.animated };
  const custom = /^<(a?):([A-Za-z0-9_~]+):([0-9]+)>$/.exec(e);
  return custom ? { id: custom[3]!, name: custom[2]!, animated: custom[1] === "a" } : { id: null, name: e, animated: false };
}
