/**
 * `/` (the status page), `/metrics` (Prometheus) and `/health` on Junction's HTTP server.
 *
 * Who may read them: the listener is on loopback by default, so only this machine reaches it.
 * Where `http.publicUrl` is public (a reverse proxy forwards the world to the listener, and every
 * request then looks local), all three ask for `http.adminToken` (`Authorization: Bearer …` or
 * `?token=…`): room names, reasons and counts are not for everyone. One part of /health stays
 * open there, its status code with `{"status":"ok"|"degraded"}`, since a load balancer or uptime
 * check needs no more and it names nothing. Without a token to require, a request must name the
 * listener (or localhost, or the public host) in its Host header: a web page whose own name was
 * pointed at 127.0.0.1 (DNS rebinding) gets nothing.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import ipaddr from "ipaddr.js";
import type { Logger } from "pino";
import type { HttpServer } from "./http.ts";
import type { Metrics } from "./metrics.ts";
import { renderStatusPage } from "./status-page.ts";
import type { Status } from "./status.ts";

export interface AdminHttpOptions {
  readonly publicUrl: string;
  readonly adminToken?: string | undefined;
}

/** Whether a base URL is reachable from elsewhere than this machine or its private network. */
export function isPublicUrl(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost")) return false;
  if (!ipaddr.isValid(host)) return true;
  const range = ipaddr.process(host).range();
  return !["loopback", "private", "uniqueLocal", "linkLocal"].includes(range);
}

export function mountAdmin(http: HttpServer, status: Status, metrics: Metrics, opts: AdminHttpOptions, log?: Logger): void {
  const guard = new Guard(opts);
  if (isPublicUrl(opts.publicUrl) && !opts.adminToken) {
    log?.warn({ publicUrl: opts.publicUrl }, "http.publicUrl is public and http.adminToken is not set: the status page and /metrics answer 403 (and /health only its status code) until you set one (openssl rand -hex 32)");
  }
  http.mount("/metrics", async (req, res, rest) => {
    if (rest !== "") return notFound(res);
    if (!guard.allow(req, res)) return;
    const body = await metrics.registry.metrics();
    res.writeHead(200, { "content-type": metrics.registry.contentType, "cache-control": "no-store" }).end(req.method === "HEAD" ? undefined : body);
  });
  http.mount("/health", (req, res, rest) => {
    if (rest !== "") return notFound(res);
    const open = guard.openHealth(req, res);
    if (open === undefined) return;
    const problems = status.problems();
    const body = open
      ? { status: problems.length === 0 ? "ok" : "degraded", problems }
      : { status: problems.length === 0 ? "ok" : "degraded" };
    res.writeHead(problems.length === 0 ? 200 : 503, { "content-type": "application/json", "cache-control": "no-store" })
      .end(req.method === "HEAD" ? undefined : `${JSON.stringify(body)}\n`);
  });
  http.mount("/", (req, res, rest) => {
    if (rest !== "") return notFound(res);
    if (!guard.allow(req, res)) return;
    const snap = status.snapshot();
    const html = renderStatusPage(snap, status.problems(snap));
    res.writeHead(200, {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      // No script, no frames, nothing fetched but the page itself.
      "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
    }).end(req.method === "HEAD" ? undefined : html);
  });
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
}

class Guard {
  readonly #public: boolean;
  readonly #publicHost: string;
  readonly #token: Buffer | undefined;

  constructor(opts: AdminHttpOptions) {
    this.#public = isPublicUrl(opts.publicUrl);
    this.#publicHost = new URL(opts.publicUrl).host.toLowerCase();
    this.#token = opts.adminToken ? digest(opts.adminToken) : undefined;
  }

  /** Whether the request may read everything; when not, the answer has been sent. */
  allow(req: IncomingMessage, res: ServerResponse): boolean {
    if (!this.#public) {
      if (this.#hostOk(req)) return true;
      notFound(res);
      return false;
    }
    if (!this.#token) {
      res.writeHead(403, { "content-type": "text/plain" }).end("http.publicUrl is public: set http.adminToken in the config to read this\n");
      return false;
    }
    if (this.#tokenOk(req)) return true;
    res.writeHead(401, { "content-type": "text/plain", "www-authenticate": 'Bearer realm="junction"' }).end("this needs the admin token (Authorization: Bearer <http.adminToken>, or ?token=)\n");
    return false;
  }

  /** For /health: true (everything), false (status code only) or undefined (answered already). */
  openHealth(req: IncomingMessage, res: ServerResponse): boolean | undefined {
    if (!this.#public) return this.allow(req, res) ? true : undefined;
    return this.#token !== undefined && this.#tokenOk(req);
  }

  #hostOk(req: IncomingMessage): boolean {
    const host = (req.headers.host ?? "").toLowerCase();
    if (host === this.#publicHost) return true;
    const name = host.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
    return name === "localhost" || ipaddr.isValid(name);
  }

  #tokenOk(req: IncomingMessage): boolean {
    const auth = req.headers.authorization;
    let given: string | undefined;
    if (auth?.toLowerCase().startsWith("bearer ")) given = auth.slice(7).trim();
    else given = new URL(req.url ?? "/", "http://x").searchParams.get("token") ?? undefined;
    return given !== undefined && timingSafeEqual(digest(given), this.#token!);
  }
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}
