/**
 * Discord's markdown dialect → the rich-text tree, parsed with discord-markdown-parser (Discord's
 * own rules on top of simple-markdown: underline __, spoiler ||, headings, -# subtext, masked links,
 * <@id> mentions, <:name:id> emoji, backslash escapes). We map its syntax tree; names for ids come
 * from the caller. Content past MAX_PARSED chars (Discord itself allows 4000) is taken as plain text
 * rather than given to a recursive parser, and so is content with more than MAX_BRACKETS of "[", "]"
 * and "(" outside code: simple-markdown's link rule rescans the rest of the text from each of
 * them, so 4,000 characters of "[a](((…" or "[[[…]]]" took over a second of the event loop.
 */
import { parse } from "discord-markdown-parser";
import { actorId } from "../../core/events.ts";
import { MAX_DEPTH, SAFE_LINK, type Block, type Doc, type Inline, fromPlain, text, tidy } from "../../core/richtext/tree.ts";

export const MAX_PARSED = 8000;
/** More "[", "]" and "(" than this outside code and the content is not parsed (some 60 masked links). */
export const MAX_BRACKETS = 256;
/** Code blocks and inline code, where a "[" starts no link. */
const CODE = /```[\s\S]*?```|`[^`\n]*`/g;

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

/** A list item's line: its indentation, its marker ("-", "*" or "N.") and its text. */
const ITEM = /^( *)([-*]|\d{1,9}\.) (.*)$/;

/**
 * A Discord message's content → document. Lists ("- ", "* ", "1. " lines, nested by indentation)
 * are found line by line outside code blocks, since the parser has no rule for them; each item's
 * text is read like any other content.
 */
export function docFromMarkdown(content: string, ctx: MarkdownInContext): Doc {
  if (content.length > MAX_PARSED) return fromPlain(content);
  const out: Block[] = [];
  let run: string[] = [];
  const flush = (): void => {
    if (run.length > 0) out.push(...parsed(run.join("\n"), ctx));
    run = [];
  };
  const lines = content.split("\n");
  let fenced = false;
  for (let i = 0; i < lines.length;) {
    const line = lines[i]!;
    if (!fenced && line.startsWith(">>> ")) {
      // The rest of the message is one quote: the parser reads it whole.
      run.push(...lines.slice(i));
      break;
    }
    if (!fenced && ITEM.test(line)) {
      flush();
      const items: string[] = [];
      while (i < lines.length && (ITEM.test(lines[i]!) || (/^ +\S/.test(lines[i]!) && items.length > 0))) items.push(lines[i++]!);
      out.push(...list(items, ctx, 0));
      continue;
    }
    if ((line.match(/```/g)?.length ?? 0) % 2 === 1) fenced = !fenced;
    run.push(line);
    i++;
  }
  flush();
  return tidy(out);
}

/**
 * Item lines (the first at the list's indentation) → lists: deeper lines a list in their item,
 * another kind of marker at this level a list of its own after this one.
 */
function list(lines: readonly string[], ctx: MarkdownInContext, depth: number): Block[] {
  if (depth > MAX_DEPTH) return fromPlain(lines.map((l) => l.trim()).join("\n")) as Block[];
  const out: Block[] = [];
  const first = ITEM.exec(lines[0]!)!;
  const base = first[1]!.length;
  let marker = first[2]!;
  let items: Block[][] = [];
  let own: string[] = [];
  let deeper: string[] = [];
  const close = (): void => {
    if (own.length === 0) return;
    items.push([...parsed(own.join("\n"), ctx), ...(deeper.length > 0 ? list(deeper, ctx, depth + 1) : [])]);
    own = [];
    deeper = [];
  };
  const bullet = (mk: string): boolean => mk === "-" || mk === "*";
  for (const line of lines) {
    const m = ITEM.exec(line);
    if (m && m[1]!.length <= base) {
      close();
      if (bullet(m[2]!) !== bullet(marker)) {
        out.push(listBlock(marker, items));
        items = [];
        marker = m[2]!;
      }
      own.push(m[3]!);
    } else if (m || deeper.length > 0) {
      deeper.push(line);
    } else {
      own.push(line.trim());
    }
  }
  close();
  out.push(listBlock(marker, items));
  return out;
}

function listBlock(marker: string, items: Block[][]): Block {
  const ordered = marker !== "-" && marker !== "*";
  const start = ordered ? Number(marker.slice(0, -1)) : undefined;
  return { t: "list", ordered, ...(start !== undefined && start !== 1 ? { start } : {}), items };
}

function parsed(content: string, ctx: MarkdownInContext): Block[] {
  if (bracketsOutsideCode(content) > MAX_BRACKETS) return fromPlain(content) as Block[];
  let ast: Node[];
  try {
    ast = parse(content, "extended") as unknown as Node[];
  } catch {
    return fromPlain(content) as Block[];
  }
  return new Reader(ctx).blocks(ast, 0);
}

function bracketsOutsideCode(content: string): number {
  let n = 0;
  for (const c of content.includes("`") ? content.replace(CODE, "") : content) if (c === "[" || c === "]" || c === "(") n++;
  return n;
}
