import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { NotReadyError, PermanentDeliveryError } from "../../core/adapter.ts";
import { runJunction, type RunningJunction } from "../../core/app.ts";
import { actorId, remoteId, roomRef, type BridgeEvent } from "../../core/events.ts";
import { registerAdapters } from "../../core/registry.ts";
import { ALL_CAPS, FakeAdapter } from "../support/fake-adapter.ts";

const log = pino({ level: "silent" });
const running: RunningJunction[] = [];
afterEach(async () => { for (const r of running.splice(0)) await r.stop(); });

async function setup(opts: { path?: string; xmpp?: FakeAdapter; matrix?: FakeAdapter } = {}) {
  const xmpp = opts.xmpp ?? new FakeAdapter("xmpp");
  const matrix = opts.matrix ?? new FakeAdapter("matrix");
  const app = await runJunction(
    { store: { path: opts.path ?? ":memory:" }, links: { lobby: { xmpp: ["a@muc", "b@muc"], matrix: ["!m:hs"] }, other: { xmpp: ["c@muc"], matrix: ["!n:hs"] } } },
    [xmpp, matrix], log,
  );
  running.push(app);
  return { app, xmpp, matrix };
}

const ev = (over: Partial<BridgeEvent> & { kind: BridgeEvent["kind"] }, sender = "alice"): BridgeEvent => ({
  origin: "xmpp", room: roomRef("a@muc"), ts: 1, sender: { id: actorId(sender), name: sender, isBot: false }, ...over,
} as BridgeEvent);

describe("routing", () => {
  it("sends an event to every other room of its link, never back to its origin or to another link", async () => {
    const { app, xmpp, matrix } = await setup();
    await xmpp.say("a@muc", "hello", "s1");
    await app.queues.idle();
    expect(xmpp.sent.map((s) => s.room)).toEqual(["b@muc"]);
    expect(matrix.sent.map((s) => s.room)).toEqual(["!m:hs"]);
    expect(matrix.sent[0]!.event).toMatchObject({ kind: "message", body: { text: "hello" } });
  });

  it("drops events from rooms in no link", async () => {
    const { app, xmpp, matrix } = await setup();
    await xmpp.say("zzz@muc", "hello", "s1");
    await app.queues.idle();
    expect(xmpp.sent.length + matrix.sent.length).toBe(0);
  });

  it("never bridges what its own puppets said (loop safety)", async () => {
    const { app, xmpp, matrix } = await setup();
    app.store.puppets.put({ network: "xmpp", actor: actorId("@bob:hs"), handle: "puppet-bob" });
    await xmpp.say("a@muc", "echo", "s1", {}, "puppet-bob");
    await app.queues.idle();
    expect(xmpp.sent.length + matrix.sent.length).toBe(0);
  });

  it("ignores a replayed message (same native id) and a batch key seen before", async () => {
    const { app, xmpp, matrix } = await setup();
    await xmpp.say("a@muc", "one", "s1");
    await xmpp.say("a@muc", "one again", "s1");
    const batch = [ev({ kind: "message", origin: "matrix", room: roomRef("!m:hs"), remoteId: remoteId("$e1"), body: { text: "m" }, attachments: [], isAction: false, mentions: [] })];
    await matrix.host.emit(batch, { dedupeKey: "txn1" });
    await matrix.host.emit([{ ...batch[0]!, remoteId: remoteId("$e2") } as BridgeEvent], { dedupeKey: "txn1" });
    await app.queues.idle();
    expect(matrix.sent.map((s) => (s.event as { body: { text: string } }).body.text)).toEqual(["one"]);
    expect(xmpp.sent.filter((s) => s.room === "a@muc").length).toBe(1);
  });

  it("rejects two adapters for one network", () => {
    expect(() => registerAdapters([new FakeAdapter("xmpp"), new FakeAdapter("xmpp")])).toThrow(/two adapters registered for xmpp/);
  });

  it("refuses a link whose network has no adapter", async () => {
    await expect(runJunction({ store: { path: ":memory:" }, links: { l: { xmpp: ["a@muc"], discord: ["1"] } } }, [new FakeAdapter("xmpp")], log))
      .rejects.toThrow(/discord rooms but no discord adapter/);
  });
});

describe("ordering and retries", () => {
  it("keeps order per destination room even when sends take varying time", async () => {
    const matrix = new FakeAdapter("matrix");
    matrix.delay = () => Math.floor(Math.random() * 3);
    const { app, xmpp } = await setup({ matrix });
    for (let i = 0; i < 200; i++) await xmpp.say("a@muc", `m${i}`, `s${i}`);
    await app.queues.idle();
    expect(matrix.sent.map((s) => (s.event as { body: { text: string } }).body.text)).toEqual(Array.from({ length: 200 }, (_, i) => `m${i}`));
  });

  it("retries a failing delivery with backoff and holds later ones behind it", async () => {
    const matrix = new FakeAdapter("matrix");
    let failures = 2;
    matrix.failWith = () => (failures-- > 0 ? new Error("502 from homeserver") : undefined);
    const { app, xmpp } = await setup({ matrix });
    await xmpp.say("a@muc", "first", "s1");
    await xmpp.say("a@muc", "second", "s2");
    await app.queues.idle(10_000);
    expect(matrix.sent.map((s) => (s.event as { body: { text: string } }).body.text)).toEqual(["first", "second"]);
    expect(app.queues.stats.retried).toBe(2);
  });

  it("records a permanent failure with its reason and moves on", async () => {
    const matrix = new FakeAdapter("matrix");
    matrix.failWith = (_r, e) => ((e as { body?: { text: string } }).body?.text === "bad" ? new PermanentDeliveryError("M_FORBIDDEN: not allowed") : undefined);
    const { app, xmpp } = await setup({ matrix });
    await xmpp.say("a@muc", "bad", "s1");
    await xmpp.say("a@muc", "good", "s2");
    await app.queues.idle();
    expect(matrix.sent.map((s) => (s.event as { body: { text: string } }).body.text)).toEqual(["good"]);
    expect(app.store.outbox.failed()).toMatchObject([{ network: "matrix", room: "!m:hs", error: "M_FORBIDDEN: not allowed", attempts: 1 }]);
  });

  it("waits while a destination is not ready, then delivers at once", async () => {
    const { app, xmpp, matrix } = await setup();
    matrix.host.setReady(false);
    await xmpp.say("a@muc", "while down", "s1");
    await new Promise((r) => setTimeout(r, 50));
    expect(matrix.sent).toHaveLength(0);
    matrix.host.setReady(true);
    await app.queues.idle();
    expect(matrix.sent).toHaveLength(1);
  });

  it("retries NotReadyError without counting it as a failure", async () => {
    const matrix = new FakeAdapter("matrix");
    let n = 1;
    matrix.failWith = () => (n-- > 0 ? new NotReadyError("joining") : undefined);
    const { app, xmpp } = await setup({ matrix });
    await xmpp.say("a@muc", "x", "s1");
    await app.queues.idle(5000);
    expect(matrix.sent).toHaveLength(1);
    expect(app.queues.stats.retried).toBe(0);
  });
});

describe("targets through the copies table", () => {
  it("resolves edit, reply, reaction and retraction targets in each destination", async () => {
    const { app, xmpp, matrix } = await setup();
    await xmpp.say("a@muc", "original", "s1");
    await xmpp.host.emit([
      ev({ kind: "edit", target: remoteId("s1"), body: { text: "fixed" } }),
      ev({ kind: "message", remoteId: remoteId("s2"), body: { text: "re" }, attachments: [], isAction: false, mentions: [], replyTo: remoteId("s1") }, "bob"),
      ev({ kind: "reaction", target: remoteId("s1"), emoji: "👍", added: true }, "bob"),
      ev({ kind: "reaction", target: remoteId("s1"), emoji: "🎉", added: true }, "bob"),
      ev({ kind: "reaction", target: remoteId("s1"), emoji: "👍", added: false }, "bob"),
    ]);
    await app.queues.idle();
    await xmpp.host.emit([ev({ kind: "retract", target: remoteId("s1") })]);
    await app.queues.idle();
    const m = matrix.sent;
    const orig = m[0]!.ids[0]!.id;
    expect(m.map((s) => s.event.kind)).toEqual(["message", "edit", "message", "reaction", "reaction", "reaction", "retract"]);
    expect(m[1]!.ctx.target?.remoteId).toBe(orig);
    expect(m[2]!.ctx.replyTo).toMatchObject({ remoteId: orig, authorName: "alice", excerpt: "original" });
    expect(m[3]!.ctx.target?.remoteId).toBe(orig);
    expect(m[5]!.ctx.reaction?.remoteId).toBe(m[3]!.ids[0]!.id);
    expect(m[5]!.ctx.reactionSet).toEqual(["🎉"]);
    expect(m[6]!.ctx.target?.remoteId).toBe(orig);
    // the other XMPP room got the same, with its own ids
    expect(xmpp.sent.filter((s) => s.room === "b@muc")[1]!.ctx.target?.remoteId).toBe(xmpp.sent[0]!.ids[0]!.id);
  });

  it("tells an adapter the reactions a person has on a message, as recorded", async () => {
    const { app, xmpp } = await setup();
    await xmpp.say("a@muc", "x", "s1");
    await xmpp.host.emit([
      ev({ kind: "reaction", target: remoteId("s1"), emoji: "👍", added: true }, "bob"),
      ev({ kind: "reaction", target: remoteId("s1"), emoji: "🎉", added: true }, "bob"),
      ev({ kind: "reaction", target: remoteId("s1"), emoji: "👍", added: false }, "bob"),
    ]);
    await app.queues.idle();
    expect(xmpp.host.reactions(roomRef("a@muc"), "s1", "bob")).toEqual(["🎉"]);
    expect(xmpp.host.reactions(roomRef("a@muc"), "unknown", "bob")).toEqual([]);
  });

  it("lets an adapter find a message by its sender's own id only (corrections)", async () => {
    const { app, xmpp } = await setup();
    await app.store.tx(() => undefined);
    await xmpp.say("a@muc", "x", "stanza-1");
    app.store.messages.addAlias("xmpp", "a@muc", "stanza-1", "alias-1");
    expect(xmpp.host.findMessage(roomRef("a@muc"), { remoteId: "alias-1" })).toMatchObject({ remoteId: "alias-1", kind: "message", postedAs: "alice" });
    expect(xmpp.host.findMessage(roomRef("a@muc"), { remoteId: "nope" })).toBeUndefined();
  });

  it("finds targets and delivers leftovers after the store is reopened", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "junction-")), "j.db");
    const matrix1 = new FakeAdapter("matrix");
    matrix1.failWith = (_r, e) => ((e as { body?: { text: string } }).body?.text === "later" ? new Error("down") : undefined);
    const first = await setup({ path, matrix: matrix1 });
    await first.xmpp.say("a@muc", "hello", "s1");
    await first.xmpp.say("a@muc", "later", "s2");
    await new Promise((r) => setTimeout(r, 50));
    await first.app.stop();
    running.splice(running.indexOf(first.app), 1);

    const second = await setup({ path });
    await second.xmpp.host.emit([ev({ kind: "edit", target: remoteId("s1"), body: { text: "hello!" } })]);
    await second.app.queues.idle();
    const texts = second.matrix.sent.map((s) => `${s.event.kind}:${(s.event as { body: { text: string } }).body.text}`);
    expect(texts).toEqual(["message:later", "edit:hello!"]);
    expect(second.matrix.sent[1]!.ctx.target?.remoteId).toBe(matrix1.sent[0]!.ids[0]!.id);
    expect(second.matrix.sent[0]!.ctx.attempt).toBeGreaterThan(0);
  });
});

describe("ingest", () => {
  it("commits a turn's emits together, keeps their order, and resolves each only once committed", async () => {
    const { app, xmpp, matrix } = await setup();
    const emits = Array.from({ length: 50 }, (_, i) => xmpp.say("a@muc", `m${i}`, `s${i}`));
    expect(app.store.messages.idOf("xmpp", "a@muc", "s0")).toBeUndefined(); // not yet: same turn
    await emits[0];
    expect(app.store.messages.idOf("xmpp", "a@muc", "s0")).toBeDefined();
    await Promise.all(emits);
    await app.queues.idle();
    expect(matrix.sent.map((s) => (s.event as { body: { text: string } }).body.text)).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
  });

  it("records an adapter's cursor, also with no events (a room linked for the first time)", async () => {
    const { xmpp } = await setup();
    await xmpp.host.emit([], { cursor: { room: roomRef("a@muc"), value: "2026-11-30T00:00:00.000Z" } });
    expect(xmpp.host.cursor(roomRef("a@muc"))).toBe("2026-11-30T00:00:00.000Z");
  });

  it("a turn's emits leave each room's cursor at the last one emitted for it", async () => {
    const { app, xmpp } = await setup();
    const at = (room: string, value: string) => xmpp.host.emit([], { cursor: { room: roomRef(room), value } });
    await Promise.all([at("a@muc", "1"), at("b@muc", "x"), at("a@muc", "2"), at("a@muc", "3"), at("b@muc", "y")]);
    expect([xmpp.host.cursor(roomRef("a@muc")), xmpp.host.cursor(roomRef("b@muc"))]).toEqual(["3", "y"]);
    expect(app.store.cursor("xmpp", "a@muc")).toBe("3");
  });

  it("a message seen before (same native id) is not recorded or sent again, also within one turn", async () => {
    const { app, xmpp, matrix } = await setup();
    await Promise.all([xmpp.say("a@muc", "once", "s1"), xmpp.say("a@muc", "once again", "s1")]);
    await xmpp.say("a@muc", "replayed later", "s1");
    await app.queues.idle();
    expect(matrix.sent.map((s) => (s.event as { body: { text: string } }).body.text)).toEqual(["once"]);
    const count = app.store.db.prepare("SELECT count(*) AS n FROM messages").get() as { n: number };
    expect(count.n).toBe(1); // the replays' rows were taken back
  });

  it("fails one emit alone when its events cannot be recorded", async () => {
    const { app, xmpp, matrix } = await setup();
    const bad = { kind: "message", origin: "xmpp", room: roomRef("a@muc"), ts: 1, sender: { id: actorId("x"), name: "x", isBot: false }, remoteId: remoteId("b1"),
      body: { text: "bad" }, attachments: [], isAction: false, mentions: [], extra: 1n } as unknown as BridgeEvent; // a BigInt cannot be stored as JSON
    const results = await Promise.allSettled([xmpp.say("a@muc", "before", "s1"), xmpp.host.emit([bad]), xmpp.say("a@muc", "after", "s2")]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    await app.queues.idle();
    expect(matrix.sent.map((s) => (s.event as { body: { text: string } }).body.text)).toEqual(["before", "after"]);
    expect(app.store.messages.idOf("xmpp", "a@muc", "b1")).toBeUndefined(); // rolled back to its savepoint
  });
});

describe("ids", () => {
  it("never hands out a delivery id twice (ids are idempotency keys)", async () => {
    const { app, xmpp, matrix } = await setup();
    await xmpp.say("a@muc", "one", "s1");
    await app.queues.idle();
    await xmpp.say("a@muc", "two", "s2");
    await app.queues.idle();
    const ids = [...matrix.sent, ...xmpp.sent].map((s) => s.ctx.deliveryId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("points destinations at the server-assigned id once an alias is known", async () => {
    const { app, xmpp } = await setup();
    await xmpp.say("a@muc", "hello", "s1");
    await app.queues.idle();
    const ours = xmpp.sent[0]!;
    // The MUC reflected our message with its stanza-id ("zz…" sorts after our id, so key order alone
    // would not pick it): recorded as an alias of our id, and preferred from then on.
    app.store.messages.addAlias("xmpp", "b@muc", ours.ids[0]!.id, "zz-stanza-id");
    await xmpp.host.emit([ev({ kind: "retract", target: remoteId("s1") })]);
    await app.queues.idle();
    expect(xmpp.sent.at(-1)!.ctx.target?.remoteId).toBe("zz-stanza-id");
  });

  it("finds a message by its sender's own id (altId), and only among the copies posted as that sender", async () => {
    const { xmpp } = await setup();
    await xmpp.say("a@muc", "x", "stanza-1", { altId: "client-1" } as Partial<BridgeEvent>);
    expect(xmpp.host.findMessage(roomRef("a@muc"), { altId: "client-1", postedAs: "alice" })?.remoteId).toBe("stanza-1");
    expect(xmpp.host.findMessage(roomRef("a@muc"), { altId: "client-1", postedAs: "mallory" })).toBeUndefined();
  });
});

describe("fallbacks", () => {
  it("turns edits, reactions and replies into messages where the destination lacks them", async () => {
    const matrix = new FakeAdapter("matrix", { ...ALL_CAPS, edits: false, reactions: false, replies: false, retractions: false, typing: false });
    const { app, xmpp } = await setup({ matrix });
    await xmpp.say("a@muc", "hi there", "s1");
    await xmpp.host.emit([
      ev({ kind: "edit", target: remoteId("s1"), body: { text: "hi there!" } }),
      ev({ kind: "reaction", target: remoteId("s1"), emoji: "👍", added: true }, "bob"),
      ev({ kind: "message", remoteId: remoteId("s3"), body: { text: "yes" }, attachments: [], isAction: false, mentions: [], replyTo: remoteId("s1") }, "bob"),
      ev({ kind: "typing", active: true }),
    ]);
    await app.queues.idle();
    await xmpp.host.emit([
      ev({ kind: "retract", target: remoteId("s1") }),
    ]);
    await app.queues.idle();
    expect(matrix.sent.map((s) => (s.event as { body: { text: string } }).body.text)).toEqual([
      "hi there", "* hi there!", "reacted 👍 to “hi there”", "> alice: hi there\nyes",
    ]);
  });
});
