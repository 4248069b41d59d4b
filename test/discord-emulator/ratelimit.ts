/**
 * Rate limits as Discord announces them (docs: "Rate Limits"): per-route buckets keyed by the
 * route's major parameter (channel, guild or webhook), each answering with X-RateLimit-Limit,
 * -Remaining, -Reset, -Reset-After and -Bucket; a global limit per bot token; 429 bodies
 * {message, retry_after, global} with Retry-After. A test can also start a storm: the next
 * requests (a count, or for a time) are answered 429 whatever their bucket. Every request is
 * counted per route, so a test sees how many 429s a client ran into.
 */
import { createHash } from "node:crypto";

export interface Limit { limit: number; windowMs: number }

/** Bucket names the router uses; tests may override any in opts.rateLimits. */
export const DEFAULT_LIMITS: Record<string, Limit> = {
  "message.create": { limit: 5, windowMs: 5000 },
  "message.edit": { limit: 5, windowMs: 5000 },
  "message.delete": { limit: 5, windowMs: 1000 },
  "message.bulkDelete": { limit: 1, windowMs: 1000 },
  "reaction": { limit: 1, windowMs: 250 },
  "webhook.execute": { limit: 5, windowMs: 2000 },
  "webhook.message": { limit: 5, windowMs: 2000 },
  "webhook.manage": { limit: 5, windowMs: 5000 },
  "default": { limit: 50, windowMs: 1000 },
};

export interface Storm { count?: number; durationMs?: number; retryAfterMs?: number; global?: boolean }
export interface RouteStats { requests: number; rateLimited: number }
export interface Verdict { headers: Record<string, string>; limited: null | { retryAfterMs: number; global: boolean; scope: string } }

const secs = (ms: number): string => (Math.max(ms, 0) / 1000).toFixed(3);

export class RateLimiter {
  readonly routes = new Map<string, RouteStats>();
  private readonly windows = new Map<string, { start: number; used: number }>();
  private storm: { left: number; until: number; retryAfterMs: number; global: boolean } | null = null;

  private readonly limits: Record<string, Limit>;
  private readonly globalPerSecond: number;

  constructor(limits: Record<string, Limit>, globalPerSecond: number) {
    this.limits = limits;
    this.globalPerSecond = globalPerSecond;
  }

  startStorm(s: Storm): void {
    this.storm = {
      left: s.count ?? Number.POSITIVE_INFINITY, until: s.durationMs !== undefined ? Date.now() + s.durationMs : Number.POSITIVE_INFINITY,
      retryAfterMs: s.retryAfterMs ?? 100, global: s.global ?? false,
    };
  }

  /** Decides one request: `route` is its template ("POST /channels/:id/messages"), `major` its major parameter. */
  check(route: string, bucket: string, major: string, token: string | null): Verdict {
    const now = Date.now();
    const stats = this.routes.get(route) ?? { requests: 0, rateLimited: 0 };
    this.routes.set(route, stats);
    stats.requests++;
    const lim = this.limits[bucket] ?? this.limits.default!;
    const key = `${bucket}:${major}`;
    let w = this.windows.get(key);
    if (!w || now >= w.start + lim.windowMs) { w = { start: now, used: 0 }; this.windows.set(key, w); }
    const resetAt = w.start + lim.windowMs;
    const hash = createHash("sha1").update(bucket).digest("hex").slice(0, 16);
    const headers = (remaining: number): Record<string, string> => ({
      "x-ratelimit-limit": String(lim.limit), "x-ratelimit-remaining": String(Math.max(remaining, 0)),
      "x-ratelimit-reset": (resetAt / 1000).toFixed(3), "x-ratelimit-reset-after": secs(resetAt - now), "x-ratelimit-bucket": hash,
    });
    const limited = (retryAfterMs: number, global: boolean, scope: string, h: Record<string, string>): Verdict => {
      stats.rateLimited++;
      return { headers: { ...h, "retry-after": secs(retryAfterMs), "x-ratelimit-scope": scope, ...(global ? { "x-ratelimit-global": "true" } : {}) }, limited: { retryAfterMs, global, scope } };
    };
    const s = this.storm;
    if (s && s.left > 0 && now < s.until) {
      s.left--;
      const wait = s.until === Number.POSITIVE_INFINITY ? s.retryAfterMs : Math.min(s.retryAfterMs, s.until - now);
      return limited(wait, s.global, s.global ? "global" : "shared", s.global ? {} : headers(w.used >= lim.limit ? 0 : lim.limit - w.used));
    }
    if (s && (s.left <= 0 || now >= s.until)) this.storm = null;
    if (token !== null) {
      const g = this.windows.get(`global:${token}`);
      const gw = !g || now >= g.start + 1000 ? { start: now, used: 0 } : g;
      this.windows.set(`global:${token}`, gw);
      if (gw.used >= this.globalPerSecond) return limited(gw.start + 1000 - now, true, "global", {});
      gw.used++;
    }
    if (w.used >= lim.limit) return limited(resetAt - now, false, "user", headers(0));
    w.used++;
    return { headers: headers(lim.limit - w.used), limited: null };
  }

  totals(): RouteStats {
    let requests = 0, rateLimited = 0;
    for (const r of this.routes.values()) { requests += r.requests; rateLimited += r.rateLimited; }
    return { requests, rateLimited };
  }
}
