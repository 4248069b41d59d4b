/**
 * The rich-text tree → Discord markdown. Text is escaped so that what merely looks like markup
 * (or a mention: "@everyone", "<@123>") stays text; formatting becomes Discord's own syntax. A
 * mention is <@id> for a Discord person and a plain "@name" for anyone else; a custom emoji is
 * its :name: (Discord shows only its own guild's emoji by id).
 */
import type { ActorId } from "../../core/events.ts";
import type { Block, Doc, Inline } from "../../core/richtext/tree.ts";

export interface MarkdownOutContext {
  /** Whether a mentioned id is a Discord user here (so <@id> pings them). */
  isDiscordUser(id: ActorId): boolean;
}

const URL_IN_TEXT = /https?:\/\/[^\s<>]+/g;

/**
 * Escapes what Discord would read as markup (and `<@id>`-style mentions), so text is shown as
 * typed: the span markers anywhere, the block markers (> # - "1.") at a line's start. Addresses
 * stay as they are so Discord still links them. "@everyone" needs no escape: allowed_mentions
 * decides who is pinged, and it never lets text ping everyone.
 */
export function escapeMarkdown(s: string): string {
  let out = "";
  let last = 0;
  for (const m of s.matchAll(URL_IN_TEXT)) {
    out += escapeWords(s.slice(last, m.index)) + m[0];
    last = m.index + m[0].length;
  }
  return out + escapeWords(s.slice(last));
}

function escapeWords(s: string): string {
  return s
    .replace(/([\\*_~`|<\[\]])/g, "\\$1")
    .replace(/^(\s*)([>#-])/gm, "$1\\$2")
    .replace(/^(\s*\d+)\./gm, "$1\\.");
}

const WRAP = { bold: "**", italic: "*", underline: "__", strike: "~~", spoiler: "||" } as const;

function codeSpan(s: string): string {
  const clean = s.replace(/\n/g, " ");
  // A backtick inside needs a longer fence (and spaces, so an edge backtick is not part of it).
  return clean.includes("`") ? "`` " + clean.replace(/``+/g, "`\u200b`") + " ``" : "`" + clean + "`";
}

function inline(x: Inline, ctx: MarkdownOutContext): string {
  switch (x.t) {
    case "text": return escapeMarkdown(x.text);
    case "br": return "\n";
    case "code": return x.text === "" ? "" : codeSpan(x.text);
    case "link": {
      const label = inlines(x.children, ctx);
      const safe = /^https?:\/\//i.test(x.href);
      const href = x.href.replace(/[()<> ]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
      if (!safe) return `${label} (${escapeMarkdown(x.href)})`;
      if (label === "" || label === escapeMarkdown(x.href)) return `<${href}>`;
      return `[${label}](<${href}>)`;
    }
    case "mention":
      return ctx.isDiscordUser(x.id) && /^\d{17,20}$/.test(x.id) ? `<@${x.id}>` : escapeMarkdown(x.name.startsWith("@") ? x.name : `@${x.name}`);
    case "emoji": return escapeMarkdown(`:${x.name}:`);
    default: {
      const inner = inlines(x.children, ctx);
      const w = WRAP[x.t];
      return inner === "" ? "" : w + inner + w;
    }
  }
}

function inlines(xs: readonly Inline[], ctx: MarkdownOutContext): string {
  return xs.map((x) => inline(x, ctx)).join("");
}

function prefixLines(s: string, first: string, rest: string): string {
  return s.split("\n").map((l, i) => (i === 0 ? first : rest) + l).join("\n");
}

function block(b: Block, ctx: MarkdownOutContext, quoted: boolean): string {
  switch (b.t) {
    case "para": return inlines(b.children, ctx);
    case "heading": {
      const line = inlines(b.children, ctx).replace(/\n/g, " ");
      // Discord has three heading sizes and none inside a quote.
      return quoted ? `**${line}**` : `${"#".repeat(Math.min(3, Math.max(1, b.level)))} ${line}`;
    }
    case "codeblock": {
      const body = b.text.replace(/```/g, "`\u200b``");
      return "```" + (b.lang ?? "") + "\n" + body + "\n```";
    }
    case "quote": {
      // Discord quotes do not nest: an inner quote is one more "> " level shown as text.
      const inner = markdown(b.children, ctx, true);
      return prefixLines(inner, "> ", "> ");
    }
    case "list":
      return b.items.map((item, i) => {
        const bullet = b.ordered ? `${(b.start ?? 1) + i}. ` : "- ";
        return prefixLines(markdown(item, ctx, quoted), bullet, " ".repeat(bullet.length));
      }).join("\n");
  }
}

export function markdown(doc: Doc, ctx: MarkdownOutContext, quoted = false): string {
  let s = "";
  doc.forEach((b, i) => {
    if (i > 0) s += b.t === "para" && doc[i - 1]!.t === "para" ? "\n\n" : "\n";
    s += block(b, ctx, quoted);
  });
  return s;
}
