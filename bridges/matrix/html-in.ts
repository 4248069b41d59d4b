/**
 * `org.matrix.custom.html` → the rich-text tree: cut down to the spec's safe subset first
 * (html.ts, sanitize-html), then read by core's HTML reader, with pills read as mentions.
 */
import type { ActorId, Network } from "../../core/events.ts";
import { readHtml } from "../../core/richtext/html.ts";
import type { Doc } from "../../core/richtext/tree.ts";
import { sanitize } from "./html.ts";
import { mxidOfLink } from "./pills.ts";

export interface HtmlInContext {
  /** The person an mxid in a pill stands for (a ghost's remote actor, or the Matrix user). */
  mentioned(mxid: string): ActorId;
  /** The network of the person an mxid stands for (a ghost's network, else Matrix). */
  networkOf?(mxid: string): Network;
}

/** Sanitised formatted body → document (empty when nothing readable is left). */
export function docFromHtml(html: string, ctx: HtmlInContext): Doc {
  return readHtml(sanitize(html), {
    link: (href, label) => {
      const mxid = mxidOfLink(href);
      return mxid ? { t: "mention", id: ctx.mentioned(mxid), name: label || mxid, network: ctx.networkOf?.(mxid) ?? "matrix" } : undefined;
    },
  });
}
