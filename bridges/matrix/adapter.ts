/**
 * The Matrix bridge: an appservice. Inbound, the homeserver pushes transactions to our own HTTP
 * server (transactions.ts), answered only after the core committed them; outbound, ghosts speak
 * through the Client-Server API with idempotent transaction ids derived from the outbox row.
 */
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { MatrixConfig } from "../../config/schema.ts";
import type { MatrixError } from "matrix-bot-sdk";
import {
  NotReadyError, PermanentDeliveryError,
  type Adapter, type AdapterHost, type Capabilities, type DeliveryContext, type Media, type RemoteIds,
} from "../../core/adapter.ts";
import {
  assertNever, remoteId, roomRef,
  type BridgeEvent, type RemoteMessageId, type RoomRef,
} from "../../core/events.ts";
import { errcodeOf, Homeserver } from "./client.ts";
import { diffTyping, presenceFromMatrix, presenceToMatrix } from "./ephemeral.ts";
import { Ghosts } from "./ghosts.ts";
import { botUserId, isOurs, DEFAULT_GHOST_PREFIX, type GhostNaming } from "./ids.ts";
import { fromRoomEvent, senderOf } from "./inbound.ts";
import { download, upload } from "./media.ts";
import { editContent, mediaContent, messageContent, reactionContent, redactionContent, typingContent, type Content } from "./outbound.ts";
import { loadRegistration, registrationWarnings, type Registration } from "./registration.ts";
import { Rooms } from "./rooms.ts";
import { AppserviceServer } from "./transactions.ts";
import type { RoomEvent, Transaction } from "./types.ts";
import { missedEvents } from "./catchup.ts";


const CAPABILITIES: Capabilities = {
  edits: true, retractions: true, reactions: true, replies: true, threads: false,
  typing: true, presence: true, media: true, richText: true,
};

const PROBE_MS = 2_000;
const enc = encodeURIComponent;


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

export class MatrixAdapter implements Adapter {
  readonly network = "matrix" as const;
  readonly capabilities = CAPABILITIES;
  readonly #config: MatrixConfig;
  readonly #log: Logger;
  readonly #naming: GhostNaming;
  readonly #bot: string;
  #reg: Registration | undefined;
  #hs: Homeserver | undefined;
  #rooms: Rooms | undefined;
  #ghosts: Ghosts | undefined;
  #host: AdapterHost | undefined;
  #server: AppserviceServer | undefined;
  #linked = new Set<string>();
  #typing = new Map<string, Set<string>>();
  #ready = false;
  #stopped = false;
  #probe: NodeJS.Timeout | undefined;

  constructor(config: MatrixConfig, log: Logger) {
    this.#config = config;
    this.#log = log;
    this.#naming = { prefix: config.ghostPrefix || DEFAULT_GHOST_PREFIX, domain: config.domain };
    this.#bot = botUserId(this.#naming);
  }

  /** Reads the registration once; the client works before `start` (the core resolves rooms first). */
  #init(): { hs: Homeserver; rooms: Rooms; reg: Registration } {
    if (!this.#hs || !this.#rooms || !this.#reg) {
      this.#reg = loadRegistration(this.#config);
      for (const w of registrationWarnings(this.#reg)) this.#log.warn({ file: this.#config.registration }, w);
      this.#hs = new Homeserver(this.#config.homeserver, this.#reg.as_token, this.#log, () => this.#unreachable());
      this.#rooms = new Rooms(this.#hs, this.#log);
    }
    return { hs: this.#hs, rooms: this.#rooms, reg: this.#reg };
  }

  async resolveRoom(configured: string): Promise<RoomRef> {
    return this.#init().rooms.resolve(configured.trim());
  }

  async start(host: AdapterHost): Promise<void> {
    const { hs, reg } = this.#init();
    this.#host = host;
    this.#stopped = false;
    this.#linked = new Set(host.rooms());
    this.#ghosts = new Ghosts(hs, this.#naming, () => host.puppets, this.#log);
    this.#server = new AppserviceServer({
      host: this.#config.listen.host, port: this.#config.listen.port, hsToken: reg.hs_token, log: this.#log,
      onTransaction: (txnId, txn) => this.#onTransaction(txnId, txn),
    });
    const addr = await this.#server.listen();
    this.#log.info({ listen: `${addr.address}:${addr.port}` }, "appservice listening for the homeserver");
    await this.#connect();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#probe) clearTimeout(this.#probe);
    this.#probe = undefined;
    await this.#server?.close();
    this.#server = undefined;
  }

  /** Joins the linked rooms and pings; on an unreachable homeserver, tries again until it answers. */
  async #connect(): Promise<void> {
    const { hs, rooms, reg } = this.#init();
    try {
      await this.#checkToken(hs);
      for (const room of this.#linked) await rooms.joinBot(roomRef(room));
      try {
        // Makes the homeserver retry queued transactions now instead of after its backoff (up to 512 s).
        await hs.request("POST", `/_matrix/client/v1/appservice/${enc(reg.id)}/ping`, { body: { transaction_id: `junction-ping-${Date.now()}` } });
      } catch (err) {
        if (err instanceof NotReadyError) throw err;
        this.#log.warn({ err: (err as Error).message }, "appservice ping failed; the homeserver may take a while to send what it queued");
      }
      this.#setReady(true);
      await this.#catchUp();
    } catch (err) {
      if (!(err instanceof NotReadyError)) throw err;
      this.#log.warn({ homeserver: hs.url }, "homeserver unreachable; retrying");
      this.#unreachable();
    }
  }

  /** A homeserver that does not know our as_token would refuse everything: say so once, clearly. */
  async #checkToken(hs: Homeserver): Promise<void> {
    try {
      await hs.request("GET", "/_matrix/client/v3/account/whoami");
    } catch (err) {
      if (errcodeOf(err) === "M_UNKNOWN_TOKEN" || (err as { statusCode?: unknown }).statusCode === 401) {
        throw new Error(`the homeserver at ${hs.url} does not know the as_token of ${this.#config.registration}: ` +
          "add that file to app_service_config_files in homeserver.yaml and restart the homeserver");
      }
      throw err;
    }
  }

  #setReady(ready: boolean): void {
    if (this.#ready === ready) return;
    this.#ready = ready;
    this.#host?.setReady(ready);
    if (ready) this.#log.info("connected to the homeserver");
  }

  /** The homeserver stopped answering: pause this network's queues and probe until it is back. */
  #unreachable(): void {
    if (this.#stopped || !this.#host) return;
    this.#setReady(false);
    if (this.#probe) return;
    this.#probe = setTimeout(() => {
      this.#probe = undefined;
      if (this.#stopped) return;
      this.#init().hs.request("GET", "/_matrix/client/versions").then(
        () => this.#connect(),
        () => this.#unreachable(),
      ).catch((err: unknown) => {
        this.#log.error({ err: (err as Error).message }, "reconnecting to the homeserver failed; trying again");
        this.#unreachable();
      });
    }, PROBE_MS);
  }

  // ---- inbound ----

  /**
   * Each room event is committed under its own key, `matrix:<event id>`, not the transaction id:
   * Synapse on SQLite numbers transactions from 1 again after a restart, and catch-up (which has no
   * transaction) must meet the same key for an event that did arrive. Ephemeral events need no key.
   */
  async #onTransaction(txnId: string, txn: Transaction): Promise<void> {
    const host = this.#host;
    if (!host) throw new Error("transaction before start");
    this.#log.debug({ txnId, events: txn.events.length, ephemeral: txn.ephemeral.length }, "transaction from the homeserver");
    for (const ev of txn.events) await this.#bridgeRoomEvent(host, ev);
    const eph = txn.ephemeral.flatMap((e) => this.#fromEphemeral(e.type, e.room_id, e.sender, e.content));
    if (eph.length > 0) await host.emit(eph);
  }

  async #bridgeRoomEvent(host: AdapterHost, ev: RoomEvent): Promise<void> {
    const { rooms } = this.#init();
    const room = roomRef(ev.room_id);
    if (ev.type === "m.room.member" && ev.state_key === this.#bot && ev.content.membership === "invite" && this.#linked.has(room)) {
      await rooms.joinBot(room); // a linked room the bot could not join at start invited it
      return;
    }
    if (!this.#linked.has(room) || isOurs(this.#naming, ev.sender)) return;
    const ctx = {
      profile: (r: RoomRef, mxid: string) => rooms.profile(r, mxid),
      findMessage: (r: RoomRef, eventId: string) => host.findMessage(r, { remoteId: eventId }),
    };
    let events: BridgeEvent[];
    if (ev.type === "m.room.member") {
      if (ev.state_key && isOurs(this.#naming, ev.state_key)) return;
      events = fromRoomEvent(ev, ctx);
      rooms.applyMember(ev);
    } else {
      await rooms.ensureProfile(room, ev.sender);
      events = fromRoomEvent(ev, ctx);
    }
    if (events.length > 0) await host.emit(events, { dedupeKey: `matrix:${ev.event_id}` });
  }

  /** Bridges what the homeserver may have dropped while we or it were down (see catchup.ts). */
  async #catchUp(): Promise<void> {
    const host = this.#host;
    if (!host) return;
    const { hs } = this.#init();
    for (const room of this.#linked) {
      const r = roomRef(room);
      try {
        const missed = await missedEvents(hs, r, (id) => host.findMessage(r, { remoteId: id }) !== undefined);
        if (missed.length > 0) this.#log.info({ room, events: missed.length }, "catching up on events the homeserver did not push");
        for (const ev of missed) await this.#bridgeRoomEvent(host, ev);
      } catch (err) {
        if (err instanceof NotReadyError) throw err;
        this.#log.warn({ room, err: (err as Error).message }, "could not catch up on this room's recent events");
      }
    }
  }

  #fromEphemeral(type: string, roomId: string | undefined, sender: string | undefined, content: Record<string, unknown>): BridgeEvent[] {
    const rooms = this.#init().rooms;
    const now = Date.now();
    if (type === "m.typing" && roomId && this.#linked.has(roomId)) {
      const room = roomRef(roomId);
      const diff = diffTyping(this.#typing.get(roomId) ?? new Set(), content, (u) => !isOurs(this.#naming, u));
      this.#typing.set(roomId, diff.now);
      return [
        ...diff.started.map((u) => ({ kind: "typing" as const, active: true, u })),
        ...diff.stopped.map((u) => ({ kind: "typing" as const, active: false, u })),
      ].map(({ u, ...t }) => ({ ...t, origin: "matrix" as const, room, ts: now, sender: senderOf(u, rooms.profile(room, u)) }));
    }
    if (type === "m.presence" && sender && !isOurs(this.#naming, sender)) {
      const p = presenceFromMatrix(content);
      if (!p) return [];
      return rooms.roomsOf(sender).filter((r) => this.#linked.has(r)).map((room) => ({
        kind: "presence" as const, ...p, origin: "matrix" as const, room, ts: now, sender: senderOf(sender, rooms.profile(room, sender)),
      }));
    }
    return []; // receipts and anything newer are not bridged
  }

  // ---- outbound ----

  async send(room: RoomRef, event: BridgeEvent, ctx: DeliveryContext): Promise<RemoteIds> {
    if (!this.#ready) throw new NotReadyError("matrix homeserver not connected yet");
    this.#log.debug({ room, kind: event.kind, delivery: ctx.deliveryId, attempt: ctx.attempt }, "sending to matrix");
    try {
      return await this.#send(room, event, ctx);
    } catch (err) {
      throw this.#classify(err, room);
    }
  }

  async #send(room: RoomRef, event: BridgeEvent, ctx: DeliveryContext): Promise<RemoteIds> {
    const ghosts = this.#ghosts!;
    const ghost = () => ghosts.ensure(room, event.origin, event.sender, ctx.fetchMedia);
    const txn = txnIdFor(event, ctx);
    switch (event.kind) {
      case "message": {
        const as = await ghost();
        const ids: { id: RemoteMessageId; author: string }[] = [];
        const text = messageContent(event, ctx.replyTo);
        if (text) ids.push({ id: await this.#sendEvent(as, room, "m.room.message", text, txn), author: as });
        for (const [i, att] of event.attachments.entries()) {
          const media = await ctx.fetchMedia(att.url);
          const up = await upload(this.#init().hs, { ...media, name: media.name ?? att.name }, as);
          const content = mediaContent(att, up, ids.length === 0 ? ctx.replyTo : undefined);
          ids.push({ id: await this.#sendEvent(as, room, "m.room.message", content, i === 0 && !text ? txn : `${txn}-${i + 1}`), author: as });
        }
        if (ids.length === 0) throw new PermanentDeliveryError("empty message: no text and no attachments");
        return ids;
      }
      case "edit": {
        if (!ctx.target) throw new PermanentDeliveryError("the edited message was never bridged to this room");
        const as = await ghost();
        return [{ id: await this.#sendEvent(as, room, "m.room.message", editContent(event, ctx.target), txn), author: as }];
      }
      case "retract": {
        if (!ctx.target) throw new PermanentDeliveryError("the retracted message was never bridged to this room");
        // A ghost redacts its own message; someone else's (a moderation) needs the bot's power level.
        const author = ctx.target.author;
        const as = author && isOurs(this.#naming, author) ? author : author ? this.#bot : await ghost();
        return [{ id: await this.#redact(as, room, ctx.target.remoteId, event.reason, txn) }];
      }
      case "reaction": {
        const as = await ghost();
        if (event.added) {
          if (!ctx.target) throw new PermanentDeliveryError("the message reacted to was never bridged to this room");
          return [{ id: await this.#sendEvent(as, room, "m.reaction", reactionContent(ctx.target, event.emoji), txn), author: as }];
        }
        if (!ctx.reaction) throw new PermanentDeliveryError("the removed reaction was never bridged to this room");
        return [{ id: await this.#redact(as, room, ctx.reaction.remoteId, undefined, txn) }];
      }
      case "typing": {
        const as = await ghost();
        await this.#init().hs.request("PUT", `/_matrix/client/v3/rooms/${enc(room)}/typing/${enc(as)}`, { as, body: typingContent(event.active) });
        return [];
      }
      case "presence": {
        const as = await ghost();
        await this.#init().hs.request("PUT", `/_matrix/client/v3/presence/${enc(as)}/status`, { as, body: presenceToMatrix(event.state, event.status) });
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
    const res = await this.#retryOutsideRoom(as, room, () => this.#init().hs.request<{ event_id?: string }>("PUT", path, { as, body: content }));
    if (typeof res.event_id !== "string") throw new Error(`the homeserver answered ${type} without event_id`);
    return remoteId(res.event_id);
  }

  async #redact(as: string, room: RoomRef, target: string, reason: string | undefined, txnId: string): Promise<RemoteMessageId> {
    const path = `/_matrix/client/v3/rooms/${enc(room)}/redact/${enc(target)}/${enc(txnId)}`;
    const res = await this.#retryOutsideRoom(as, room, () => this.#init().hs.request<{ event_id?: string }>("PUT", path, { as, body: redactionContent(reason) }));
    if (typeof res.event_id !== "string") throw new Error("the homeserver answered a redaction without event_id");
    return remoteId(res.event_id);
  }

  /** A ghost kicked behind our back gets M_FORBIDDEN: forget the join, rejoin once, try again. */
  async #retryOutsideRoom<T>(as: string, room: RoomRef, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (errcodeOf(err) !== "M_FORBIDDEN" || as === this.#bot) throw err;
      const ghosts = this.#ghosts!;
      ghosts.forgetRoom(as, room);
      this.#log.info({ ghost: as, room }, "ghost not allowed to send; rejoining once");
      await this.#init().hs.request("POST", `/_matrix/client/v3/join/${enc(room)}`, { as, body: {} }).catch(() => undefined);
      return call();
    }
  }

  /**
   * A 4xx answer means this request can never succeed (no such room, not allowed, too large,
   * malformed): PermanentDeliveryError with the homeserver's reason. 429s were waited out already;
   * 401 (a wrong as_token) is a config problem worth retrying once fixed; 5xx stays transient.
   */
  #classify(err: unknown, room: RoomRef): unknown {
    if (err instanceof PermanentDeliveryError || err instanceof NotReadyError) return err;
    const status = (err as { statusCode?: unknown }).statusCode;
    if (typeof status === "number" && status >= 400 && status < 500 && ![401, 408, 429].includes(status)) {
      const e = err as Partial<MatrixError> & Error;
      return new PermanentDeliveryError(`matrix room ${room}: ${e.errcode ? `${e.errcode}: ${e.error ?? ""}` : e.message} (HTTP ${status})`);
    }
    if (status === 401) this.#log.error({ room }, "the homeserver refused our as_token: check that Synapse loaded this registration file");
    return err;
  }

  async fetchMedia(url: string): Promise<Media> {
    return download(this.#init().hs, url);
  }
}
