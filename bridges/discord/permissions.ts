/**
 * What the bot needs and the words a person fixes it by: each missing channel permission and
 * privileged intent named, with what to grant and where. Pure, so the messages are tested.
 */
import { ApplicationFlagsBitField, GatewayIntentBits, PermissionFlagsBits } from "discord.js";

/** Channel permissions the bridge uses, and what it cannot do without each. */
export const NEEDED: readonly { name: string; bit: bigint; for: string }[] = [
  { name: "View Channel", bit: PermissionFlagsBits.ViewChannel, for: "see the channel at all" },
  { name: "Send Messages", bit: PermissionFlagsBits.SendMessages, for: "speak in the channel" },
  { name: "Manage Webhooks", bit: PermissionFlagsBits.ManageWebhooks, for: "make the webhook that people from other networks speak through" },
  { name: "Add Reactions", bit: PermissionFlagsBits.AddReactions, for: "show reactions from other networks" },
  { name: "Read Message History", bit: PermissionFlagsBits.ReadMessageHistory, for: "catch up on messages after an outage" },
  { name: "Attach Files", bit: PermissionFlagsBits.AttachFiles, for: "upload files from other networks" },
  { name: "Embed Links", bit: PermissionFlagsBits.EmbedLinks, for: "show links and avatars" },
];

/** The permission integer for the invite URL: everything in NEEDED plus Manage Messages (moderation). */
export const INVITE_PERMISSIONS = NEEDED.reduce((sum, p) => sum | p.bit, PermissionFlagsBits.ManageMessages);

export function missingPermissions(have: bigint): typeof NEEDED[number][] {
  if ((have & PermissionFlagsBits.Administrator) !== 0n) return [];
  return NEEDED.filter((p) => (have & p.bit) === 0n);
}

export function permissionProblem(p: typeof NEEDED[number], channel: { id: string; name?: string | undefined }): string {
  return `the bot lacks the "${p.name}" permission in #${channel.name ?? "?"} (${channel.id}), so it cannot ${p.for}: ` +
    `grant it in the channel's settings (Edit Channel → Permissions → the bot's role) or in Server Settings → Roles`;
}

/** Privileged intents the bridge asks for, with the switch that turns each on. */
export const PRIVILEGED: readonly { intent: GatewayIntentBits; name: string; flags: number[]; for: string }[] = [
  {
    intent: GatewayIntentBits.MessageContent, name: "Message Content Intent", for: "read what people write (messages arrive empty without it)",
    flags: [ApplicationFlagsBitField.Flags.GatewayMessageContent, ApplicationFlagsBitField.Flags.GatewayMessageContentLimited],
  },
  {
    intent: GatewayIntentBits.GuildMembers, name: "Server Members Intent", for: "see nick and avatar changes",
    flags: [ApplicationFlagsBitField.Flags.GatewayGuildMembers, ApplicationFlagsBitField.Flags.GatewayGuildMembersLimited],
  },
  {
    intent: GatewayIntentBits.GuildPresences, name: "Presence Intent", for: "bridge online / away / busy",
    flags: [ApplicationFlagsBitField.Flags.GatewayPresence, ApplicationFlagsBitField.Flags.GatewayPresenceLimited],
  },
];

/** Direct Messages (not privileged): the admin commands in a DM with the bot (their content comes without Message Content). */
export const BASE_INTENTS = [
  GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.GuildMessageReactions, GatewayIntentBits.GuildMessageTyping,
  GatewayIntentBits.DirectMessages,
];

/** Splits the privileged intents into those the application's flags allow and those it does not. */
export function privilegedIntents(appFlags: number): { granted: GatewayIntentBits[]; missing: typeof PRIVILEGED[number][] } {
  const granted: GatewayIntentBits[] = [];
  const missing: typeof PRIVILEGED[number][] = [];
  for (const p of PRIVILEGED) {
    if (p.flags.some((f) => (appFlags & f) !== 0)) granted.push(p.intent);
    else missing.push(p);
  }
  return { granted, missing };
}

export function intentProblem(p: typeof PRIVILEGED[number]): string {
  return `the "${p.name}" is off for this bot, so Junction cannot ${p.for}: turn it on in the Discord developer portal ` +
    "(https://discord.com/developers/applications → your application → Bot → Privileged Gateway Intents) and restart Junction";
}
