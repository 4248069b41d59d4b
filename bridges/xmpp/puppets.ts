/**
 * Puppet occupants: one JID in our domain per remote person, joined to a room on first need with
 * that person's name as nick (a clash gets a suffix, never a failed join), its avatar kept for
 * vCard answers and advertised by hash in presence. The nick per room survives restarts in
 * PuppetRecord.data, so a restarted Junction takes back the same occupant instead of a second one;
 * so does the occupant-id the room gave it (XEP-0421), by which its old messages stay known as ours.
 * Nicks go through nick.ts: valid for every server, and marked with the network's name where they
 * would look like a native occupant's.
 */
import type { Logger } from "pino";
import type { AdapterHost, DeliveryContext, PuppetRecord } from "../../core/adapter.ts";
import { PermanentDeliveryError } from "../../core/adapter.ts";
import { NETWORKS, type ActorId, type Network, type Sender } from "../../core/events.ts";
import type { XmppConnection } from "./connection.ts";
import type { PuppetProfile } from "./iq.ts";
import { puppetJid } from "./jid-escape.ts";
import { nickCandidates, plainNick, safeNick } from "./nick.ts";
import { joinPresence, puppetPresence } from "./presence-out.ts";
import type { PuppetOccupant, RoomState } from "./rooms.ts";
import { bareJid, roomJidKey } from "./stanza.ts";

export const PUPPET_RESOURCE = "junction";
const JOIN_TIMEOUT_MS = 10_000;
const MAX_AVATAR_BYTES = 512 * 1024;
const JID_CACHE = 2048;
/** Join errors that will not go away by trying again (XEP-0045 §7.2). */
const PERMANENT = new Set(["forbidden", "registration-required", "item-not-found", "not-allowed", "not-authorized"]);
/** Join errors about the nick itself: the next candidate is the plain one. */
const BAD_NICK = new Set(["jid-malformed", "not-acceptable", "bad-request"]);

/** What joining a puppet needs from the delivery it is joined for: its avatar is fetched through it. */
export type PuppetContext = Pick<DeliveryContext, "fetchMedia">;

export type PuppetData = {
  origin?: Network;
  name?: string;
  nicks?: Record<string, string>;
  /** The occupant-id each room gave this puppet (XEP-0421), by room. */
  occupantIds?: Record<string, string>;
  avatarHash?: string;
  /** SHA-1 of the avatar's bytes, which live in the store's avatars (AdapterHost.avatars). */
  photoSha1?: string;
  /** Before store migration 4 the bytes themselves, as base64; moved out on attach. */
  photo?: string;
  mime?: string;
};

type JoinResult = { nick: string } | { error: string };

export class Puppets {
  readonly #conn: XmppConnection;
  readonly #component: string;
  /** Puppet JIDs by origin and sender id: escaping (and maybe hashing) a node costs more than the lookup. */
  readonly #jids = new Map<string, string>();
  readonly #log: Logger;
  #host: AdapterHost | undefined;
  readonly #byHandle = new Map<string, PuppetRecord>();
  readonly #waiters = new Map<string, (r: JoinResult) => void>();

  constructor(conn: XmppConnection, component: string, log: Logger) {
    this.#conn = conn;
    this.#component = component;
    this.#log = log;
  }

  attach(host: AdapterHost): void {
    this.#host = host;
    for (const r of host.puppets.all("xmpp")) {
      const d = (r.data ?? {}) as PuppetData;
      if (d.photo === undefined) {
        this.#byHandle.set(r.handle.toLowerCase(), r);
        continue;
      }
      // A record from before avatars moved to the store: move its bytes there once.
      const { photo, ...rest } = d;
      const sha1 = d.mime ? host.avatars.put(new Uint8Array(Buffer.from(photo, "base64")), d.mime) : undefined;
      const { photoSha1: _old, ...withoutHash } = rest;
      this.#put({ ...r, data: sha1 ? { ...rest, photoSha1: sha1 } : withoutHash });
    }
  }

  /** The remote person a puppet (by bare JID) speaks for, and their network (its node's prefix). */
  personOf(bare: string): { id: ActorId; network: Network } | undefined {
    const r = this.#byHandle.get(bare.toLowerCase());
    const network = NETWORKS.find((n) => bare.toLowerCase().startsWith(`${n}_`));
    return r && network ? { id: r.actor, network } : undefined;
  }

  /** Puppet occupants remembered from earlier runs, so their stale presences are known as ours. */
  restore(state: RoomState): void {
    for (const r of this.#byHandle.values()) {
      const data = (r.data ?? {}) as PuppetData;
      const nick = data.nicks?.[roomJidKey(state.room)];
      if (nick && !state.puppets.has(r.handle.toLowerCase())) state.puppets.set(r.handle.toLowerCase(), { bare: r.handle, nick, joined: false });
      const occupantId = data.occupantIds?.[roomJidKey(state.room)];
      if (occupantId) state.ourOccupantIds.add(occupantId);
    }
  }

  /**
   * The room sent something to puppet `to` that has not joined in this run: it is still an
   * occupant from an earlier run (nicks are unique, so it still holds its last nick).
   */
  stillIn(state: RoomState, to: string): void {
    const p = state.puppets.get(bareJid(to).toLowerCase());
    if (!p || p.joined || p.joining || p.lingering || !p.nick) return;
    p.lingering = true;
    // What the room said about that nick while the bot joined was about this puppet.
    state.undecided.delete(p.nick);
    const o = state.occupants.get(p.nick);
    if (o && !o.realJid && !o.occupantId) state.occupants.set(p.nick, { ...o, ours: true });
  }

  /** Whether a JID is in our domain (the bot or a puppet). */
  inOurDomain(jid: string): boolean {
    const bare = jid.split("/")[0]!.toLowerCase();
    return bare === this.#component || bare.endsWith(`@${this.#component}`);
  }

  profile(bare: string): PuppetProfile | undefined {
    const r = this.#byHandle.get(bare.toLowerCase());
    if (!r) return undefined;
    const d = (r.data ?? {}) as PuppetData;
    return {
      name: d.name ?? r.actor,
      ...avatarOf(this.#host, d),
    };
  }

  fullJid(origin: Network, sender: Sender): string {
    const key = `${origin}\u0000${sender.id}`;
    let full = this.#jids.get(key);
    if (full === undefined) {
      if (this.#jids.size >= JID_CACHE) this.#jids.clear(); // bounded: the busy senders come back at once
      full = `${puppetJid(origin, sender.id, this.#component)}/${PUPPET_RESOURCE}`;
      this.#jids.set(key, full);
    }
    return full;
  }

  /** The puppet for `sender` joined to `state`'s room, joining (and fetching its avatar) if needed. */
  async ensureJoined(state: RoomState, origin: Network, sender: Sender, ctx: PuppetContext): Promise<PuppetOccupant & { full: string }> {
    const full = this.fullJid(origin, sender);
    const bare = full.slice(0, full.lastIndexOf("/"));
    const record = this.#record(origin, sender, bare);
    const avatarChanged = await this.#refreshAvatar(record, sender, ctx);
    let p = state.puppets.get(bare.toLowerCase());
    if (!p) {
      p = { bare, nick: "", joined: false };
      state.puppets.set(bare.toLowerCase(), p);
    }
    const wanted = safeNick(sender.name, sender.id);
    if (p.joined && p.forName !== wanted) {
      // Renamed: joining again under the new nick is XEP-0045's nick change.
      state.retire(p.nick);
      p.joined = false;
    }
    if (p.joined) {
      if (avatarChanged) await this.#conn.send(puppetPresence({ from: full, to: `${state.room}/${p.nick}`, photoHash: this.#photoHash(bare) }));
      return { ...p, full };
    }
    if (!p.joining) {
      const occupant = p;
      occupant.joining = this.#join(state, full, origin, wanted, plainNick(origin, sender.id)).finally(() => { occupant.joining = undefined; });
    }
    const nick = await p.joining!;
    p.nick = nick;
    p.forName = wanted;
    p.joined = true;
    p.lingering = false;
    return { ...p, full };
  }

  /** Called by the adapter for every presence addressed to one of our puppets. */
  onPuppetPresence(state: RoomState, to: string, nick: string, r: { self?: boolean; error?: string; unavailable: boolean; occupantId?: string }): void {
    const room = state.room;
    if (r.self && !r.unavailable && r.occupantId) {
      // The room tells the puppet its own occupant-id: the one thing by which its messages are ours.
      state.ourOccupantIds.add(r.occupantId);
      this.#saveOccupantId(bareJid(to), roomJidKey(room), r.occupantId);
    }
    const key = `${roomJidKey(room)}\n${to.toLowerCase()}`;
    const waiter = this.#waiters.get(key);
    if (waiter && (r.error || (r.self && !r.unavailable))) {
      this.#waiters.delete(key);
      waiter(r.error ? { error: r.error } : { nick });
    }
  }

  async #join(state: RoomState, full: string, origin: Network, wanted: string, plain: string): Promise<string> {
    const bare = full.slice(0, full.lastIndexOf("/"));
    const record = this.#byHandle.get(bare.toLowerCase());
    const stored = ((record?.data ?? {}) as PuppetData).nicks?.[roomJidKey(state.room)];
    const candidates = nickCandidates(state, wanted, plain, origin, stored);
    let fallback = false;
    const plainOnes = new Set(nickCandidates(state, plain, plain, origin));
    for (const nick of candidates) {
      if (fallback && !plainOnes.has(nick)) continue;
      const result = await this.#tryJoin(state, full, nick);
      if ("nick" in result) {
        this.#saveNick(bare, roomJidKey(state.room), result.nick);
        this.#log.debug({ room: state.room, puppet: full, nick: result.nick }, "puppet joined");
        return result.nick;
      }
      if (result.error === "conflict") continue;
      if (BAD_NICK.has(result.error) && !fallback) {
        // The room refuses the nick itself: the plain one next, never every message dropped.
        this.#log.warn({ room: state.room, puppet: full, nick, condition: result.error, next: plain }, "the room refused a puppet's nick; trying its plain nick");
        fallback = true;
        continue;
      }
      const msg = `puppet ${full} cannot join ${state.room} as "${nick}": ${result.error}`;
      if (PERMANENT.has(result.error) || BAD_NICK.has(result.error)) throw new PermanentDeliveryError(`${msg} (check the room's configuration: the bridge's domain must be allowed to join)`);
      throw new Error(msg);
    }
    throw new PermanentDeliveryError(`puppet ${full} found no free nick in ${state.room} (tried ${candidates.join(", ")})`);
  }

  async #tryJoin(state: RoomState, full: string, nick: string): Promise<JoinResult> {
    const key = `${roomJidKey(state.room)}\n${full.toLowerCase()}`;
    const bare = full.slice(0, full.lastIndexOf("/"));
    const result = new Promise<JoinResult>((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(key);
        resolve({ error: "remote-server-timeout" });
      }, JOIN_TIMEOUT_MS);
      this.#waiters.set(key, (r) => { clearTimeout(timer); resolve(r); });
    });
    // The nick is ours before the room reflects anything, so our own join is never bridged back.
    const p = state.puppets.get(bare.toLowerCase());
    if (p) p.pendingNick = nick;
    await this.#conn.send(joinPresence({ from: full, to: `${state.room}/${nick}`, photoHash: this.#photoHash(bare) }, "none"));
    const r = await result;
    if (p) p.pendingNick = undefined;
    return r;
  }

  #photoHash(bare: string): string {
    return ((this.#byHandle.get(bare.toLowerCase())?.data ?? {}) as PuppetData).photoSha1 ?? "";
  }

  #record(origin: Network, sender: Sender, bare: string): PuppetRecord {
    const existing = this.#byHandle.get(bare.toLowerCase());
    const data = (existing?.data ?? {}) as PuppetData;
    if (existing && data.name === sender.name) return existing;
    return this.#put({ network: "xmpp", actor: sender.id, handle: bare, ...(existing?.profileHash ? { profileHash: existing.profileHash } : {}), data: { ...data, origin, name: sender.name } });
  }

  #saveNick(bare: string, room: string, nick: string): void {
    const r = this.#byHandle.get(bare.toLowerCase());
    if (!r) return;
    const data = (r.data ?? {}) as PuppetData;
    if (data.nicks?.[room] === nick) return;
    this.#put({ ...r, data: { ...data, nicks: { ...data.nicks, [room]: nick } } });
  }

  #saveOccupantId(bare: string, room: string, occupantId: string): void {
    const r = this.#byHandle.get(bare.toLowerCase());
    if (!r) return;
    const data = (r.data ?? {}) as PuppetData;
    if (data.occupantIds?.[room] === occupantId) return;
    this.#put({ ...r, data: { ...data, occupantIds: { ...data.occupantIds, [room]: occupantId } } });
  }

  async #refreshAvatar(record: PuppetRecord, sender: Sender, ctx: PuppetContext): Promise<boolean> {
    const data = (record.data ?? {}) as PuppetData;
    const hash = sender.avatar?.hash;
    if (hash === data.avatarHash) return false;
    let next: PuppetData = { ...data };
    delete next.photo; delete next.photoSha1; delete next.mime; delete next.avatarHash;
    if (sender.avatar) {
      try {
        const media = await ctx.fetchMedia(sender.avatar.url);
        if (media.data.byteLength > MAX_AVATAR_BYTES) {
          this.#log.warn({ actor: sender.id, bytes: media.data.byteLength }, "avatar too large for a vCard; puppet shown without it");
        } else {
          next = { ...next, mime: media.mime, photoSha1: this.#host!.avatars.put(media.data, media.mime) };
        }
      } catch (err) {
        this.#log.warn({ actor: sender.id, url: sender.avatar.url, err: (err as Error).message }, "could not fetch an avatar; will try again when it changes");
      }
      next.avatarHash = hash!;
    }
    this.#put({ ...record, ...(hash ? { profileHash: hash } : {}), data: next });
    return true;
  }

  #put(r: PuppetRecord): PuppetRecord {
    this.#byHandle.set(r.handle.toLowerCase(), r);
    this.#host?.puppets.put(r);
    return r;
  }
}

/** The puppet's avatar bytes, read from the store only when a vCard asks for them. */
function avatarOf(host: AdapterHost | undefined, d: PuppetData): { avatar?: { data: Uint8Array; mime: string } } {
  if (!d.photoSha1 || !host) return {};
  const stored = host.avatars.get(d.photoSha1);
  return stored ? { avatar: { data: stored.data, mime: stored.mime } } : {};
}
