import { describe, expect, it } from "vitest";
import { afterFailure, type RetryPolicy } from "../../core/retry.ts";
import type { OutboxRow } from "../../core/store/outbox-store.ts";

const policy: RetryPolicy = { maxAttempts: 3, maxAgeMs: 3600_000 };
const now = 1_000_000_000;
const row = (attempts: number, ageMs = 0): OutboxRow => ({
  id: 1, link: "l", network: "xmpp", room: "r@muc", messageId: 1, event: "{}", created: now - ageMs, attempts, nextTry: 0,
});

describe("what follows a failed delivery (afterFailure)", () => {
  it("retries a transient failure after a backoff, counting the attempt", () => {
    const r = row(0);
    const next = afterFailure(policy, r, "transient", "HTTP 502", now);
    expect(r.attempts).toBe(1);
    expect(next).toEqual({ retryAt: expect.any(Number) });
    const at = (next as { retryAt: number }).retryAt;
    expect(at - now).toBeGreaterThanOrEqual(800); // 1 s with ±20 % jitter
    expect(at - now).toBeLessThanOrEqual(1200);
  });

  it("gives up a permanent failure at once, with its own reason", () => {
    const r = row(0);
    expect(afterFailure(policy, r, "permanent", "HTTP 403: Missing Permissions", now)).toEqual({ giveUp: "HTTP 403: Missing Permissions" });
    expect(r.attempts).toBe(1);
  });

  it("gives up at the attempt cap, saying how many attempts over how long", () => {
    const r = row(2);
    const next = afterFailure(policy, r, "transient", "timeout", now);
    expect(r.attempts).toBe(3);
    expect(next).toEqual({ giveUp: expect.stringMatching(/^gave up after 3 attempts over [\d.]+ h: timeout$/) });
  });

  it("gives up past the age cap even on the first failure", () => {
    expect(afterFailure(policy, row(0, 3600_000), "transient", "reset", now)).toEqual({ giveUp: expect.stringContaining("gave up after 1 attempts") });
  });

  it("does not count a not-ready wait as an attempt, and retries it at once", () => {
    const r = row(2);
    expect(afterFailure(policy, r, "not-ready", "not connected", now)).toEqual({ retryAt: now });
    expect(r.attempts).toBe(2);
  });
});
