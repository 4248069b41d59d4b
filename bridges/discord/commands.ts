/**
 * `!junction …` admin commands (core/admin.ts, core/admin-command.ts) for Discord, taken in two
 * places: the admin channel config names (`admin.discordChannel`), and a DM with the bot. Who asks
 * is the message's author as Discord's gateway dispatches it; a webhook's message (webhook_id)
 * and a bot's are never commands, whatever name they show. The desk decides whether the author
 * is an admin and logs every command and refusal. Answers come from the bot itself (not a
 * webhook), as plain text split to Discord's 2,000 characters a message, pinging nobody.
 */
import type { REST } from "discord.js";
import { Routes } from "discord.js";
import type { Logger } from "pino";
import type { Actor, AdminDesk } from "../../core/admin.ts";
import { parseCommand, reply } from "../../core/admin-command.ts";
import { reasonOf } from "../../core/errors.ts";
import { escapeMarkdown } from "./markdown-out.ts";
import type { RawMessage } from "./types.ts";

/** Discord's limit on a message's content. */
export const MESSAGE_LIMIT = 2000;
/** At most this many messages per answer; the rest is cut with a note saying so. */
export const MOST_MESSAGES = 4;
/** Message ids already answered: a dispatch replayed on a resume must not run a command twice. */
const REMEMBERED = 1000;
/** Default (0) and reply (19): what a person types. System messages are never commands. */
const TYPED = new Set([0, 19]);

export interface DiscordCommandDeps {
  readonly rest: REST;
  readonly desk: AdminDesk;
  /** The bot's user id (its own answers are never commands). */
  readonly botId: () => string | undefined;
  /** `admin.discordChannel` as configured. */
  readonly adminChannel: string | undefined;
  /** Whether this channel is one of a guild's (so not a DM), as the client's cache knows it. */
  readonly isGuildChannel: (channel: string) => boolean;
  readonly log: Logger;
}

export class DiscordCommands {
  readonly #d: DiscordCommandDeps;
  readonly #answered = new Set<string>();

  constructor(d: DiscordCommandDeps) {
    this.#d = d;
  }

  /** A message in a channel that is not linked: perhaps a command. Never throws. */
  take(m: RawMessage): void {
    const where = this.#where(m);
    if (where === undefined) return;
    const command = parseCommand(m.content ?? "");
    if (!command) return;
    this.#remember(m.id);
    const actor: Actor = { network: "discord", id: m.author.id, via: `${where} ${m.channel_id}` };
    reply(this.#d.desk, actor, command)
      .then((text) => (text === undefined ? undefined : this.#say(m.channel_id, text)))
      .catch((err: unknown) => this.#d.log.warn({ room: m.channel_id, message: m.id, err: reasonOf(err) }, "could not answer an admin command"));
  }

  /** "the admin channel" or "a DM" when a person wrote it there; undefined for anything else. */
  #where(m: RawMessage): string | undefined {
    if (m.webhook_id || m.author.bot === true || m.author.id === this.#d.botId() || this.#answered.has(m.id)) return undefined;
    if (m.type !== undefined && !TYPED.has(m.type)) return undefined;
    if (m.channel_id === this.#d.adminChannel) return "the admin channel";
    // Discord dispatches a DM's messages without a guild id; a cached guild channel is never one.
    if (m.guild_id === undefined && !this.#d.isGuildChannel(m.channel_id)) return "a DM";
    return undefined;
  }

  async #say(channel: string, text: string): Promise<void> {
    for (const content of splitAnswer(text)) {
      await this.#d.rest.post(Routes.channelMessages(channel), { body: { content, allowed_mentions: { parse: [] } } });
    }
  }

  #remember(id: string): void {
    if (this.#answered.size >= REMEMBERED) this.#answered.delete(this.#answered.values().next().value!);
    this.#answered.add(id);
  }
}

/**
 * An answer as Discord messages: each line escaped (a link or room name shows as written, never
 * as markup), lines packed into messages of at most `limit` characters (a longer line is cut),
 * and after `most` messages the rest left out with a note that says how much and what to ask.
 */
export function splitAnswer(text: string, limit = MESSAGE_LIMIT, most = MOST_MESSAGES): string[] {
  const lines = text.split("\n").map(escapeMarkdown).flatMap((line) => cut(line, limit));
  const out: string[] = [];
  let next = 0;
  while (next < lines.length) {
    if (out.length === most - 1) {
      const whole = pack(lines, next, limit);
      if (whole.next === lines.length) { out.push(whole.text); break; }
      const note = (left: number) => `… ${left} more ${left === 1 ? "line" : "lines"} left out (Discord takes ${limit} characters a message): ask for one link with !junction status <link>`;
      const part = pack(lines, next, limit - note(lines.length).length - 1);
      out.push(`${part.text}\n${note(lines.length - part.next)}`);
      break;
    }
    const part = pack(lines, next, limit);
    out.push(part.text);
    next = part.next;
  }
  return out;
}

/** As many lines from `start` as fit in `room` characters (at least one, cut to fit). */
function pack(lines: readonly string[], start: number, room: number): { text: string; next: number } {
  let text = cut(lines[start] ?? "", room)[0] ?? "";
  let next = start + 1;
  while (next < lines.length && text.length + 1 + lines[next]!.length <= room) text += `\n${lines[next++]!}`;
  return { text, next };
}

/** A line in pieces of at most `limit` characters, never ending a piece on an escaping backslash. */
function cut(line: string, limit: number): string[] {
  if (line.length <= limit) return [line];
  const out: string[] = [];
  let rest = line;
  while (rest.length > limit) {
    let at = limit;
    if (rest[at - 1] === "\\") at--;
    out.push(rest.slice(0, at));
    rest = rest.slice(at);
  }
  if (rest.length > 0) out.push(rest);
  return out;
}
