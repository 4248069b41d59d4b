/**
 * The lookups: gateway URL, the bot's user and application, guilds, their channels, members,
 * roles and active threads, one channel, and the bot's DM with a user.
 */
import { botChannel, isThread, type RouteContext } from "./access.ts";
import { applicationFlags } from "./gateway.ts";
import { ApiError, fieldError, missingAccess, type Req, type Route } from "./http.ts";
import { Permission as P } from "./permissions.ts";
import { channelJson, guildJson, memberJson, roleJson, userJson } from "./shapes.ts";
import { compareSnowflakes } from "./snowflake.ts";
import type { Guild } from "./state.ts";

export function guildRoutes(ctx: RouteContext): Route[] {
  const { state } = ctx;
  const guild = (req: Req): Guild => {
    const g = state.guilds.get(req.params.guild!);
    if (!g || !g.members.has(state.application.botUserId)) throw new ApiError(404, 10004, "Unknown Guild");
    return g;
  };
  const route = (method: string, pattern: string, handle: Route["handle"], major?: string): Route =>
    ({ method, pattern, bucket: "default", auth: "bot", handle, ...(major ? { major } : {}) });
  return [
    { method: "GET", pattern: "/gateway", bucket: "default", auth: "none", handle: () => ({ status: 200, body: { url: ctx.gatewayUrl() } }) },
    route("GET", "/gateway/bot", () => ({
      status: 200,
      body: { url: ctx.gatewayUrl(), shards: 1, session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 } },
    })),
    route("GET", "/users/@me", () => ({ status: 200, body: { ...userJson(state.bot), verified: true, mfa_enabled: false, locale: "en-US", email: null } })),
    // Opens (or finds) the bot's DM with a user (docs: "Create DM").
    route("POST", "/users/@me/channels", (req) => {
      const id = req.body.recipient_id;
      if (typeof id !== "string" || !state.users.has(id)) throw fieldError("recipient_id", "NUMBER_TYPE_COERCE", "Value is not snowflake.");
      if (id === state.application.botUserId || state.users.get(id)!.bot) throw new ApiError(400, 50007, "Cannot send messages to this user");
      return { status: 200, body: channelJson(state.openDm(id), state) };
    }),
    route("GET", "/users/:user", (req) => {
      const u = state.users.get(req.params.user!);
      if (!u) throw new ApiError(404, 10013, "Unknown User");
      return { status: 200, body: userJson(u) };
    }),
    route("GET", "/applications/@me", () => ({
      status: 200,
      body: {
        id: state.application.id, name: state.application.name, icon: null, description: "", summary: "", type: null,
        bot_public: false, bot_require_code_grant: false, verify_key: "0".repeat(64), flags: applicationFlags(state),
        bot: userJson(state.bot), owner: userJson(state.users.get(state.guilds.values().next().value?.ownerId ?? "") ?? state.bot),
        team: null, approximate_guild_count: state.guilds.size, redirect_uris: [], interactions_endpoint_url: null,
      },
    })),
    route("GET", "/guilds/:guild", (req) => {
      const g = guild(req);
      const counts = req.query.get("with_counts") === "true" ? { approximate_member_count: g.members.size, approximate_presence_count: 0 } : {};
      return { status: 200, body: { ...guildJson(g), ...counts } };
    }, "guild"),
    route("GET", "/guilds/:guild/channels", (req) => {
      const g = guild(req);
      return { status: 200, body: [...state.channels.values()].filter((c) => c.guildId === g.id && !isThread(c)).map((c) => channelJson(c, state)) };
    }, "guild"),
    route("GET", "/guilds/:guild/threads/active", (req) => {
      const g = guild(req);
      const threads = [...state.channels.values()].filter((c) => c.guildId === g.id && isThread(c) &&
        state.permissionsIn(c.id, state.application.botUserId) & P.ViewChannel);
      return { status: 200, body: { threads: threads.map((c) => channelJson(c, state)), members: [] } };
    }, "guild"),
    route("GET", "/guilds/:guild/roles", (req) => ({ status: 200, body: [...guild(req).roles.values()].map(roleJson) }), "guild"),
    route("GET", "/guilds/:guild/members/:user", (req) => {
      const m = guild(req).members.get(req.params.user!);
      if (!m) throw new ApiError(404, 10007, "Unknown Member");
      return { status: 200, body: memberJson(state, m) };
    }, "guild"),
    route("GET", "/guilds/:guild/members", (req) => {
      const g = guild(req);
      // Listing members needs the Server Members intent switched on in the developer portal.
      if (!state.application.intents.serverMembers) throw missingAccess();
      const limit = Number(req.query.get("limit") ?? 1);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw fieldError("limit", "NUMBER_TYPE_MAX", "int value should be less than or equal to 1000.");
      const after = req.query.get("after") ?? "0";
      const members = [...g.members.values()].filter((m) => compareSnowflakes(m.userId, after) > 0)
        .sort((a, b) => compareSnowflakes(a.userId, b.userId)).slice(0, limit);
      return { status: 200, body: members.map((m) => memberJson(state, m)) };
    }, "guild"),
    route("GET", "/channels/:channel", (req) => ({ status: 200, body: channelJson(botChannel(ctx, req.params.channel!), state) }), "channel"),
  ];
}
