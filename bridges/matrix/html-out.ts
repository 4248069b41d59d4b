/**
 * The rich-text tree → `org.matrix.custom.html`. Every string is escaped here, links keep only
 * the schemes the spec allows, images only mxc (custom emoji as inline `data-mx-emoticon`), and
 * the result still goes through the same sanitiser as inbound HTML, so nothing we emit can carry
 * script, handlers or foreign images whatever the tree holds.
 */
import type { ActorId, Network } from "../../core/events.ts";
import { inlineText } from "../../core/richtext/plain.ts";
import type { Block, Doc, Inline } from "../../core/richtext/tree.ts";
import { escapeHtml, sanitize } from "./html.ts";
import { pillHref } from "./pills.ts";

export interface HtmlOutContext {
  /** The Matrix user a mentioned person is here (a Matrix user, or the ghost of a remote one). */
  mxidOf(id: ActorId, network?: Network): string | undefined;
}

const SAFE_LINK = /^(https?|ftp|mailto|magnet):/i;

const TAG_OF = { bold: "strong", italic: "em", underline: "u", strike: "del" } as const;

function inline(x: Inline, ctx: HtmlOutContext): string {
  switch (x.t) {
    case "text": return escapeHtml(x.text);
    case "br": return "<br>";
    case "code": return `<code>${escapeHtml(x.text)}</code>`;
    case "spoiler": return `<span data-mx-spoiler>${inlines(x.children, ctx)}</span>`;
    case "link":
      if (!SAFE_LINK.test(x.href)) return escapeHtml(inlineText([x]));
      return `<a href="${escapeHtml(x.href)}">${x.children.length > 0 ? inlines(x.children, ctx) : escapeHtml(x.href)}</a>`;
    case "mention": {
      const mxid = ctx.mxidOf(x.id, x.network);
      const label = escapeHtml(inlineText([x]).replace(/^@/, ""));
      return mxid ? `<a href="${escapeHtml(pillHref(mxid))}">${label}</a>` : escapeHtml(inlineText([x]));
    }
    case "emoji":
      return x.url?.startsWith("mxc://")
        ? `<img data-mx-emoticon src="${escapeHtml(x.url)}" alt=":${escapeHtml(x.name)}:" title=":${escapeHtml(x.name)}:" height="32">`
        : escapeHtml(`:${x.name}:`);
    default: {
      const tag = TAG_OF[x.t];
      return `<${tag}>${inlines(x.children, ctx)}</${tag}>`;
    }
  }
}

function inlines(xs: readonly Inline[], ctx: HtmlOutContext): string {
  return xs.map((x) => inline(x, ctx)).join("");
}

function block(b: Block, ctx: HtmlOutContext, alone: boolean): string {
  switch (b.t) {
    case "para": return alone ? inlines(b.children, ctx) : `<p>${inlines(b.children, ctx)}</p>`;
    case "heading": {
      const level = Math.min(6, Math.max(1, Math.trunc(b.level)));
      return `<h${level}>${inlines(b.children, ctx)}</h${level}>`;
    }
    case "codeblock": {
      const cls = b.lang && /^[\w-]+$/.test(b.lang) ? ` class="language-${b.lang}"` : "";
      return `<pre><code${cls}>${escapeHtml(b.text)}\n</code></pre>`;
    }
    case "quote": return `<blockquote>${blocks(b.children, ctx)}</blockquote>`;
    case "list": {
      const tag = b.ordered ? "ol" : "ul";
      const start = b.ordered && b.start !== undefined && b.start !== 1 ? ` start="${Math.trunc(b.start)}"` : "";
      return `<${tag}${start}>${b.items.map((i) => `<li>${blocks(i, ctx)}</li>`).join("")}</${tag}>`;
    }
  }
}

function blocks(doc: Doc, ctx: HtmlOutContext): string {
  const alone = doc.length === 1;
  return doc.map((b) => block(b, ctx, alone)).join("");
}

export function htmlOf(doc: Doc, ctx: HtmlOutContext): string {
  return sanitize(blocks(doc, ctx));
}
