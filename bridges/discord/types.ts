/**
 * The parts of Discord's gateway and REST payloads this bridge reads (API v10), as Discord
 * documents them. Payloads are checked where they are read: every field may be missing or wrong.
 */
export interface RawUser {
  id: string;
  username?: string;
  global_name?: string | null;
  avatar?: string | null;
  bot?: boolean;
}

export interface RawMember {
  user?: RawUser;
  nick?: string | null;
  avatar?: string | null;
  roles?: string[];
}

export interface RawAttachment {
  id: string;
  filename: string;
  size?: number;
  url: string;
  proxy_url?: string;
  content_type?: string;
  width?: number | null;
  height?: number | null;
}

export interface RawSticker { id: string; name: string; format_type: number }

/** A message (MESSAGE_CREATE, REST GET messages). */
export interface RawMessage {
  id: string;
  channel_id: string;
  guild_id?: string;
  author: RawUser;
  member?: RawMember;
  content?: string;
  timestamp?: string;
  edited_timestamp?: string | null;
  type?: number;
  webhook_id?: string;
  application_id?: string;
  mentions?: (RawUser & { member?: RawMember })[];
  mention_roles?: string[];
  attachments?: RawAttachment[];
  sticker_items?: RawSticker[];
  message_reference?: { message_id?: string; channel_id?: string; guild_id?: string; type?: number };
  flags?: number;
}

export interface RawReaction {
  user_id: string;
  channel_id: string;
  message_id: string;
  guild_id?: string;
  member?: RawMember;
  emoji: { id: string | null; name: string | null; animated?: boolean };
}

export interface RawPresence {
  user: { id: string };
  guild_id?: string;
  status?: string;
  activities?: { type: number; name?: string; state?: string | null }[];
}

export interface RawTyping { channel_id: string; guild_id?: string; user_id: string; member?: RawMember; timestamp?: number }

export interface RawMemberUpdate { guild_id: string; user: RawUser; nick?: string | null; avatar?: string | null }

/** A gateway dispatch as discord.js hands it over in its `raw` event. */
export interface Dispatch { t: string | null; s?: number | null; op?: number; d: unknown }

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export function isRawMessage(v: unknown): v is RawMessage {
  return isObject(v) && typeof v.id === "string" && typeof v.channel_id === "string" && isObject(v.author) && typeof v.author.id === "string";
}
