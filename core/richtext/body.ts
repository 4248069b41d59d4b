/** A message body from a tree and back: `text` is always the tree's plain rendering. */
import type { Body } from "../events.ts";
import { plainText } from "./plain.ts";
import { type Block, type Doc, fromPlain, isPlain, para, text, tidy } from "./tree.ts";

/** A body for a document; a document with no formatting needs no tree. */
export function richBody(doc: Doc): Body {
  const clean = tidy(doc);
  const plain = plainText(clean);
  return isPlain(clean) ? { text: plain } : { text: plain, rich: clean };
}

/** The document of a body (a plain body is one paragraph of lines). */
export function docOf(body: Body): Doc {
  return body.rich ?? fromPlain(body.text);
}

/** The body with `prefix` put before its first line ("* " for a correction). */
export function prefixBody(body: Body, prefix: string): Body {
  if (!body.rich) return { text: prefix + body.text };
  const [first, ...rest] = body.rich;
  const lead: Block[] = first?.t === "para" ? [para(text(prefix), ...first.children)] : first ? [para(text(prefix)), first] : [para(text(prefix))];
  return richBody([...lead, ...rest]);
}

/** The body with `suffix` after its last line, set apart by a space (stickers shown as text). */
export function suffixBody(body: Body, suffix: string): Body {
  if (!body.rich) return { text: body.text ? `${body.text} ${suffix}` : suffix };
  const rest = body.rich.slice(0, -1);
  const last = body.rich[body.rich.length - 1];
  return richBody(last?.t === "para" ? [...rest, para(...last.children, text(` ${suffix}`))] : [...body.rich, para(text(suffix))]);
}

/** The body after a quoted line (a reply's context on a network without replies). */
export function quoteBefore(body: Body, quoted: string): Body {
  if (!body.rich) return { text: `> ${quoted}\n${body.text}` };
  return richBody([{ t: "quote", children: fromPlain(quoted) }, ...body.rich]);
}
