/**
 * The emulated gateway (docs: "Gateway", "Gateway Events", "Opcodes and Status Codes"): HELLO,
 * IDENTIFY → READY then one GUILD_CREATE per guild, heartbeats and their ACKs, dispatches with
 * sequence numbers filtered by the session's intents, RESUME (missed dispatches replayed, then
 * RESUMED), RECONNECT (op 7), INVALID_SESSION (op 9), REQUEST_GUILD_MEMBERS (op 8) and Discord's
 * close codes (4002 decode, 4003 not authenticated, 4004 bad token, 4005 identified twice,
 * 4013 invalid intents, 4014 a privileged intent the application has not enabled).
 */
import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import { WebSocketServer, type WebSocket } from "ws";
import type { State } from "./state.ts";
import { type Json, guildJson, userJson, memberJson, channelJson, roleJson } from "./shapes.ts";
import { Permission } from "./permissions.ts";

export const Intent = {
  Guilds: 1 << 0, GuildMembers: 1 << 1, GuildExpressions: 1 << 3, GuildWebhooks: 1 << 5,
  GuildPresences: 1 << 8, GuildMessages: 1 << 9, GuildMessageReactions: 1 << 10,
  GuildMessageTyping: 1 << 11, DirectMessages: 1 << 12, DirectMessageReactions: 1 << 13, DirectMessageTyping: 1 << 14,
  MessageContent: 1 << 15,
} as const;

/** Application flags for the privileged intents: the "limited" ones a bot in under 100 servers has. */
export const AppFlag = { GatewayPresenceLimited: 1 << 13, GatewayGuildMembersLimited: 1 << 15, GatewayMessageContentLimited: 1 << 19 } as const;

export function applicationFlags(state: State): number {
  const i = state.application.intents;
  return (i.presence ? AppFlag.GatewayPresenceLimited : 0) | (i.serverMembers ? AppFlag.GatewayGuildMembersLimited : 0) |
    (i.messageContent ? AppFlag.GatewayMessageContentLimited : 0);
}

export interface DispatchScope {
  intent: number;
  /** Sent only to sessions whose bot can view this channel. */
  channelId?: string;
  /** The payload is a message by this author: its content is blanked without Message Content. */
  messageAuthorId?: string;
}

interface Dispatch { s: number; t: string; d: Json }
interface Session { id: string; intents: number; seq: number; socket: WebSocket | null; buffer: Dispatch[] }

const BUFFER = 2000;

export class Gateway {
  url = "";
  resumeUrl = "";
  /** During an outage the gateway answers upgrades with 503, as Discord's edge does. */
  down = false;
  readonly counts = { connections: 0, identifies: 0, resumes: 0, invalidSessions: 0 };
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly sessions = new Map<string, Session>();
  private readonly sockets = new Set<WebSocket>();

  private readonly state: State;
  private readonly heartbeatMs: number;

  constructor(state: State, heartbeatMs: number) {
    this.state = state;
    this.heartbeatMs = heartbeatMs;
  }

  attach(server: Server, base: string): void {
    this.url = `${base}/gateway`;
    this.resumeUrl = `${base}/gateway-resume`;
    server.on("upgrade", (req, socket, head) => {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      if (path !== "/gateway" && path !== "/gateway-resume") { socket.destroy(); return; }
      if (this.down) { socket.end("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"); return; }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.connected(ws));
    });
  }

  /** Sends a dispatch to every session it concerns (buffered for sessions that are cut off). */
  dispatch(t: string, d: Json, scope: DispatchScope): void {
    const botId = this.state.application.botUserId;
    if (scope.channelId && !(this.state.permissionsIn(scope.channelId, botId) & Permission.ViewChannel)) return;
    for (const session of this.sessions.values()) {
      if (scope.intent && !(session.intents & scope.intent)) continue;
      let data = d;
      // Message Content does not apply to DMs: their text always comes.
      const dm = scope.channelId !== undefined && this.state.channels.get(scope.channelId)?.type === 1;
      if (scope.messageAuthorId !== undefined && !dm && !(session.intents & Intent.MessageContent) && scope.messageAuthorId !== botId &&
        !(Array.isArray(d.mentions) && d.mentions.some((u) => (u as Json).id === botId))) {
        data = { ...d, content: "", embeds: [], attachments: [], components: [] };
      }
      this.send(session, t, data);
    }
  }

  /** Cuts every connection. Resumable: sessions live on and buffer; otherwise they are forgotten. */
  drop(opts: { resumable: boolean }): void {
    for (const s of this.sessions.values()) {
      s.socket?.terminate();
      s.socket = null;
    }
    if (!opts.resumable) this.sessions.clear();
    for (const ws of this.sockets) ws.terminate();
  }

  /** op 7: Discord asks the client to reconnect and resume. */
  reconnect(): void {
    for (const s of this.sessions.values()) s.socket?.send(JSON.stringify({ op: 7, d: null }));
  }

  /** op 9 to every live connection; not resumable forgets the sessions. */
  invalidate(opts: { resumable: boolean }): void {
    for (const s of [...this.sessions.values()]) {
      s.socket?.send(JSON.stringify({ op: 9, d: opts.resumable }));
      this.counts.invalidSessions++;
      if (!opts.resumable) this.sessions.delete(s.id);
    }
  }

  /** Sessions that have identified and are connected now. */
  get liveSessions(): number { return [...this.sessions.values()].filter((s) => s.socket).length; }

  close(): void {
    for (const ws of this.sockets) ws.terminate();
    this.sessions.clear();
    this.wss.close();
  }

  private send(session: Session, t: string, d: Json): void {
    const dispatch = { s: ++session.seq, t, d };
    session.buffer.push(dispatch);
    if (session.buffer.length > BUFFER) session.buffer.shift();
    session.socket?.send(JSON.stringify({ op: 0, ...dispatch }));
  }

  private connected(ws: WebSocket): void {
    this.counts.connections++;
    this.sockets.add(ws);
    let session: Session | null = null;
    ws.on("close", () => {
      this.sockets.delete(ws);
      if (session && session.socket === ws) session.socket = null;
    });
    ws.send(JSON.stringify({ op: 10, d: { heartbeat_interval: this.heartbeatMs }, s: null, t: null }));
    ws.on("message", (raw) => {
      let p: { op?: unknown; d?: unknown };
      try { p = JSON.parse(raw.toString()) as typeof p; } catch { ws.close(4002, "Error while decoding payload."); return; }
      switch (p.op) {
        case 1: ws.send(JSON.stringify({ op: 11 })); return;
        case 2: {
          if (session) { ws.close(4005, "Already authenticated."); return; }
          session = this.identify(ws, p.d as Json);
          return;
        }
        case 6: {
          if (session) { ws.close(4005, "Already authenticated."); return; }
          session = this.resume(ws, p.d as Json);
          return;
        }
        case 3: case 4: return;
        case 8: {
          if (!session) { ws.close(4003, "Not authenticated."); return; }
          this.requestMembers(session, p.d as Json);
          return;
        }
        default:
          ws.close(session ? 4001 : 4003, session ? "Unknown opcode." : "Not authenticated.");
      }
    });
  }

  private identify(ws: WebSocket, d: Json): Session | null {
    const app = this.state.application;
    if (d?.token !== app.token && d?.token !== `Bot ${app.token}`) { ws.close(4004, "Authentication failed."); return null; }
    const intents = d.intents;
    if (typeof intents !== "number" || !Number.isInteger(intents) || intents < 0 || intents >= 1 << 26) {
      ws.close(4013, "Invalid intent(s)."); return null;
    }
    if ((intents & Intent.MessageContent && !app.intents.messageContent) || (intents & Intent.GuildMembers && !app.intents.serverMembers) ||
      (intents & Intent.GuildPresences && !app.intents.presence)) {
      ws.close(4014, "Disallowed intent(s)."); return null;
    }
    this.counts.identifies++;
    const session: Session = { id: randomBytes(16).toString("hex"), intents, seq: 0, socket: ws, buffer: [] };
    this.sessions.set(session.id, session);
    const guilds = [...this.state.guilds.values()].filter((g) => g.members.has(app.botUserId));
    this.send(session, "READY", {
      v: 10, user: { ...userJson(this.state.bot), verified: true, mfa_enabled: false, email: null },
      guilds: guilds.map((g) => ({ id: g.id, unavailable: true })), session_id: session.id,
      resume_gateway_url: this.resumeUrl, shard: [0, 1], application: { id: app.id, flags: applicationFlags(this.state) },
      private_channels: [], relationships: [], presences: [], guild_join_requests: [], geo_ordered_rtc_regions: [],
      user_settings: {}, auth: {}, _trace: ["[\"junction-discord-emulator\"]"],
    });
    for (const g of guilds) this.send(session, "GUILD_CREATE", this.guildCreate(g.id, intents));
    return session;
  }

  private resume(ws: WebSocket, d: Json): Session | null {
    const session = typeof d?.session_id === "string" ? this.sessions.get(d.session_id) : undefined;
    const token = d?.token;
    if (!session || (token !== this.state.application.token && token !== `Bot ${this.state.application.token}`)) {
      this.counts.invalidSessions++;
      ws.send(JSON.stringify({ op: 9, d: false }));
      return null;
    }
    const seq = typeof d.seq === "number" ? d.seq : 0;
    if (session.buffer.length && session.buffer[0]!.s > seq + 1) {
      // Older than what we kept: Discord cannot replay it either.
      this.sessions.delete(session.id);
      this.counts.invalidSessions++;
      ws.send(JSON.stringify({ op: 9, d: false }));
      return null;
    }
    this.counts.resumes++;
    session.socket?.terminate();
    session.socket = ws;
    for (const p of session.buffer) if (p.s > seq) ws.send(JSON.stringify({ op: 0, ...p }));
    this.send(session, "RESUMED", {});
    return session;
  }

  private guildCreate(guildId: string, intents: number): Json {
    const g = this.state.guild(guildId);
    const botId = this.state.application.botUserId;
    const all = [...g.members.values()];
    const members = intents & Intent.GuildMembers ? all : all.filter((m) => m.userId === botId);
    const channels = [...this.state.channels.values()].filter((c) => c.guildId === g.id);
    return {
      ...guildJson(g), roles: [...g.roles.values()].map(roleJson), joined_at: g.members.get(botId)!.joinedAt,
      large: false, unavailable: false, member_count: all.length, lazy: false,
      members: members.map((m) => memberJson(this.state, m)),
      channels: channels.filter((c) => c.type === 0 || c.type === 5).map((c) => channelJson(c, this.state)),
      threads: channels.filter((c) => (c.type === 11 || c.type === 12) && this.state.permissionsIn(c.id, botId) & Permission.ViewChannel)
        .map((c) => channelJson(c, this.state)),
      presences: intents & Intent.GuildPresences
        ? all.flatMap((m) => {
          const p = this.state.presences.get(m.userId);
          return p && p.status !== "offline" ? [{ user: { id: m.userId }, status: p.status, activities: p.activities, client_status: { desktop: p.status } }] : [];
        })
        : [],
      voice_states: [], stage_instances: [], guild_scheduled_events: [], soundboard_sounds: [], embedded_activities: [],
    };
  }

  private requestMembers(session: Session, d: Json): void {
    const g = typeof d?.guild_id === "string" ? this.state.guilds.get(d.guild_id) : undefined;
    if (!g) return;
    const wanted = Array.isArray(d.user_ids) ? (d.user_ids as string[]) : typeof d.user_ids === "string" ? [d.user_ids] : null;
    if (!wanted && !(session.intents & Intent.GuildMembers)) { session.socket?.close(4013, "Invalid intent(s)."); return; }
    const query = typeof d.query === "string" ? d.query.toLowerCase() : "";
    const members = [...g.members.values()].filter((m) => {
      if (wanted) return wanted.includes(m.userId);
      const u = this.state.users.get(m.userId);
      return !query || (u?.username.toLowerCase().startsWith(query) ?? false) || (m.nick?.toLowerCase().startsWith(query) ?? false);
    });
    const limit = typeof d.limit === "number" && d.limit > 0 ? d.limit : members.length;
    this.send(session, "GUILD_MEMBERS_CHUNK", {
      guild_id: g.id, members: members.slice(0, limit).map((m) => memberJson(this.state, m)), chunk_index: 0, chunk_count: 1,
      not_found: wanted ? wanted.filter((id) => !g.members.has(id)) : [], ...(d.nonce !== undefined ? { nonce: d.nonce } : {}),
    });
  }
}
