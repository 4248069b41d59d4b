/**
 * XEP-0393 Message Styling → the rich-text tree. Its own rules, not Markdown's: blocks first
 * (a line starting with ``` opens a preformatted block that a line of only ``` or the end of the
 * parent closes; lines starting with '>' are a quotation, nested by further '>'), then spans within
 * one line: *strong*, _emphasis_, ~strike~, `preformatted`. An opening directive stands at the
 * start of the line or after whitespace (or just inside another span), and is not followed by
 * whitespace (inside a span, its start is a line's start); the first matching closing directive not preceded by whitespace closes it; a span is
 * never empty and never crosses a line; nothing inside a preformatted span is styled.
 * Consecutive plain lines form one paragraph with line breaks, so unstyled text reads back as typed.
 */
import { MAX_DEPTH, type Block, type Doc, type Inline, type Mark, fromPlain, text, tidy } from "../../core/richtext/tree.ts";

type Directive = "*" | "_" | "~" | "`";
const MARK_OF: Record<Exclude<Directive, "`">, Mark> = { "*": "bold", _: "italic", "~": "strike" };
const DIRECTIVES = new Set(["*", "_", "~", "`"]);
const SPACE = /\s/u;

/** Positions where a directive may close: the character before is not whitespace. */
function closers(line: string): Map<string, number[]> {
  const at = new Map<string, number[]>();
  for (let i = 1; i < line.length; i++) {
    const c = line[i]!;
    if (!DIRECTIVES.has(c) || SPACE.test(line[i - 1]!)) continue;
    let list = at.get(c);
    if (!list) at.set(c, (list = []));
    list.push(i);
  }
  return at;
}

/** The first element of a sorted list that is at least `min`, by binary search. */
function firstFrom(list: number[] | undefined, min: number): number | undefined {
  if (!list) return undefined;
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]! < min) lo = mid + 1;
    else hi = mid;
  }
  return list[lo];
}

/** One line (no newline in it) → spans. */
export function spans(line: string): Inline[] {
  const close = closers(line);
  const out: Inline[] = [];
  let plain = "";
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    const canOpen = DIRECTIVES.has(c) && (i === 0 || SPACE.test(line[i - 1]!))
      && i + 1 < line.length && !SPACE.test(line[i + 1]!);
    const j = canOpen ? firstFrom(close.get(c), i + 2) : undefined;
    if (j === undefined) {
      plain += c;
      i++;
      continue;
    }
    if (plain) out.push(text(plain));
    plain = "";
    const inner = line.slice(i + 1, j);
    out.push(c === "`" ? { t: "code", text: inner } : { t: MARK_OF[c as Exclude<Directive, "`">], children: spans(inner) });
    i = j + 1;
  }
  if (plain) out.push(text(plain));
  return out;
}

function isQuoteLine(l: string): boolean {
  return l.startsWith(">");
}

/** Lines → blocks; `depth` counts quotation levels. */
function blocks(lines: readonly string[], depth: number): Block[] {
  const out: Block[] = [];
  let run: Inline[] | undefined;
  const endRun = (): void => {
    if (run) out.push({ t: "para", children: run });
    run = undefined;
  };
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.startsWith("```")) {
      endRun();
      const lang = line.slice(3).trim();
      const body: string[] = [];
      i++;
      while (i < lines.length && lines[i] !== "```") body.push(lines[i++]!);
      i++; // the closing line, or past the end
      out.push({ t: "codeblock", ...(lang && /^[\w+#.-]{1,32}$/.test(lang) ? { lang } : {}), text: body.join("\n") });
      continue;
    }
    if (isQuoteLine(line) && depth < MAX_DEPTH) {
      endRun();
      const quoted: string[] = [];
      while (i < lines.length && isQuoteLine(lines[i]!)) quoted.push(lines[i++]!.slice(1).replace(/^ /, ""));
      out.push({ t: "quote", children: blocks(quoted, depth + 1) });
      continue;
    }
    if (run) run.push({ t: "br" });
    else run = [];
    run.push(...spans(line));
    i++;
  }
  endRun();
  return out;
}

/** Every character that can start a block (quotation, preformatted) or a span. */
const STYLING_CHARS = /[*_~`>]/;

/** A styled body → document. */
export function docFromStyling(body: string): Doc {
  if (body === "") return [];
  // Most messages style nothing: without a directive character the lines are one paragraph as
  // typed, which fromPlain builds without walking every character.
  if (!STYLING_CHARS.test(body)) return tidy(fromPlain(body));
  return walkStyling(body);
}

/** The whole parse, without docFromStyling's shortcut (exported for the test that they agree). */
export function walkStyling(body: string): Doc {
  return body === "" ? [] : tidy(blocks(body.split("\n"), 0));
}
