/**
 * The Matrix bridge: an appservice. Inbound, the homeserver pushes transactions to our own HTTP
 * server (transactions.ts), answered only after the core committed them; outbound, ghosts speak
 * through the Client-Server API (delivery.ts) with idempotent transaction ids.
 */
import type { Logger } from "pino";
import type { MatrixConfig } from "../../config/schema.ts";
import {
  NotReadyError,
  type Adapter, type AdapterHost, type Capabilities, type DeliveryContext, type Media, type RemoteIds,
} from "../../core/adapter.ts";
import { actorId, roomRef, type BridgeEvent, type RoomRef } from "../../core/events.ts";
import { missedEvents } from "./catchup.ts";
import { errcodeOf, Homeserver } from "./client.ts";
import { Delivery } from "./delivery.ts";
import { diffTyping, presenceFromMatrix } from "./ephemeral.ts";
import { Ghosts } from "./ghosts.ts";
import { botUserId, isOurs, parseGhost, DEFAULT_GHOST_PREFIX, type GhostNaming } from "./ids.ts";
import { fromRoomEvent, senderOf } from "./inbound.ts";
import { download } from "./media.ts";
import { loadRegistration, registrationWarnings, type Registration } from "./registration.ts";
import { Rooms } from "./rooms.ts";
import { AppserviceServer } from "./transactions.ts";
import type { RoomEvent, Transaction } from "./types.ts";

const CAPABILITIES: Capabilities = {
  edits: true, retractions: true, reactions: true, replies: true, threads: false,
  typing: true, presence: true, media: true, richText: true,
};

const PROBE_MS = 2_000;
const enc = encodeURIComponent;


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
  #delivery: Delivery | undefined;
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
    this.#delivery = new Delivery(hs, new Ghosts(hs, this.#naming, () => host.puppets, this.#log), this.#naming, this.#log);
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
    // Emits are handed over in order without waiting for each commit (the core commits one
    // turn's emits together); the transaction is answered once all of them are committed.
    const commits: Promise<void>[] = [];
    for (const ev of txn.events) {
      const handed = await this.#bridgeRoomEvent(host, ev);
      if (handed) commits.push(handed.commit);
    }
    const eph = txn.ephemeral.flatMap((e) => this.#fromEphemeral(e.type, e.room_id, e.sender, e.content));
    if (eph.length > 0) commits.push(host.emit(eph));
    await Promise.all(commits);
  }

  async #bridgeRoomEvent(host: AdapterHost, ev: RoomEvent): Promise<{ commit: Promise<void> } | undefined> {
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
      mentioned: (mxid: string) => parseGhost(this.#naming, mxid)?.actor ?? actorId(mxid),
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
    return events.length > 0 ? { commit: host.emit(events, { dedupeKey: `matrix:${ev.event_id}` }) } : undefined;
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
        const commits: Promise<void>[] = [];
        for (const ev of missed) {
          const handed = await this.#bridgeRoomEvent(host, ev);
          if (handed) commits.push(handed.commit);
        }
        await Promise.all(commits);
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

  async send(room: RoomRef, event: BridgeEvent, ctx: DeliveryContext): Promise<RemoteIds> {
    if (!this.#ready || !this.#delivery) throw new NotReadyError("matrix homeserver not connected yet");
    this.#log.debug({ room, kind: event.kind, delivery: ctx.deliveryId, attempt: ctx.attempt }, "sending to matrix");
    return this.#delivery.send(room, event, ctx);
  }

  async fetchMedia(url: string): Promise<Media> {
    if (!this.#host) throw new NotReadyError("the Matrix adapter has not started");
    return download(this.#init().hs, this.#host.media, url);
  }

  /** The configured homeserver (host and port): media is downloaded from it even on a private address. */
  get mediaHosts(): readonly string[] {
    const u = new URL(this.#config.homeserver);
    return [`${u.hostname}:${u.port || (u.protocol === "https:" ? "443" : "80")}`];
  }
}
