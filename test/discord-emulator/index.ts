/**
 * A Discord stand-in for tests, speaking the real protocol to an unmodified discord.js:
 * `startDiscordEmulator()` listens on 127.0.0.1 (a free port) and serves the REST API under
 * `/api` (give discord.js `rest: { api: emulator.api, cdn: emulator.cdn }`), the gateway that
 * `GET /api/v10/gateway/bot` names, and the CDN under `/cdn`. See README.md beside this file.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Actions } from "./actions.ts";
import { serveCdn, type CdnSigner } from "./cdn.ts";
import { Gateway } from "./gateway.ts";
import { Router, type RequestRecord } from "./http.ts";
import { Observer } from "./observe.ts";
import { Permission, permissionBits, type PermissionName } from "./permissions.ts";
import { Person, type PersonOptions } from "./person.ts";
import { DEFAULT_LIMITS, RateLimiter, type Limit, type RouteStats, type Storm } from "./ratelimit.ts";
import { guildRoutes } from "./routes-guilds.ts";
import { messageRoutes } from "./routes-messages.ts";
import { webhookRoutes } from "./routes-webhooks.ts";
import { snowflake } from "./snowflake.ts";
import { hash, State, type Application, type Channel, type Guild, type Role, type Webhook } from "./state.ts";

export { Permission, Person, State };
export type { PermissionName, PersonOptions, Storm };
export type { SeenMessage } from "./observe.ts";

export interface DiscordEmulatorOptions {
  botName?: string;
  token?: string;
  /** The developer portal's privileged intent switches (all on by default). */
  intents?: Partial<Application["intents"]>;
  /** Gateway heartbeat interval (Discord: 41250 ms). */
  heartbeatIntervalMs?: number;
  /** Per-bucket overrides of DEFAULT_LIMITS (ratelimit.ts), and the global requests per second (50). */
  rateLimits?: Record<string, Limit>;
  globalPerSecond?: number;
  /** Per-file upload limit of the first guild (default 10 MiB). */
  uploadLimit?: number;
  /** How long signed attachment URLs stay valid (default 24 h). */
  attachmentTtlMs?: number;
  /** Who a webhook message without allowed_mentions pings: "users" (FIELD-NOTES) or "all". */
  webhookDefaultMentions?: "users" | "all";
  /** Names of the text channels made in the first guild (default ["general"]). */
  channels?: string[];
}

export interface PermissionChange { allow?: PermissionName[]; deny?: PermissionName[] }

export type DiscordEmulator = Awaited<ReturnType<typeof startDiscordEmulator>>;

export async function startDiscordEmulator(opts: DiscordEmulatorOptions = {}) {
  const state = new State({ botName: opts.botName, token: opts.token, intents: opts.intents });
  const guild = state.addGuild({ uploadLimit: opts.uploadLimit });
  const channels = (opts.channels ?? ["general"]).map((name) => state.addChannel(guild.id, { name }));
  const limiter = new RateLimiter({ ...DEFAULT_LIMITS, ...opts.rateLimits }, opts.globalPerSecond ?? 50);
  const gateway = new Gateway(state, opts.heartbeatIntervalMs ?? 41_250);
  const signer: CdnSigner = { base: "", secret: randomBytes(32), ttlMs: opts.attachmentTtlMs ?? 24 * 3600 * 1000 };
  const actions = new Actions(state, gateway, signer);
  const router = new Router(state, limiter);
  const ctx = { state, actions, webhookDefaultMentions: opts.webhookDefaultMentions ?? "users", gatewayUrl: () => gateway.url };
  router.add([...guildRoutes(ctx), ...messageRoutes(ctx), ...webhookRoutes(ctx)]);

  /** Webhook executes still to let through, then to answer 500 (see failWebhookExecutes). */
  const executeFaults = { pass: 0, fail: 0 };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://emulator");
    if (executeFaults.fail > 0 && req.method === "POST" && /^\/api\/v\d+\/webhooks\/\d+\/[^/]+$/.test(url.pathname)) {
      if (executeFaults.pass > 0) executeFaults.pass--;
      else {
        executeFaults.fail--;
        res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ message: "500: Internal Server Error", code: 0 }));
        return;
      }
    }
    if (gateway.down && url.pathname.startsWith("/api/")) {
      res.writeHead(502, { "content-type": "text/html" }).end("<html><body><h1>502 Bad Gateway</h1></body></html>");
      return;
    }
    const done = (p: Promise<void> | void): void => {
      Promise.resolve(p).catch((e: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ message: `500: emulator error: ${String(e)}`, code: 0 }));
      });
    };
    if (url.pathname.startsWith("/api/")) done(router.serve(req, res, url.pathname.slice(4), url.searchParams));
    else if (url.pathname.startsWith("/cdn/")) done(serveCdn(state, signer, req, res, url.pathname.slice(5), url.searchParams));
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => { server.once("error", reject); server.listen(0, "127.0.0.1", resolve); });
  const port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;
  signer.base = `${base}/cdn`;
  gateway.attach(server, `ws://127.0.0.1:${port}`);
  const observer = new Observer(actions, signer.base);
  const channelOf = (id: string): Channel => {
    const ch = state.channels.get(id);
    if (!ch) throw new Error(`emulator: no channel ${id}`);
    return ch;
  };

  return {
    port, api: `${base}/api`, cdn: `${base}/cdn`, get gatewayUrl() { return gateway.url; },
    token: state.application.token, applicationId: state.application.id, botUserId: state.application.botUserId,
    state, guild, channel: channels[0]!, channels,

    // Set-up
    addGuild: (g?: Parameters<State["addGuild"]>[0]): Guild => state.addGuild(g),
    addChannel(name: string, o: { guildId?: string; topic?: string } = {}): Channel {
      const ch = state.addChannel(o.guildId ?? guild.id, { name, topic: o.topic });
      actions.channelChanged(ch, true);
      return ch;
    },
    addRole(name: string, o: { permissions?: PermissionName[]; mentionable?: boolean; guildId?: string } = {}): Role {
      const g = o.guildId ?? guild.id;
      const role = state.addRole(g, { name, permissions: permissionBits(o.permissions ?? []), mentionable: o.mentionable });
      actions.roleChanged(g, role, true);
      return role;
    },
    /** Replaces a role's permissions (the guild id names @everyone): GUILD_ROLE_UPDATE. */
    setRolePermissions(roleId: string, perms: PermissionName[], guildId = guild.id): void {
      const role = state.guild(guildId).roles.get(roleId);
      if (!role) throw new Error(`emulator: no role ${roleId}`);
      role.permissions = permissionBits(perms);
      actions.roleChanged(guildId, role, false);
    },
    /** Gives a member a role: GUILD_MEMBER_UPDATE. */
    giveRole(userId: string, roleId: string, guildId = guild.id): void {
      const member = state.guild(guildId).members.get(userId);
      if (!member) throw new Error(`emulator: ${userId} is not a member of ${guildId}`);
      if (!member.roles.includes(roleId)) member.roles.push(roleId);
      actions.memberUpdate(guildId, userId);
    },
    /** The role the bot got when it joined (its managed integration role). */
    botRoleId: [...guild.members.get(state.application.botUserId)!.roles][0]!,
    person: (o: PersonOptions): Person => new Person(actions, o),
    addEmoji: (name: string, image: Buffer, o: { animated?: boolean; guildId?: string } = {}) => state.addEmoji(o.guildId ?? guild.id, name, image, o.animated),
    addSticker: (name: string, image: Buffer, o: { formatType?: 1 | 2 | 3 | 4; guildId?: string } = {}) => state.addSticker(o.guildId ?? guild.id, name, image, o.formatType),
    /** A channel overwrite for a role id (the guild id is @everyone) or a member id. */
    setOverwrite(channelId: string, targetId: string, change: PermissionChange): void {
      const ch = channelOf(channelId);
      const type = state.guild(state.guildIdOf(ch)).roles.has(targetId) ? 0 : 1;
      state.setOverwrite(channelId, targetId, type, permissionBits(change.allow ?? []), permissionBits(change.deny ?? []));
      actions.channelChanged(ch, false);
    },
    /** Denies the bot these permissions in one channel (a member overwrite, as a server admin would): CHANNEL_UPDATE. */
    withhold(channelId: string, ...perms: PermissionName[]): void {
      const ch = channelOf(channelId);
      const old = ch.overwrites.find((o) => o.id === state.application.botUserId);
      state.setOverwrite(channelId, state.application.botUserId, 1, old?.allow ?? 0n, (old?.deny ?? 0n) | permissionBits(perms));
      actions.channelChanged(ch, false);
    },
    /** Removes the bot's own overwrite in a channel (undoes withhold): CHANNEL_UPDATE. */
    restore(channelId: string): void {
      state.setOverwrite(channelId, state.application.botUserId, 1, 0n, 0n);
      actions.channelChanged(channelOf(channelId), false);
    },
    setIntents(i: Partial<Application["intents"]>): void { Object.assign(state.application.intents, i); },
    setUploadLimit(bytes: number, guildId = guild.id): void { state.guild(guildId).uploadLimit = bytes; },
    /** Another application's webhook in the channel (a CI bot, another bridge). */
    addForeignWebhook(channelId: string, name: string): Webhook {
      const ch = channelOf(channelId);
      const w: Webhook = { id: snowflake(), token: `${hash()}${hash()}`, channelId, guildId: state.guildIdOf(ch), name, avatar: null, applicationId: null, creatorId: guild.ownerId };
      state.webhooks.set(w.id, w);
      return w;
    },
    /** The DM channel between the bot and this user (made if neither has opened it yet). */
    dmChannel: (userId: string): Channel => state.openDm(userId),
    webhooks: (channelId: string): Webhook[] => [...state.webhooks.values()].filter((w) => w.channelId === channelId),
    /** A moderator's bulk delete: MESSAGE_DELETE_BULK. */
    bulkDelete: (channelId: string, ids: string[]): void => actions.bulkDelete(channelId, ids),
    botCan: (channelId: string, perm: PermissionName): boolean => (state.permissionsIn(channelId, state.application.botUserId) & Permission[perm]) !== 0n,

    // Gateway controls
    dropGateway: (o: { resumable: boolean }): void => gateway.drop(o),
    reconnectGateway: (): void => gateway.reconnect(),
    invalidateSession: (o: { resumable: boolean }): void => gateway.invalidate(o),
    /**
     * Discord unreachable: REST answers 502 (HTML, as Discord's edge does), the gateway refuses
     * upgrades with 503 and live connections are cut (resumable unless said otherwise).
     */
    startOutage(o: { resumable?: boolean } = {}): void {
      gateway.down = true;
      gateway.drop({ resumable: o.resumable ?? true });
    },
    endOutage(): void { gateway.down = false; },
    /** Lets `after` webhook executes through, then answers the next `times` with 500 before making anything. */
    failWebhookExecutes(o: { after: number; times: number }): void {
      executeFaults.pass = o.after;
      executeFaults.fail = o.times;
    },
    gatewayCounts: gateway.counts,
    get liveSessions(): number { return gateway.liveSessions; },

    // Rate limits and the request log
    rateLimitStorm: (s: Storm): void => limiter.startStorm(s),
    requests: router.log as readonly RequestRecord[],
    stats(): RouteStats & { routes: Record<string, RouteStats> } {
      return { ...limiter.totals(), routes: Object.fromEntries([...limiter.routes].map(([k, v]) => [k, { ...v }])) };
    },

    // Observers
    seen: (channelId: string) => observer.seen(channelId),
    message: (id: string) => observer.message(id),
    nextMessage: (channelId: string, timeoutMs?: number) => observer.nextMessage(channelId, timeoutMs),
    nextMessages: (channelId: string, count: number, timeoutMs?: number) => observer.nextMessages(channelId, count, timeoutMs),
    nextUpdate: (channelId: string, messageId?: string, timeoutMs?: number) => observer.nextUpdate(channelId, messageId, timeoutMs),
    nextDelete: (channelId: string, messageId?: string, timeoutMs?: number) => observer.nextDelete(channelId, messageId, timeoutMs),
    nextReaction: (kind: "add" | "remove", channelId: string, timeoutMs?: number) => observer.nextReaction(kind, channelId, timeoutMs),
    nextTyping: (channelId: string, timeoutMs?: number) => observer.nextTyping(channelId, timeoutMs),
    events: actions.events,

    async stop(): Promise<void> {
      gateway.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
