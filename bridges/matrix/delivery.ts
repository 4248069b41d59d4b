/**
 * Outbound: one neutral event into one Matrix room, spoken by the sender's ghost. Every event is
 * sent with PUT and a transaction id stable across retries, so a retry after a crash finds the
 * event the homeserver already made instead of making a second one.
 */
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { MatrixError } from "matrix-bot-sdk";
import {
  PermanentDeliveryError, type DeliveredPart, type DeliveryContext, type MappedMessage, type Media, type PartRole, type RemoteIds, type UploadDirectory,
} from "../../core/adapter.ts";
import { assertNever, remoteId, type Attachment, type Body, type BridgeEvent, type EditEvent, type MessageEvent, type Network, type RemoteMessageId, type RoomRef } from "../../core/events.ts";
import { DeliveryError } from "../../core/errors.ts";
import { degradesNow, publicReasonOf } from "../../core/fallbacks.ts";
import { errcodeOf, type Homeserver } from "./client.ts";
import { presenceToMatrix } from "./ephemeral.ts";
import type { Ghosts } from "./ghosts.ts";
import { botUserId, ghostUserId, inOurNamespace, type GhostNaming } from "./ids.ts";
import { isMxid } from "./pills.ts";
import { EmojiBudget, withEmojiPictures } from "./emoji.ts";
import { upload } from "./media.ts";
import {
  captionEditContent, editContent, mediaContent, messageContent, reactionContent, redactionContent, typingContent, unavailableContent, withCaption,
  type Content, type MxidOf,
} from "./outbound.ts";

const enc = encodeURIComponent;

type PublicMediaOf = (origin: Network, url: string, name?: string) => string | undefined;

/**
 * The Matrix transaction id of a delivery: the same on every retry (so the homeserver answers a
 * repeat with the event it already made), different for every event. The outbox row id alone is
 * not enough: SQLite hands a deleted row's id to the next row, and Synapse would then answer a new
 * message with an old event. The event's own identity (as stored in the outbox) goes in too.
 */
export function txnIdFor(event: BridgeEvent, ctx: Pick<DeliveryContext, "deliveryId">): string {
  const identity = JSON.stringify([event.kind, event.origin, event.room, event.sender.id, event.remoteId ?? null, event.ts]);
  return `junction-${ctx.deliveryId}-${createHash("sha256").update(identity).digest("base64url").slice(0, 16)}`;
}

export class Delivery {
  readonly #hs: Homeserver;
  readonly #ghosts: Ghosts;
  readonly #naming: GhostNaming;
  readonly #bot: string;
  readonly #log: Logger;
  readonly #publicMedia: PublicMediaOf;
  readonly #uploads: UploadDirectory;
  readonly #emojiBudget = new EmojiBudget();

  /** `publicMedia`: a link through Junction's HTTP server for a file the homeserver will not take. */
  constructor(hs: Homeserver, ghosts: Ghosts, naming: GhostNaming, uploads: UploadDirectory, log: Logger, publicMedia: PublicMediaOf = () => undefined) {
    this.#publicMedia = publicMedia;
    this.#uploads = uploads;
    this.#hs = hs;
    this.#ghosts = ghosts;
    this.#naming = naming;
    this.#bot = botUserId(naming);
    this.#log = log;
  }

  /** Sends, and turns what no retry can fix into PermanentDeliveryError (see #classify). */
  async send(room: RoomRef, event: BridgeEvent, ctx: DeliveryContext): Promise<RemoteIds> {
    try {
      return await this.#send(room, event, ctx);
    } catch (err) {
      throw this.#classify(err, room);
    }
  }

  /** The body with its custom emoji as pictures on the homeserver (emoji.ts). */
  #emoji(event: MessageEvent | EditEvent, as: string, ctx: DeliveryContext): Promise<Body> {
    return withEmojiPictures(event.body, event.origin, {
      uploads: this.#uploads, budget: this.#emojiBudget, log: this.#log, fetch: (url) => ctx.fetchMedia(url),
      upload: async (media) => (await upload(this.#hs, media, as)).mxc,
    });
  }

  /** A mention's person here: a Matrix user as such, a person of the origin network as their ghost. */
  #mxidOf(origin: Network): MxidOf {
    return (id, network) => {
      if (network === "matrix" || (network === undefined && isMxid(id))) return isMxid(id) ? id : undefined;
      const of = network ?? origin;
      return of === "matrix" ? undefined : ghostUserId(this.#naming, of, id);
    };
  }

  async #send(room: RoomRef, event: BridgeEvent, ctx: DeliveryContext): Promise<RemoteIds> {
    const ghosts = this.#ghosts;
    const ghost = () => ghosts.ensure(room, event.origin, event.sender, ctx.fetchMedia);
    const txn = txnIdFor(event, ctx);
    switch (event.kind) {
      case "message": {
        if (event.bridgeNotice) {
          // Junction's own notice: the bridge bot says it, not a ghost of the origin's bot.
          const content = messageContent({ ...event, isNotice: true, isAction: false, mentions: [] });
          if (!content) throw new PermanentDeliveryError("empty bridge notice");
          return [{ id: await this.#sendEvent(this.#bot, room, "m.room.message", content, txn), postedAs: this.#bot }];
        }
        const as = await ghost();
        // Part 0 is the text, part i+1 the i-th attachment: the same on every retry, so a part
        // that landed before (ctx.delivered) is never sent again.
        const done = new Map((ctx.delivered ?? []).map((p) => [p.part, p]));
        const ids: DeliveredPart[] = [];
        const land = async (part: number, role: PartRole, send: () => Promise<RemoteMessageId>) => {
          const had = done.get(part);
          if (had) return void ids.push(had);
          const p: DeliveredPart = { id: await send(), postedAs: as, part, role };
          ctx.partDelivered?.(p);
          ids.push(p);
        };
        const text = messageContent({ ...event, body: await this.#emoji(event, as, ctx) }, ctx.replyTo, this.#mxidOf(event.origin));
        // Text with files is one captioned media event (the first file's), as Matrix clients post
        // it; only a delivery whose text part landed before (an older Junction) keeps them apart.
        const caption = text && event.attachments.length > 0 && !done.has(0) ? text : undefined;
        if (text && !caption) await land(0, "text", () => this.#sendEvent(as, room, "m.room.message", text, txn));
        for (const [i, att] of event.attachments.entries()) {
          const first = i === 0 && (!text || caption !== undefined);
          await land(i + 1, "file", async () => {
            const file = await this.#attachment(as, room, event.origin, att, first ? ctx.replyTo : undefined, ctx);
            return this.#sendEvent(as, room, "m.room.message", i === 0 && caption ? withCaption(file, caption) : file, first ? txn : `${txn}-${i + 1}`);
          });
        }
        if (ids.length === 0) throw new PermanentDeliveryError("empty message: no text and no attachments");
        return ids;
      }
      case "edit": {
        if (!ctx.target) throw new PermanentDeliveryError("the edited message was never bridged to this room");
        const as = await ghost();
        const emojied = { ...event, body: await this.#emoji(event, as, ctx) };
        const mxidOf = this.#mxidOf(event.origin);
        // A message whose text went as the caption of its file: the edit replaces the whole media event.
        const content = ctx.target.role === "file"
          ? captionEditContent(emojied, ctx.target, await this.#content(as, room, ctx.target.remoteId), mxidOf)
          : editContent(emojied, ctx.target, mxidOf);
        return [{ id: await this.#sendEvent(as, room, "m.room.message", content, txn), postedAs: as }];
      }
      case "retract": {
        if (!ctx.target) throw new PermanentDeliveryError("the retracted message was never bridged to this room");
        // Every part goes (text and files). A ghost redacts its own message; someone else's (a
        // moderation) needs the bot's power level.
        const ids: { id: RemoteMessageId }[] = [];
        for (const [i, part] of (ctx.targets ?? [ctx.target]).entries()) {
          const postedAs = part.postedAs;
          const as = postedAs && inOurNamespace(this.#naming, postedAs) ? postedAs : postedAs ? this.#bot : await ghost();
          ids.push({ id: await this.#redact(as, room, part.remoteId, event.reason, i === 0 ? txn : `${txn}-${i}`) });
        }
        return ids;
      }
      case "reaction": {
        const as = await ghost();
        if (event.added) {
          if (!ctx.target) throw new PermanentDeliveryError("the message reacted to was never bridged to this room");
          return [{ id: await this.#sendEvent(as, room, "m.reaction", reactionContent(ctx.target, event.emoji), txn), postedAs: as }];
        }
        if (!ctx.reaction) throw new PermanentDeliveryError("the removed reaction was never bridged to this room");
        return [{ id: await this.#redact(as, room, ctx.reaction.remoteId, undefined, txn) }];
      }
      case "typing": {
        const as = await ghost();
        await this.#hs.request("PUT", `/_matrix/client/v3/rooms/${enc(room)}/typing/${enc(as)}`, { as, body: typingContent(event.active) });
        return [];
      }
      case "presence": {
        const as = await ghost();
        await this.#hs.request("PUT", `/_matrix/client/v3/presence/${enc(as)}/status`, { as, body: presenceToMatrix(event.state, event.status) });
        return [];
      }
      case "join":
      case "profile":
        await ghost();
        return [];
      case "leave":
        await ghosts.leave(room, event.origin, event.sender);
        return [];
      default:
        return assertNever(event);
    }
  }

  async #sendEvent(as: string, room: RoomRef, type: string, content: Content, txnId: string): Promise<RemoteMessageId> {
    const path = `/_matrix/client/v3/rooms/${enc(room)}/send/${enc(type)}/${enc(txnId)}`;
    const res = await this.#retryOutsideRoom(as, room, () => this.#hs.request<{ event_id?: string }>("PUT", path, { as, body: content }));
    if (typeof res.event_id !== "string") throw new Error(`the homeserver answered ${type} without event_id`);
    return remoteId(res.event_id);
  }

  /** The content of an event in the room (the original of a caption edit). */
  async #content(as: string, room: RoomRef, eventId: string): Promise<Content> {
    const path = `/_matrix/client/v3/rooms/${enc(room)}/event/${enc(eventId)}`;
    const ev = await this.#retryOutsideRoom(as, room, () => this.#hs.request<{ content?: unknown }>("GET", path, { as }));
    return typeof ev.content === "object" && ev.content !== null ? ev.content as Content : {};
  }

  async #redact(as: string, room: RoomRef, target: string, reason: string | undefined, txnId: string): Promise<RemoteMessageId> {
    const path = `/_matrix/client/v3/rooms/${enc(room)}/redact/${enc(target)}/${enc(txnId)}`;
    const res = await this.#retryOutsideRoom(as, room, () => this.#hs.request<{ event_id?: string }>("PUT", path, { as, body: redactionContent(reason) }));
    if (typeof res.event_id !== "string") throw new Error("the homeserver answered a redaction without event_id");
    return remoteId(res.event_id);
  }

  /**
   * M_FORBIDDEN for a ghost we thought was in the room: it was kicked, or the homeserver lost it
   * (a new database). Register again (harmless when it exists), rejoin, and try once more.
   */
  async #retryOutsideRoom<T>(as: string, room: RoomRef, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (errcodeOf(err) !== "M_FORBIDDEN" || as === this.#bot) throw err;
      this.#log.info({ ghost: as, room, reason: (err as Error).message }, "ghost not allowed to send; repairing it once");
      await this.#ghosts.repair(as, room);
      return call();
    }
  }

  /**
   * One attachment, uploaded; or, when it can never be fetched (a refused address, too large, a
   * 404, over the homeserver's upload limit), a line with its name and link, so that the message
   * still arrives and the room moves on. A transient failure is thrown (the delivery is retried)
   * until the last of MEDIA_ATTEMPTS.
   */
  async #attachment(as: string, room: RoomRef, origin: Network, att: Attachment, replyTo: MappedMessage | undefined, ctx: DeliveryContext): Promise<Content> {
    let media: Media;
    try {
      media = await ctx.fetchMedia(att.url);
    } catch (err) {
      // A transient failure (timeout, 5xx) is retried with the delivery, but a file never holds its
      // room for long (see degradesNow): then it goes as a link too.
      if (!degradesNow(err, ctx)) throw err;
      const reason = (err as Error).message;
      this.#log.warn({ room, url: att.url.slice(0, 200), reason, attempt: ctx.attempt }, "attachment not copied to Matrix; sent as a link");
      return unavailableContent(att, publicReasonOf(err), replyTo);
    }
    try {
      return mediaContent(att, await upload(this.#hs, { ...media, name: media.name ?? att.name }, as), replyTo);
    } catch (err) {
      // Over the homeserver's max_upload_size: no retry makes it fit; Junction's own link still serves it.
      if (errcodeOf(err) !== "M_TOO_LARGE" && (err as { statusCode?: unknown }).statusCode !== 413) throw err;
      this.#log.warn({ room, url: att.url.slice(0, 200), bytes: media.data.byteLength }, "attachment over the homeserver's upload limit; sent as a link");
      return unavailableContent({ ...att, size: media.data.byteLength }, "over the homeserver's upload limit", replyTo, this.#publicMedia(origin, att.url, att.name));
    }
  }

  /**
   * A 4xx answer means this request can never succeed (no such room, not allowed, too large,
   * malformed): PermanentDeliveryError with the homeserver's reason. 429s were waited out already;
   * 401 (a wrong as_token) is a config problem worth retrying once fixed; 5xx stays transient.
   */
  #classify(err: unknown, room: RoomRef): unknown {
    if (err instanceof DeliveryError) return err;
    const status = (err as { statusCode?: unknown }).statusCode;
    if (typeof status === "number" && status >= 400 && status < 500 && ![401, 408, 429].includes(status)) {
      const e = err as Partial<MatrixError> & Error;
      return new PermanentDeliveryError(`matrix room ${room}: ${e.errcode ? `${e.errcode}: ${e.error ?? ""}` : e.message} (HTTP ${status})`);
    }
    if (status === 401) this.#log.error({ room }, "the homeserver refused our as_token: check that Synapse loaded this registration file");
    return err;
  }
}
