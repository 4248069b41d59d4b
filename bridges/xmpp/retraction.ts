/**
 * XEP-0424 retraction by the author and XEP-0425 moderation by the room, in both the current
 * (`urn:xmpp:message-retract:1`) and the fastening-based (`:0`) forms that servers still send.
 */
import type { Element } from "@xmpp/xml";
import type { BridgeEvent, RoomRef, Sender } from "../../core/events.ts";
import { actorId, remoteId } from "../../core/events.ts";
import type { InboundContext } from "./inbound.ts";
import { NS, resourceOf, senderOf } from "./stanza.ts";

interface Options {
  readonly room: RoomRef;
  readonly ts: number;
  /** True for a stanza from the room's bare JID (a moderation). */
  readonly fromRoom: boolean;
  readonly ctx: Pick<InboundContext, "postedAsOf" | "occupant">;
  readonly sender?: Sender;
  readonly base?: { readonly remoteId?: string };
}

export function retractionEvent(stanza: Element, o: Options): { event?: BridgeEvent; reason: string } {
  const found: Found | undefined = o.fromRoom ? moderationOf(stanza) : retractionOf(stanza);
  if (!found) return { reason: o.fromRoom ? "message from the room that is not a moderation" : "retraction without a target" };
  const target = remoteId(found.id);

  if (o.fromRoom) {
    if (found.moderatedBy === undefined) return { reason: "retraction from the room without <moderated>" };
    // XEP-0425 makes `by` a SHOULD; without it the moderator is the room.
    const nick = found.moderatedBy ? resourceOf(found.moderatedBy) : undefined;
    const info = nick ? o.ctx.occupant(o.room, nick) : undefined;
    const sender = info ? senderOf(o.room, info)
      : { id: actorId(found.moderatedBy || o.room), name: nick ?? "moderator", isBot: false };
    return {
      reason: "moderation",
      event: {
        origin: "xmpp", room: o.room, sender, ts: o.ts, kind: "retract", target, moderated: true,
        ...(found.reason ? { reason: found.reason } : {}),
      },
    };
  }

  const sender = o.sender!;
  const written = o.ctx.postedAsOf(o.room, found.id);
  if (!written) return { reason: `retraction of ${found.id}, which we never saw` };
  // Only the author may retract; a moderator uses XEP-0425, which comes from the room.
  if (written.bridged || written.postedAs !== sender.id) {
    return { reason: `${sender.id} tried to retract ${found.id}, written by ${written.postedAs ?? "someone else"}` };
  }
  return {
    reason: "retraction",
    event: {
      origin: "xmpp", room: o.room, sender, ts: o.ts, kind: "retract", target,
      ...(o.base?.remoteId ? { remoteId: remoteId(o.base.remoteId) } : {}),
    },
  };
}

interface Found { id: string; moderatedBy?: string; reason?: string }

function retractionOf(stanza: Element): Found | undefined {
  const id = stanza.getChild("retract", NS.retract)?.attrs.id;
  if (id) return { id };
  const applyTo = stanza.getChild("apply-to", NS.fasten);
  if (applyTo?.attrs.id && applyTo.getChild("retract", NS.retract0)) return { id: applyTo.attrs.id };
  return undefined;
}

function moderationOf(stanza: Element): Found | undefined {
  const retract = stanza.getChild("retract", NS.retract);
  if (retract?.attrs.id) {
    const moderated = retract.getChild("moderated", NS.moderate);
    if (!moderated) return { id: retract.attrs.id };
    return { id: retract.attrs.id, moderatedBy: moderated.attrs.by ?? "", ...reasonOf(retract) };
  }
  const applyTo = stanza.getChild("apply-to", NS.fasten);
  const moderated = applyTo?.getChild("moderated", NS.moderate0) ?? applyTo?.getChild("moderate", NS.moderate0);
  if (applyTo?.attrs.id && moderated?.getChild("retract", NS.retract0)) {
    return { id: applyTo.attrs.id, moderatedBy: moderated.attrs.by ?? "", ...reasonOf(moderated) };
  }
  return undefined;
}

function reasonOf(el: Element): { reason?: string } {
  const r = el.getChildText("reason")?.trim();
  return r ? { reason: r } : {};
}
