/**
 * A linked channel as the bot finds it: visible, a text channel, and which of the permissions
 * the bridge uses it lacks there (each reported by name with where to grant it).
 */
import { ChannelType, PermissionFlagsBits, type Client, type GuildBasedChannel } from "discord.js";
import { missingPermissions, permissionProblem } from "./permissions.ts";

/** Throws when the channel cannot be linked at all; reports each missing permission otherwise. */
export async function checkChannel(client: Client, id: string, report: (key: string, message: string) => void): Promise<void> {
  let channel: GuildBasedChannel | undefined;
  try {
    channel = (client.channels.cache.get(id) ?? await client.channels.fetch(id)) as GuildBasedChannel | undefined;
  } catch {
    channel = undefined;
  }
  if (!channel || !("guild" in channel)) {
    throw new Error(`the bot cannot see Discord channel ${id}: invite the bot to its server (see the setup guide) and give it View Channel there`);
  }
  if (channel.type !== ChannelType.GuildText && channel.type !== ChannelType.GuildAnnouncement) {
    throw new Error(`Discord channel ${id} (#${channel.name}) is not a text channel; link a text channel`);
  }
  const me = channel.guild.members.me ?? await channel.guild.members.fetchMe();
  const missing = missingPermissions(channel.permissionsFor(me).bitfield);
  const view = missing.find((p) => p.bit === PermissionFlagsBits.ViewChannel);
  // Without View Channel nothing can be heard or said there: the core leaves the room out.
  if (view) throw new Error(`the bot cannot see Discord channel ${id}: ${permissionProblem(view, channel)}`);
  for (const p of missing) report(`perm:${id}:${p.name}`, permissionProblem(p, channel));
}
