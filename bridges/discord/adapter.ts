/**
 * The Discord bridge: a discord.js bot hears the linked channels (gateway dispatches through
 * receive.ts); people from other networks speak through one webhook per channel (delivery.ts).
 * Admins steer Junction with `!junction …` in the admin channel or a DM with the bot (commands.ts).
 */
import type { Client, GuildBasedChannel } from "discord.js";
import type { Logger } from "pino";
import type { DiscordConfig } from "../../config/schema.ts";
import {
  NotReadyError, type Adapter, type AdapterHost, type AdapterStatus, type Capabilities, type DeliveryContext, type Media, type RemoteIds,
} from "../../core/adapter.ts";
import { roomRef, type BridgeEvent, type RoomRef } from "../../core/events.ts";
import { DiscordCommands } from "./commands.ts";
import { Delivery } from "./delivery.ts";
import { isSnowflake } from "./ids.ts";
import { download } from "./media.ts";
import { checkChannel } from "./channels.ts";
import { isTokenRefused, logIn } from "./login.ts";
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
  /** Channels linked while Discord was unreachable, checked once connected. */
  readonly #unchecked = new Set<string>();
  #stopped = false;
  #unreachableAtStart = false;
  #attempts = 0;
  #lastError: string | undefined;
  #retry: NodeJS.Timeout | undefined;

  readonly #adminChannel: string | undefined;

  /** `adminChannel`: config's `admin.discordChannel`, where `!junction` commands are taken (and in DMs). */
  constructor(config: DiscordConfig, log: Logger, opts: { adminChannel?: string | undefined } = {}) {
    this.#config = config;
    this.#log = log;
    this.#adminChannel = opts.adminChannel;
    this.#cdn = (config.cdn ?? DISCORD_CDN).replace(/\/+$/, "");
  }

  /** Logs in once (the core resolves rooms before start); asks only for the intents the portal allows. */
  #connect(): Promise<Client> {
    this.#connecting ??= logIn(this.#config, this.#cdn, this.#log, {
      raw: (p) => this.#onRaw(p),
      ready: (ready, lastError) => {
        if (lastError !== undefined) this.#lastError = lastError;
        this.#setReady(ready);
      },
      reconnecting: () => {
        this.#lastError ??= "lost the connection to Discord's gateway; reconnecting (is Discord, or this machine's network, down?)";
        this.#setReady(false);
      },
      report: (key, message) => this.#report(key, message),
    }).then(({ client, applicationId }) => {
      this.#applicationId = applicationId;
      this.#client = client;
      return client;
    });
    this.#connecting.catch(() => { this.#connecting = undefined; });
    return this.#connecting;
  }

  /**
   * Checks the channel when Discord answers. When it does not (an outage at start), the id is the
   * channel's native id already: it is linked as written and checked once the bot is connected.
   */
  async resolveRoom(configured: string): Promise<RoomRef> {
    const id = configured.trim();
    if (!isSnowflake(id)) throw new Error(`${JSON.stringify(configured)} is not a Discord channel id`);
    let client: Client | undefined;
    if (!this.#unreachableAtStart) {
      try {
        client = await this.#connect();
      } catch (err) {
        if (isTokenRefused(err)) throw err;
        this.#unreachableAtStart = true;
        this.#log.warn({ err: (err as Error).message }, "Discord is unreachable; linking its channels as written and checking them once connected");
      }
    }
    if (!client) {
      this.#unchecked.add(id);
      return roomRef(id);
    }
    await checkChannel(client, id, (key, message) => this.#report(key, message));
    return roomRef(id);
  }

  async start(host: AdapterHost): Promise<void> {
    this.#host = host;
    this.#stopped = false;
    try {
      await this.#connected(await this.#connect());
    } catch (err) {
      if (isTokenRefused(err)) throw err;
      this.#retryLater(err);
    }
  }

  /** Not connected: try again with a growing wait (2 s doubling to 60 s) for as long as we run. */
  #retryLater(err: unknown): void {
    if (this.#stopped) return;
    const wait = Math.min(2_000 * 2 ** this.#attempts++, 60_000);
    this.#lastError = `cannot connect to Discord: ${(err as Error).message}`;
    this.#log.warn({ err: (err as Error).message, attempt: this.#attempts, retryInMs: wait }, "cannot connect to Discord; retrying");
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#connect().then((client) => this.#connected(client)).catch((e: unknown) => {
        if (isTokenRefused(e)) this.#log.error({ err: (e as Error).message }, "Discord refused the bot token; not retrying");
        else this.#retryLater(e);
      });
    }, wait);
  }

  /** Once per log-in: the delivery and receiving sides, the deferred channel checks, then catch-up. */
  async #connected(client: Client): Promise<void> {
    const host = this.#host;
    if (!host || this.#stopped) return;
    this.#attempts = 0;
    this.#lastError = undefined;
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
      puppets: () => host.puppets,
    });
    for (const id of this.#unchecked) {
      // Too late to leave it out of its link: said loudly instead, and its deliveries fail with Discord's reason.
      await checkChannel(client, id, (key, message) => this.#report(key, message))
        .catch((err: unknown) => this.#log.error({ room: id, err: (err as Error).message }, "a linked Discord channel cannot be used"));
    }
    this.#unchecked.clear();
    const commands = host.admin ? this.#commands(client, host.admin) : undefined;
    this.#receiver = new Receiver({ client, host, webhooks, cdn: this.#cdn, catchUpCap: this.#config.catchUp, log: this.#log, commands });
    this.#setReady(client.isReady());
    await this.#receiver.catchUpAll();
  }

  #commands(client: Client, desk: NonNullable<AdapterHost["admin"]>): DiscordCommands {
    const channel = this.#adminChannel;
    if (channel !== undefined && !this.#channel(channel)) {
      this.#report(`admin-channel:${channel}`, `the bot cannot see the admin channel ${channel} (not in its server, or no View Channel permission): ` +
        "invite it there or fix admin.discordChannel; the admin commands work in a DM with the bot meanwhile");
    }
    return new DiscordCommands({
      rest: client.rest, desk, botId: () => client.user?.id, adminChannel: channel,
      isGuildChannel: (id) => this.#channel(id) !== undefined, log: this.#log.child({ part: "admin" }),
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = undefined;
    this.#receiver?.stop();
    this.#receiver = undefined;
    const client = this.#client;
    this.#client = undefined;
    this.#connecting = undefined;
    await client?.destroy();
  }

  /**
   * A channel a reload linked (resolveRoom checked it): heard from now on. Before the bot is
   * connected there is nothing to do: the receiver is made with every linked channel.
   */
  async linkRoom(room: RoomRef): Promise<void> {
    await this.#receiver?.link(room);
  }

  /**
   * A channel no link has any more: not heard from now on. Puppets are webhook messages, not
   * members, so nobody leaves; the webhook stays for a later link of the same channel.
   */
  async unlinkRoom(room: RoomRef): Promise<void> {
    this.#receiver?.unlink(room);
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

  status(): AdapterStatus {
    const client = this.#client;
    return {
      ...(this.#lastError && !this.#ready ? { lastError: this.#lastError } : {}),
      rooms: client ? (this.#host?.rooms() ?? []).map((room) => this.#channel(room)
        ? { room, joined: true }
        : { room, joined: false, error: "the bot cannot see this channel (not in its server, or no View Channel permission)" }) : [],
    };
  }

  #setReady(ready: boolean): void {
    if (ready) this.#lastError = undefined;
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
