/**
 * What the emulated Discord knows: one application with its bot, guilds with roles, members,
 * channels (text channels and threads), emoji and stickers, messages per channel, webhooks,
 * presences and the files its CDN serves. Plain records; actions.ts changes them and tells the
 * gateway, shapes.ts renders them as Discord's JSON.
 */
import { randomBytes } from "node:crypto";
import { snowflake, compareSnowflakes } from "./snowflake.ts";
import { DEFAULT_BOT, DEFAULT_EVERYONE, DM_PERMISSIONS, channelPermissions, type Overwrite } from "./permissions.ts";

export interface User { id: string; username: string; globalName: string | null; avatar: string | null; bot: boolean }
export interface Role { id: string; name: string; permissions: bigint; position: number; color: number; mentionable: boolean; managed: boolean }
export interface Member { userId: string; nick: string | null; avatar: string | null; roles: string[]; joinedAt: string }
export interface Emoji { id: string; name: string; animated: boolean }
export interface Sticker { id: string; name: string; formatType: 1 | 2 | 3 | 4 }
export interface Guild {
  id: string; name: string; ownerId: string; roles: Map<string, Role>; members: Map<string, Member>;
  emojis: Map<string, Emoji>; stickers: Map<string, Sticker>; uploadLimit: number;
}
/** 0 text channel, 1 DM, 5 announcement, 11 public thread, 12 private thread. */
export type ChannelType = 0 | 1 | 5 | 11 | 12;
export interface Channel {
  /** Null for a DM. */
  id: string; guildId: string | null; type: ChannelType; name: string; position: number; parentId: string | null;
  topic: string | null; overwrites: Overwrite[]; lastMessageId: string | null; ownerId: string | null;
  /** A DM's two people (the bot and a user); empty for a guild's channel. */
  recipients: string[];
}
export interface Attachment { id: string; filename: string; size: number; contentType: string | null; path: string; width?: number; height?: number }
export interface ReactionRecord { emoji: { id: string | null; name: string; animated: boolean }; users: string[] }
export interface Pinged { users: string[]; roles: string[]; everyone: boolean }
export interface Message {
  /** guildId: null in a DM. */
  id: string; channelId: string; guildId: string | null; authorId: string; type: number;
  webhookId: string | null; applicationId: string | null; username: string | null; avatarUrl: string | null;
  content: string; timestamp: string; editedTimestamp: string | null; attachments: Attachment[];
  embeds: unknown[]; reactions: ReactionRecord[]; reference: { messageId: string; channelId: string; guildId: string | null } | null;
  stickerIds: string[]; pinged: Pinged; flags: number; nonce: string | number | null;
}
export interface Webhook { id: string; token: string; channelId: string; guildId: string; name: string; avatar: string | null; applicationId: string | null; creatorId: string }
export type Status = "online" | "idle" | "dnd" | "offline";
export interface Presence { status: Status; activities: unknown[] }
export interface CdnFile { bytes: Buffer; contentType: string }
export interface Application {
  id: string; name: string; botUserId: string; token: string;
  /** The developer portal's switches for the privileged intents. */
  intents: { messageContent: boolean; serverMembers: boolean; presence: boolean };
}

export function hash(): string { return randomBytes(16).toString("hex"); }

export class State {
  readonly users = new Map<string, User>();
  readonly guilds = new Map<string, Guild>();
  readonly channels = new Map<string, Channel>();
  /** Per channel, in creation order (ascending ids). */
  readonly messages = new Map<string, Message[]>();
  readonly webhooks = new Map<string, Webhook>();
  readonly presences = new Map<string, Presence>();
  readonly cdn = new Map<string, CdnFile>();
  readonly application: Application;

  constructor(opts: { botName?: string; token?: string; intents?: Partial<Application["intents"]> } = {}) {
    const bot = this.addUser({ username: opts.botName ?? "Junction", bot: true });
    this.application = {
      id: bot.id, name: bot.username, botUserId: bot.id,
      token: opts.token ?? `${Buffer.from(bot.id).toString("base64url")}.emulated.${hash()}`,
      intents: { messageContent: true, serverMembers: true, presence: true, ...opts.intents },
    };
  }

  get bot(): User { return this.users.get(this.application.botUserId)!; }

  addUser(u: { username: string; globalName?: string | null; bot?: boolean; avatar?: Buffer }): User {
    const user: User = { id: snowflake(), username: u.username, globalName: u.globalName ?? null, avatar: null, bot: u.bot ?? false };
    this.users.set(user.id, user);
    if (u.avatar) user.avatar = this.storeImage(`avatars/${user.id}`, u.avatar);
    return user;
  }

  /** A guild with its @everyone role, the bot as a member with a "Junction" role, and no channels. */
  addGuild(g: { name?: string; everyone?: bigint; botPermissions?: bigint; uploadLimit?: number } = {}): Guild {
    const id = snowflake();
    const owner = this.addUser({ username: "guild-owner" });
    const guild: Guild = {
      id, name: g.name ?? "Emulated guild", ownerId: owner.id, roles: new Map(), members: new Map(),
      emojis: new Map(), stickers: new Map(), uploadLimit: g.uploadLimit ?? 10 * 1024 * 1024,
    };
    this.guilds.set(id, guild);
    guild.roles.set(id, { id, name: "@everyone", permissions: g.everyone ?? DEFAULT_EVERYONE, position: 0, color: 0, mentionable: false, managed: false });
    const botRole = this.addRole(id, { name: this.bot.username, permissions: g.botPermissions ?? DEFAULT_BOT, managed: true });
    this.addMember(id, owner.id);
    this.addMember(id, this.bot.id, { roles: [botRole.id] });
    return guild;
  }

  addRole(guildId: string, r: { name: string; permissions?: bigint; mentionable?: boolean; managed?: boolean; color?: number }): Role {
    const guild = this.guild(guildId);
    const role: Role = {
      id: snowflake(), name: r.name, permissions: r.permissions ?? 0n, position: guild.roles.size,
      color: r.color ?? 0, mentionable: r.mentionable ?? false, managed: r.managed ?? false,
    };
    guild.roles.set(role.id, role);
    return role;
  }

  addMember(guildId: string, userId: string, m: { nick?: string | null; roles?: string[] } = {}): Member {
    const member: Member = { userId, nick: m.nick ?? null, avatar: null, roles: m.roles ?? [], joinedAt: new Date().toISOString() };
    this.guild(guildId).members.set(userId, member);
    return member;
  }

  addChannel(guildId: string, c: { name: string; type?: ChannelType; parentId?: string | null; topic?: string; overwrites?: Overwrite[]; ownerId?: string; id?: string }): Channel {
    this.guild(guildId);
    const channel: Channel = {
      id: c.id ?? snowflake(), guildId, type: c.type ?? 0, name: c.name, position: this.channels.size,
      parentId: c.parentId ?? null, topic: c.topic ?? null, overwrites: c.overwrites ?? [], lastMessageId: null,
      ownerId: c.ownerId ?? null, recipients: [],
    };
    this.channels.set(channel.id, channel);
    this.messages.set(channel.id, []);
    return channel;
  }

  /** The DM channel between the bot and this user, made on first use (as opening a DM does). */
  openDm(userId: string): Channel {
    const bot = this.application.botUserId;
    const known = [...this.channels.values()].find((c) => c.type === 1 && c.recipients.includes(userId) && c.recipients.includes(bot));
    if (known) return known;
    const channel: Channel = {
      id: snowflake(), guildId: null, type: 1, name: "", position: 0, parentId: null, topic: null, overwrites: [],
      lastMessageId: null, ownerId: null, recipients: [bot, userId],
    };
    this.channels.set(channel.id, channel);
    this.messages.set(channel.id, []);
    return channel;
  }

  addEmoji(guildId: string, name: string, image: Buffer, animated = false): Emoji {
    const emoji: Emoji = { id: snowflake(), name, animated };
    this.guild(guildId).emojis.set(emoji.id, emoji);
    this.cdn.set(`emojis/${emoji.id}.${animated ? "gif" : "png"}`, { bytes: image, contentType: animated ? "image/gif" : "image/png" });
    return emoji;
  }

  addSticker(guildId: string, name: string, image: Buffer, formatType: Sticker["formatType"] = 1): Sticker {
    const sticker: Sticker = { id: snowflake(), name, formatType };
    this.guild(guildId).stickers.set(sticker.id, sticker);
    const ext = formatType === 3 ? "json" : formatType === 4 ? "gif" : "png";
    this.cdn.set(`stickers/${sticker.id}.${ext}`, { bytes: image, contentType: ext === "json" ? "application/json" : `image/${ext}` });
    return sticker;
  }

  /** Stores image bytes under `prefix/HASH.png` and returns the hash (Discord's avatar field). */
  storeImage(prefix: string, bytes: Buffer): string {
    const h = hash();
    this.cdn.set(`${prefix}/${h}.png`, { bytes, contentType: "image/png" });
    return h;
  }

  /** A guild channel's guild id; set-up that makes no sense in a DM (roles, webhooks, threads) throws. */
  guildIdOf(ch: Channel): string {
    if (ch.guildId === null) throw new Error(`emulator: channel ${ch.id} is a DM`);
    return ch.guildId;
  }

  /** A person's membership where a message or channel is, if it is a guild's. */
  memberIn(guildId: string | null, userId: string): Member | undefined {
    return guildId === null ? undefined : this.guilds.get(guildId)?.members.get(userId);
  }

  guild(id: string): Guild {
    const g = this.guilds.get(id);
    if (!g) throw new Error(`emulator: no guild ${id}`);
    return g;
  }

  channelMessages(channelId: string): Message[] { return this.messages.get(channelId) ?? []; }

  findMessage(channelId: string, id: string): Message | undefined {
    return this.channelMessages(channelId).find((m) => m.id === id);
  }

  insertMessage(m: Message): void {
    const list = this.messages.get(m.channelId)!;
    list.push(m);
    list.sort((a, b) => compareSnowflakes(a.id, b.id));
    const ch = this.channels.get(m.channelId);
    if (ch) ch.lastMessageId = m.id;
  }

  /** The permissions a user has in a channel; a thread takes its parent's overwrites. */
  permissionsIn(channelId: string, userId: string): bigint {
    const ch = this.channels.get(channelId);
    if (!ch) return 0n;
    if (ch.guildId === null) return ch.recipients.includes(userId) ? DM_PERMISSIONS : 0n;
    const scope = ch.parentId && (ch.type === 11 || ch.type === 12) ? this.channels.get(ch.parentId) ?? ch : ch;
    const guild = this.guild(ch.guildId);
    const member = guild.members.get(userId);
    if (!member) return 0n;
    return channelPermissions({
      guildId: guild.id, ownerId: guild.ownerId, userId, memberRoles: member.roles,
      rolePermissions: (r) => guild.roles.get(r)?.permissions, overwrites: scope.overwrites,
    });
  }

  /** Sets (or with allow = deny = 0, removes) a channel overwrite for a role or a member. */
  setOverwrite(channelId: string, id: string, type: 0 | 1, allow: bigint, deny: bigint): void {
    const ch = this.channels.get(channelId);
    if (!ch) throw new Error(`emulator: no channel ${channelId}`);
    ch.overwrites = ch.overwrites.filter((o) => o.id !== id);
    if (allow !== 0n || deny !== 0n) ch.overwrites.push({ id, type, allow, deny });
  }
}
