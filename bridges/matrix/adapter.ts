/**
 * The Matrix bridge: an appservice. Inbound, the homeserver pushes transactions to our own HTTP
 * server (transactions.ts), answered only after the core committed them; outbound, ghosts speak
 * through the Client-Server API (delivery.ts) with idempotent transaction ids.
 */
import type { Logger } from "pino";
import type { MatrixConfig } from "../../config/schema.ts";
import {
  NotReadyError,
  type Adapter, type AdapterHost, type AdapterStatus, type Capabilities, type DeliveryContext, type Media, type RemoteIds,
} from "../../core/adapter.ts";
import { roomRef, type BridgeEvent, type RoomRef } from "../../core/events.ts";
import { DEFAULT_CATCH_UP } from "./catchup.ts";
import { MatrixCommands } from "./commands.ts";
import { Homeserver } from "./client.ts";
import { Delivery } from "./delivery.ts";
import { Ghosts } from "./ghosts.ts";
import { botUserId, DEFAULT_GHOST_PREFIX, inOurNamespace, type GhostNaming } from "./ids.ts";
import { download } from "./media.ts";
import { RoomPower } from "./power.ts";
import { Receiver } from "./receive.ts";
import { pingAppservice } from "./ping.ts";
import { checkToken, Reconnect } from "./reconnect.ts";
import { loadRegistration, registrationWarnings, type Registration } from "./registration.ts";
import { Rooms } from "./rooms.ts";
import { AppserviceServer } from "./transactions.ts";
import { inParallelReporting } from "../../core/parallel.ts";

const CAPABILITIES: Capabilities = {
  edits: true, retractions: true, reactions: true, replies: true, threads: false,
  typing: true, presence: true, media: true, richText: true,
};

/** How often a connected adapter checks that the homeserver still answers. */
const LIVENESS_MS = 10_000;
/**
 * Rooms the bot joins at once when it connects. Synapse does not serialise them: 100 joins (with
 * joined_members) took 2.7-3.3 s at 8 at once, 1.6-1.7 s at 32, 3.0 s at 64 (bench/startup-bench.ts).
 */
const JOINS_AT_ONCE = 32;
/** Rooms caught up on at once (each reads /messages pages; off the start-up's critical path). */
const CATCH_UPS_AT_ONCE = 8;

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
  #power: RoomPower | undefined;
  #delivery: Delivery | undefined;
  #ghosts: Ghosts | undefined;
  #host: AdapterHost | undefined;
  #server: AppserviceServer | undefined;
  #receiver: Receiver | undefined;
  readonly #linked = new Set<string>();
  #ready = false;
  #liveness: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #reconnect: Reconnect;
  #connecting: Promise<void> | undefined;
  /** Set when a request finds the homeserver unreachable while a connection attempt is running. */
  #lostMeanwhile = false;

  readonly #adminRoom: string | undefined;
  #commands: MatrixCommands | undefined;

  /** `adminRoom`: config's `admin.matrixRoom`, where `!junction` commands are taken. */
  constructor(config: MatrixConfig, log: Logger, opts: { adminRoom?: string | undefined } = {}) {
    this.#config = config;
    this.#adminRoom = opts.adminRoom;
    this.#log = log;
    this.#naming = { prefix: config.ghostPrefix || DEFAULT_GHOST_PREFIX, domain: config.domain };
    this.#bot = botUserId(this.#naming);
    this.#reconnect = new Reconnect(log, config.homeserver, () => void this.#attempt());
  }

  /** Reads the registration once; the client works before `start` (the core resolves rooms first). */
  #init(): { hs: Homeserver; rooms: Rooms; power: RoomPower; reg: Registration } {
    if (!this.#hs || !this.#rooms || !this.#power || !this.#reg) {
      this.#reg = loadRegistration(this.#config);
      for (const w of registrationWarnings(this.#reg)) this.#log.warn({ file: this.#config.registration }, w);
      this.#hs = new Homeserver(this.#config.homeserver, this.#reg.as_token, this.#log, () => this.#unreachable());
      this.#rooms = new Rooms(this.#hs, this.#log);
      this.#power = new RoomPower(this.#hs, this.#log);
    }
    return { hs: this.#hs, rooms: this.#rooms, power: this.#power, reg: this.#reg };
  }

  async resolveRoom(configured: string): Promise<RoomRef> {
    return this.#init().rooms.resolve(configured.trim());
  }

  /** Never throws for what a retry may fix: the first attempt is awaited, later ones run on their own. */
  async start(host: AdapterHost): Promise<void> {
    this.#host = host;
    this.#stopped = false;
    this.#reconnect.resume();
    for (const r of host.rooms()) this.#linked.add(r);
    await this.#attempt();
  }

  /** Delivery, the receiver and the appservice server, made once the registration could be read. */
  #parts(host: AdapterHost): { receiver: Receiver; server: AppserviceServer } {
    if (!this.#receiver || !this.#server) {
      const { hs, rooms, power, reg } = this.#init();
      this.#ghosts = new Ghosts(hs, this.#naming, () => host.puppets, this.#log);
      this.#delivery = new Delivery(hs, this.#ghosts, this.#naming, host.uploads, this.#log,
        (origin, url, name) => host.publicMedia(origin, url, name));
      if (host.admin) this.#commands = new MatrixCommands({ hs, rooms, desk: host.admin, bot: this.#bot, adminRoom: this.#adminRoom, log: this.#log.child({ part: "admin" }) });
      const receiver = new Receiver({
        host, hs, rooms, power, naming: this.#naming, bot: this.#bot, linked: this.#linked, log: this.#log,
        catchUpLimit: this.#config.catchUp ?? DEFAULT_CATCH_UP, ...(this.#commands ? { commands: this.#commands } : {}),
      });
      this.#holdAll(receiver);
      this.#receiver = receiver;
      this.#server = new AppserviceServer({
        host: this.#config.listen.host, port: this.#config.listen.port, hsToken: reg.hs_token, log: this.#log,
        onTransaction: (txnId, txn) => receiver.transaction(txnId, txn),
      });
    }
    return { receiver: this.#receiver, server: this.#server };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#liveness);
    this.#reconnect.stop();
    await this.#server?.close();
    this.#server = undefined;
    this.#receiver = undefined;
  }

  /** A room that resolved after start (core/resolve.ts): the bot joins it and catches up on it. */
  async linkRoom(room: RoomRef): Promise<void> {
    if (this.#linked.has(room)) return;
    this.#receiver?.hold(room);
    this.#linked.add(room);
    // An attempt in progress may have passed its joins already: enter the room after it.
    if (this.#connecting) await this.#connecting;
    if (!this.#ready || this.#stopped) return; // the next connect joins every linked room
    await this.#enter(room);
  }

  /** A room no link has any more: its ghosts, then the bot, leave it. */
  async unlinkRoom(room: RoomRef): Promise<void> {
    if (!this.#linked.delete(room)) return;
    this.#receiver?.release(room);
    const rooms = this.#rooms;
    if (!rooms) return;
    const ours = rooms.members(room).filter((m) => m !== this.#bot && inOurNamespace(this.#naming, m));
    try {
      const ghosts = await this.#ghosts?.leaveRoom(room, ours) ?? 0;
      await rooms.leaveBot(room);
      this.#log.info({ room, ghosts }, "left a room no link has any more");
    } catch (err) {
      if (!(err instanceof NotReadyError)) throw err;
      this.#log.warn({ room }, "the homeserver is unreachable: the bot and its ghosts stay in this room that no link has any more (nothing is bridged there; remove them with the room's moderation tools)");
    }
  }

  /** One connection attempt at a time; a failure schedules the next (see #fail). */
  #attempt(): Promise<void> {
    this.#connecting ??= this.#connect().finally(() => { this.#connecting = undefined; });
    return this.#connecting;
  }

  /** Checks the token, joins the linked rooms, pings, and catches up; on failure, tries again later. */
  async #connect(): Promise<void> {
    const host = this.#host;
    if (this.#stopped || !host) return;
    this.#lostMeanwhile = false;
    try {
      const { hs, reg } = this.#init();
      await this.#parts(host).server.listen();
      await checkToken(hs, this.#config.registration);
      const { rooms } = this.#init();
      const linked = [...this.#linked];
      // A few joins at once: Synapse takes 50-200 ms for each, so 100 rooms one by one is 10 s.
      await inParallelReporting(linked, JOINS_AT_ONCE, async (room) => {
        await rooms.joinBot(roomRef(room));
        return { joined: [...rooms.botIn.values()].filter((j) => j.joined).length };
      }, (done, extra) => host.progress("join", done, linked.length, extra));
      const listen = `${this.#config.listen.host}:${this.#config.listen.port}`;
      await pingAppservice(hs, reg.id, { registration: this.#config.registration, url: reg.url, listen }, this.#log);
      await this.#commands?.connect();
      this.#reconnect.connected();
      this.#setReady(true);
      const caughtUp = [...this.#linked];
      await inParallelReporting(caughtUp, CATCH_UPS_AT_ONCE, async (room) => ({ events: await this.#catchUp(roomRef(room)) }),
        (done, extra) => host.progress("catch-up", done, caughtUp.length, extra));
      // A request found the homeserver gone while this attempt ran, yet the attempt got through:
      // the rooms are held and not ready again, so one more attempt sets them right.
      if (this.#lostMeanwhile) this.#reconnect.soon();
    } catch (err) {
      this.#fail(err);
    }
  }

  /** The bot joins one room, learns its power levels, and catches up on it. */
  async #enter(room: RoomRef): Promise<void> {
    const { rooms } = this.#init();
    try {
      if (!await rooms.joinBot(room)) {
        this.#receiver?.release(room);
        return;
      }
      await this.#catchUp(room);
    } catch (err) {
      if (err instanceof NotReadyError) return; // the reconnect joins it
      this.#log.warn({ room, err: (err as Error).message }, "could not take up this linked matrix room yet; it is joined on the next reconnect");
    }
  }

  /** Catches up on one room, then lets its held live events through (unless the homeserver is gone again). */
  async #catchUp(room: RoomRef): Promise<number> {
    const receiver = this.#receiver;
    if (!receiver) return 0;
    let events = 0;
    try {
      await this.#init().power.load(room);
      if ((this.#config.catchUp ?? DEFAULT_CATCH_UP) > 0) events = await receiver.catchUp(room);
    } catch (err) {
      if (err instanceof NotReadyError) throw err;
      this.#log.warn({ room, err: (err as Error).message }, "could not catch up on this room's recent events");
    }
    receiver.release(room);
    return events;
  }

  status(): AdapterStatus {
    const failing = this.#ready ? undefined : this.#reconnect.failing;
    return {
      ...(failing ? { lastError: failing } : {}),
      rooms: [...(this.#rooms?.botIn ?? [])].map(([room, j]) => ({ room, ...j })),
    };
  }

  /** From now until the next catch-up, the linked rooms' live events wait (Receiver.hold). */
  #holdAll(receiver = this.#receiver): void {
    for (const r of this.#linked) receiver?.hold(roomRef(r));
  }

  /** A failed attempt: the rooms wait (held, not ready) and Reconnect says why and tries again. */
  #fail(err: unknown): void {
    if (this.#stopped) return;
    this.#setReady(false);
    this.#holdAll();
    this.#reconnect.failed(err);
  }

  #setReady(ready: boolean): void {
    if (this.#ready === ready) return;
    this.#ready = ready;
    clearInterval(this.#liveness);
    // The homeserver only pushes: without a request now and then, nobody would notice it gone
    // while the rooms are quiet (and /health would say all is well). A failed probe reconnects.
    if (ready) this.#liveness = setInterval(() => void this.#hs?.request("GET", "/_matrix/client/versions", { timeoutMs: LIVENESS_MS }).catch(() => undefined), LIVENESS_MS).unref();
    this.#host?.setReady(ready);
    if (ready) this.#log.info("connected to the homeserver");
  }

  /** A request found the homeserver unreachable: pause this network's queues and reconnect. */
  #unreachable(): void {
    if (this.#stopped || !this.#host) return;
    this.#setReady(false);
    this.#holdAll();
    if (this.#connecting) {
      this.#lostMeanwhile = true; // the attempt in progress schedules the next one (see #connect)
      return;
    }
    this.#reconnect.soon();
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
