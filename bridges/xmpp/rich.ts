/**
 * The formatting of an XMPP message, both ways. In: XHTML-IM (XEP-0071) when the client sent it
 * and it can stand for the whole body, else XEP-0393 styling unless the sender asked for none
 * (`<unstyled/>`). Out: the tree as styled text, or plain text marked `<unstyled/>` when plain
 * words would otherwise read as styling.
 */
import xml from "@xmpp/xml";
import type { Element } from "@xmpp/xml";
import type { Body } from "../../core/events.ts";
import { docOf, richBody } from "../../core/richtext/body.ts";
import { readHtml } from "../../core/richtext/html.ts";
import { inlinesOf, isPlain, para, type Block, type Doc } from "../../core/richtext/tree.ts";
import { MAX_BODY_BYTES, NS } from "./stanza.ts";
import { docFromStyling } from "./styling-in.ts";
import { MARK_CLOSE, MARK_OPEN, type PlacedMention, unmark } from "./references.ts";
import { styled, type StylingOutContext } from "./styling-out.ts";

/** XHTML-IM nested deeper than this is not read (serialising it would recurse that deep). */
const MAX_XHTML_DEPTH = 64;

/** How deep an element nests, counted without recursion (stopping past MAX_XHTML_DEPTH). */
function depthOf(root: Element): number {
  let deepest = 0;
  const stack: [Element, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [el, d] = stack.pop()!;
    deepest = Math.max(deepest, d);
    if (d > MAX_XHTML_DEPTH) return d;
    for (const c of el.children) if (typeof c !== "string") stack.push([c as Element, d + 1]);
  }
  return deepest;
}

/** XHTML-IM markup is bigger than its text; past this it is not read (the plain body still is). */
const MAX_XHTML_CHARS = 4 * MAX_BODY_BYTES;

/**
 * The body of a message whose plain text (reply fallback and `/me` already taken off) is `text`.
 * XHTML-IM is used only where it cannot disagree with that: no fallback was cut from the body and
 * the message is not an action.
 */
export function bodyFromStanza(stanza: Element, text: string, plainAsSent: boolean): Body {
  const body = formattedBody(stanza, text, plainAsSent);
  // XEP-0382: the whole message is a spoiler.
  return stanza.getChild("spoiler", NS.spoiler) ? richBody(spoilered(docOf(body))) : body;
}

function formattedBody(stanza: Element, text: string, plainAsSent: boolean): Body {
  const xhtml = stanza.getChild("html", NS.xhtmlIm)?.getChild("body", NS.xhtml);
  if (xhtml && plainAsSent && depthOf(xhtml) <= MAX_XHTML_DEPTH) {
    const markup = xhtml.toString();
    if (markup.length <= MAX_XHTML_CHARS) {
      const doc = readHtml(markup);
      if (doc.length > 0) return richBody(doc);
    }
  }
  if (stanza.getChild("unstyled", NS.styling)) return { text };
  return richBody(docFromStyling(text));
}

/** Every line of a document hidden: a code block's text becomes a hidden inline code. */
function spoilered(doc: Doc): Block[] {
  return doc.map((b): Block => {
    switch (b.t) {
      case "para": case "heading": return { ...b, children: [{ t: "spoiler", children: b.children }] };
      case "quote": return { t: "quote", children: spoilered(b.children) };
      case "list": return { ...b, items: b.items.map(spoilered) };
      case "codeblock": return para({ t: "spoiler", children: [{ t: "code", text: b.text }] });
    }
  });
}

/** Whether a document hides anything (then the XMPP message is marked a spoiler as a whole). */
export function hasSpoiler(doc: Doc): boolean {
  return inlinesOf(doc).some((x) => x.t === "spoiler");
}

export interface StyledBody {
  readonly text: string;
  /** `<unstyled xmlns="urn:xmpp:styling:0"/>` or `<spoiler xmlns="urn:xmpp:spoiler:0"/>` to add, or undefined. */
  readonly hint?: Element;
  /** The mentions of people in the room: their nick and where it stands in `text`. */
  readonly mentions: readonly PlacedMention[];
}

const MARKS = new RegExp(`[${MARK_OPEN}${MARK_CLOSE}]`, "g");

/** A body as XMPP shows it; `ctx` names the people it mentions as the room shows them. */
export function styledBody(body: Body, ctx: StylingOutContext = {}): StyledBody {
  if (body.rich && !isPlain(body.rich)) {
    // The marks are noncharacters nobody types; one that came with the text is dropped, so only ours place a mention.
    const json = JSON.stringify(body.rich);
    const doc = json.includes(MARK_OPEN) || json.includes(MARK_CLOSE) ? JSON.parse(json.replace(MARKS, "")) as typeof body.rich : body.rich;
    const nicks: string[] = [];
    const marked = styled(doc, { nickOf: (m) => {
      const nick = ctx.nickOf?.(m);
      if (nick) nicks.push(nick);
      return nick;
    } });
    const { text, placed } = unmark(marked);
    return {
      text, mentions: placed.length === nicks.length ? placed.map((p, i) => ({ ...p, nick: nicks[i]! })) : [],
      // Clients with XEP-0382 hide the whole message; others show the ||text|| markers.
      ...(hasSpoiler(doc) ? { hint: xml("spoiler", { xmlns: NS.spoiler }) } : {}),
    };
  }
  // Plain words that an XMPP client would style (a "*" pair, a leading ">") stay words.
  const looksStyled = !isPlain(docFromStyling(body.text)) ;
  return looksStyled ? { text: body.text, hint: xml("unstyled", { xmlns: NS.styling }), mentions: [] } : { text: body.text, mentions: [] };
}
