/**
 * What a Discord person sees in a channel, for tests to assert on: each message with the name
 * and avatar it shows under (a webhook message's username/avatar_url, else nick, display name,
 * username), its text, files, reactions, reply target and whether it was edited; and promises
 * for the next message(s), edit, deletion or reaction.
 */
import type { Actions, EmojiRef, EmulatorEvents } from "./actions.ts";
import { attachmentUrl } from "./cdn.ts";
import type { Message, Pinged } from "./state.ts";

export interface SeenMessage {
  id: string; channelId: string;
  /** The author's user id, or the webhook's id for a webhook message. */
  authorId: string; webhookId: string | null; bot: boolean;
  /** The name shown above the message. */
  username: string;
  /** A webhook message's avatar_url as given; a person's CDN avatar URL; else null. */
  avatarUrl: string | null;
  content: string; embeds: unknown[];
  attachments: { id: string; filename: string; size: number; contentType: string | null; url: string; width?: number; height?: number }[];
  /** Emoji as text: "👍", or "name:id" for a custom one. */
  reactions: { emoji: string; count: number; users: string[] }[];
  replyTo: string | null; edited: boolean; pinged: Pinged; stickers: string[];
}

export const emojiText = (e: EmojiRef): string => (e.id ? `${e.name}:${e.id}` : e.name);

export class Observer {
  private readonly actions: Actions;
  private readonly cdnBase: string;

  constructor(actions: Actions, cdnBase: string) {
    this.actions = actions;
    this.cdnBase = cdnBase;
  }

  view(m: Message): SeenMessage {
    const { state, signer } = this.actions;
    const user = m.webhookId ? undefined : state.users.get(m.authorId);
    const member = user ? state.memberIn(m.guildId, user.id) : undefined;
    const avatar = member?.avatar
      ? `${this.cdnBase}/guilds/${m.guildId}/users/${m.authorId}/avatars/${member.avatar}.png`
      : user?.avatar ? `${this.cdnBase}/avatars/${user.id}/${user.avatar}.png` : null;
    const guild = m.guildId === null ? undefined : state.guilds.get(m.guildId);
    return {
      id: m.id, channelId: m.channelId, authorId: m.authorId, webhookId: m.webhookId, bot: m.webhookId ? true : user?.bot ?? false,
      username: m.webhookId ? m.username ?? "" : member?.nick ?? user?.globalName ?? user?.username ?? "",
      avatarUrl: m.webhookId ? m.avatarUrl : avatar, content: m.content, embeds: m.embeds,
      attachments: m.attachments.map((a) => ({
        id: a.id, filename: a.filename, size: a.size, contentType: a.contentType, url: attachmentUrl(signer, a.path),
        ...(a.width !== undefined ? { width: a.width, height: a.height } : {}),
      })),
      reactions: m.reactions.map((r) => ({ emoji: emojiText(r.emoji), count: r.users.length, users: [...r.users] })),
      replyTo: m.reference?.messageId ?? null, edited: m.editedTimestamp !== null, pinged: m.pinged,
      stickers: m.stickerIds.map((id) => guild?.stickers.get(id)?.name ?? id),
    };
  }

  /** The channel's messages, oldest first, as a person scrolling it sees them. */
  seen(channelId: string): SeenMessage[] { return this.actions.state.channelMessages(channelId).map((m) => this.view(m)); }

  message(id: string): SeenMessage | undefined {
    for (const list of this.actions.state.messages.values()) {
      const m = list.find((x) => x.id === id);
      if (m) return this.view(m);
    }
    return undefined;
  }

  /** The next `count` messages created in the channel from now on (in order of creation). */
  nextMessages(channelId: string, count: number, timeoutMs = 10_000): Promise<SeenMessage[]> {
    const got: SeenMessage[] = [];
    return this.wait("messageCreate", `${count} message(s) in channel ${channelId}`, timeoutMs, (m) => {
      if (m.channelId === channelId) got.push(this.view(m));
      return got.length >= count ? got : undefined;
    });
  }

  async nextMessage(channelId: string, timeoutMs = 10_000): Promise<SeenMessage> {
    return (await this.nextMessages(channelId, 1, timeoutMs))[0]!;
  }

  /** The next edit (or link preview) of a message; `messageId` narrows it to one message. */
  nextUpdate(channelId: string, messageId?: string, timeoutMs = 10_000): Promise<SeenMessage> {
    return this.wait("messageUpdate", `an update in channel ${channelId}`, timeoutMs,
      (m) => (m.channelId === channelId && (!messageId || m.id === messageId) ? this.view(m) : undefined));
  }

  nextDelete(channelId: string, messageId?: string, timeoutMs = 10_000): Promise<SeenMessage> {
    return this.wait("messageDelete", `a deletion in channel ${channelId}`, timeoutMs,
      (m) => (m.channelId === channelId && (!messageId || m.id === messageId) ? this.view(m) : undefined));
  }

  nextReaction(kind: "add" | "remove", channelId: string, timeoutMs = 10_000): Promise<{ message: SeenMessage; userId: string; emoji: string }> {
    return this.wait(kind === "add" ? "reactionAdd" : "reactionRemove", `a reaction ${kind} in channel ${channelId}`, timeoutMs,
      (m, userId, emoji) => (m.channelId === channelId ? { message: this.view(m), userId, emoji: emojiText(emoji) } : undefined));
  }

  /** The next typing notification in the channel (the bot's POST /typing or a person's); resolves with the user id. */
  nextTyping(channelId: string, timeoutMs = 10_000): Promise<string> {
    return this.wait("typing", `typing in channel ${channelId}`, timeoutMs, (ch, userId) => (ch === channelId ? userId : undefined));
  }

  private wait<E extends keyof EmulatorEvents, T>(event: E, what: string, timeoutMs: number, pick: (...args: EmulatorEvents[E]) => T | undefined): Promise<T> {
    const events = this.actions.events;
    return new Promise<T>((resolve, reject) => {
      const listener = (...args: EmulatorEvents[E]): void => {
        const v = pick(...args);
        if (v === undefined) return;
        clearTimeout(timer);
        events.off(event, listener as never);
        resolve(v);
      };
      const timer = setTimeout(() => { events.off(event, listener as never); reject(new Error(`emulator: timed out waiting for ${what}`)); }, timeoutMs);
      events.on(event, listener as never);
    });
  }
}
