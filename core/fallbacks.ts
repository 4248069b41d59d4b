import type { Capabilities, DeliveryContext } from "./adapter.ts";
import type { BridgeEvent, MessageEvent } from "./events.ts";

/**
 * Rewrites an event for a destination that lacks the capability it needs, or returns null when
 * there is nothing sensible to show there. Reading order: what a person on that network sees.
 */
export function adaptForDestination(e: BridgeEvent, caps: Capabilities, ctx: DeliveryContext): BridgeEvent | null {
  switch (e.kind) {
    case "edit":
      if (caps.edits && ctx.target) return e;
      // No edits there (or the original never arrived): a new message marked as a correction.
      return asMessage(e, { text: `* ${e.body.text}`, ...(e.body.html ? { html: `* ${e.body.html}` } : {}) });
    case "reaction":
      if (caps.reactions) return ctx.target ? e : null;
      if (!e.added || !ctx.target) return null;
      return asMessage(e, { text: `reacted ${e.emoji} to “${ctx.target.excerpt}”` });
    case "retract":
      return caps.retractions && ctx.target ? e : null;
    case "message":
      if (e.replyTo === undefined || (caps.replies && ctx.replyTo)) return e;
      if (!ctx.replyTo) return { ...e, replyTo: undefined } as MessageEvent;
      return {
        ...e,
        replyTo: undefined,
        body: { text: `> ${ctx.replyTo.authorName}: ${ctx.replyTo.excerpt}\n${e.body.text}` },
      } as MessageEvent;
    case "typing":
      return caps.typing ? e : null;
    case "presence":
      return caps.presence ? e : null;
    case "join":
    case "leave":
    case "profile":
      return e;
  }
}

function asMessage(e: BridgeEvent, body: MessageEvent["body"]): MessageEvent {
  return {
    kind: "message", origin: e.origin, room: e.room, sender: e.sender, ts: e.ts,
    body, attachments: [], isAction: false, mentions: [],
  };
}
