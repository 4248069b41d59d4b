import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Adapter } from "../../core/adapter.ts";
import { roomRef, type Network } from "../../core/events.ts";
import { LinkIndex } from "../../core/links.ts";
import { MAX_RETRY_MS, RoomResolver, type ResolvedLater } from "../../core/resolve.ts";

function capture() {
  const lines: { level: number; msg: string }[] = [];
  return { lines, log: pino({ level: "debug" }, { write: (l: string) => { lines.push(JSON.parse(l)); } }) };
}

/** An adapter whose rooms resolve only once `answers` runs out of errors. */
function adapter(network: Network, answers: (string | Error)[]): Adapter & { calls: number } {
  const a = {
    network, calls: 0,
    async resolveRoom(configured: string) {
      a.calls++;
      const next = answers.shift();
      if (next instanceof Error) throw next;
      return roomRef(next ?? configured.replace("#", "!"));
    },
  };
  return a as unknown as Adapter & { calls: number };
}

afterEach(() => { vi.useRealTimers(); });

describe("rooms that resolve after start", () => {
  it("are retried with a capped backoff, logged once per reason, and join their link", async () => {
    vi.useFakeTimers();
    const { lines, log } = capture();
    const down = new Error("homeserver unreachable");
    const matrix = adapter("matrix", [down, down, down, new Error("alias does not exist"), new Error("alias does not exist"), "!late:x"]);
    const xmpp = adapter("xmpp", ["lobby@muc.x"]);
    const r = new RoomResolver(log);
    const links = new LinkIndex(await r.resolveAll({ lobby: { xmpp: ["lobby@muc.x"], matrix: ["#late:x"] } }, new Map<Network, Adapter>([["xmpp", xmpp], ["matrix", matrix]])));
    expect(links.linkOf("xmpp", "lobby@muc.x")?.rooms).toHaveLength(1);
    const resolved: ResolvedLater[] = [];
    r.start((x) => { resolved.push(x); links.addRoom(x.link, x.room); });
    await vi.advanceTimersByTimeAsync(1_300); // 1 s
    await vi.advanceTimersByTimeAsync(2_500); // 2 s
    expect(matrix.calls).toBe(3);
    await vi.advanceTimersByTimeAsync(5_000 + 10_000 + 20_000); // 4, 8, 16 s
    expect(resolved).toEqual([{ link: "lobby", room: { network: "matrix", room: "!late:x" } }]);
    expect(links.destinations("xmpp", "lobby@muc.x")).toEqual([{ network: "matrix", room: "!late:x" }]);
    expect(links.linkOf("matrix", "!late:x")?.name).toBe("lobby");
    const errors = lines.filter((l) => l.level >= 50).map((l) => l.msg);
    expect(errors).toHaveLength(2); // "cannot resolve … yet: homeserver unreachable", then "still cannot … alias does not exist"
    expect(errors[0]).toMatch(/cannot resolve matrix room #late:x of link "lobby" yet: homeserver unreachable/);
    expect(errors[1]).toMatch(/alias does not exist/);
    expect(lines.filter((l) => /resolved; it joins link "lobby" now/.test(l.msg))).toHaveLength(1);
    expect(r.pending).toBe(0);
    r.stop();
  });

  it("never waits longer than the cap, and a network that becomes ready is tried at once", async () => {
    vi.useFakeTimers();
    const { log } = capture();
    const matrix = adapter("matrix", Array.from({ length: 30 }, () => new Error("down")));
    const r = new RoomResolver(log);
    await r.resolveAll({ l: { matrix: ["#a:x"], xmpp: ["a@muc.x"] } }, new Map<Network, Adapter>([["matrix", matrix], ["xmpp", adapter("xmpp", [])]]));
    r.start(() => undefined);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    const slowest = (10 * 60_000) / MAX_RETRY_MS;
    expect(matrix.calls).toBeGreaterThan(slowest * 0.8); // at least one try per (capped) interval, 20 in 10 min
    expect(matrix.calls).toBeLessThan(40); // and no tight loop
    const before = matrix.calls;
    r.retryNow("matrix");
    await vi.advanceTimersByTimeAsync(1);
    expect(matrix.calls).toBe(before + 1);
    r.stop();
  });

  it("a room added to a link that another link holds is refused", () => {
    const links = new LinkIndex([{ name: "a", rooms: [{ network: "xmpp", room: roomRef("a@x") }] }, { name: "b", rooms: [{ network: "matrix", room: roomRef("!b:x") }] }]);
    expect(() => links.addRoom("a", { network: "matrix", room: roomRef("!b:x") })).toThrow(/in two links/);
    links.addRoom("a", { network: "matrix", room: roomRef("!a:x") });
    links.addRoom("a", { network: "matrix", room: roomRef("!a:x") });
    expect(links.linkOf("xmpp", "a@x")?.rooms).toHaveLength(2);
  });

  it("looks up the rooms of many links at once, at most 16 in flight, and keeps each link's rooms", async () => {
    let inFlight = 0;
    let most = 0;
    const slow = {
      network: "matrix",
      async resolveRoom(configured: string) {
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        if (configured === "#bad:x") throw new Error("no such alias");
        return roomRef(configured.replace("#", "!"));
      },
    } as unknown as Adapter;
    const xmpp = adapter("xmpp", []);
    const config = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`l${i}`, { xmpp: [`r${i}@muc.x`], matrix: [i === 7 ? "#bad:x" : `#r${i}:x`] }]));
    const r = new RoomResolver(capture().log);
    const links = await r.resolveAll(config, new Map<Network, Adapter>([["xmpp", xmpp], ["matrix", slow]]));
    r.stop();
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(16);
    expect(links).toHaveLength(40);
    expect(links[3]).toEqual({ name: "l3", rooms: [{ network: "xmpp", room: "r3@muc.x" }, { network: "matrix", room: "!r3:x" }] });
    expect(links[7]!.rooms).toEqual([{ network: "xmpp", room: "r7@muc.x" }]);
  });
});
