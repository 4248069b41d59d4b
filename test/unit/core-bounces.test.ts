import { describe, expect, it } from "vitest";
import { RecentDeliveries } from "../../core/bounces.ts";
import type { OutboxRow } from "../../core/store/outbox-store.ts";

const row = (id: number, chars: number): OutboxRow => ({
  id, link: "l", network: "xmpp", room: "r@muc", messageId: id, event: JSON.stringify({ kind: "message", text: "A".repeat(chars) }), created: 0, attempts: 0, nextTry: 0,
});

describe("deliveries done lately (what a bounce is tied back to)", () => {
  it("finds a recent delivery by any id it produced", () => {
    const recent = new RecentDeliveries();
    recent.remember(row(1, 10), ["a", "b"], 1000);
    expect(recent.find("xmpp", "r@muc", "b", 2000)?.row.id).toBe(1);
    expect(recent.find("xmpp", "r@muc", "c", 2000)).toBeUndefined();
    expect(recent.find("xmpp", "r@muc", "a", 1000 + 11 * 60_000)).toBeUndefined();
  });

  it("holds at most 8 MiB of event text: big messages push the oldest out, however recent", () => {
    const recent = new RecentDeliveries();
    for (let i = 0; i < 200; i++) recent.remember(row(i, 250_000), [`m${i}`], 1000 + i);
    expect(recent.chars).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(recent.chars).toBeGreaterThan(7 * 1024 * 1024);
    expect(recent.find("xmpp", "r@muc", "m199", 2000)?.row.id).toBe(199);
    expect(recent.find("xmpp", "r@muc", "m0", 2000)).toBeUndefined();
    // Remembering the same id again counts it once.
    recent.remember(row(199, 250_000), ["m199"], 3000);
    recent.remember(row(199, 250_000), ["m199"], 3001);
    expect(recent.chars).toBeLessThanOrEqual(8 * 1024 * 1024);
  });
});
