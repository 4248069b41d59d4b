/**
 * Outbound: one neutral event into one Discord channel. Messages are executed through the
 * channel's webhook under the sender's name and avatar (`wait=true`, so Discord answers with the
 * message and its id); edits and deletes go through the webhook's message endpoints; reactions
 * are the bot's. 429s are waited out by discord.js's REST queue (it reads Discord's headers).
 */
import { DiscordAPIError, HTTPError, Routes, type REST, type RawFile } from "discord.js";
import type { Logger } from "pino";
import {
  NotReadyError, PermanentDeliveryError, type DeliveryContext, type MappedMessage, type PuppetDirectory, type RemoteIds,
} from "../../core/adapter.ts";
import { actorId, assertNever, remoteId, type BridgeEvent, type MessageEvent, type ReactionEvent, type RoomRef } from "../../core/events.ts";
import { ChannelNames, jumpLink } from "./ids.ts";
import {
  allowedMentions, editText, fileLine, messageText, reactionRoute, replyLine, splitContent, withMentions,
} from "./outbound.ts";
import type { Unconfirmed } from "./unconfirmed.ts";
import type { Webhook, Webhooks } from "./webhooks.ts";

/** What delivery needs to know of the channel and the host. */
export interface DeliveryDeps {
  readonly rest: REST;
  readonly webhooks: Webhooks;
  readonly unconfirmed: Unconfirmed;
  readonly log: Logger;
  guildOf(channel: string): string | undefined;
  /** The largest file the channel's guild takes per message. */
  uploadLimit(channel: string): number;
  /** Names a Discord person goes by in the channel's guild, to put a native mention in place. */
  memberNames(channel: string, userId: string): string[];
  /** Channels where @everyone/@here from other networks really ping (config `discord.everyone`). */
  everyone(channel: string): boolean;
  publicMedia(origin: BridgeEvent["origin"], url: string, name?: string): string | undefined;
  puppets(): PuppetDirectory;
}

interface SentMessage { id: string }

const WEBHOOK_GONE = 10015;
const TOO_LARGE = 40005;
const TYPING_EVERY_MS = 8_000;
const REACTION_ID = /^reaction:(\d+):(.+):[^:]+$/;

export class Delivery {
  readonly #d: DeliveryDeps;
  readonly #names = new Map<string, ChannelNames>();
  /** How many bridged people have each bot reaction (message id + emoji), so the last removal removes it. */
  readonly #reactionCounts = new Map<string, number>();
  readonly #typingAt = new Map<string, number>();

  constructor(deps: DeliveryDeps) {
    this.#d = deps;
  }

  async send(room: RoomRef, event: BridgeEvent, ctx: DeliveryContext): Promise<RemoteIds> {
    try {
      return await this.#send(room, event, ctx);
    } catch (err) {
      throw classify(err, room);
    }
  }

  async #send(room: RoomRef, event: BridgeEvent, ctx: DeliveryContext): Promise<RemoteIds> {
    switch (event.kind) {
      case "message": return this.#message(room, event, ctx);
      case "edit": {
        if (!ctx.target) throw new PermanentDeliveryError("the edited message was never bridged to this channel");
        const hook = await this.#hookFor(room, ctx.target);
        const ids = partsOf(ctx.target);
        const parts = splitContent(event.body.text.trim() === "" ? "…" : editText(event.body));
        const mentions = allowedMentions([], this.#d.everyone(room));
        for (const [i, id] of ids.entries()) {
          if (i >= parts.length) {
            await this.#d.rest.delete(Routes.webhookMessage(hook.id, hook.token, id), { auth: false });
            continue;
          }
          // More parts than before: the last one we have takes the rest, shortened to fit.
          const content = i === ids.length - 1 && parts.length > ids.length ? truncate(parts.slice(i).join("\n")) : parts[i]!;
          await this.#d.rest.patch(Routes.webhookMessage(hook.id, hook.token, id), { auth: false, body: { content, allowed_mentions: mentions } });
        }
        return [];
      }
      case "retract": {
        if (!ctx.target) throw new PermanentDeliveryError("the retracted message was never bridged to this channel");
        const hook = this.#d.webhooks.get(room);
        for (const id of partsOf(ctx.target)) {
          if (hook && ctx.target.author === hook.id) await this.#d.rest.delete(Routes.webhookMessage(hook.id, hook.token, id), { auth: false });
          else if (ctx.target.author && this.#d.webhooks.isOurs(ctx.target.author)) continue; // an old webhook's message: its token is gone
          else await this.#d.rest.delete(Routes.channelMessage(room, id), { reason: `removed on ${event.origin} by ${event.sender.name}` }); // a moderation: Manage Messages
        }
        return [];
      }
      case "reaction": return this.#reaction(room, event, ctx);
      case "typing": {
        // A webhook cannot type: the bot does, so Discord shows that someone elsewhere is writing.
        // Discord shows it for about 10 s; once per 8 s is enough, and a stop has no call.
        const last = this.#typingAt.get(room) ?? 0;
        if (!event.active || Date.now() - last < TYPING_EVERY_MS) return [];
        this.#typingAt.set(room, Date.now());
        await this.#d.rest.post(Routes.channelTyping(room));
        return [];
      }
      case "presence":
      case "join":
      case "leave":
      case "profile":
        return []; // a webhook has no presence of its own; names and avatars go with each message
      default:
        return assertNever(event);
    }
  }

  async #message(room: RoomRef, e: MessageEvent, ctx: DeliveryContext): Promise<RemoteIds> {
    const guild = this.#d.guildOf(room);
    const reply = ctx.replyTo ? replyLine(ctx.replyTo, guild ? jumpLink(guild, room, ctx.replyTo.remoteId) : undefined) : undefined;
    const mentioned = e.mentions.map((id) => ({ id, names: this.#d.memberNames(room, id) }));
    let text = withMentions(messageText(e, reply), mentioned.filter((m) => m.names.length > 0 || e.body.text.includes(m.id)));
    const files: RawFile[] = [];
    /** For each uploaded file, the line that names and links it instead, should Discord refuse the upload. */
    const instead: string[] = [];
    const limit = this.#d.uploadLimit(room);
    let total = 0;
    for (const att of e.attachments) {
      let media;
      if (att.size === undefined || att.size <= limit - total) {
        try {
          media = await ctx.fetchMedia(att.url);
        } catch (err) {
          this.#d.log.warn({ room, file: att.name, err: (err as Error).message }, "could not fetch an attachment; linking it instead");
        }
      }
      if (media && total + media.data.byteLength <= limit && files.length < 10) {
        total += media.data.byteLength;
        files.push({ name: att.name || media.name || "file", data: Buffer.from(media.data), contentType: media.mime });
        instead.push(fileLine(att.name, media.data.byteLength, this.#d.publicMedia(e.origin, att.url, att.name)));
      } else {
        text += `\n${fileLine(att.name, media?.data.byteLength ?? att.size, this.#d.publicMedia(e.origin, att.url, att.name))}`;
      }
    }
    const parts = splitContent(text);
    if (parts.length === 0 && files.length === 0) throw new PermanentDeliveryError("empty message: no text and no attachments");
    const hook = await this.#d.webhooks.ensure(room);
    const username = this.#nameFor(room, e);
    const avatar = e.sender.avatar ? this.#d.publicMedia(e.origin, e.sender.avatar.url, "avatar.png") : undefined;
    const mentions = allowedMentions(mentioned.map((m) => m.id), this.#d.everyone(room));
    const bodies = parts.length > 0 ? parts : [""];
    // A delivery tried before (a retry, or a restart) may have reached Discord already: look first.
    const found = ctx.attempt > 0 || this.#d.unconfirmed.suspect(e)
      ? await this.#d.unconfirmed.find(room, hook.id, username, bodies, e.ts, ctx.attempt > 0)
      : [];
    const ids: string[] = [];
    for (const [i, content] of bodies.entries()) {
      if (found[i]) {
        ids.push(found[i]);
        continue;
      }
      const last = i === bodies.length - 1;
      const base = { content, username, allowed_mentions: mentions, ...(avatar ? { avatar_url: avatar } : {}) };
      let sent: SentMessage;
      try {
        sent = last && files.length > 0
          ? await this.#execute(room, hook, { ...base, attachments: files.map((f, n) => ({ id: n, filename: f.name })) }, files)
          : await this.#execute(room, hook, base, []);
      } catch (err) {
        // Over the server's upload limit (boosts change it, so only Discord knows): link the files instead.
        if (!(err instanceof DiscordAPIError) || err.code !== TOO_LARGE) throw err;
        this.#d.log.info({ room, files: files.length }, "Discord refused the files as too large; linking them instead");
        sent = await this.#execute(room, hook, { ...base, content: truncate([content, ...instead].filter(Boolean).join("\n")) }, []);
      }
      ids.push(sent.id);
    }
    if (found.length > 0) this.#d.log.info({ room, delivery: ctx.deliveryId, parts: found.filter(Boolean).length }, "found an unconfirmed delivery in the channel; not sending it again");
    const [first, ...rest] = ids;
    return [
      { id: remoteId(first!), author: hook.id, ...(rest.length > 0 ? { altId: rest.join(",") } : {}) },
      ...rest.map((id) => ({ id: remoteId(id), author: hook.id })),
    ];
  }

  async #execute(room: RoomRef, hook: Webhook, body: Record<string, unknown>, files: RawFile[]): Promise<SentMessage> {
    const query = new URLSearchParams({ wait: "true" });
    try {
      return await this.#d.rest.post(Routes.webhook(hook.id, hook.token), { auth: false, query, body, files }) as SentMessage;
    } catch (err) {
      if (!(err instanceof DiscordAPIError) || err.code !== WEBHOOK_GONE) throw err;
      this.#d.webhooks.forget(room, hook.id);
      const fresh = await this.#d.webhooks.ensure(room);
      return await this.#d.rest.post(Routes.webhook(fresh.id, fresh.token), { auth: false, query, body, files }) as SentMessage;
    }
  }

  async #reaction(room: RoomRef, e: ReactionEvent, ctx: DeliveryContext): Promise<RemoteIds> {
    const route = reactionRoute(e.emoji, e.custom);
    if (e.added) {
      if (!ctx.target) throw new PermanentDeliveryError("the message reacted to was never bridged to this channel");
      if ("text" in route) {
        // Discord shows only its own emoji: the reaction becomes a short message that quotes its target.
        const msg: MessageEvent = { ...e, kind: "message", body: { text: `reacted ${route.text}` }, attachments: [], isAction: false, mentions: [] };
        return this.#message(room, msg, { ...ctx, replyTo: ctx.target });
      }
      await this.#d.rest.put(Routes.channelMessageOwnReaction(room, ctx.target.remoteId, encodeURIComponent(route.emoji)));
      const key = `${ctx.target.remoteId}:${route.emoji}`;
      this.#reactionCounts.set(key, (this.#reactionCounts.get(key) ?? 0) + 1);
      return [{ id: remoteId(`reaction:${ctx.target.remoteId}:${route.emoji}:${ctx.deliveryId}`) }];
    }
    if (!ctx.reaction) throw new PermanentDeliveryError("the removed reaction was never bridged to this channel");
    const m = REACTION_ID.exec(ctx.reaction.remoteId);
    if (!m) {
      // It was bridged as a message: delete that message.
      return this.#send(room, { ...e, kind: "retract", target: e.target }, { ...ctx, target: ctx.reaction });
    }
    const key = `${m[1]}:${m[2]}`;
    const left = (this.#reactionCounts.get(key) ?? 1) - 1;
    if (left > 0) {
      this.#reactionCounts.set(key, left);
      return [];
    }
    this.#reactionCounts.delete(key);
    await this.#d.rest.delete(Routes.channelMessageOwnReaction(room, m[1]!, encodeURIComponent(m[2]!)));
    return [];
  }

  async #hookFor(room: RoomRef, target: MappedMessage): Promise<Webhook> {
    const hook = this.#d.webhooks.get(room) ?? await this.#d.webhooks.ensure(room);
    if (target.author !== undefined && target.author !== hook.id) {
      throw new PermanentDeliveryError("the message was sent through a webhook this channel no longer has; it cannot be edited");
    }
    return hook;
  }

  /**
   * The name `e`'s sender shows in this channel. Kept in the puppet directory (`name:<channel>:
   * <network>:<actor>`), so that after a restart everybody shows the name they showed before: the
   * unconfirmed-delivery check looks for a message under that name, and people keep their suffix.
   */
  #nameFor(room: RoomRef, e: BridgeEvent): string {
    const puppets = this.#d.puppets();
    const prefix = `name:${room}:`;
    let names = this.#names.get(room);
    if (!names) {
      names = new ChannelNames();
      for (const p of puppets.all("discord")) {
        if (p.actor.startsWith(prefix) && typeof p.data?.shown === "string") names.restore(p.actor.slice(prefix.length), p.data.shown);
      }
      this.#names.set(room, names);
    }
    const key = `${e.origin}:${e.sender.id}`;
    const shown = names.claim(key, e.origin, e.sender.name);
    const actor = actorId(`${prefix}${key}`);
    if (puppets.get("discord", actor)?.data?.shown !== shown) puppets.put({ network: "discord", actor, handle: `name:${room}:${shown}`, data: { shown } });
    return shown;
  }
}

/** Every part of a bridged message (the first carries the others' ids in altId). */
function partsOf(m: MappedMessage): string[] {
  return [m.remoteId, ...(m.altId ? m.altId.split(",").filter((s) => /^\d+$/.test(s)) : [])];
}

function truncate(s: string): string {
  return s.length <= 2000 ? s : `${s.slice(0, 1999)}…`;
}

/**
 * Discord's 4xx answers can never succeed on a retry (unknown message, missing permission,
 * invalid form body): permanent, with Discord's reason. 401 means the token is wrong (config).
 * 5xx and network failures stay transient; discord.js has already retried them a few times.
 */
function classify(err: unknown, room: RoomRef): unknown {
  if (err instanceof PermanentDeliveryError || err instanceof NotReadyError) return err;
  if (err instanceof DiscordAPIError) {
    if (err.status >= 400 && err.status < 500 && ![401, 408, 429].includes(err.status)) {
      const hint = err.code === 50013 ? " (the bot lacks a permission in this channel: see the start-up log)" : "";
      return new PermanentDeliveryError(`discord channel ${room}: ${err.message} (HTTP ${err.status}, code ${err.code})${hint}`);
    }
    return err;
  }
  if (err instanceof HTTPError) return err;
  return err;
}
