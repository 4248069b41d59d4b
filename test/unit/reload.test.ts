import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { NotReadyError } from "../../core/adapter.ts";
import type { RoomRef } from "../../core/events.ts";
import { runJunction, type CoreConfig, type RunningJunction } from "../../core/app.ts";
import { LinkIndex } from "../../core/links.ts";
import { changedKeys, diffLinks, diffRooms } from "../../core/reload.ts";
import { FakeAdapter } from "../support/fake-adapter.ts";

const log = pino({ level: "silent" });

describe("the link-set diff", () => {
  it("names links added, removed and changed; rooms compare as written, in any order, per network", () => {
    const d = diffLinks(
      { a: { xmpp: ["a@muc"], matrix: ["#a:hs"] }, b: { xmpp: ["b@muc", "b2@muc"], matrix: ["#b:hs"] }, c: { xmpp: ["c@muc"], discord: ["1"] }, same: { xmpp: ["s@muc"] } },
      { b: { xmpp: [" b2@muc", "b@muc"], matrix: ["#b:hs"] }, c: { xmpp: ["c@muc"], matrix: ["1"] }, same: { xmpp: ["s@muc"], matrix: [] }, n: { xmpp: ["n@muc"] } },
    );
    expect(d).toEqual({ added: ["n"], removed: ["a"], changed: ["c"] });
  });

  it("joins only rooms no link had and leaves only rooms no link has: a room that moves to another link stays", () => {
    const r = (network: "xmpp" | "matrix", room: string) => ({ network, room: room as RoomRef });
    const d = diffRooms(
      [{ name: "a", rooms: [r("xmpp", "a@muc"), r("matrix", "!a")] }, { name: "b", rooms: [r("xmpp", "b@muc"), r("matrix", "!b")] }],
      [{ name: "b", rooms: [r("xmpp", "b@muc"), r("matrix", "!b")] }, { name: "c", rooms: [r("xmpp", "a@muc"), r("matrix", "!c")] }],
    );
    expect(d.join).toEqual([{ network: "matrix", room: "!c" }]);
    expect(d.leave).toEqual([{ network: "matrix", room: "!a" }]);
  });

  it("names every changed key outside the live ones by its path, never its value", () => {
    const before = { xmpp: { server: "a", secret: "s1", nick: "J" }, store: { path: "/x" }, links: { a: {} }, http: undefined };
    const after = { xmpp: { server: "b", secret: "s2", nick: "J" }, store: { path: "/x" }, links: { b: {} }, http: { listen: { port: 1 } } };
    expect(changedKeys(before, after, ["links"])).toEqual(["http", "xmpp.secret", "xmpp.server"]);
    expect(changedKeys(before, before, ["links"])).toEqual([]);
  });

  it("a link set with a room in two links is refused as a whole, the running set unchanged", () => {
    const index = new LinkIndex([{ name: "a", rooms: [{ network: "xmpp", room: "a@muc" as RoomRef }, { network: "matrix", room: "!a" as RoomRef }] }]);
    expect(() => index.replace([
      { name: "b", rooms: [{ network: "xmpp", room: "x@muc" as RoomRef }] },
      { name: "c", rooms: [{ network: "xmpp", room: "x@muc" as RoomRef }] },
    ])).toThrow(/in two links/);
    expect(index.all().map((l) => l.name)).toEqual(["a"]);
    expect(index.linkOf("xmpp", "a@muc")?.name).toBe("a");
  });
});

class LinkingAdapter extends FakeAdapter {
  readonly linked: string[] = [];
  readonly unlinked: string[] = [];
  async linkRoom(room: RoomRef): Promise<void> { this.linked.push(room); }
  async unlinkRoom(room: RoomRef): Promise<void> { this.unlinked.push(room); }
}

describe("reload", () => {
  const running: RunningJunction[] = [];
  afterEach(async () => { for (const r of running.splice(0)) await r.stop(); });

  async function setup(next: () => CoreConfig | Error) {
    const xmpp = new LinkingAdapter("xmpp");
    const matrix = new LinkingAdapter("matrix");
    const config: CoreConfig = { store: { path: ":memory:" }, links: { a: { xmpp: ["a@muc"], matrix: ["!a"] }, b: { xmpp: ["b@muc"], matrix: ["!b"] } } };
    const app = await runJunction(config, [xmpp, matrix], log, {
      reread: async () => { const c = next(); if (c instanceof Error) throw c; return c; },
    });
    running.push(app);
    return { app, xmpp, matrix };
  }

  it("starts added links, stops removed ones and routes every event by the old set or the new one", async () => {
    const { app, xmpp, matrix } = await setup(() => ({ store: { path: ":memory:" }, links: { b: { xmpp: ["b@muc"], matrix: ["!b"] }, c: { xmpp: ["c@muc"], matrix: ["!c"] } } }));
    await xmpp.say("a@muc", "to a before", "x1");
    // Emitted in the same turn as the reload starts: committed with the set of that moment.
    const during = xmpp.say("b@muc", "to b during", "x2");
    const outcome = await app.reload();
    await during;
    expect(outcome).toEqual({ applied: true, added: ["c"], removed: ["a"], changed: [] });
    expect(xmpp.linked).toEqual(["c@muc"]);
    expect(matrix.linked).toEqual(["!c"]);
    expect(xmpp.unlinked).toEqual(["a@muc"]);
    expect(matrix.unlinked).toEqual(["!a"]);
    await xmpp.say("a@muc", "to a after", "x3");
    await xmpp.say("c@muc", "to c", "x4");
    await matrix.say("!c", "from c", "m1");
    await app.queues.idle();
    expect(matrix.sent.map((s) => [s.room, s.event.kind === "message" ? s.event.body.text : ""])).toEqual([
      ["!a", "to a before"], ["!b", "to b during"], ["!c", "to c"],
    ]);
    expect(xmpp.sent.map((s) => s.room)).toEqual(["c@muc"]);
    expect(app.links.all().map((l) => l.name)).toEqual(["b", "c"]);
  });

  it("updates a changed link: a room added joins, a room removed is left, a room moved to another link stays", async () => {
    const { app, xmpp, matrix } = await setup(() => ({
      store: { path: ":memory:" },
      links: { a: { xmpp: ["a@muc"], matrix: ["!a2"] }, b: { xmpp: ["b@muc", "b2@muc"] }, c: { xmpp: ["c@muc"], matrix: ["!a"] } },
    }));
    expect(await app.reload()).toEqual({ applied: true, added: ["c"], removed: [], changed: ["a", "b"] });
    expect(xmpp.linked.sort()).toEqual(["b2@muc", "c@muc"]);
    expect(matrix.linked).toEqual(["!a2"]);
    expect(matrix.unlinked).toEqual(["!b"]);
    expect(xmpp.unlinked).toEqual([]);
    await matrix.say("!a", "moved", "m1");
    await xmpp.say("b@muc", "to b2", "x1");
    await app.queues.idle();
    expect(xmpp.sent.map((s) => s.room).sort()).toEqual(["b2@muc", "c@muc"]);
    expect(matrix.sent).toEqual([]);
  });

  it("delivers what was queued for a room that leaves its link before the bridge leaves it", async () => {
    const { app, xmpp, matrix } = await setup(() => ({ store: { path: ":memory:" }, links: { b: { xmpp: ["b@muc"], matrix: ["!b"] } } }));
    matrix.delay = () => 300;
    await xmpp.say("a@muc", "queued for a", "x1");
    expect(await app.reload()).toMatchObject({ applied: true, removed: ["a"] });
    expect(matrix.sent.map((s) => s.room)).toEqual(["!a"]);
    expect(matrix.unlinked).toEqual(["!a"]);
    expect(app.store.outbox.failed()).toEqual([]);
  });

  it("records as failed, with the reason, what could not be delivered to a retired room in time", async () => {
    const { app, xmpp, matrix } = await setup(() => new Error("unused"));
    matrix.failWith = () => new NotReadyError("homeserver away");
    await xmpp.say("a@muc", "stuck for a", "x1");
    const r = await app.queues.retire("matrix", "!a", 300, "its link was removed");
    expect(r).toEqual({ delivered: 0, failed: 1 });
    expect(app.store.outbox.failed().map((f) => f.error)).toEqual(["its link was removed"]);
    expect(app.queues.roomState("matrix", "!a").depth).toBe(0);
  });

  it("refuses an invalid config with its message and keeps the running links", async () => {
    const { app, xmpp, matrix } = await setup(() => new Error("junction.yaml: links.b.xmpp[0]: expected a room JID (line 3)"));
    expect(await app.reload()).toEqual({ applied: false, reason: "junction.yaml: links.b.xmpp[0]: expected a room JID (line 3)" });
    await xmpp.say("a@muc", "still a", "x1");
    await app.queues.idle();
    expect(matrix.sent.map((s) => s.room)).toEqual(["!a"]);
    expect(xmpp.unlinked).toEqual([]);
  });

  it("refuses links on a network that has no adapter (a new network needs a restart)", async () => {
    const { app } = await setup(() => ({ store: { path: ":memory:" }, links: { d: { xmpp: ["d@muc"], discord: ["123"] } } }));
    const outcome = await app.reload();
    expect(outcome).toMatchObject({ applied: false });
    expect(outcome.applied ? "" : outcome.reason).toContain('link "d" has discord rooms but no discord adapter');
    expect(app.links.all().map((l) => l.name)).toEqual(["a", "b"]);
  });
});

describe("reload resolves rooms again", () => {
  it("follows an alias that points elsewhere now, and keeps a room the network cannot resolve now", async () => {
    const xmpp = new LinkingAdapter("xmpp");
    const matrix = new LinkingAdapter("matrix");
    const aliases = new Map([["#a:hs", "!a1"], ["#b:hs", "!b1"]]);
    matrix.resolveRoom = async (configured) => {
      const id = aliases.get(configured);
      if (!id) throw new Error("homeserver unreachable");
      return id as RoomRef;
    };
    const config: CoreConfig = { store: { path: ":memory:" }, links: { a: { xmpp: ["a@muc"], matrix: ["#a:hs"] }, b: { xmpp: ["b@muc"], matrix: ["#b:hs"] } } };
    const app = await runJunction(config, [xmpp, matrix], log, { reread: async () => config });
    try {
      aliases.set("#a:hs", "!a2");
      aliases.delete("#b:hs");
      expect(await app.reload()).toEqual({ applied: true, added: [], removed: [], changed: [] });
      expect(matrix.linked).toEqual(["!a2"]);
      expect(matrix.unlinked).toEqual(["!a1"]);
      expect(app.links.linkOf("matrix", "!b1")?.name).toBe("b");
    } finally {
      await app.stop();
    }
  });
});
