/**
 * The rich-text tree → an XEP-0393 styled body. Strong, emphasis, strike and code become their
 * directives where the XEP's rules let a reader see them (a span starts at a word's start, has no
 * whitespace at its edges, holds no line break and not its own directive); where they do not, the
 * words go without the directive rather than show stray asterisks. What the XEP has no style for
 * takes its plain form: a mention is the name, underline is its text, a spoiler ||text||, a link "label (address)", a list
 * its bullets, a heading a strong line. Quotes and code blocks are the XEP's own blocks.
 */
import { inlineText } from "../../core/richtext/plain.ts";
import type { Block, Doc, Inline, MentionNode } from "../../core/richtext/tree.ts";
import { MARK_CLOSE, MARK_OPEN } from "./references.ts";

export interface StylingOutContext {
  /**
   * The nick the room shows for a mentioned person (their puppet's, or the native occupant's);
   * undefined for someone who is not in the room. A mention with a nick is written between
   * MARK_OPEN and MARK_CLOSE, for the caller to find (references.ts unmark).
   */
  nickOf?(m: MentionNode): string | undefined;
}

const DIRECTIVE = { bold: "*", italic: "_", strike: "~" } as const;

/** Whether `inner` wrapped in `d` right after `before` parses back as one span. */
function styleable(before: string, inner: string, d: string): boolean {
  return inner !== ""
    && (before === "" || /\s$/u.test(before))
    && !/^\s|\s$/u.test(inner)
    && !inner.includes("\n")
    && !inner.includes(d);
}

function inlines(xs: readonly Inline[], before: string, ctx: StylingOutContext): string {
  let s = "";
  for (const x of xs) {
    const prior = before + s;
    switch (x.t) {
      case "bold":
      case "italic":
      case "strike": {
        const d = DIRECTIVE[x.t];
        const inner = inlines(x.children, "", ctx);
        s += styleable(prior, inner, d) ? d + inner + d : inner;
        break;
      }
      case "code":
        s += styleable(prior, x.text, "`") ? "`" + x.text + "`" : x.text;
        break;
      case "underline":
        s += inlines(x.children, prior, ctx);
        break;
      case "spoiler":
        s += "||" + inlines(x.children, prior + "||", ctx) + "||";
        break;
      case "link": {
        const label = inlines(x.children, prior, ctx);
        s += label === "" || label === x.href || `mailto:${label}` === x.href ? x.href : `${label} (${x.href})`;
        break;
      }
      case "mention": {
        // XMPP clients highlight their own nick wherever it appears: the nick the room shows
        // (marked for its reference), else the name, without an "@".
        const nick = ctx.nickOf?.(x);
        s += nick ? MARK_OPEN + nick + MARK_CLOSE : x.name.replace(/^@/, "");
        break;
      }
      default:
        s += inlineText([x]);
    }
  }
  return s;
}

function prefixLines(s: string, first: string, rest: string): string {
  return s.split("\n").map((l, i) => (i === 0 ? first : rest) + l).join("\n");
}

function block(b: Block, ctx: StylingOutContext): string {
  switch (b.t) {
    case "para":
      return inlines(b.children, "", ctx);
    case "heading": {
      const line = inlines(b.children, "", ctx);
      return styleable("", line, "*") ? `*${line}*` : line;
    }
    case "codeblock": {
      // A line of only ``` inside would end the block early: it gets a space so it stays code.
      const body = b.text.split("\n").map((l) => (l === "```" ? "``` " : l)).join("\n");
      return "```" + (b.lang ?? "") + "\n" + body + "\n```";
    }
    case "quote":
      return prefixLines(styled(b.children, ctx), "> ", "> ").replace(/^> $/gm, ">");
    case "list":
      return b.items.map((item, i) => {
        const bullet = b.ordered ? `${(b.start ?? 1) + i}. ` : "- ";
        return prefixLines(styled(item, ctx), bullet, " ".repeat(bullet.length));
      }).join("\n");
  }
}

/** Paragraphs set apart by a blank line, other blocks by a line break, as in the plain rendering. */
export function styled(doc: Doc, ctx: StylingOutContext = {}): string {
  let s = "";
  doc.forEach((b, i) => {
    if (i > 0) s += b.t === "para" && doc[i - 1]!.t === "para" ? "\n\n" : "\n";
    s += block(b, ctx);
  });
  return s;
}
