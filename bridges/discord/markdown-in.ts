/**
 * Discord's markdown dialect → the rich-text tree, parsed with discord-markdown-parser (Discord's
 * own rules on top of simple-markdown: underline __, spoiler ||, headings, -# subtext, masked links,
 * <@id> mentions, <:name:id> emoji, backslash escapes). We map its syntax tree; names for ids come
 * from the caller. Content past MAX_PARSED chars (Discord itself allows 4000) is taken as plain text
 * rather than given to a recursive parser.
 */
import { parse } from "discord-markdown-parser";
import { actorId } from "../../core/events.ts";
import { MAX_DEPTH, SAFE_LINK, type Block, type Doc, type Inline, fromPlain, text, tidy } from "../../core/richtext/tree.ts";

export const MAX_PARSED = 8000;

export interface MarkdownInContext {
  /** The CDN base for custom emoji pictures. */
  readonly cdn: string;
  userName(id: string): string | undefined;
  channelName(id: string): string | undefined;
  roleName(id: string): string | undefined;
}

interface Node {
  readonly type: string;
  readonly content?: string | Node[];
  readonly target?: string;
  readonly lang?: string;
  readonly level?: number;
  readonly id?: string;
  readonly name?: string;
  readonly animated?: boolean;
  readonly timestamp?: string;
}

const MARK: Record<string, "bold" | "italic" | "underline" | "strike" | "spoiler"> = {
  strong: "bold", em: "italic", underline: "underline", strikethrough: "strike", spoiler: "spoiler",
};

const BLOCK_TYPES = new Set(["codeBlock", "blockQuote", "heading", "subtext"]);

function kids(n: Node): Node[] {
  return Array.isArray(n.content) ? n.content : [];
}

function flat(n: Node): string {
  if (typeof n.content === "string") return n.content;
  return kids(n).map(flat).join("");
}

class Reader {
  readonly ctx: MarkdownInContext;
  constructor(ctx: MarkdownInContext) {
    this.ctx = ctx;
  }

  inlines(ns: readonly Node[], depth: number): Inline[] {
    return ns.flatMap((n) => this.inline(n, depth));
  }

  inline(n: Node, depth: number): Inline[] {
    const mark = MARK[n.type];
    if (mark) return depth > MAX_DEPTH ? [text(flat(n))] : [{ t: mark, children: this.inlines(kids(n), depth + 1) }];
    switch (n.type) {
      case "text": return [text(typeof n.content === "string" ? n.content : flat(n))];
      case "br": case "newline": return [{ t: "br" }];
      case "inlineCode": {
        const code = flat(n);
        // `` a`b ``: the spaces that set the backticks apart are not part of the code.
        return [{ t: "code", text: /^ .*\S.* $/s.test(code) ? code.slice(1, -1) : code }];
      }
      case "url": case "autolink": case "link": {
        const label = this.inlines(kids(n), depth + 1);
        if (!n.target) return label;
        return SAFE_LINK.test(n.target) ? [{ t: "link", href: n.target, children: label }] : [...label, text(` (${n.target})`)];
      }
      case "user": {
        const id = n.id ?? "";
        return [{ t: "mention", id: actorId(id), name: this.ctx.userName(id) ?? id, network: "discord" }];
      }
      case "channel": return [text(`#${this.ctx.channelName(n.id ?? "") ?? "channel"}`)];
      case "role": return [text(`@${this.ctx.roleName(n.id ?? "") ?? "role"}`)];
      case "everyone": return [text("@everyone")];
      case "here": return [text("@here")];
      case "emoji": {
        const name = n.name ?? "emoji";
        return [{ t: "emoji", name, ...(n.id && /^\d{1,20}$/.test(n.id) ? { url: `${this.ctx.cdn}/emojis/${n.id}.${n.animated ? "gif" : "png"}` } : {}) }];
      }
      case "twemoji": return [text(n.name ?? "")];
      case "timestamp": {
        const secs = Number(n.timestamp);
        return [text(Number.isFinite(secs) && Math.abs(secs) < 1e11 ? new Date(secs * 1000).toISOString() : flat(n))];
      }
      default:
        // codeBlock and other blocks met inside a line: their text.
        return [text(flat(n))];
    }
  }

  /** Top-level (or quoted) nodes → blocks; a line break right after a block only separates it. */
  blocks(ns: readonly Node[], depth: number): Block[] {
    const out: Block[] = [];
    let run: Inline[] = [];
    let afterBlock = false;
    const flush = (): void => {
      while (run[run.length - 1]?.t === "br") run.pop();
      if (run.length > 0) out.push({ t: "para", children: run });
      run = [];
    };
    for (const n of ns) {
      if (BLOCK_TYPES.has(n.type)) {
        flush();
        out.push(this.block(n, depth));
        afterBlock = true;
        continue;
      }
      if (afterBlock && (n.type === "br" || n.type === "newline") && run.length === 0) {
        afterBlock = false;
        continue;
      }
      afterBlock = false;
      run.push(...this.inline(n, depth));
    }
    flush();
    return out;
  }

  block(n: Node, depth: number): Block {
    switch (n.type) {
      case "codeBlock":
        return { t: "codeblock", ...(n.lang && /^[\w+#.-]{1,32}$/.test(n.lang) ? { lang: n.lang } : {}), text: flat(n).replace(/\n$/, "") };
      case "blockQuote":
        return depth > MAX_DEPTH ? { t: "para", children: [text(flat(n))] } : { t: "quote", children: this.blocks(kids(n), depth + 1) };
      case "heading":
        return { t: "heading", level: Math.min(3, Math.max(1, n.level ?? 1)), children: this.inlines(kids(n), depth + 1) };
      default: // subtext: small print, shown elsewhere as an ordinary line
        return { t: "para", children: this.inlines(kids(n), depth + 1) };
    }
  }
}

/** A Discord message's content → document. */
export function docFromMarkdown(content: string, ctx: MarkdownInContext): Doc {
  if (content.length > MAX_PARSED) return fromPlain(content);
  let ast: Node[];
  try {
    ast = parse(content, "extended") as unknown as Node[];
  } catch {
    return fromPlain(content);
  }
  return tidy(new Reader(ctx).blocks(ast, 0));
}
