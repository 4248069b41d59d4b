/**
 * The formatting of an XMPP message, both ways. In: XHTML-IM (XEP-0071) when the client sent it
 * and it can stand for the whole body, else XEP-0393 styling unless the sender asked for none
 * (`<unstyled/>`). Out: the tree as styled text, or plain text marked `<unstyled/>` when plain
 * words would otherwise read as styling.
 */
import xml from "@xmpp/xml";
import type { Element } from "@xmpp/xml";
import type { Body } from "../../core/events.ts";
import { richBody } from "../../core/richtext/body.ts";
import { readHtml } from "../../core/richtext/html.ts";
import { isPlain } from "../../core/richtext/tree.ts";
import { MAX_BODY_BYTES, NS } from "./stanza.ts";
import { docFromStyling } from "./styling-in.ts";
import { styled } from "./styling-out.ts";

/** XHTML-IM markup is bigger than its text; past this it is not read (the plain body still is). */
const MAX_XHTML_CHARS = 4 * MAX_BODY_BYTES;

/**
 * The body of a message whose plain text (reply fallback and `/me` already taken off) is `text`.
 * XHTML-IM is used only where it cannot disagree with that: no fallback was cut from the body and
 * the message is not an action.
 */
export function bodyFromStanza(stanza: Element, text: string, plainAsSent: boolean): Body {
  const xhtml = stanza.getChild("html", NS.xhtmlIm)?.getChild("body", NS.xhtml);
  if (xhtml && plainAsSent) {
    const markup = xhtml.toString();
    if (markup.length <= MAX_XHTML_CHARS) {
      const doc = readHtml(markup);
      if (doc.length > 0) return richBody(doc);
    }
  }
  if (stanza.getChild("unstyled", NS.styling)) return { text };
  return richBody(docFromStyling(text));
}

export interface StyledBody {
  readonly text: string;
  /** `<unstyled xmlns="urn:xmpp:styling:0"/>` to add, or undefined. */
  readonly hint?: Element;
}

/** A body as XMPP shows it. */
export function styledBody(body: Body): StyledBody {
  if (body.rich && !isPlain(body.rich)) return { text: styled(body.rich) };
  // Plain words that an XMPP client would style (a "*" pair, a leading ">") stay words.
  const looksStyled = !isPlain(docFromStyling(body.text)) ;
  return looksStyled ? { text: body.text, hint: xml("unstyled", { xmlns: NS.styling }) } : { text: body.text };
}
