import { describe, expect, it } from "vitest";
import { Unconfirmed } from "../../bridges/xmpp/unconfirmed.ts";

describe("unconfirmed deliveries", () => {
  it("forgets a delivery when the room reflects any of its ids", () => {
    const u = new Unconfirmed<string>();
    u.add(["a1", "a2"], "A", 1);
    u.add(["b1"], "B", 2);
    u.confirm("a2");
    expect(u.size).toBe(1);
    expect(u.take(1000, 3)).toEqual(["B"]);
    expect(u.size).toBe(0);
  });

  it("gives back what is left oldest first, dropping what is too old to send again", () => {
    const u = new Unconfirmed<string>();
    u.add(["c"], "C", 300);
    u.add(["a"], "A", 100);
    u.add(["old"], "OLD", 0);
    expect(u.take(250, 350)).toEqual(["A", "C"]);
  });

  it("ignores confirmations of ids it does not hold, and empty deliveries", () => {
    const u = new Unconfirmed<string>();
    u.add([], "nothing");
    u.confirm("x");
    expect(u.size).toBe(0);
  });
});
