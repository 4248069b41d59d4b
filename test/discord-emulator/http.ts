/**
 * The REST plumbing of the emulator: a route table over /api/v10, bot-token authentication,
 * JSON and multipart (files[n] + payload_json) bodies with an upload cap, Discord's error
 * bodies {code, message[, errors]}, rate-limit headers on every answer and a log of requests.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RateLimiter } from "./ratelimit.ts";
import type { Json } from "./shapes.ts";
import type { State } from "./state.ts";

export interface Upload { field: string; filename: string; contentType: string | null; bytes: Buffer }
export interface Req {
  method: string; path: string; params: Record<string, string>; query: URLSearchParams;
  /** True when the request carried the bot's token. */
  bot: boolean; body: Json; files: Upload[]; bodyBytes: number;
}
export interface Reply { status: number; body?: unknown }
export interface Route {
  method: string; pattern: string; bucket: string; major?: string; auth: "bot" | "none";
  handle: (req: Req) => Reply | Promise<Reply>;
}
export interface RequestRecord { method: string; route: string; path: string; status: number; at: number }

export class ApiError extends Error {
  readonly status: number;
  readonly code: number;
  readonly errors: Record<string, unknown> | undefined;

  constructor(status: number, code: number, message: string, errors?: Record<string, unknown>) {
    super(message);
    this.status = status;
    this.code = code;
    this.errors = errors;
  }
}
export const unknownChannel = (): ApiError => new ApiError(404, 10003, "Unknown Channel");
export const unknownMessage = (): ApiError => new ApiError(404, 10008, "Unknown Message");
export const unknownWebhook = (): ApiError => new ApiError(404, 10015, "Unknown Webhook");
export const missingAccess = (): ApiError => new ApiError(403, 50001, "Missing Access");
export const missingPermissions = (): ApiError => new ApiError(403, 50013, "Missing Permissions");
export const invalidForm = (errors: Record<string, unknown>): ApiError => new ApiError(400, 50035, "Invalid Form Body", errors);
export const fieldError = (field: string, code: string, message: string): ApiError =>
  invalidForm({ [field]: { _errors: [{ code, message }] } });

/** The largest body read at all; uploads past the guild's limit are refused with 40005 before this. */
const HARD_CAP = 64 * 1024 * 1024;

function compile(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/:([a-z]+)/g, (_m, n: string) => `(?<${n}>[^/]+)`)}$`);
}

async function readBody(req: IncomingMessage): Promise<Buffer | "too large"> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > HARD_CAP) return "too large";
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function parseBody(req: IncomingMessage, raw: Buffer): Promise<{ body: Json; files: Upload[] } | ApiError> {
  const type = req.headers["content-type"] ?? "";
  if (!raw.length) return { body: {}, files: [] };
  const parseJson = (text: string): Json | ApiError => {
    try {
      const v: unknown = JSON.parse(text);
      return v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : new ApiError(400, 50109, "The request body contains invalid JSON.");
    } catch { return new ApiError(400, 50109, "The request body contains invalid JSON."); }
  };
  if (type.startsWith("multipart/form-data")) {
    // The web platform's own multipart parser (undici, built into Node).
    const form = await new Request("http://emulator/", { method: "POST", headers: { "content-type": type }, body: new Uint8Array(raw) }).formData();
    const files: Upload[] = [];
    let body: Json = {};
    for (const [field, value] of form) {
      if (typeof value === "string") {
        if (field === "payload_json") { const p = parseJson(value); if (p instanceof ApiError) return p; body = p; }
      } else {
        files.push({ field, filename: value.name, contentType: value.type || null, bytes: Buffer.from(await value.arrayBuffer()) });
      }
    }
    return { body, files };
  }
  const p = parseJson(raw.toString("utf8"));
  return p instanceof ApiError ? p : { body: p, files: [] };
}

export class Router {
  readonly log: RequestRecord[] = [];
  private readonly table: { route: Route; re: RegExp }[] = [];

  private readonly state: State;
  private readonly limiter: RateLimiter;

  constructor(state: State, limiter: RateLimiter) {
    this.state = state;
    this.limiter = limiter;
  }

  add(routes: Route[]): void { for (const route of routes) this.table.push({ route, re: compile(route.pattern) }); }

  async serve(req: IncomingMessage, res: ServerResponse, apiPath: string, query: URLSearchParams): Promise<void> {
    const method = req.method ?? "GET";
    const path = apiPath.replace(/^\/v\d+/, "");
    const send = (status: number, body: unknown, headers: Record<string, string> = {}, route = "unmatched"): void => {
      this.log.push({ method, route, path, status, at: Date.now() });
      const text = body === undefined ? "" : JSON.stringify(body);
      res.writeHead(status, { ...headers, ...(text ? { "content-type": "application/json" } : {}), via: "1.1 junction-discord-emulator" });
      res.end(text);
    };
    const matches = this.table.filter((t) => t.re.test(path));
    const hit = matches.find((t) => t.route.method === method);
    if (!hit) {
      if (matches.length) send(405, { message: "405: Method Not Allowed", code: 0 });
      else send(404, { message: "404: Not Found", code: 0 });
      return;
    }
    const { route } = hit;
    const template = `${method} ${route.pattern}`;
    const params = { ...(hit.re.exec(path)!.groups ?? {}) };
    for (const k of Object.keys(params)) params[k] = decodeURIComponent(params[k]!);
    const auth = req.headers.authorization;
    const bot = auth === `Bot ${this.state.application.token}`;
    if (route.auth === "bot" && !bot) { send(401, { message: "401: Unauthorized", code: 0 }, {}, template); return; }
    const verdict = this.limiter.check(template, route.bucket, route.major ? params[route.major] ?? "" : "", bot ? this.state.application.token : null);
    if (verdict.limited) {
      const { retryAfterMs, global } = verdict.limited;
      send(429, { message: "You are being rate limited.", retry_after: Number((retryAfterMs / 1000).toFixed(3)), global, code: global ? 0 : undefined },
        verdict.headers, template);
      return;
    }
    try {
      const raw = await readBody(req);
      if (raw === "too large") throw new ApiError(413, 40005, "Request entity too large");
      const parsed = await parseBody(req, raw);
      if (parsed instanceof ApiError) throw parsed;
      const reply = await route.handle({ method, path, params, query, bot, body: parsed.body, files: parsed.files, bodyBytes: raw.length });
      send(reply.status, reply.body, verdict.headers, template);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      send(e.status, { message: e.message, code: e.code, ...(e.errors ? { errors: e.errors } : {}) }, verdict.headers, template);
    }
  }
}
