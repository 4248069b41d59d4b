/**
 * Outbound: one neutral event into one Discord channel. Messages are executed through the
 * channel's webhook under the sender's name and avatar (`wait=true`, so Discord answers with the
 * message and its id); edits and deletes go through the webhook's message endpoints; reactions
 * are the bot's. 429s are waited out by discord.js's REST queue (it reads Discord's headers).
 */
import { Routes, type REST, type RawFile } from "discord.js";
import type { Logger } from "pino";
import {
  PermanentDeliveryError, type DeliveredPart, type DeliveryContext, type MappedMessage, type PuppetDirectory, type RemoteIds,
} from "../../core/adapter.ts";
import {
  actorId, assertNever, remoteId, type BridgeEvent, type EditEvent, type MessageEvent, type ReactionEvent, type RoomRef,
} from "../../core/events.ts";
import { degradesNow, publicReasonOf } from "../../core/fallbacks.ts";
import { codeOf, deliveryErrorOf, DiscordCode } from "./errors.ts";
import { ChannelNames, compareSnowflakes, jumpLink } from "./ids.ts";
import { allowedMentions, editText, fileLine, messageText, reactionRoute, replyLine, withMentions } from "./outbound.ts";
import { planEdit, planMessage } from "./parts.ts";
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

const TYPING_EVERY_MS = 8_000;
/** Why a file is a link on Discord when it would not fit the upload. */
const OVER_LIMIT = "over this channel's upload limit";
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

  /** Every failure leaves classified once (errors.ts), whichever call raised it. */
  async send(room: RoomRef, event: BridgeEvent, ctx: DeliveryContext): Promise<RemoteIds> {
    try {
      return await this.#send(room, event, ctx);
    } catch (err) {
      throw deliveryErrorOf(err, room);
    }
  }

  async #send(room: RoomRef, event: BridgeEvent, ctx: DeliveryContext): Promise<RemoteIds> {
    switch (event.kind) {
      case "message": return this.#message(room, event, ctx);
      case "edit": {
        if (!ctx.target) throw new PermanentDeliveryError("the edited message was never bridged to this channel");
        await this.#edit(room, event, ctx.targets ?? [ctx.target], ctx);
        return [];
      }
      case "retract": {
        if (!ctx.target) throw new PermanentDeliveryError("the retracted message was never bridged to this channel");
        const hook = this.#d.webhooks.get(room);
        for (const t of ctx.targets ?? [ctx.target]) {
          if (hook && t.postedAs === hook.id) await this.#gone(() => this.#d.rest.delete(Routes.webhookMessage(hook.id, hook.token, t.remoteId), { auth: false }));
          else if (t.postedAs && this.#d.webhooks.isOurWebhook(t.postedAs)) continue; // an old webhook's message: its token is gone
          else await this.#gone(() => this.#d.rest.delete(Routes.channelMessage(room, t.remoteId), { reason: `removed on ${event.origin} by ${event.sender.name}` })); // a moderation: Manage Messages
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
    // The part with the files is the last: once it landed, the whole message did.
    if (ctx.delivered?.some((p) => p.role === "file")) return ctx.delivered;
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
      let reason = OVER_LIMIT;
      let fetched = true;
      if (att.size === undefined || att.size <= limit - total) {
        try {
          media = await ctx.fetchMedia(att.url);
        } catch (err) {
          // A passing failure is retried with the delivery (its file part was not sent yet), but a
          // file never holds its channel for long (degradesNow): then it goes as a link.
          if (!degradesNow(err, ctx)) throw err;
          reason = `not copied by the bridge: ${publicReasonOf(err)}`;
          fetched = false;
          this.#d.log.warn({ room, file: att.name, err: (err as Error).message, attempt: ctx.attempt }, "could not fetch an attachment; linking it instead");
        }
      }
      // A file Junction could not fetch gets no Junction link (it would fail the same way, and
      // would have Junction try a refused address again on every click): its own public URL, if
      // it has one, as on the other networks (attachmentNote).
      const link = fetched ? this.#d.publicMedia(e.origin, att.url, att.name) : /^https?:\/\//i.test(att.url) ? att.url : undefined;
      if (media && total + media.data.byteLength <= limit && files.length < 10) {
        total += media.data.byteLength;
        files.push({ name: att.name || media.name || "file", data: Buffer.from(media.data), contentType: media.mime });
        instead.push(fileLine(att.name, media.data.byteLength, link, OVER_LIMIT));
      } else {
        if (media && files.length >= 10) reason = "more than 10 files in one message";
        else if (media) this.#d.log.info({ room, file: att.name, bytes: media.data.byteLength, limit }, "a file over the channel's upload limit; linked through Junction's HTTP server");
        text += `${text ? "\n" : ""}${fileLine(att.name, media?.data.byteLength ?? att.size, link, reason)}`;
      }
    }
    const plan = planMessage(text, files.length > 0);
    if (plan.length === 0) throw new PermanentDeliveryError("empty message: no text and no attachments");
    const hook = await this.#d.webhooks.ensure(room);
    const username = this.#nameFor(room, e);
    const avatar = e.sender.avatar ? this.#d.publicMedia(e.origin, e.sender.avatar.url, "avatar.png") : undefined;
    const mentions = allowedMentions(mentioned.map((m) => m.id), this.#d.everyone(room));
    const done = new Map((ctx.delivered ?? []).map((p) => [p.part, p]));
    const todo = plan.filter((p) => !done.has(p.part));
    // Parts land in order; one tried before (a retry, or said before this process started) may have
    // reached Discord without its id reaching the store: look in the channel after the last we know.
    const after = [...done.values()].map((p) => p.id as string).sort(compareSnowflakes).pop() ?? "0";
    const found = todo.length > 0 && (ctx.attempt > 0 || this.#d.unconfirmed.suspect(e))
      ? await this.#d.unconfirmed.find(room, hook.id, username, todo.map((p) => p.content), e.ts, after, ctx.attempt > 0)
      : [];
    if (found.length > 0) this.#d.log.info({ room, delivery: ctx.deliveryId, parts: found.length }, "found an unconfirmed delivery in the channel; not sending it again");
    const out: DeliveredPart[] = [];
    for (const p of plan) {
      const had = done.get(p.part);
      if (had) {
        out.push(had);
        continue;
      }
      const base = { content: p.content, username, allowed_mentions: mentions, ...(avatar ? { avatar_url: avatar } : {}) };
      let id = found[todo.indexOf(p)];
      if (id === undefined) {
        let sent: SentMessage;
        try {
          sent = p.files
            ? await this.#execute(room, hook, { ...base, attachments: files.map((f, n) => ({ id: n, filename: f.name })) }, files)
            : await this.#execute(room, hook, base, []);
        } catch (err) {
          // Over the server's upload limit (boosts change it, so only Discord knows): link the files instead.
          if (!p.files || codeOf(err) !== DiscordCode.TooLarge) throw err;
          this.#d.log.info({ room, files: files.length }, "Discord refused the files as too large; linking them instead");
          sent = await this.#execute(room, hook, { ...base, content: truncate([p.content, ...instead].filter(Boolean).join("\n")) }, []);
        }
        id = sent.id;
      }
      const landed: DeliveredPart = { id: remoteId(id), postedAs: hook.id, part: p.part, role: p.role };
      ctx.partDelivered?.(landed);
      out.push(landed);
    }
    return out;
  }

  /** See planEdit (parts.ts): the new text over the parts the message has, adding or deleting some. */
  async #edit(room: RoomRef, e: EditEvent, targets: readonly MappedMessage[], ctx: DeliveryContext): Promise<void> {
    const hook = this.#d.webhooks.get(room) ?? await this.#d.webhooks.ensure(room);
    for (const t of targets) {
      if (t.postedAs !== undefined && t.postedAs !== hook.id) {
        throw new PermanentDeliveryError("the message was sent through a webhook this channel no longer has; it cannot be edited");
      }
    }
    const mentions = allowedMentions([], this.#d.everyone(room));
    for (const step of planEdit(targets, editText(e.body))) {
      if (step.op === "patch") {
        await this.#d.rest.patch(Routes.webhookMessage(hook.id, hook.token, step.target.remoteId), { auth: false, body: { content: step.content, allowed_mentions: mentions } });
      } else if (step.op === "delete") {
        await this.#gone(() => this.#d.rest.delete(Routes.webhookMessage(hook.id, hook.token, step.target.remoteId), { auth: false }));
        ctx.partRemoved?.(step.target.part ?? 0);
      } else {
        const avatar = e.sender.avatar ? this.#d.publicMedia(e.origin, e.sender.avatar.url, "avatar.png") : undefined;
        const body = { content: step.content, username: this.#nameFor(room, e), allowed_mentions: mentions, ...(avatar ? { avatar_url: avatar } : {}) };
        const sent = await this.#execute(room, hook, body, []);
        ctx.partDelivered?.({ id: remoteId(sent.id), postedAs: hook.id, part: step.part, role: "text" });
      }
    }
  }

  /** A delete of a message that is gone already (a retry, or deleted on Discord meanwhile) is done. */
  async #gone(call: () => Promise<unknown>): Promise<void> {
    try {
      await call();
    } catch (err) {
      if (codeOf(err) !== DiscordCode.UnknownMessage) throw err;
    }
  }

  async #execute(room: RoomRef, hook: Webhook, body: Record<string, unknown>, files: RawFile[]): Promise<SentMessage> {
    const query = new URLSearchParams({ wait: "true" });
    try {
      return await this.#d.rest.post(Routes.webhook(hook.id, hook.token), { auth: false, query, body, files }) as SentMessage;
    } catch (err) {
      if (codeOf(err) !== DiscordCode.UnknownWebhook) throw err;
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

function truncate(s: string): string {
  return s.length <= 2000 ? s : `${s.slice(0, 1999)}…`;
}
