/**
 * `org.matrix.custom.html` in both directions: sanitised to the tag and attribute set the spec
 * strongly suggests (client-server API, "m.room.message msgtypes"), and rich-reply fallbacks removed.
 */
import sanitizeHtml from "sanitize-html";

const TAGS = [
  "font", "del", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "p", "a", "ul", "ol", "sup", "sub",
  "li", "b", "i", "u", "strong", "em", "s", "strike", "code", "hr", "br", "div", "table", "thead",
  "tbody", "tr", "th", "td", "caption", "pre", "span", "img", "details", "summary",
];

const COLOR = /^#[0-9a-fA-F]{6}$/;

const OPTIONS: sanitizeHtml.IOptions = {
  allowedTags: TAGS,
  allowedAttributes: {
    font: ["data-mx-bg-color", "data-mx-color", "color"],
    span: ["data-mx-bg-color", "data-mx-color", "data-mx-spoiler", "data-mx-maths"],
    a: ["href", "target"],
    img: ["width", "height", "alt", "title", "src", "data-mx-emoticon"],
    ol: ["start"],
    code: ["class"],
    div: ["data-mx-maths"],
  },
  allowedClasses: { code: [/^language-[\w-]+$/] },
  allowedSchemes: ["https", "http", "ftp", "mailto", "magnet"],
  allowedSchemesByTag: { img: ["mxc"] },
  allowProtocolRelative: false,
  // The content of these is dropped with the tag: a reply fallback is a quote of another message.
  nonTextTags: ["script", "style", "textarea", "option", "noscript", "mx-reply", "title", "head"],
  disallowedTagsMode: "discard",
  nestingLimit: 100,
  // An image that is not in the media repository would be a tracking pixel: it goes entirely.
  exclusiveFilter: (frame) => frame.tag === "img" && !frame.attribs.src,
  transformTags: {
    // Relative links have no meaning in a chat message; sanitize-html keeps them, the spec does not.
    a: (tagName, attribs) => {
      const { href, ...rest } = attribs;
      return { tagName, attribs: href !== undefined && /^[a-z][a-z0-9+.-]*:/i.test(href) ? { ...attribs } : rest };
    },
    img: (tagName, attribs) => {
      const { src, ...rest } = attribs;
      return { tagName, attribs: src?.startsWith("mxc://") ? { ...attribs } : rest };
    },
    span: (tagName, attribs) => ({ tagName, attribs: onlyColors(attribs) }),
    font: (tagName, attribs) => ({ tagName, attribs: onlyColors(attribs) }),
  },
};

function onlyColors(attribs: sanitizeHtml.Attributes): sanitizeHtml.Attributes {
  const out: sanitizeHtml.Attributes = {};
  for (const [k, v] of Object.entries(attribs)) {
    if ((k === "data-mx-color" || k === "data-mx-bg-color" || k === "color") && !COLOR.test(v)) continue;
    out[k] = v;
  }
  return out;
}

/** Hostile or sloppy HTML in, the spec's safe subset out (may be empty). */
export function sanitize(html: string): string {
  return sanitizeHtml(html, OPTIONS).trim();
}

/** Drops a rich-reply fallback's `<mx-reply>…</mx-reply>` from a formatted body. */
export function stripReplyFallbackHtml(html: string): string {
  return html.replace(/^\s*<mx-reply>[\s\S]*?<\/mx-reply>/i, "");
}

/** Drops the leading `> <@x:y> …` quote lines (and the blank line after them) of a reply fallback. */
export function stripReplyFallbackText(body: string): string {
  const lines = body.split("\n");
  if (!lines[0]?.startsWith("> ")) return body;
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith(">")) i++;
  if (i < lines.length && lines[i] === "") i++;
  return lines.slice(i).join("\n");
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}
