import type { Capabilities, DeliveryContext, MappedMessage } from "./adapter.ts";
import { failureOf } from "./errors.ts";
import { isMediaFailure } from "./media/errors.ts";
import type { Attachment, BridgeEvent, MessageEvent } from "./events.ts";
import { prefixBody, quoteBefore } from "./richtext/body.ts";

/** What a quote of a message shows: its excerpt, or that it was retracted (its text is gone). */
export function quoteOf(m: MappedMessage): string {
  return m.retracted ? "(retracted)" : m.excerpt;
}

/** Tries at fetching one attachment before even a passing failure degrades it to a note. */
export const MEDIA_ATTEMPTS = 3;

/**
 * An attachment that cannot be moved (gone, too large, refused) becomes a line of text in its
 * place, with a link where there is one, rather than holding the room's queue: `link` (a signed
 * URL through Junction's HTTP server, core/public-media.ts) when the file can still be had that
 * way, else its own URL when that is public. `reason` must be safe to show in a room (see
 * publicReasonOf).
 */
export function attachmentNote(a: Attachment, reason: string, link?: string): string {
  const url = link ?? (/^https?:\/\//i.test(a.url) ? a.url : undefined);
  const size = a.size !== undefined ? ` (${formatSize(a.size)})` : "";
  return `📎 ${a.name || "attachment"}${size}${url ? `: ${url}` : ""} (not copied by the bridge: ${reason})`;
}

/** A file's size as people read it: 512 B, 3.4 KiB, 12.0 MiB. */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Why a file could not be moved, in words that say nothing about addresses or names. */
export function publicReasonOf(err: unknown): string {
  return isMediaFailure(err) ? err.publicReason : "it could not be fetched";
}

/**
 * Whether a failed attachment should degrade to a note now: no retry can help, the delivery has
 * no try left, or a fetch has failed MEDIA_ATTEMPTS times (a file never holds a room for long).
 */
export function degradesNow(err: unknown, ctx: Pick<DeliveryContext, "lastAttempt" | "attempt">): boolean {
  const failure = failureOf(err);
  if (failure === "not-ready") return false; // the network is down, not the file: wait for it
  return failure === "permanent" || ctx.lastAttempt === true || (isMediaFailure(err) && ctx.attempt + 1 >= MEDIA_ATTEMPTS);
}

export function adaptForDestination(e: BridgeEvent, caps: Capabilities, ctx: DeliveryContext): BridgeEvent | null {
  switch (e.kind) {
    case "edit":
      if (caps.edits && ctx.target) return e;
      // No edits there (or the original never arrived): a new message marked as a correction.
      return asMessage(e, prefixBody(e.body, "* "));
    case "reaction":
      if (caps.reactions) return ctx.target ? e : null;
      if (!e.added || !ctx.target) return null;
      return asMessage(e, { text: `reacted ${e.emoji} to “${quoteOf(ctx.target)}”` });
    case "retract":
      return caps.retractions && ctx.target ? e : null;
    case "message":
      if (e.replyTo === undefined || (caps.replies && ctx.replyTo)) return e;
      if (!ctx.replyTo) return { ...e, replyTo: undefined } as MessageEvent;
      return {
        ...e,
        replyTo: undefined,
        body: quoteBefore(e.body, `${ctx.replyTo.authorName}: ${quoteOf(ctx.replyTo)}`),
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
