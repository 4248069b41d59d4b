/**
 * The rich-text tree: the one contract between the networks' formatting. Every adapter has a
 * converter pair (native markup → tree, tree → native markup); they never talk to each other.
 * A document is a list of blocks; blocks hold inlines. Plain JSON, so it travels through the store.
 */
import type { ActorId, Network } from "../events.ts";

export type Mark = "bold" | "italic" | "underline" | "strike" | "spoiler";

export type Inline =
  | { readonly t: "text"; readonly text: string }
  | { readonly t: Mark; readonly children: readonly Inline[] }
  | { readonly t: "code"; readonly text: string }
  | { readonly t: "link"; readonly href: string; readonly children: readonly Inline[] }
  /**
   * `id` is the person's native id on `network` (their own network: a Discord person mentioned from
   * XMPP through their puppet is a Discord id); `name` the label a reader sees.
   */
  | { readonly t: "mention"; readonly id: ActorId; readonly name: string; readonly network?: Network }
  /** A custom emoji (a unicode emoji is just text): `:name:` with the picture where there is one. */
  | { readonly t: "emoji"; readonly name: string; readonly url?: string }
  | { readonly t: "br" };

export type Block =
  | { readonly t: "para"; readonly children: readonly Inline[] }
  | { readonly t: "heading"; readonly level: number; readonly children: readonly Inline[] }
  | { readonly t: "codeblock"; readonly lang?: string; readonly text: string }
  | { readonly t: "quote"; readonly children: readonly Block[] }
  | { readonly t: "list"; readonly ordered: boolean; readonly start?: number; readonly items: readonly (readonly Block[])[] };

export type Doc = readonly Block[];

/**
 * How deep quotes, lists and marks may nest. Deeper structure is kept as its text, so a hostile
 * thousand-level nesting costs no stack and still reads. Every converter applies it while parsing.
 */
export const MAX_DEPTH = 16;

/** The schemes a link in the tree may have; a reader turns any other link into its text. */
export const SAFE_LINK = /^(https?|ftp|mailto|magnet|xmpp):/i;

export const MARKS: readonly Mark[] = ["bold", "italic", "underline", "strike", "spoiler"];

export function isMark(t: string): t is Mark {
  return (MARKS as readonly string[]).includes(t);
}

export const text = (s: string): Inline => ({ t: "text", text: s });
export const para = (...children: Inline[]): Block => ({ t: "para", children });

/** Plain text as a document: one paragraph, each newline a line break. Renders back to `s` exactly. */
export function fromPlain(s: string): Doc {
  if (s === "") return [];
  const children: Inline[] = [];
  s.split("\n").forEach((line, i) => {
    if (i > 0) children.push({ t: "br" });
    if (line !== "") children.push(text(line));
  });
  return [para(...children)];
}

/** Merges neighbouring text nodes and drops empty ones, recursively. Converters call it last. */
export function tidyInlines(xs: readonly Inline[]): Inline[] {
  const out: Inline[] = [];
  for (const x of xs) {
    let n: Inline = x;
    if (n.t === "text") {
      if (n.text === "") continue;
      const last = out[out.length - 1];
      if (last?.t === "text") {
        out[out.length - 1] = text(last.text + n.text);
        continue;
      }
    } else if (n.t === "link") {
      n = { ...n, children: tidyInlines(n.children) };
    } else if (isMark(n.t) && "children" in n) {
      const children = tidyInlines(n.children);
      if (children.length === 0) continue;
      n = { t: n.t, children } as Inline;
    }
    out.push(n);
  }
  return out;
}

export function tidy(doc: readonly Block[]): Block[] {
  const out: Block[] = [];
  for (const b of doc) {
    switch (b.t) {
      case "para":
      case "heading": {
        const children = tidyInlines(b.children);
        if (children.length > 0) out.push({ ...b, children });
        break;
      }
      case "quote": {
        const children = tidy(b.children);
        if (children.length > 0) out.push({ t: "quote", children });
        break;
      }
      case "list": {
        const items = b.items.map((i) => tidy(i));
        if (items.length > 0) out.push({ ...b, items });
        break;
      }
      case "codeblock":
        out.push(b);
        break;
    }
  }
  return out;
}

export type MentionNode = Extract<Inline, { t: "mention" }>;

/** Every person the document mentions, in order, once each. */
export function mentionsIn(doc: Doc): ActorId[] {
  return [...new Set(mentionNodes(doc).map((m) => m.id))];
}

/** Every mention in the document, in order. */
export function mentionNodes(doc: Doc): MentionNode[] {
  return inlinesOf(doc).filter((x): x is MentionNode => x.t === "mention");
}

/** Every inline of a document (marks and their content alike), depth first, in reading order. */
export function inlinesOf(doc: Doc): Inline[] {
  const seen: Inline[] = [];
  const visitInline = (xs: readonly Inline[]): void => {
    for (const x of xs) {
      seen.push(x);
      if ("children" in x) visitInline(x.children);
    }
  };
  const visit = (bs: readonly Block[]): void => {
    for (const b of bs) {
      if (b.t === "para" || b.t === "heading") visitInline(b.children);
      else if (b.t === "quote") visit(b.children);
      else if (b.t === "list") b.items.forEach(visit);
    }
  };
  visit(doc);
  return seen;
}

/**
 * The document with each run of inlines (a paragraph's, a heading's, in quotes and list items
 * too) replaced by `fn` of it, in reading order. Code blocks are left as they are.
 */
export function mapRuns(doc: Doc, fn: (xs: readonly Inline[]) => Inline[]): Block[] {
  return doc.map((b): Block => {
    switch (b.t) {
      case "para": case "heading": return { ...b, children: fn(b.children) };
      case "quote": return { t: "quote", children: mapRuns(b.children, fn) };
      case "list": return { ...b, items: b.items.map((i) => mapRuns(i, fn)) };
      case "codeblock": return b;
    }
  });
}

/** True when the document is nothing but plain text (so a destination needs no markup for it). */
export function isPlain(doc: Doc): boolean {
  return doc.every((b) => b.t === "para" && b.children.every((c) => c.t === "text" || c.t === "br"));
}
