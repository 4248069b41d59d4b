/**
 * What discord.js keeps in memory. Junction reads Discord's gateway payloads itself (Events.Raw),
 * so it needs discord.js's caches only for guilds, channels, threads, roles and permission
 * overwrites (the permission checks), webhooks, and members and users for names the payload does
 * not carry (a mention, a typing person). By default discord.js keeps every member and user it
 * ever saw, their presences, and 200 messages per channel: with 10,000 people in 100 channels
 * that is most of Junction's memory. Members and users are capped (the bot's own always kept; a
 * name not in the cache falls back to the payload's or the id's), and messages, presences,
 * reactions and voice states are not kept at all.
 */
import { Options, type CacheFactory } from "discord.js";

/** Members and users kept (per guild, and in all): the ones who spoke lately, roughly. */
export const PEOPLE_CACHED = 1000;

export function discordCaches(): CacheFactory {
  return Options.cacheWithLimits({
    ...Options.DefaultMakeCacheSettings,
    MessageManager: 0,
    PresenceManager: 0,
    ReactionManager: 0,
    ReactionUserManager: 0,
    VoiceStateManager: 0,
    GuildMemberManager: { maxSize: PEOPLE_CACHED, keepOverLimit: (m) => m.id === m.client.user.id },
    UserManager: { maxSize: PEOPLE_CACHED, keepOverLimit: (u) => u.id === u.client.user.id },
  });
}
