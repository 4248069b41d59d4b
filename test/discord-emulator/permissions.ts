/**
 * Discord's permission bitfield and its per-channel computation (docs: "Permissions",
 * "Permission Overwrites"): base from @everyone and the member's roles, Administrator grants
 * all, then the channel's overwrites for @everyone, the member's roles, and the member.
 */
export const Permission = {
  CreateInstantInvite: 1n << 0n,
  KickMembers: 1n << 1n,
  BanMembers: 1n << 2n,
  Administrator: 1n << 3n,
  ManageChannels: 1n << 4n,
  ManageGuild: 1n << 5n,
  AddReactions: 1n << 6n,
  ViewChannel: 1n << 10n,
  SendMessages: 1n << 11n,
  ManageMessages: 1n << 13n,
  EmbedLinks: 1n << 14n,
  AttachFiles: 1n << 15n,
  ReadMessageHistory: 1n << 16n,
  MentionEveryone: 1n << 17n,
  UseExternalEmojis: 1n << 18n,
  ChangeNickname: 1n << 26n,
  ManageNicknames: 1n << 27n,
  ManageRoles: 1n << 28n,
  ManageWebhooks: 1n << 29n,
  ManageThreads: 1n << 34n,
  CreatePublicThreads: 1n << 35n,
  SendMessagesInThreads: 1n << 38n,
} as const;
export type PermissionName = keyof typeof Permission;

const ALL = (1n << 51n) - 1n;

/** What a guild's @everyone role gets by default here: enough to chat, not to manage. */
/** What both people in a DM may do there. */
export const DM_PERMISSIONS =
  Permission.ViewChannel | Permission.SendMessages | Permission.AddReactions | Permission.EmbedLinks |
  Permission.AttachFiles | Permission.ReadMessageHistory | Permission.UseExternalEmojis;

export const DEFAULT_EVERYONE =
  Permission.ViewChannel | Permission.SendMessages | Permission.AddReactions | Permission.EmbedLinks |
  Permission.AttachFiles | Permission.ReadMessageHistory | Permission.UseExternalEmojis |
  Permission.CreatePublicThreads | Permission.SendMessagesInThreads | Permission.ChangeNickname;

/** What the bot's own role gets by default: everything Junction asks for in its invite URL. */
export const DEFAULT_BOT =
  DEFAULT_EVERYONE | Permission.ManageWebhooks | Permission.ManageMessages | Permission.ManageThreads;

export interface Overwrite { id: string; type: 0 | 1; allow: bigint; deny: bigint }

export interface PermissionInput {
  guildId: string;           // also the @everyone role's id
  ownerId: string;
  userId: string;
  memberRoles: readonly string[];
  rolePermissions: (roleId: string) => bigint | undefined;
  overwrites: readonly Overwrite[];
}

export function basePermissions(p: PermissionInput): bigint {
  if (p.userId === p.ownerId) return ALL;
  let perms = p.rolePermissions(p.guildId) ?? 0n;
  for (const r of p.memberRoles) perms |= p.rolePermissions(r) ?? 0n;
  return perms & Permission.Administrator ? ALL : perms;
}

export function channelPermissions(p: PermissionInput): bigint {
  let perms = basePermissions(p);
  if (perms === ALL) return ALL;
  const everyone = p.overwrites.find((o) => o.id === p.guildId);
  if (everyone) perms = (perms & ~everyone.deny) | everyone.allow;
  let allow = 0n, deny = 0n;
  for (const o of p.overwrites) {
    if (o.type === 0 && p.memberRoles.includes(o.id)) { allow |= o.allow; deny |= o.deny; }
  }
  perms = (perms & ~deny) | allow;
  const own = p.overwrites.find((o) => o.type === 1 && o.id === p.userId);
  if (own) perms = (perms & ~own.deny) | own.allow;
  // Without View Channel nothing else in the channel applies.
  return perms & Permission.ViewChannel ? perms : 0n;
}

export function permissionBits(names: readonly PermissionName[]): bigint {
  return names.reduce((acc, n) => acc | Permission[n], 0n);
}
