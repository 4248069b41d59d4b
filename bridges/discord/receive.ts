/**
 * Inbound: gateway dispatches (discord.js's `raw` event, so the converters see exactly what
 * Discord sent) and catch-up pages into `host.emit`. Drops what is ours: messages of our webhooks
 * (known by the ids kept in the store) and anything the bot itself did. A message elsewhere (the
 * admin channel, a DM) goes to the admin commands (commands.ts). Holds a channel's live
 * messages while it catches up, so that everything is handed over once and in order.
 */
import type { Client } from "discord.js";
import type { Logger } from "pino";
import type { AdapterHost } from "../../core/adapter.ts";
import { actorId, roomRef, type BridgeEvent, type RoomRef, type Sender } from "../../core/events.ts";
import { missedMessages } from "./catchup.ts";
import type { DiscordCommands } from "./commands.ts";
import {
  editFromDiscord, messageFromDiscord, presenceFromDiscord, profileChange, reactionFromDiscord, retractFromDiscord,
  senderOf, typingFromDiscord, type InboundContext, type ThreadInfo,
} from "./inbound.ts";
import {
  isObject, isRawMessage, type Dispatch, type RawMemberUpdate, type RawMessage, type RawPresence, type RawReaction, type RawTyping,
} from "./types.ts";
import type { Webhooks } from "./webhooks.ts";

const TYPING_MS = 10_000;

export interface ReceiveDeps {
  readonly client: Client;
  readonly host: AdapterHost;
  readonly webhooks: Webhooks;
  readonly cdn: string;
  readonly catchUpCap: number;
  readonly log: Logger;
  /** The admin commands, for messages in channels that are not linked (the admin channel, DMs). */
  readonly commands?: DiscordCommands | undefined;
}

export class Receiver {
  readonly #d: ReceiveDeps;
  readonly #ctx: InboundContext;
  readonly #linked: Set<string>;
  /** Live dispatches of a channel that is catching up, replayed after it. */
  readonly #held = new Map<string, Dispatch[]>();
  readonly #typing = new Map<string, NodeJS.Timeout>();
  /** The last profile seen of each person (guild + user), to tell a nick or avatar change. */
  readonly #profiles = new Map<string, Sender>();

  constructor(deps: ReceiveDeps) {
    this.#d = deps;
    this.#linked = new Set(deps.host.rooms());
    const client = deps.client;
    this.#ctx = {
      cdn: deps.cdn,
      channelName: (id) => { const c = client.channels.cache.get(id); return c && "name" in c && c.name ? c.name : undefined; },
      roleName: (g, id) => client.guilds.cache.get(g)?.roles.cache.get(id)?.name,
      memberName: (g, id) => (g ? client.guilds.cache.get(g)?.members.cache.get(id)?.displayName : undefined),
    };
  }

  stop(): void {
    for (const t of this.#typing.values()) clearTimeout(t);
    this.#typing.clear();
  }

  /** One gateway dispatch. */
  onDispatch(p: Dispatch): void {
    const d = p.d;
    if (!isObject(d)) return;
    const channel = typeof d.channel_id === "string" ? d.channel_id : undefined;
    if (channel) {
      const parent = this.#linkedParent(channel);
      const held = parent ? this.#held.get(parent) : undefined;
      if (held) {
        held.push(p);
        return;
      }
    }
    this.#handle(p).catch((err: unknown) => this.#d.log.error({ event: p.t, err: (err as Error).message }, "could not bridge a Discord event"));
  }

  /** A channel a reload linked: heard from now on, after a catch-up from its cursor (none: from now). */
  async link(room: string): Promise<void> {
    if (this.#linked.has(room)) return;
    this.#linked.add(room);
    await this.catchUp(room);
  }

  /** A channel no link has any more: not heard from now on. */
  unlink(room: string): void {
    this.#linked.delete(room);
    this.#held.delete(room);
  }

  /** Catches up every linked channel (after start, and after a session that could not be resumed). */
  async catchUpAll(): Promise<void> {
    const rooms = [...this.#linked];
    let done = 0;
    let events = 0;
    this.#d.host.progress("catch-up", 0, rooms.length);
    await Promise.all(rooms.map(async (room) => {
      const n = await this.catchUp(room);
      events += n;
      this.#d.host.progress("catch-up", ++done, rooms.length, { events: n });
    }));
    if (events > 0) this.#d.log.info({ channels: rooms.length, messages: events }, "caught up on missed Discord messages");
  }

  /** Resolves to the number of missed messages bridged. */
  async catchUp(room: string): Promise<number> {
    if (this.#held.has(room)) return 0;
    this.#held.set(room, []);
    try {
      const cursor = this.#d.host.cursor(roomRef(room));
      if (cursor === undefined) {
        // A new link: no backfill of old history, but remember where it starts.
        const newest = await missedMessages(this.#d.client.rest, room, "0", 1);
        const last = newest.messages.at(-1);
        if (last) await this.#d.host.emit([], { cursor: { room: roomRef(room), value: last.id } });
        return 0;
      }
      const missed = await missedMessages(this.#d.client.rest, room, cursor, this.#d.catchUpCap);
      if (missed.messages.length > 0) this.#d.log.info({ room, messages: missed.messages.length, gap: missed.gap }, "catching up on missed Discord messages");
      const commits: Promise<void>[] = [];
      if (missed.gap) commits.push(this.#d.host.emit([this.#gapNotice(room)]));
      for (const m of missed.messages) {
        const c = this.#message(m);
        if (c) commits.push(c);
      }
      await Promise.all(commits);
      return missed.messages.length;
    } catch (err) {
      this.#d.log.warn({ room, err: (err as Error).message }, "could not catch up on this channel's missed messages");
      return 0;
    } finally {
      const held = this.#held.get(room) ?? [];
      this.#held.delete(room);
      for (const p of held) this.onDispatch(p);
    }
  }

  #gapNotice(room: string): BridgeEvent {
    const name = this.#ctx.channelName(room);
    // Said by the channel itself, as the XMPP bridge's notice is said by its room.
    return {
      kind: "message", origin: "discord", room: roomRef(room), sender: { id: actorId(room), name: `#${name ?? room}`, isBot: true },
      ts: Date.now(), isNotice: true, bridgeNotice: true,
      body: { text: `Junction was away: more than ${this.#d.catchUpCap} messages were written in #${name ?? room} on Discord meanwhile; only the newest ${this.#d.catchUpCap} follow.` },
      attachments: [], isAction: false, mentions: [],
    };
  }

  async #handle(p: Dispatch): Promise<void> {
    const host = this.#d.host;
    const botId = this.#d.client.user?.id;
    switch (p.t) {
      case "MESSAGE_CREATE":
        if (!isRawMessage(p.d)) return;
        // In a linked channel "!junction" is bridged like anything else, never run.
        if (this.#where(p.d.channel_id)) await this.#message(p.d);
        else this.#d.commands?.take(p.d);
        return;
      case "MESSAGE_UPDATE": {
        const m = p.d as RawMessage;
        const where = this.#where(m.channel_id);
        if (!where || !m.author || m.author.id === botId || (m.webhook_id && this.#d.webhooks.isOurWebhook(m.webhook_id))) return;
        const e = editFromDiscord(m, where.room, this.#ctx);
        if (e) await host.emit([e], { dedupeKey: `discord:edit:${m.id}:${m.edited_timestamp}` });
        return;
      }
      case "MESSAGE_DELETE":
      case "MESSAGE_DELETE_BULK": {
        const d = p.d as { id?: string; ids?: string[]; channel_id: string; guild_id?: string };
        const where = this.#where(d.channel_id);
        if (!where) return;
        const events: BridgeEvent[] = [];
        for (const id of d.ids ?? (d.id ? [d.id] : [])) {
          const found = host.findMessage(where.room, { remoteId: id });
          if (!found || found.bridged || found.kind !== "message" || !found.postedAs) continue;
          const name = this.#ctx.memberName(d.guild_id, found.postedAs) ?? found.postedAs;
          events.push(retractFromDiscord(where.room, id, { id: actorId(found.postedAs), name, isBot: false }, p.t === "MESSAGE_DELETE_BULK"));
        }
        if (events.length > 0) await host.emit(events);
        return;
      }
      case "MESSAGE_REACTION_ADD":
      case "MESSAGE_REACTION_REMOVE": {
        const r = p.d as RawReaction;
        const where = this.#where(r.channel_id);
        if (!where || r.user_id === botId) return;
        const e = reactionFromDiscord(r, where.room, p.t === "MESSAGE_REACTION_ADD", this.#person(r.guild_id, r.user_id, r.member), this.#d.cdn);
        if (e) await host.emit([e]);
        return;
      }
      case "TYPING_START": {
        const t = p.d as RawTyping;
        const where = this.#where(t.channel_id);
        if (!where || t.user_id === botId) return;
        const sender = this.#person(t.guild_id, t.user_id, t.member);
        const key = `${where.room}\u0000${t.user_id}`;
        const old = this.#typing.get(key);
        if (old) clearTimeout(old);
        this.#typing.set(key, setTimeout(() => this.#stopTyping(where.room, t.user_id, sender), TYPING_MS));
        if (!old) await host.emit([typingFromDiscord(t, where.room, sender, true)]);
        return;
      }
      case "PRESENCE_UPDATE": {
        const pr = p.d as RawPresence;
        if (!pr.user?.id || pr.user.id === botId || !pr.guild_id) return;
        const sender = this.#person(pr.guild_id, pr.user.id, undefined);
        const events = this.#roomsIn(pr.guild_id).flatMap((room) => presenceFromDiscord(pr, room, sender) ?? []);
        if (events.length > 0) await host.emit(events);
        return;
      }
      case "GUILD_MEMBER_UPDATE": {
        const u = p.d as RawMemberUpdate;
        if (!u.user?.id || u.user.id === botId) return;
        const key = `${u.guild_id}\u0000${u.user.id}`;
        const before = this.#profiles.get(key);
        const now = senderOf(this.#d.cdn, u.user, { nick: u.nick ?? null, avatar: u.avatar ?? null }, u.guild_id);
        this.#profiles.set(key, now);
        if (!before) return; // never seen speak: nobody elsewhere knows the old name
        const events = this.#roomsIn(u.guild_id).flatMap((room) => profileChange(before, now, room) ?? []);
        if (events.length > 0) await host.emit(events);
        return;
      }
      default:
        return;
    }
  }

  /** A message (live or from catch-up) handed to the core; the commit's promise, or undefined when dropped. */
  #message(m: RawMessage): Promise<void> | undefined {
    const where = this.#where(m.channel_id);
    if (!where) return undefined;
    const cursor = where.thread ? undefined : { room: where.room, value: m.id };
    if (m.author.id === this.#d.client.user?.id || (m.webhook_id && this.#d.webhooks.isOurWebhook(m.webhook_id))) {
      // Our own: never bridged back, but the channel's cursor moves past it.
      return cursor ? this.#d.host.emit([], { cursor }) : undefined;
    }
    const e = messageFromDiscord(m, where.room, this.#ctx, where.thread);
    if (!m.webhook_id) this.#profiles.set(`${m.guild_id}\u0000${m.author.id}`, senderOf(this.#d.cdn, m.author, m.member, m.guild_id));
    const key = `${where.room}\u0000${m.author.id}`;
    const typing = this.#typing.get(key);
    const events: BridgeEvent[] = [];
    if (e) events.push(e);
    if (typing && e) {
      clearTimeout(typing);
      this.#typing.delete(key);
    }
    if (events.length === 0 && !cursor) return undefined;
    return this.#d.host.emit(events, { dedupeKey: `discord:${m.id}`, ...(cursor ? { cursor } : {}) });
  }

  #stopTyping(room: RoomRef, userId: string, sender: Sender): void {
    this.#typing.delete(`${room}\u0000${userId}`);
    this.#d.host.emit([{ kind: "typing", origin: "discord", room, sender, ts: Date.now(), active: false }])
      .catch((err: unknown) => this.#d.log.debug({ err: (err as Error).message }, "typing stop not bridged"));
  }

  /** A person by id, from the payload's member or the cache. */
  #person(guildId: string | undefined, userId: string, member: RawReaction["member"]): Sender {
    if (member?.user) return senderOf(this.#d.cdn, member.user, member, guildId);
    const known = guildId ? this.#profiles.get(`${guildId}\u0000${userId}`) : undefined;
    if (known) return known;
    const cached = guildId ? this.#d.client.guilds.cache.get(guildId)?.members.cache.get(userId) : undefined;
    const user = cached?.user ?? this.#d.client.users.cache.get(userId);
    if (user) {
      return senderOf(this.#d.cdn, { id: userId, username: user.username, global_name: user.globalName, avatar: user.avatar, bot: user.bot },
        cached ? { nick: cached.nickname, avatar: cached.avatar } : undefined, guildId);
    }
    return { id: actorId(userId), name: userId, isBot: false };
  }

  #roomsIn(guildId: string): RoomRef[] {
    return [...this.#linked].filter((id) => {
      const c = this.#d.client.channels.cache.get(id);
      return c && "guildId" in c && c.guildId === guildId;
    }).map(roomRef);
  }

  #linkedParent(channel: string): string | undefined {
    if (this.#linked.has(channel)) return channel;
    const c = this.#d.client.channels.cache.get(channel);
    const parent = c && "parentId" in c && c.isThread() ? c.parentId : null;
    return parent && this.#linked.has(parent) ? parent : undefined;
  }

  /** The linked room a channel's event belongs to: the channel itself, or the parent of a thread. */
  #where(channel: string | undefined): { room: RoomRef; thread?: ThreadInfo } | undefined {
    if (!channel) return undefined;
    if (this.#linked.has(channel)) return { room: roomRef(channel) };
    const c = this.#d.client.channels.cache.get(channel);
    if (!c || !c.isThread() || !c.parentId || !this.#linked.has(c.parentId)) return undefined;
    return { room: roomRef(c.parentId), thread: { parentId: c.parentId, name: c.name, starterId: c.id } };
  }
}
