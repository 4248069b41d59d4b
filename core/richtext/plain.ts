/**
 * The nearest readable plain text of a document, for a destination (or a fallback body) that
 * shows no formatting. Nothing is dropped: a link keeps its address, a code block its fences,
 * a quote its "> ", a list its bullets, a spoiler its markers, a custom emoji its `:name:`.
 */
import type { Block, Doc, Inline } from "./tree.ts";

export function inlineText(xs: readonly Inline[]): string {
  let s = "";
  for (const x of xs) {
    switch (x.t) {
      case "text": s += x.text; break;
      case "br": s += "\n"; break;
      case "code": s += "`" + x.text + "`"; break;
      case "mention": s += x.name.startsWith("@") ? x.name : `@${x.name}`; break;
      case "emoji": s += `:${x.name}:`; break;
      case "spoiler": s += `||${inlineText(x.children)}||`; break;
      case "link": {
        const label = inlineText(x.children);
        s += label === "" || label === x.href || `mailto:${label}` === x.href ? x.href : `${label} (${x.href})`;
        break;
      }
      default: s += inlineText(x.children);
    }
  }
  return s;
}

function prefixLines(s: string, first: string, rest: string): string {
  return s.split("\n").map((l, i) => (i === 0 ? first : rest) + l).join("\n");
}

function blockText(b: Block): string {
  switch (b.t) {
    case "para":
    case "heading":
      return inlineText(b.children);
    case "codeblock":
      return "```" + (b.lang ?? "") + "\n" + b.text + (b.text.endsWith("\n") ? "" : "\n") + "```";
    case "quote":
      return prefixLines(plainText(b.children), "> ", "> ").replace(/^> $/gm, ">");
    case "list":
      return b.items.map((item, i) => {
        const bullet = b.ordered ? `${(b.start ?? 1) + i}. ` : "- ";
        return prefixLines(plainText(item), bullet, " ".repeat(bullet.length));
      }).join("\n");
  }
}

/** Paragraphs are set apart by a blank line, other blocks by a line break. */
export function plainText(doc: Doc): string {
  let s = "";
  doc.forEach((b, i) => {
    if (i > 0) s += b.t === "para" && doc[i - 1]!.t === "para" ? "\n\n" : "\n";
    s += blockText(b);
  });
  return s;
}
