/**
 * A person on Matrix for end-to-end tests: plain fetch against the client-server API v3 of the test
 * Synapse, with a background /sync loop whose arrivals (timeline, ephemeral, presence, invites) are
 * buffered so `waitFor` never misses an event that came before the call.
 */
import { randomBytes } from "node:crypto";
import type { SynapseServer } from "./synapse.ts";
import { ArrivalBuffer, type Predicate } from "./stanza-buffer.ts";

export interface MatrixEvent {
  type: string;
  event_id?: string;
  sender?: string;
  state_key?: string;
  origin_server_ts?: number;
  redacts?: string;
  content: Record<string, unknown>;
  unsigned?: Record<string, unknown>;
}

export interface MatrixArrival {
  kind: "timeline" | "state" | "ephemeral" | "presence" | "invite";
  roomId?: string; // absent for presence
  event: MatrixEvent;
}

export interface MatrixPerson {
  readonly userId: string;
  readonly accessToken: string;
  readonly deviceId: string;
  readonly arrivals: readonly MatrixArrival[];
  /** Any client-server call: path from /_matrix on; throws with Matrix's errcode on a non-2xx. */
  request<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T>;
  createRoom(opts?: {
    alias?: string; // local part: "lobby" makes #lobby:localhost
    invite?: string[];
    preset?: "public_chat" | "private_chat" | "trusted_private_chat";
    name?: string;
    extra?: Record<string, unknown>;
  }): Promise<string>;
  /** Joins by room id or alias; resolves to the room id. */
  join(roomIdOrAlias: string): Promise<string>;
  leave(roomId: string): Promise<void>;
  invite(roomId: string, userId: string): Promise<void>;
  send(roomId: string, content: Record<string, unknown>, type?: string): Promise<string>;
  /** An m.text message; resolves to its event id. */
  say(roomId: string, text: string, extra?: Record<string, unknown>): Promise<string>;
  redact(roomId: string, eventId: string, reason?: string): Promise<string>;
  react(roomId: string, eventId: string, key: string): Promise<string>;
  edit(roomId: string, eventId: string, newText: string): Promise<string>;
  setDisplayName(name: string): Promise<void>;
  setAvatarUrl(mxc: string): Promise<void>;
  setPresence(presence: "online" | "unavailable" | "offline", statusMsg?: string): Promise<void>;
  typing(roomId: string, typing: boolean, timeoutMs?: number): Promise<void>;
  /** Uploads media and resolves to its mxc:// URI. */
  uploadMedia(data: Uint8Array | string, contentType: string, filename?: string): Promise<string>;
  /** Downloads media through the authenticated media API. */
  downloadMedia(mxc: string): Promise<{ contentType: string; data: Uint8Array }>;
  /** The first arrival (already buffered or arriving within timeoutMs) that matches. */
  waitFor(predicate: Predicate<MatrixArrival>, timeoutMs?: number, what?: string): Promise<MatrixArrival>;
  /** Timeline events seen so far in one room, oldest first. */
  timeline(roomId: string): MatrixEvent[];
  stop(): Promise<void>;
}

/** Registers localpart (password "<localpart>-pw") via the shared secret and starts syncing. */
export async function registerPerson(synapse: SynapseServer, localpart: string, opts: { admin?: boolean } = {}): Promise<MatrixPerson> {
  const user = await synapse.registerUser(localpart, `${localpart}-pw`, opts.admin ?? false);
  return matrixPerson(synapse.url, user.userId, user.accessToken, user.deviceId);
}

export class MatrixRequestError extends Error {
  readonly status: number;
  readonly errcode: string | undefined;
  constructor(message: string, status: number, errcode: string | undefined) {
    super(message);
    this.status = status;
    this.errcode = errcode;
  }
}

export function matrixPerson(baseUrl: string, userId: string, accessToken: string, deviceId = ""): MatrixPerson {
  const buffer = new ArrivalBuffer<MatrixArrival>((a) => `${a.kind} ${a.roomId ?? ""} ${a.event.type} ${JSON.stringify(a.event.content).slice(0, 200)}`);
  const stopper = new AbortController();
  let txn = 0;
  const txnPrefix = randomBytes(4).toString("hex");
  const nextTxn = (): string => `${txnPrefix}-${++txn}`;
  const enc = encodeURIComponent;

  async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const res = await fetch(`${baseUrl}/_matrix${path}`, {
      method,
      headers: { authorization: `Bearer ${accessToken}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      json = { raw: text };
    }
    if (!res.ok) {
      const errcode = typeof json.errcode === "string" ? json.errcode : undefined;
      throw new MatrixRequestError(`${userId}: ${method} ${path} answered ${res.status} ${errcode ?? ""} ${String(json.error ?? text)}`, res.status, errcode);
    }
    return json as T;
  }

  const syncDone = syncLoop();

  async function syncLoop(): Promise<void> {
    let since: string | undefined;
    const filter = enc(JSON.stringify({ room: { timeline: { limit: 100 } } }));
    while (!stopper.signal.aborted) {
      try {
        // set_presence=offline: syncing does not mark the person online, so presence is only what
        // the test sets with setPresence (otherwise every poll would race an explicit "unavailable").
        const query = `filter=${filter}&set_presence=offline&timeout=${since ? 10_000 : 0}${since ? `&since=${enc(since)}` : ""}`;
        const sync = await request<SyncResponse>("GET", `/client/v3/sync?${query}`, undefined, stopper.signal);
        since = sync.next_batch;
        absorb(sync);
      } catch {
        if (stopper.signal.aborted) return;
        await new Promise((r) => setTimeout(r, 250)); // Synapse restarting, or a transient error
      }
    }
  }

  function absorb(sync: SyncResponse): void {
    for (const [roomId, room] of Object.entries(sync.rooms?.join ?? {})) {
      for (const event of room.state?.events ?? []) buffer.push({ kind: "state", roomId, event });
      for (const event of room.timeline?.events ?? []) buffer.push({ kind: "timeline", roomId, event });
      for (const event of room.ephemeral?.events ?? []) buffer.push({ kind: "ephemeral", roomId, event });
    }
    for (const [roomId, room] of Object.entries(sync.rooms?.invite ?? {})) {
      for (const event of room.invite_state?.events ?? []) buffer.push({ kind: "invite", roomId, event });
    }
    for (const event of sync.presence?.events ?? []) buffer.push({ kind: "presence", event });
  }

  const person: MatrixPerson = {
    userId,
    accessToken,
    deviceId,
    arrivals: buffer.items,
    request: (method, path, body) => request(method, path, body),
    async createRoom(opts = {}) {
      const body: Record<string, unknown> = { preset: opts.preset ?? "public_chat", ...opts.extra };
      if (opts.alias) body.room_alias_name = opts.alias;
      if (opts.invite) body.invite = opts.invite;
      if (opts.name) body.name = opts.name;
      const res = await request<{ room_id: string }>("POST", "/client/v3/createRoom", body);
      return res.room_id;
    },
    async join(roomIdOrAlias) {
      const res = await request<{ room_id: string }>("POST", `/client/v3/join/${enc(roomIdOrAlias)}`, {});
      return res.room_id;
    },
    async leave(roomId) {
      await request("POST", `/client/v3/rooms/${enc(roomId)}/leave`, {});
    },
    async invite(roomId, invitee) {
      await request("POST", `/client/v3/rooms/${enc(roomId)}/invite`, { user_id: invitee });
    },
    async send(roomId, content, type = "m.room.message") {
      const res = await request<{ event_id: string }>("PUT", `/client/v3/rooms/${enc(roomId)}/send/${enc(type)}/${nextTxn()}`, content);
      return res.event_id;
    },
    say(roomId, text, extra = {}) {
      return person.send(roomId, { msgtype: "m.text", body: text, ...extra });
    },
    async redact(roomId, eventId, reason) {
      const res = await request<{ event_id: string }>("PUT", `/client/v3/rooms/${enc(roomId)}/redact/${enc(eventId)}/${nextTxn()}`, reason ? { reason } : {});
      return res.event_id;
    },
    react(roomId, eventId, key) {
      return person.send(roomId, { "m.relates_to": { rel_type: "m.annotation", event_id: eventId, key } }, "m.reaction");
    },
    edit(roomId, eventId, newText) {
      return person.send(roomId, {
        msgtype: "m.text",
        body: `* ${newText}`,
        "m.new_content": { msgtype: "m.text", body: newText },
        "m.relates_to": { rel_type: "m.replace", event_id: eventId },
      });
    },
    async setDisplayName(name) {
      await request("PUT", `/client/v3/profile/${enc(userId)}/displayname`, { displayname: name });
    },
    async setAvatarUrl(mxc) {
      await request("PUT", `/client/v3/profile/${enc(userId)}/avatar_url`, { avatar_url: mxc });
    },
    async setPresence(presence, statusMsg) {
      await request("PUT", `/client/v3/presence/${enc(userId)}/status`, statusMsg === undefined ? { presence } : { presence, status_msg: statusMsg });
    },
    async typing(roomId, typing, timeoutMs = 30_000) {
      await request("PUT", `/client/v3/rooms/${enc(roomId)}/typing/${enc(userId)}`, typing ? { typing, timeout: timeoutMs } : { typing });
    },
    async uploadMedia(data, contentType, filename) {
      const query = filename ? `?filename=${enc(filename)}` : "";
      const res = await fetch(`${baseUrl}/_matrix/media/v3/upload${query}`, {
        method: "POST",
        headers: { authorization: `Bearer ${accessToken}`, "content-type": contentType },
        body: typeof data === "string" ? data : new Uint8Array(data),
      });
      const json = (await res.json()) as { content_uri?: string; error?: string };
      if (!res.ok || !json.content_uri) throw new Error(`${userId}: media upload answered ${res.status}: ${json.error ?? ""}`);
      return json.content_uri;
    },
    async downloadMedia(mxc) {
      const match = /^mxc:\/\/([^/]+)\/(.+)$/.exec(mxc);
      if (!match) throw new Error(`not an mxc URI: ${mxc}`);
      const res = await fetch(`${baseUrl}/_matrix/client/v1/media/download/${enc(match[1] ?? "")}/${enc(match[2] ?? "")}`, {
        headers: { authorization: `Bearer ${accessToken}` },
      });
      if (!res.ok) throw new Error(`${userId}: media download of ${mxc} answered ${res.status}`);
      return { contentType: res.headers.get("content-type") ?? "", data: new Uint8Array(await res.arrayBuffer()) };
    },
    waitFor(predicate, timeoutMs = 5000, what) {
      return buffer.waitFor(predicate, timeoutMs, what ?? `a sync arrival for ${userId}`);
    },
    timeline(roomId) {
      return buffer.items.filter((a) => a.kind === "timeline" && a.roomId === roomId).map((a) => a.event);
    },
    async stop() {
      stopper.abort();
      buffer.close(new Error(`${userId} was stopped`));
      await syncDone;
    },
  };
  return person;
}

interface SyncRoom {
  state?: { events?: MatrixEvent[] };
  timeline?: { events?: MatrixEvent[] };
  ephemeral?: { events?: MatrixEvent[] };
}

interface SyncResponse {
  next_batch: string;
  rooms?: {
    join?: Record<string, SyncRoom>;
    invite?: Record<string, { invite_state?: { events?: MatrixEvent[] } }>;
  };
  presence?: { events?: MatrixEvent[] };
}
