/**
 * What every REST route needs: the emulator's parts, and the bot's access to a channel checked
 * the way Discord does (unknown 10003; cannot view 50001 Missing Access; lacking another
 * permission 50013 Missing Permissions).
 */
import type { Actions } from "./actions.ts";
import { missingAccess, missingPermissions, unknownChannel, unknownMessage } from "./http.ts";
import { Permission } from "./permissions.ts";
import type { Channel, Message, State } from "./state.ts";

export interface RouteContext {
  state: State;
  actions: Actions;
  webhookDefaultMentions: "users" | "all";
  /** The gateway's URL, for GET /gateway(/bot). */
  gatewayUrl: () => string;
}

export function isThread(c: Channel): boolean { return c.type === 11 || c.type === 12; }

/** The channel, if the bot may see it and has every permission named. */
export function botChannel(ctx: RouteContext, channelId: string, ...need: bigint[]): Channel {
  const ch = ctx.state.channels.get(channelId);
  if (!ch) throw unknownChannel();
  const perms = ctx.state.permissionsIn(ch.id, ctx.state.application.botUserId);
  if (!(perms & Permission.ViewChannel)) throw missingAccess();
  for (const p of need) if (!(perms & p)) throw missingPermissions();
  return ch;
}

export function botHas(ctx: RouteContext, channelId: string, p: bigint): boolean {
  return (ctx.state.permissionsIn(channelId, ctx.state.application.botUserId) & p) !== 0n;
}

export function messageIn(ctx: RouteContext, channelId: string, messageId: string): Message {
  const m = ctx.state.findMessage(channelId, messageId);
  if (!m) throw unknownMessage();
  return m;
}
