/**
 * BridgeEvent + DeliveryContext → the message stanzas a puppet occupant sends to the room.
 * Pure. Ids derive from the outbox row and the event (see stanzaIdFor), so a retry reuses them.
 */
import { hash } from "node:crypto";
import xml from "@xmpp/xml";
import type { Element } from "@xmpp/xml";
import type { DeliveryContext, MappedMessage, PartRole } from "../../core/adapter.ts";
import { attachmentNote, quoteOf } from "../../core/fallbacks.ts";
import type { BridgeEvent, MessageEvent } from "../../core/events.ts";
import { targetOf } from "../../core/events.ts";
import { referenceElements } from "./references.ts";
import { styledBody } from "./rich.ts";
import type { StylingOutContext } from "./styling-out.ts";
import { NS, codePoints } from "./stanza.ts";

export interface OutboundOptions {
  /** The room's bare JID. */
  readonly room: string;
  /** The puppet's full JID (`<puppet>@<component>/<resource>`). */
  readonly from: string;
  /** The puppet's occupant JID (`room/nick`): what people in the room see as the author. */
  readonly occupant: string;
  /** For a reply: the occupant JID of the answered message's author, if known. */
  readonly replyToOccupant?: string;
  /** Attachment url → an http(s) URL XMPP clients can fetch (uploaded or already public). */
  readonly attachmentUrls?: ReadonlyMap<string, string>;
  /** Attachment url → the note that stands in for it (it could not be moved). */
  readonly attachmentNotes?: ReadonlyMap<string, string>;
  /** The nick this room shows for a mentioned person (see styling-out.ts). */
  readonly nickOf?: StylingOutContext["nickOf"];
  /**
   * The puppet's bridged `<composing/>` is still showing in the room: the text carries `<active/>`
   * to end it (XEP-0085). Without one it is left out: every byte of a message is sent to every
   * occupant, and a typing notice never sent needs no end.
   */
  readonly endsTyping?: boolean;
}

export interface OutboundId { id: string; altId: string; postedAs: string; part: number; role: PartRole }

export interface Outbound {
  readonly stanzas: Element[];
  /** One per stanza, first the message's own. A message's parts: 0 its text, i+1 its i-th attachment. */
  readonly ids: OutboundId[];
  /** For an edit that takes a part of its target away (a caption removed): that part. */
  readonly removedPart?: number;
}

/** A delivery that can never be made; the adapter throws it as PermanentDeliveryError. */
export class CannotDeliver extends Error {}

export const RETRACT_FALLBACK = "This person attempted to retract a previous message, but it's unsupported by your client.";
const EXCERPT_MAX = 80;

/**
 * `jn-<deliveryId>-<digest of the event>`: the same on every retry of one delivery (the outbox
 * keeps the event as it was), and still unique if the store ever hands out a delivery id twice
 * (SQLite reuses the rowid of a deleted last row).
 */
export function stanzaIdFor(deliveryId: string, event: BridgeEvent, part = 0): string {
  // crypto.hash: one call, no Hash object (a third of createHash's cost for input this small).
  const digest = hash("sha256", JSON.stringify([event.origin, event.room, event.kind, event.remoteId ?? "", event.sender.id, event.ts, targetOf(event) ?? ""]), "base64url")
    .slice(0, 10);
  const base = `jn-${deliveryId}-${digest}`;
  return part === 0 ? base : `${base}-${part}`;
}

export function outboundStanzas(event: BridgeEvent, ctx: DeliveryContext, o: OutboundOptions): Outbound {
  const id = stanzaIdFor(ctx.deliveryId, event);
  const one = (stanza: Element): Outbound => ({ stanzas: [stanza], ids: [{ id, altId: id, postedAs: o.occupant, part: 0, role: "text" }] });
  switch (event.kind) {
    case "message":
      return messageStanzas(event, ctx, o, id);
    case "edit": {
      const target = requireTarget(ctx.target, "correct");
      const body = styledBody(event.body, o);
      if (target.role === "file") {
        // A file sent without text that got some later (a caption typed into a Discord edit): a
        // correction would replace the file's stanza, URL and OOB with the text, and the file would
        // be gone from XMPP clients. The text goes as the message's text part instead, which later
        // edits correct and a retraction removes with the rest.
        if (body.text.trim() === "") return { stanzas: [], ids: [] };
        return one(groupchat(o, id, xml("body", {}, body.text), body.hint ?? null, ...referenceElements(o.room, body.mentions, 0), typingEnd(o)));
      }
      if (body.text.trim() === "" && (ctx.targets ?? []).some((t) => t.role === "file")) {
        // The caption taken off a file: an empty correction would leave an empty message; the
        // caption's message is retracted, and the next text added goes as a new one (above).
        return { ...retraction(o, id, target), removedPart: target.part ?? 0 };
      }
      if (!target.altId) throw new CannotDeliver(`the corrected message ${target.remoteId} has no id of ours to replace`);
      return one(groupchat(o, id, xml("body", {}, body.text), xml("replace", { id: target.altId, xmlns: NS.correct }), body.hint ?? null,
        ...referenceElements(o.room, body.mentions, 0)));
    }
    case "retract": {
      // Every part of the message goes (its text and each file).
      const out: Outbound = { stanzas: [], ids: [] };
      for (const [i, target] of (ctx.targets ?? [requireTarget(ctx.target, "retract")]).entries()) {
        const r = retraction(o, stanzaIdFor(ctx.deliveryId, event, i), target);
        out.stanzas.push(...r.stanzas);
        out.ids.push({ ...r.ids[0]!, part: i, role: i === 0 ? "text" : "file" });
      }
      return out;
    }
    case "reaction": {
      const target = requireTarget(ctx.target, "react to");
      const set = ctx.reactionSet ?? (event.added ? [event.emoji] : []);
      return one(groupchat(o, id,
        xml("reactions", { id: target.remoteId, xmlns: NS.reactions }, set.map((e) => xml("reaction", {}, e))),
        xml("store", { xmlns: NS.hints })));
    }
    case "typing":
      return { stanzas: [chatState(o, id, event.active ? "composing" : "active")], ids: [] };
    case "presence": case "join": case "leave": case "profile":
      // Presence-borne: the adapter sends these with presence.ts, never as messages.
      return { stanzas: [], ids: [] };
  }
}

/** A XEP-0424 retraction of `target`, sent as `id`. */
function retraction(o: OutboundOptions, id: string, target: MappedMessage): Outbound {
  return {
    stanzas: [groupchat(o, id,
      xml("retract", { id: target.remoteId, xmlns: NS.retract }),
      xml("fallback", { xmlns: NS.fallback, for: NS.retract }),
      xml("body", {}, RETRACT_FALLBACK),
      xml("store", { xmlns: NS.hints }))],
    ids: [{ id, altId: id, postedAs: o.occupant, part: 0, role: "text" }],
  };
}

function messageStanzas(event: MessageEvent, ctx: DeliveryContext, o: OutboundOptions, id: string): Outbound {
  const out: Outbound = { stanzas: [], ids: [] };
  const body = styledBody(event.body, o);
  let text = event.isAction ? `/me ${body.text}` : body.text;
  const extra: Element[] = body.hint ? [body.hint] : [];
  let before = event.isAction ? 4 : 0; // code points in front of the styled body

  if (ctx.replyTo) {
    const fallback = replyFallback(ctx.replyTo);
    text = fallback + text;
    before += codePoints(fallback);
    extra.push(
      xml("reply", { xmlns: NS.reply, id: ctx.replyTo.remoteId, ...(o.replyToOccupant ? { to: o.replyToOccupant } : {}) }),
      xml("fallback", { xmlns: NS.fallback, for: NS.reply }, xml("body", { start: 0, end: codePoints(fallback) })),
    );
  }
  extra.push(...referenceElements(o.room, body.mentions, before));
  if (text !== "" || extra.length > 0) {
    out.stanzas.push(groupchat(o, id, xml("body", {}, text), ...extra, typingEnd(o)));
    out.ids.push({ id, altId: id, postedAs: o.occupant, part: 0, role: "text" });
  }
  for (const [i, a] of event.attachments.entries()) {
    // upload.ts gives every file a URL or a note; one it did not (a caller that moved none) is named.
    const url = o.attachmentUrls?.get(a.url);
    const note = url ? undefined : o.attachmentNotes?.get(a.url) ?? attachmentNote(a, "it was not moved");
    const partId = stanzaIdFor(ctx.deliveryId, event, i + 1);
    out.stanzas.push(url
      ? groupchat(o, partId, xml("body", {}, url), xml("x", { xmlns: NS.oob }, xml("url", {}, url), a.name ? xml("desc", {}, a.name) : null))
      : groupchat(o, partId, xml("body", {}, note!)));
    out.ids.push({ id: partId, altId: partId, postedAs: o.occupant, part: i + 1, role: "file" });
  }
  return out;
}

/** `> Name: excerpt\n`, every line of a multi-line excerpt quoted. */
export function replyFallback(to: MappedMessage): string {
  let excerpt = quoteOf(to).trim();
  if (codePoints(excerpt) > EXCERPT_MAX) excerpt = Array.from(excerpt).slice(0, EXCERPT_MAX - 1).join("") + "…";
  const lines = `${to.authorName}: ${excerpt}`.split("\n");
  return lines.map((l) => `> ${l}`).join("\n") + "\n";
}

function groupchat(o: OutboundOptions, id: string, ...children: (Element | null)[]): Element {
  return xml("message", { type: "groupchat", from: o.from, to: o.room, id },
    ...children, xml("origin-id", { xmlns: NS.sid, id }));
}

const typingEnd = (o: OutboundOptions): Element | null => (o.endsTyping ? xml("active", { xmlns: NS.chatStates }) : null);

function chatState(o: OutboundOptions, id: string, state: string): Element {
  return xml("message", { type: "groupchat", from: o.from, to: o.room, id },
    xml(state, { xmlns: NS.chatStates }), xml("no-store", { xmlns: NS.hints }));
}

function requireTarget(target: MappedMessage | undefined, verb: string): MappedMessage {
  if (!target) throw new CannotDeliver(`cannot ${verb} a message that was never bridged into this room`);
  return target;
}
