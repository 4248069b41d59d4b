/**
 * Pure converters from neutral events to Discord webhook payloads: message text split into
 * parts of at most 2,000 characters, allowed_mentions, the reply quote line, reaction emoji.
 */
import type { MappedMessage } from "../../core/adapter.ts";
import type { Body, MessageEvent } from "../../core/events.ts";
import { formatSize } from "../../core/fallbacks.ts";
import { docOf } from "../../core/richtext/body.ts";
import { isSnowflake } from "./ids.ts";
import { escapeMarkdown, markdown, type MarkdownOutContext } from "./markdown-out.ts";

export const MAX_CONTENT = 2000;
/** Room kept in each part for closing and reopening a code block across a split. */
const FENCE_RESERVE = 24;

export interface AllowedMentions {
  parse: ("users" | "roles" | "everyone")[];
  users: string[];
  roles: string[];
  replied_user: boolean;
}

/**
 * `allowed_mentions` for every send: only the Discord people the core mapped as mentions may be
 * pinged; @everyone, @here and role mentions typed on another network never ping unless the
 * channel is configured to allow it (`discord.everyone`).
 */
export function allowedMentions(mentions: readonly string[], everyone = false): AllowedMentions {
  const users = [...new Set(mentions.filter(isSnowflake))].slice(0, 100);
  return { parse: everyone ? ["everyone"] : [], users, roles: [], replied_user: false };
}

/**
 * Puts a native mention (`<@id>`) for each mapped Discord person into the text: in place of the
 * first `@name` or `name` it finds, else in front. Without it allowed_mentions has nothing to ping.
 */
export function withMentions(text: string, mentions: readonly { id: string; names: readonly string[] }[]): string {
  let out = text;
  for (const m of mentions) {
    if (!isSnowflake(m.id) || out.includes(`<@${m.id}>`) || out.includes(`<@!${m.id}>`)) continue;
    let done = false;
    for (const name of m.names.filter((n) => n.trim() !== "")) {
      const re = new RegExp(`(^|[^\\p{L}\\p{N}_])@?${escapeRe(name)}(?![\\p{L}\\p{N}_])`, "iu");
      if (re.test(out)) {
        out = out.replace(re, (_all, lead: string) => `${lead}<@${m.id}>`);
        done = true;
        break;
      }
    }
    if (!done) out = `<@${m.id}> ${out}`;
  }
  return out;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** One short line quoting the message answered: author, the start of its text, a jump link. */
export function replyLine(target: MappedMessage, link: string | undefined): string {
  const flat = target.excerpt.replace(/\s+/g, " ").trim();
  const chars = [...flat];
  const start = chars.length > 80 ? `${chars.slice(0, 79).join("")}…` : flat;
  // The excerpt is someone's text: it must not open a link, a mention or a code block of its own
  // (markdown-out's one escape; allowed_mentions keeps "@everyone" in it from pinging).
  const safe = escapeMarkdown(start);
  const who = escapeMarkdown(target.authorName);
  return `> **${who}**: ${safe || "…"}${link ? ` [↩](<${link}>)` : ""}`;
}


/** Discord ids mentioned in a tree are Discord people; others are shown as their names. */
const discordPeople: MarkdownOutContext = { isDiscordUser: (id) => isSnowflake(id) };

/** The text of a message as Discord shows it: the reply line, an action in italics, the body. */
export function messageText(e: MessageEvent, reply: string | undefined): string {
  const md = markdown(docOf(e.body), discordPeople);
  const body = e.isAction ? `_${md.trim()}_` : md;
  return reply ? `${reply}\n${body}` : body;
}

/** An edit's new text. */
export function editText(body: Body): string {
  return markdown(docOf(body), discordPeople);
}

/**
 * Splits text into parts Discord takes (at most `limit` characters each), at a paragraph, a line
 * or a space rather than in a word, never inside a line of a quote without continuing the quote,
 * and closing a code block at the end of a part and reopening it (same language) in the next.
 */
export function splitContent(text: string, limit = MAX_CONTENT): string[] {
  const parts: string[] = [];
  let rest = text;
  let reopen = ""; // "```lang\n" when the previous part ended inside a code block
  while (rest.length > 0) {
    const room = limit - reopen.length;
    if (rest.length <= room) {
      parts.push(reopen + rest);
      break;
    }
    const window = rest.slice(0, room - FENCE_RESERVE);
    let cut = bestCut(window);
    let head = rest.slice(0, cut);
    let next = rest.slice(cut);
    // A quote line cut in its middle goes on as a quote.
    const lastLine = head.slice(head.lastIndexOf("\n") + 1);
    if (/^>\s/.test(lastLine) && !next.startsWith("\n")) next = `> ${next.replace(/^ +/, "")}`;
    next = next.replace(/^\n+/, "");
    const fence = openFence(reopen + head);
    let part = reopen + head.replace(/\s+$/, "");
    if (fence !== undefined) {
      part += "\n```";
      reopen = `\`\`\`${fence}\n`;
    } else {
      reopen = "";
    }
    if (part.trim() === "" || part.trim() === "```") {
      // Nothing sensible to cut at: a hard cut is all that is left.
      cut = room - FENCE_RESERVE;
      head = rest.slice(0, cut);
      next = rest.slice(cut);
      part = head;
      reopen = "";
    }
    parts.push(part);
    rest = next;
  }
  return parts.filter((p) => p.trim() !== "");
}

function bestCut(window: string): number {
  const min = Math.floor(window.length / 2);
  for (const sep of ["\n```", "\n\n", "\n", " "]) {
    const at = window.lastIndexOf(sep);
    if (at >= min) return sep === "\n```" ? at + 1 : at + (sep === " " ? 1 : 0);
  }
  // No boundary in the second half: cut before a surrogate pair is split, at least.
  let at = window.length;
  const code = window.charCodeAt(at - 1);
  if (code >= 0xd800 && code <= 0xdbff) at -= 1;
  return at;
}

/** The language of the code block left open at the end of `text`, or undefined when none is. */
function openFence(text: string): string | undefined {
  let open: string | undefined;
  for (const m of text.matchAll(/```([A-Za-z0-9_+-]*)/g)) open = open === undefined ? m[1] ?? "" : undefined;
  return open;
}

/** A reaction Discord can show (a unicode emoji the bot adds), or the text it becomes. */
export function reactionRoute(emoji: string, custom: { name: string } | undefined): { emoji: string } | { text: string } {
  if (custom || /^:[^:\s]+:$/.test(emoji) || !/\p{Extended_Pictographic}|\p{Regional_Indicator}|[#*0-9]\ufe0f?\u20e3/u.test(emoji)) {
    return { text: custom ? `:${custom.name.replace(/^:|:$/g, "")}:` : emoji };
  }
  return { emoji };
}

/**
 * A file Discord will not take inline, as text: its name and size, the link if there is one, and
 * why it is a link (`reason`, safe to show) when it is not simply one.
 */
export function fileLine(name: string, size: number | undefined, url: string | undefined, reason?: string): string {
  const label = `${escapeMarkdown(name)}${size !== undefined ? ` (${formatSize(size)})` : ""}`;
  const why = reason ? ` (${escapeMarkdown(reason)})` : "";
  return url ? `📎 [${label}](<${url}>)${why}` : `📎 ${label} (${reason ? escapeMarkdown(reason) : "too large to bridge"})`;
}


