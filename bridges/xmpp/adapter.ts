/**
 * The XMPP side of Junction: an XEP-0114 component that hears each linked MUC through a bot
 * occupant and speaks in it through one puppet occupant per remote person. The wire formats live
 * in the pure modules next to this one; this file wires them to the connection and the core.
 */
import type { Logger } from "pino";
import type {
  Adapter, AdapterHost, AdapterStatus, Capabilities, DeliveryContext, EmitOptions, Media, MediaScope, RemoteIds,
} from "../../core/adapter.ts";
import { NotReadyError, PermanentDeliveryError } from "../../core/adapter.ts";
import type { BridgeEvent, RoomRef } from "../../core/events.ts";
import { roomRef } from "../../core/events.ts";
import { XMPP_DEFAULTS, type XmppConfig as LoadedXmppConfig } from "../../config/schema.ts";
import { AdHocCommands } from "./adhoc.ts";
import { Bot } from "./bot.ts";
import { XmppConnection } from "./connection.ts";
import { fetchLink, fetchVcardPhoto } from "./media.ts";
import { onBounce } from "./bounce.ts";
import { outboundStanzas } from "./outbound.ts";
import { leavePresence, puppetPresence } from "./presence-out.ts";
import { PUPPET_RESOURCE, Puppets } from "./puppets.ts";
import { onRoomMessage, receive, type ReceiveDeps } from "./receive.ts";
import { resendUnconfirmed } from "./resend.ts";
import { RoomWatch, type RoomStatus } from "./rejoin.ts";
import { Rooms, type RoomState } from "./rooms.ts";
import { bareJid } from "./stanza.ts";
import { sendMessage, type SendDeps } from "./send-message.ts";
import { UploadServices } from "./upload-service.ts";
import { VERSION } from "./version.ts";

/** The xmpp section as loaded; the keepalive, rejoin and catch-up keys may be left to their defaults. */
export type XmppConfig = Omit<LoadedXmppConfig, keyof typeof XMPP_DEFAULTS> & Partial<Pick<LoadedXmppConfig, keyof typeof XMPP_DEFAULTS>>;

/** How long a fetch waits for the upload service's scope to be learned (discovery, then a slot). */
const SCOPE_WAIT_MS = 5000;

export class XmppAdapter implements Adapter {
  readonly network = "xmpp" as const;
  readonly capabilities: Capabilities = {
    edits: true, retractions: true, reactions: true, replies: true, threads: false,
    typing: true, presence: true, media: true, richText: false,
    // Prosody closes a component stream whose stanza passes component_stanza_size_limit (512 KiB by default).
    maxBodyBytes: 256 * 1024,
  };
  readonly #config: LoadedXmppConfig;
  readonly #log: Logger;
  readonly #conn: XmppConnection;
  readonly #rooms = new Rooms();
  readonly #puppets: Puppets;
  readonly #botBare: string;
  readonly #uploads: UploadServices;
  #host: AdapterHost | undefined;
  #bot: Bot | undefined;
  #deps: ReceiveDeps | undefined;
  #sendDeps: SendDeps | undefined;
  #emitChain: Promise<void> = Promise.resolve();
  #watch: RoomWatch | undefined;
  #stopping = false;

  constructor(config: XmppConfig, log: Logger) {
    this.#config = { ...XMPP_DEFAULTS, ...config } as LoadedXmppConfig;
    this.#log = log;
    this.#botBare = `junction@${config.component}`;
    this.#conn = new XmppConnection({ service: config.server, domain: config.component, secret: config.secret, keepaliveSeconds: this.#config.keepaliveSeconds }, log, {
      online: () => void this.#joinAll(),
      offline: () => this.#offline(),
      stanza: (el) => { if (this.#deps) receive(el, this.#deps); },
    });
    this.#puppets = new Puppets(this.#conn, config.component, log);
    this.#uploads = new UploadServices({ conn: this.#conn, from: this.#botFull, component: config.component, log, ...(config.upload ? { configured: config.upload } : {}) });
  }

  /**
   * Where the upload service keeps files, as a slot it gave us says (slot.ts): people's uploads
   * are fetched from there even from a private address, and nothing else that host serves.
   * Nothing before that is known (no mediaHosts): a private upload host is then fetched from only
   * when media.allowHosts lists it.
   */
  get mediaScopes(): readonly MediaScope[] {
    const files = this.#uploads.known?.files;
    return files ? [files] : [];
  }

  get #botFull(): string {
    return `${this.#botBare}/junction`;
  }

  /** Room JIDs compare case-insensitively; the lower-case bare JID is the room's one name. */
  async resolveRoom(configured: string): Promise<RoomRef> {
    return roomRef(bareJid(configured.trim()).toLowerCase());
  }

  async start(host: AdapterHost): Promise<void> {
    this.#host = host;
    this.#stopping = false;
    this.#rooms.set(host.rooms());
    this.#puppets.attach(host);
    for (const state of this.#rooms.all()) this.#puppets.restore(state);
    const c = this.#config;
    const bot = this.#bot = new Bot({
      conn: this.#conn, host, log: this.#log, jid: this.#botFull, nick: c.nick, history: c.history, catchUpMax: c.catchUpMax,
      replay: (state, el, archived) => { if (this.#deps) onRoomMessage(el, state, this.#deps, archived); },
      emit: (events) => this.#emit(events),
    });
    this.#watch = new RoomWatch({
      conn: this.#conn, log: this.#log, jid: this.#botFull, join: (state) => bot.join(state),
      rejoined: (state) => void this.#resendUnconfirmed([state]).then(() => { if (this.#conn.online) host.setReady(true); }),
      rejoinMaxMs: c.rejoinMaxSeconds * 1000, selfPingMs: c.selfPingSeconds * 1000,
    });
    this.#deps = {
      conn: this.#conn, host, rooms: this.#rooms, puppets: this.#puppets, bot: this.#bot, botBare: this.#botBare, log: this.#log,
      iq: {
        component: this.#config.component, bot: this.#botBare, version: VERSION, gatewayTypes: ["xmpp"],
        puppet: (bare) => this.#puppets.profile(bare),
      },
      emit: (events, opts) => this.#emit(events, opts),
      botRemoved: (state, reason) => this.#watch?.removed(state, reason),
      bounce: (el) => onBounce(el, { rooms: this.#rooms, puppets: this.#puppets, host, log: this.#log }),
      ...(host.admin ? { adhoc: new AdHocCommands(this.#config.component, host.admin) } : {}),
    };
    this.#sendDeps = {
      conn: this.#conn, host, puppets: this.#puppets, uploads: this.#uploads, log: this.#log,
      botFull: this.#botFull, botNick: c.nick, component: c.component,
    };
    await this.#conn.start();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#watch?.stop();
    this.#host?.setReady(false);
    await this.#emitChain;
    await this.#conn.stop();
  }

  /** A room a reload linked: the bot joins it (with history since its cursor, as at start). */
  async linkRoom(room: RoomRef): Promise<void> {
    const state = this.#rooms.add(room);
    if (!state) return;
    this.#puppets.restore(state);
    if (this.#conn.online) await this.#watch?.join(state); // else the next connect joins it
  }

  /** A room no link has any more: its puppets, then the bot, leave it. */
  async unlinkRoom(room: RoomRef): Promise<void> {
    const state = this.#rooms.remove(room);
    if (!state) return;
    this.#watch?.forget(state);
    const puppets = [...state.puppets.values()].filter((p) => p.joined || p.lingering);
    if (!this.#conn.online) return; // the server dropped our occupants with the stream
    await this.#conn.send(
      ...puppets.map((p) => leavePresence(`${p.bare}/${PUPPET_RESOURCE}`, `${state.room}/${p.nick}`, "this room is no longer bridged")),
      ...(state.botNick ? [leavePresence(this.#botFull, `${state.room}/${state.botNick}`)] : []),
    );
    this.#log.info({ room, puppets: puppets.length }, "left a room no link has any more");
  }

  async send(room: RoomRef, event: BridgeEvent, ctx: DeliveryContext): Promise<RemoteIds> {
    try {
      return await this.#send(room, event, ctx);
    } catch (err) {
      this.#log.debug({ room, kind: event.kind, deliveryId: ctx.deliveryId, err: (err as Error).message }, "delivery to XMPP failed");
      throw err;
    }
  }

  async #send(room: RoomRef, event: BridgeEvent, ctx: DeliveryContext): Promise<RemoteIds> {
    const state = this.#rooms.get(room);
    if (!state) throw new PermanentDeliveryError(`${room} is not a linked XMPP room`);
    if (!this.#conn.online) throw new NotReadyError("the XMPP component is not connected");
    // Waits without counting as a failure; the rejoin resumes the room's queue (setReady).
    if (!state.botJoined) throw new NotReadyError(`the bridge is not in ${room}; it keeps trying to join`);
    const full = this.#puppets.fullJid(event.origin, event.sender);
    const here = state.puppets.get(bareJid(full).toLowerCase());
    switch (event.kind) {
      case "typing": case "presence": case "leave": {
        if (!here?.joined) return [];
        const to = `${state.room}/${here.nick}`;
        if (event.kind === "leave") {
          here.joined = false;
          await this.#conn.send(leavePresence(full, to, event.reason));
        } else if (event.kind === "presence") {
          await this.#conn.send(puppetPresence({ from: full, to, state: event.state, ...(event.status ? { status: event.status } : {}) }));
        } else {
          await this.#conn.send(...outboundStanzas(event, ctx, { room: state.room, from: full, occupant: to }).stanzas);
          if (event.active) state.typing.add(here.bare.toLowerCase());
          else state.typing.delete(here.bare.toLowerCase());
        }
        return [];
      }
      case "join": case "profile":
        await this.#puppets.ensureJoined(state, event.origin, event.sender, ctx);
        return [];
      case "message": case "edit": case "retract": case "reaction":
        return sendMessage(state, event, ctx, this.#sendDeps!);
    }
  }

  /** Whether the bot is in each linked room, and if not, why (for operators and tests). */
  roomStatus(): RoomStatus[] {
    return this.#watch?.status() ?? [];
  }

  status(): AdapterStatus {
    const lastError = this.#conn.lastError;
    return {
      ...(lastError ? { lastError } : {}),
      rooms: this.roomStatus().map((r) => ({ room: r.room, joined: r.phase === "joined", ...(r.reason ? { error: r.reason } : {}) })),
    };
  }

  async fetchMedia(url: string): Promise<Media> {
    if (url.startsWith("xmpp-vcard:")) return fetchVcardPhoto(this.#conn, this.#botFull, url.slice("xmpp-vcard:".length));
    if (!this.#host) throw new NotReadyError("the XMPP adapter has not started");
    // Where the upload service keeps files is known before the first fetch (mediaScopes); a
    // server slow to say waits no longer than this, and its files are refused meanwhile.
    if (!this.#uploads.known?.files) await Promise.race([this.#uploads.files(), new Promise((r) => setTimeout(r, SCOPE_WAIT_MS).unref())]);
    return fetchLink(this.#host.media, url);
  }

  async #joinAll(): Promise<void> {
    const host = this.#host;
    const watch = this.#watch;
    if (!host || !watch) return;
    // A new stream: Prosody may still list our puppets, but they rejoin (same JID, same nick) on need.
    for (const state of this.#rooms.all()) for (const p of state.puppets.values()) p.joined = false;
    // Rooms that fail keep being retried by the watch, with backoff.
    const rooms = this.#rooms.all();
    let settled = 0;
    host.progress("join", 0, rooms.length);
    await watch.joinAll(rooms, () => host.progress("join", ++settled, rooms.length, { joined: rooms.filter((r) => r.botJoined).length }));
    if (!this.#conn.online) return;
    await this.#resendUnconfirmed(this.#rooms.all());
    host.setReady(true);
    // Known before the first file arrives: XMPP people's uploads are fetched from its host.
    this.#uploads.get().catch(() => undefined);
  }

  #resendUnconfirmed(rooms: readonly RoomState[]): Promise<void> {
    return resendUnconfirmed(rooms, { log: this.#log, host: this.#host, puppets: this.#puppets, conn: this.#conn });
  }

  #offline(): void {
    this.#watch?.offline();
    this.#uploads.reset();
    for (const state of this.#rooms.all()) {
      state.botJoined = false;
      for (const p of state.puppets.values()) p.joined = false;
    }
    this.#host?.setReady(false);
  }

  /** Emits in arrival order. */
  #emit(events: BridgeEvent[], opts?: EmitOptions): void {
    const host = this.#host;
    if (!host) return;
    if (this.#stopping) {
      this.#log.debug({ kinds: events.map((e) => e.kind) }, "stopping: room events not bridged");
      return;
    }
    // Handed over at once (the core keeps the order and commits a turn's emits together); the
    // chain only lets stop() wait for what is still being committed.
    const commit = host.emit(events, opts)
      .catch((err: Error) => this.#log.error({ err: err.message, kinds: events.map((e) => e.kind) }, "XMPP events not bridged: they could not be committed"));
    this.#emitChain = this.#emitChain.then(() => commit);
  }
}

