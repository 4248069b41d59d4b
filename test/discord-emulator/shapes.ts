/**
 * State records rendered as Discord API v10 JSON (docs: "User", "Guild Member", "Role",
 * "Channel", "Message", "Webhook"). One function per object, used by REST and the gateway alike.
 */
import { createHash } from "node:crypto";
import { attachmentUrl, type CdnSigner } from "./cdn.ts";
import type { Channel, Guild, Member, Message, Role, State, User, Webhook } from "./state.ts";

export type Json = Record<string, unknown>;

export function userJson(u: User): Json {
  return {
    id: u.id, username: u.username, global_name: u.globalName, avatar: u.avatar, discriminator: "0",
    public_flags: 0, flags: 0, banner: null, accent_color: null, avatar_decoration_data: null,
    ...(u.bot ? { bot: true } : {}),
  };
}

export function memberJson(state: State, m: Member, withUser = true): Json {
  const user = state.users.get(m.userId);
  return {
    ...(withUser && user ? { user: userJson(user) } : {}),
    nick: m.nick, avatar: m.avatar, roles: m.roles, joined_at: m.joinedAt, premium_since: null,
    deaf: false, mute: false, flags: 0, pending: false, communication_disabled_until: null, banner: null,
  };
}

export function roleJson(r: Role): Json {
  return {
    id: r.id, name: r.name, color: r.color, hoist: false, icon: null, unicode_emoji: null, position: r.position,
    permissions: r.permissions.toString(), managed: r.managed, mentionable: r.mentionable, flags: 0,
  };
}

export function channelJson(c: Channel, state: State): Json {
  if (c.type === 1) {
    const others = c.recipients.filter((id) => id !== state.application.botUserId).flatMap((id) => { const u = state.users.get(id); return u ? [userJson(u)] : []; });
    return { id: c.id, type: 1, last_message_id: c.lastMessageId, flags: 0, recipients: others };
  }
  const base: Json = {
    id: c.id, type: c.type, guild_id: c.guildId, name: c.name, parent_id: c.parentId,
    last_message_id: c.lastMessageId, rate_limit_per_user: 0, flags: 0,
  };
  if (c.type === 11 || c.type === 12) {
    const count = state.channelMessages(c.id).length;
    return {
      ...base, owner_id: c.ownerId, message_count: count, total_message_sent: count, member_count: 1,
      thread_metadata: { archived: false, auto_archive_duration: 1440, archive_timestamp: new Date().toISOString(), locked: false, create_timestamp: new Date().toISOString() },
    };
  }
  return {
    ...base, position: c.position, topic: c.topic, nsfw: false,
    permission_overwrites: c.overwrites.map((o) => ({ id: o.id, type: o.type, allow: o.allow.toString(), deny: o.deny.toString() })),
  };
}

export function guildJson(g: Guild): Json {
  return {
    id: g.id, name: g.name, icon: null, splash: null, discovery_splash: null, banner: null, description: null,
    owner_id: g.ownerId, afk_channel_id: null, afk_timeout: 300, verification_level: 0,
    default_message_notifications: 0, explicit_content_filter: 0, mfa_level: 0, application_id: null,
    system_channel_id: null, system_channel_flags: 0, rules_channel_id: null, public_updates_channel_id: null,
    safety_alerts_channel_id: null, max_members: 500000, vanity_url_code: null, premium_tier: 0,
    premium_subscription_count: 0, preferred_locale: "en-US", nsfw_level: 0, premium_progress_bar_enabled: false,
    features: [], roles: [...g.roles.values()].map(roleJson),
    emojis: [...g.emojis.values()].map((e) => ({ id: e.id, name: e.name, roles: [], require_colons: true, managed: false, animated: e.animated, available: true })),
    stickers: [...g.stickers.values()].map((s) => ({ id: s.id, name: s.name, tags: s.name, type: 2, format_type: s.formatType, description: null, available: true, guild_id: g.id })),
  };
}

/** Asked for by its token (no bot authorization), a webhook comes without its creator. */
export function webhookJson(w: Webhook, state: State, byToken = false): Json {
  const creator = byToken ? undefined : state.users.get(w.creatorId);
  return {
    id: w.id, type: 1, guild_id: w.guildId, channel_id: w.channelId, name: w.name, avatar: w.avatar,
    application_id: w.applicationId, ...(creator ? { user: userJson(creator) } : {}),
    token: w.token,
  };
}

/** A webhook message's author: the webhook's id, the name and avatar given on that execute. */
function webhookAuthor(m: Message): Json {
  const avatar = m.avatarUrl ? createHash("sha256").update(m.avatarUrl).digest("hex").slice(0, 32) : null;
  return { id: m.webhookId, username: m.username, avatar, discriminator: "0000", bot: true, global_name: null, public_flags: 0, flags: 0 };
}

export interface MessageContext { state: State; signer: CdnSigner; gateway: boolean }

export function messageJson(ctx: MessageContext, m: Message, depth = 0): Json {
  const { state } = ctx;
  const author = m.webhookId ? webhookAuthor(m) : userJson(state.users.get(m.authorId)!);
  const guild = m.guildId === null ? undefined : state.guilds.get(m.guildId);
  const member = !m.webhookId ? guild?.members.get(m.authorId) : undefined;
  const mentions = m.pinged.users.flatMap((id) => {
    const u = state.users.get(id);
    if (!u) return [];
    const mm = guild?.members.get(id);
    return [{ ...userJson(u), ...(ctx.gateway && mm ? { member: memberJson(state, mm, false) } : {}) }];
  });
  const json: Json = {
    id: m.id, type: m.type, channel_id: m.channelId, author, content: m.content, timestamp: m.timestamp,
    edited_timestamp: m.editedTimestamp, tts: false, mention_everyone: m.pinged.everyone, mentions,
    mention_roles: m.pinged.roles, attachments: m.attachments.map((a) => {
      const url = attachmentUrl(ctx.signer, a.path);
      return {
        id: a.id, filename: a.filename, size: a.size, url, proxy_url: url, ...(a.contentType ? { content_type: a.contentType } : {}),
        ...(a.width !== undefined ? { width: a.width, height: a.height } : {}),
      };
    }),
    embeds: m.embeds, pinned: false, flags: m.flags, components: [],
  };
  if (ctx.gateway && m.guildId !== null) json.guild_id = m.guildId;
  if (ctx.gateway && member) json.member = memberJson(state, member, false);
  if (m.webhookId) json.webhook_id = m.webhookId;
  if (m.applicationId) json.application_id = m.applicationId;
  if (m.nonce !== null) json.nonce = m.nonce;
  if (m.reactions.length) {
    json.reactions = m.reactions.map((r) => ({
      count: r.users.length, count_details: { burst: 0, normal: r.users.length }, me: r.users.includes(state.application.botUserId),
      me_burst: false, burst_colors: [], emoji: r.emoji.id ? { id: r.emoji.id, name: r.emoji.name, animated: r.emoji.animated } : { id: null, name: r.emoji.name },
    }));
  }
  if (m.stickerIds.length) {
    json.sticker_items = m.stickerIds.flatMap((id) => {
      const s = guild?.stickers.get(id);
      return s ? [{ id: s.id, name: s.name, format_type: s.formatType }] : [];
    });
  }
  if (m.reference) {
    json.message_reference = { type: 0, message_id: m.reference.messageId, channel_id: m.reference.channelId, guild_id: m.reference.guildId };
    if (depth === 0) {
      const target = state.findMessage(m.reference.channelId, m.reference.messageId);
      json.referenced_message = target ? messageJson(ctx, target, 1) : null;
    }
  }
  return json;
}
