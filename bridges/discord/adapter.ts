/**
 * The Discord bridge: a discord.js bot hears the linked channels (gateway dispatches through
 * receive.ts); people from other networks speak through one webhook per channel (delivery.ts).
 */
import { ChannelType, Client, Events, PermissionFlagsBits, REST, Routes, type GuildBasedChannel } from "discord.js";
import type { Logger } from "pino";
import type { DiscordConfig } from "../../config/schema.ts";
import {
  NotReadyError, type Adapter, type AdapterHost, type Capabilities, type DeliveryContext, type Media, type RemoteIds,
} from "../../core/adapter.ts";
import { roomRef, type BridgeEvent, type RoomRef } from "../../core/events.ts";
import { Delivery } from "./delivery.ts";
import { isSnowflake } from "./ids.ts";
import { download } from "./media.ts";
import { BASE_INTENTS, intentProblem, missingPermissions, permissionProblem, privilegedIntents } from "./permissions.ts";
import { Receiver } from "./receive.ts";
import type { Dispatch } from "./types.ts";
import { Unconfirmed } from "./unconfirmed.ts";
import { Webhooks } from "./webhooks.ts";

const CAPABILITIES: Capabilities = {
  edits: true, retractions: true, reactions: true, replies: true, threads: false,
  typing: true, presence: false, media: true, richText: false,
};

const DISCORD_CDN = "https://cdn.discordapp.com";
const MiB = 1024 * 1024;
/** Upload limit per message by server boost tier (Discord's documented defaults). */
const UPLOAD_BY_TIER = [10 * MiB, 10 * MiB, 50 * MiB, 100 * MiB];

export class DiscordAdapter implements Adapter {
  readonly network = "discord" as const;
  readonly capabilities = CAPABILITIES;
  readonly #config: DiscordConfig;
  readonly #log: Logger;
  readonly #cdn: string;
  #client: Client | undefined;
  #connecting: Promise<Client> | undefined;
  #applicationId = "";
  #host: AdapterHost | undefined;
  #receiver: Receiver | undefined;
  #delivery: Delivery | undefined;
  #readies = 0;
  #ready = false;
  readonly #reported = new Set<string>();

  constructor(config: DiscordConfig, log: Logger) {
    this.#config = config;
    this.#log = log;
    this.#cdn = (config.cdn ?? DISCORD_CDN).replace(/\/+$/, "");
  }

  /** Logs in once (the core resolves rooms before start); asks only for the intents the portal allows. */
  #connect(): Promise<Client> {
    this.#connecting ??= (async () => {
      const rest = new REST({ ...(this.#config.api ? { api: this.#config.api } : {}), cdn: this.#cdn }).setToken(this.#config.token);
      const app = await rest.get(Routes.currentApplication()) as { id: string; flags?: number };
      this.#applicationId = app.id;
      const { granted, missing } = privilegedIntents(app.flags ?? 0);
      for (const m of missing) this.#report(`intent:${m.name}`, intentProblem(m));
      const client = new Client({
        intents: [...BASE_INTENTS, ...granted],
        rest: { ...(this.#config.api ? { api: this.#config.api } : {}), cdn: this.#cdn },
      });
      client.on(Events.Raw, (p: Dispatch) => this.#onRaw(p));
      client.on(Events.ShardReady, () => this.#setReady(true));
      client.on(Events.ShardResume, () => this.#setReady(true));
      client.on(Events.ShardReconnecting, () => this.#setReady(false));
      client.on(Events.ShardDisconnect, (ev) => {
        if (ev.code === 4014) this.#report("intent:4014", "Discord refused a privileged intent (close code 4014): check the Privileged Gateway Intents switches in the developer portal (Bot page)");
        this.#setReady(false);
      });
      client.on(Events.Error, (err) => this.#log.error({ err: err.message }, "discord client error"));
      client.rest.on("rateLimited", (info) => this.#log.debug({ route: info.route, retryAfter: info.retryAfter, global: info.global }, "discord rate limit: waiting"));
      const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
      try {
        await client.login(this.#config.token);
      } catch (err) {
        const msg = (err as Error).message;
        if (/invalid token/i.test(msg)) throw new Error("Discord refused the bot token (discord.token): copy it again from the developer portal (Bot → Reset Token)");
        throw err;
      }
      await ready;
      this.#client = client;
      this.#log.info({ bot: client.user?.tag, guilds: client.guilds.cache.size }, "logged in to Discord");
      return client;
    })();
    this.#connecting.catch(() => { this.#connecting = undefined; });
    return this.#connecting;
  }

  async resolveRoom(configured: string): Promise<RoomRef> {
    const id = configured.trim();
    if (!isSnowflake(id)) throw new Error(`${JSON.stringify(configured)} is not a Discord channel id`);
    const client = await this.#connect();
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
    const have = channel.permissionsFor(me).bitfield;
    const missing = missingPermissions(have);
    const view = missing.find((p) => p.bit === PermissionFlagsBits.ViewChannel);
    // Without View Channel nothing can be heard or said there: the core leaves the room out.
    if (view) throw new Error(`the bot cannot see Discord channel ${id}: ${permissionProblem(view, channel)}`);
    for (const p of missing) this.#report(`perm:${id}:${p.name}`, permissionProblem(p, channel));
    return roomRef(id);
  }

  async start(host: AdapterHost): Promise<void> {
    this.#host = host;
    const client = await this.#connect();
    const webhooks = new Webhooks(client.rest, () => host.puppets, () => this.#applicationId, this.#log);
    const everyone = new Set(this.#config.everyone);
    this.#delivery = new Delivery({
      rest: client.rest, webhooks, log: this.#log,
      unconfirmed: new Unconfirmed(client.rest, (room, id) => host.findMessage(roomRef(room), { remoteId: id }) !== undefined),
      guildOf: (channel) => this.#channel(channel)?.guildId,
      uploadLimit: (channel) => UPLOAD_BY_TIER[this.#channel(channel)?.guild.premiumTier ?? 0] ?? 10 * MiB,
      memberNames: (channel, userId) => {
        const m = this.#channel(channel)?.guild.members.cache.get(userId);
        return m ? [...new Set([m.displayName, m.user.globalName, m.user.username].filter((n): n is string => !!n))] : [];
      },
      everyone: (channel) => everyone.has(channel),
      publicMedia: (origin, url, name) => host.publicMedia(origin, url, name),
    });
    this.#receiver = new Receiver({ client, host, webhooks, cdn: this.#cdn, catchUpCap: this.#config.catchUp, log: this.#log });
    this.#setReady(client.isReady());
    await this.#receiver.catchUpAll();
  }

  async stop(): Promise<void> {
    this.#receiver?.stop();
    this.#receiver = undefined;
    const client = this.#client;
    this.#client = undefined;
    this.#connecting = undefined;
    await client?.destroy();
  }

  #onRaw(p: Dispatch): void {
    if (p.t === "READY") {
      this.#readies++;
      // A new session (not a resume): whatever happened in between was never dispatched to us.
      if (this.#readies > 1) this.#receiver?.catchUpAll().catch((err: unknown) => this.#log.warn({ err: (err as Error).message }, "catch-up failed"));
      return;
    }
    this.#receiver?.onDispatch(p);
  }

  #setReady(ready: boolean): void {
    if (this.#ready === ready || !this.#host) return;
    this.#ready = ready;
    this.#host.setReady(ready);
  }

  /** Each problem once per run, by name, with what to do. */
  #report(key: string, message: string): void {
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    this.#log.warn(message);
  }

  #channel(id: string): GuildBasedChannel | undefined {
    const c = this.#client?.channels.cache.get(id);
    return c && "guild" in c ? c : undefined;
  }

  async send(room: RoomRef, event: BridgeEvent, ctx: DeliveryContext): Promise<RemoteIds> {
    if (!this.#delivery || !this.#client?.isReady()) throw new NotReadyError("discord gateway not connected yet");
    this.#log.debug({ room, kind: event.kind, delivery: ctx.deliveryId, attempt: ctx.attempt }, "sending to discord");
    return this.#delivery.send(room, event, ctx);
  }

  async fetchMedia(url: string): Promise<Media> {
    if (!this.#host) throw new NotReadyError("the Discord adapter has not started");
    return download(this.#host.media, url, this.#cdn);
  }

  /** The configured CDN (host and port): fetched from even on a private address (a stand-in). */
  get mediaHosts(): readonly string[] {
    const u = new URL(this.#cdn);
    return [`${u.hostname}:${u.port || (u.protocol === "https:" ? "443" : "80")}`];
  }
}
