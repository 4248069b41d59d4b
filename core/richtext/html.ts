/**
 * HTML → the rich-text tree, for the networks that send HTML (Matrix `org.matrix.custom.html`,
 * XMPP XHTML-IM). Parsed with htmlparser2 (the parser sanitize-html runs on, so a bridge that
 * sanitises first sees the same structure) and mapped element by element: only the elements the
 * tree knows mean anything, every other element is its content, script/style/head are dropped with
 * their content, and a link keeps its address only for a safe scheme. Whitespace collapses as a
 * browser would, except inside <pre>. Nesting past MAX_DEPTH is kept as its text.
 */
import { parseDocument } from "htmlparser2";
import { MAX_DEPTH, SAFE_LINK, type Block, type Doc, type Inline, type Mark, text, tidy } from "./tree.ts";

/** The part of a domhandler node this module reads. */
interface Node {
  readonly type: string;
  readonly name?: string;
  readonly data?: string;
  readonly attribs?: Record<string, string>;
  readonly children?: readonly Node[];
}

export interface HtmlReadOptions {
  /** A network's own reading of a link (a Matrix pill is a mention); undefined for an ordinary link. */
  link?(href: string, label: string): Inline | undefined;
}


const DROPPED = new Set(["script", "style", "head", "title", "textarea", "noscript", "mx-reply", "template", "iframe", "object"]);

const MARK_OF: Record<string, Mark> = {
  b: "bold", strong: "bold", i: "italic", em: "italic", u: "underline",
  s: "strike", del: "strike", strike: "strike",
};

const BLOCKS = new Set([
  "p", "div", "blockquote", "pre", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
  "table", "thead", "tbody", "tr", "details", "summary", "caption", "html", "body", "section", "article", "main",
  "header", "footer", "nav", "aside", "figure", "dl", "dt", "dd",
]);

function textOf(n: Node): string {
  if (n.type === "text") return n.data ?? "";
  if (n.type === "tag" && n.name === "br") return "\n";
  if (n.type !== "tag" && n.type !== "root") return "";
  if (DROPPED.has((n.name ?? "").toLowerCase())) return "";
  return (n.children ?? []).map(textOf).join("");
}

class Reader {
  readonly ctx: HtmlReadOptions;
  constructor(ctx: HtmlReadOptions) {
    this.ctx = ctx;
  }

  inlines(nodes: readonly Node[], depth: number): Inline[] {
    const out: Inline[] = [];
    for (const n of nodes) out.push(...this.inline(n, depth));
    return out;
  }

  inline(n: Node, depth: number): Inline[] {
    if (n.type === "text") return [text((n.data ?? "").replace(/[ \t\r\n\f]+/g, " "))];
    if (n.type !== "tag" && n.type !== "script" && n.type !== "style") return [];
    const name = (n.name ?? "").toLowerCase();
    if (DROPPED.has(name)) return [];
    const a = n.attribs ?? {};
    const kids = n.children ?? [];
    if (depth > MAX_DEPTH) return [text(textOf(n).replace(/[ \t\r\n\f]+/g, " "))];
    if (name === "br") return [{ t: "br" }];
    if (name === "code") return [{ t: "code", text: textOf(n) }];
    const mark = MARK_OF[name];
    if (mark) return [{ t: mark, children: this.inlines(kids, depth + 1) }];
    if (name === "span" && "data-mx-spoiler" in a) return [{ t: "spoiler", children: this.inlines(kids, depth + 1) }];
    if (name === "a") {
      const children = this.inlines(kids, depth + 1);
      const href = a.href?.trim();
      if (!href) return children;
      const own = this.ctx.link?.(href, textOf(n).trim());
      if (own) return [own];
      return SAFE_LINK.test(href) ? [{ t: "link", href, children }] : children;
    }
    if (name === "img") {
      const label = (a.alt || a.title || "").trim();
      const bare = label.replace(/^:|:$/g, "");
      if ("data-mx-emoticon" in a || /^:[^:\s]+:$/.test(label)) {
        return [{ t: "emoji", name: bare || "emoji", ...(a.src && /^(mxc|https):/.test(a.src) ? { url: a.src } : {}) }];
      }
      return label ? [text(label)] : [];
    }
    // font, span, sup, sub and anything else the sanitiser let through: its content, in the
    // marks its CSS gives it (XHTML-IM, XEP-0071, styles with `style` rather than <b>/<i>).
    return styleMarks(a.style).reduceRight<Inline[]>((inner, m) => [{ t: m, children: inner }], this.inlines(kids, depth + 1));
  }

  blocks(nodes: readonly Node[], depth: number): Block[] {
    const out: Block[] = [];
    let run: Inline[] = [];
    const flush = (): void => {
      // Whitespace between blocks is layout, not text.
      if (run.some((x) => x.t !== "text" || x.text.trim() !== "")) out.push({ t: "para", children: trimRun(run) });
      run = [];
    };
    for (const n of nodes) {
      if (n.type === "tag" && BLOCKS.has((n.name ?? "").toLowerCase())) {
        flush();
        out.push(...this.block(n, depth));
      } else {
        run.push(...this.inline(n, depth));
      }
    }
    flush();
    return out;
  }

  block(n: Node, depth: number): Block[] {
    const name = (n.name ?? "").toLowerCase();
    const kids = n.children ?? [];
    if (depth > MAX_DEPTH) return [{ t: "para", children: [text(textOf(n).replace(/[ \t\r\n\f]+/g, " ").trim())] }];
    switch (name) {
      case "pre": {
        const code = kids.find((k) => k.type === "tag" && k.name === "code");
        const lang = /(?:^|\s)language-([\w-]+)/.exec(code?.attribs?.class ?? "")?.[1];
        const body = textOf(n).replace(/\n$/, "");
        return [{ t: "codeblock", ...(lang ? { lang } : {}), text: body }];
      }
      case "blockquote":
        return [{ t: "quote", children: this.blocks(kids, depth + 1) }];
      case "ul":
      case "ol": {
        const items = kids
          .filter((k) => k.type === "tag" && k.name === "li")
          .map((li) => this.blocks(li.children ?? [], depth + 1));
        const start = Number(n.attribs?.start);
        return [{
          t: "list", ordered: name === "ol", items,
          ...(name === "ol" && Number.isInteger(start) && start >= 0 && start < 1e9 && start !== 1 ? { start } : {}),
        }];
      }
      case "h1": case "h2": case "h3": case "h4": case "h5": case "h6":
        return [{ t: "heading", level: Number(name[1]), children: trimRun(this.inlines(kids, depth + 1)) }];
      case "hr":
        return [{ t: "para", children: [text("———")] }];
      case "tr":
        return [{ t: "para", children: trimRun(this.cells(kids, depth + 1)) }];
      default:
        // p, div, li, table, thead, tbody, details, summary, caption: their content.
        return this.blocks(kids, depth + 1);
    }
  }

  /** A table row as one line, cells set apart by " | ". */
  cells(kids: readonly Node[], depth: number): Inline[] {
    const out: Inline[] = [];
    for (const k of kids) {
      if (k.type !== "tag" || (k.name !== "td" && k.name !== "th")) continue;
      if (out.length > 0) out.push(text(" | "));
      out.push(...this.inlines(k.children ?? [], depth));
    }
    return out;
  }
}

/** The marks an inline `style` attribute asks for (bold, italic, underline, line-through). */
function styleMarks(style: string | undefined): Mark[] {
  if (!style || style.length > 1000) return [];
  const marks: Mark[] = [];
  for (const decl of style.toLowerCase().split(";")) {
    const [prop, value = ""] = decl.split(":").map((x) => x.trim()) as [string, string?];
    if (prop === "font-weight" && /^(bold|bolder|[6-9]00)$/.test(value)) marks.push("bold");
    else if (prop === "font-style" && /^(italic|oblique)/.test(value)) marks.push("italic");
    else if (prop === "text-decoration" || prop === "text-decoration-line") {
      if (/\bunderline\b/.test(value)) marks.push("underline");
      if (/\bline-through\b/.test(value)) marks.push("strike");
    }
  }
  return [...new Set(marks)];
}

/** Drops the spaces a paragraph starts and ends with, as a browser would not show them. */
function trimRun(xs: Inline[]): Inline[] {
  const out = [...xs];
  const first = out[0];
  if (first?.t === "text") out[0] = text(first.text.replace(/^\s+/, ""));
  const last = out[out.length - 1];
  if (last?.t === "text") out[out.length - 1] = text(last.text.replace(/\s+$/, ""));
  return out;
}

/** HTML → document (empty when nothing readable is in it). */
export function readHtml(html: string, options: HtmlReadOptions = {}): Doc {
  const dom = parseDocument(html, { decodeEntities: true }) as unknown as Node;
  return tidy(new Reader(options).blocks(dom.children ?? [], 0));
}
