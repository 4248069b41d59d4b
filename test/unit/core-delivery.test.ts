/**
 * Failure handling in the core, with the fake adapter: the retry cap, parts of a multi-part
 * delivery, late failures (bounces), a full disk, pacing, retention and erasure.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { DeliveredPart, DeliveryContext, RemoteIds } from "../../core/adapter.ts";
import { runJunction, type CoreConfig, type RunningJunction } from "../../core/app.ts";
import { NotReadyError, PermanentDeliveryError, TransientDeliveryError } from "../../core/errors.ts";
import { actorId, remoteId, roomRef, type BridgeEvent, type MessageEvent, type RoomRef } from "../../core/events.ts";
import { attachmentNote, degradesNow } from "../../core/fallbacks.ts";
import { Pacer } from "../../core/pacing.ts";
import { Store } from "../../core/store/store.ts";
import { ALL_CAPS, FakeAdapter } from "../support/fake-adapter.ts";

const running: RunningJunction[] = [];
afterEach(async () => { for (const r of running.splice(0)) await r.stop(); });

/** Records log lines, so a test can check that a give-up is said once, with its room and reason. */
function recordingLog() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "debug" }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
  return { log, lines };
}

/**
 * Sends a message as parts the way the real adapters do: part 0 its text, part i+1 its i-th
 * attachment, each recorded through ctx.partDelivered as it lands; `failPart` decides per part.
 */
class PartsAdapter extends FakeAdapter {
  readonly landed: { part: number; attempt: number; id: string }[] = [];
  failPart: ((part: number, attempt: number) => Error | undefined) | undefined;
  #n = 0;

  override async send(room: RoomRef, event: BridgeEvent, ctx: DeliveryContext): Promise<RemoteIds> {
    if (event.kind !== "message") return super.send(room, event, ctx);
    const done = new Map((ctx.delivered ?? []).map((p) => [p.part, p]));
    const ids: DeliveredPart[] = [];
    const parts = [...(event.body.text ? [0] : []), ...event.attachments.map((_, i) => i + 1)];
    for (const part of parts) {
      const had = done.get(part);
      if (had) { ids.push(had); continue; }
      const err = this.failPart?.(part, ctx.attempt);
      if (err) throw err;
      const p: DeliveredPart = { id: remoteId(`${this.network}-p${++this.#n}`), postedAs: `puppet:${event.sender.id}`, part, role: part === 0 ? "text" : "file" };
      this.landed.push({ part, attempt: ctx.attempt, id: p.id });
      ctx.partDelivered?.(p);
      ids.push(p);
    }
    this.sent.push({ room, event, ctx, ids });
    return ids;
  }
}

async function setup(opts: { path?: string; xmpp?: FakeAdapter; matrix?: FakeAdapter; config?: Partial<CoreConfig>; log?: pino.Logger } = {}) {
  const xmpp = opts.xmpp ?? new FakeAdapter("xmpp");
  const matrix = opts.matrix ?? new FakeAdapter("matrix");
  const app = await runJunction(
    { store: { path: opts.path ?? ":memory:" }, links: { lobby: { xmpp: ["a@muc"], matrix: ["!m:hs"] } }, ...opts.config },
    [xmpp, matrix], opts.log ?? pino({ level: "silent" }),
  );
  running.push(app);
  return { app, xmpp, matrix };
}

const sender = (id = "alice") => ({ id: actorId(id), name: id, isBot: false });
const withFile = (text: string, id: string): MessageEvent => ({
  kind: "message", origin: "xmpp", room: roomRef("a@muc"), sender: sender(), remoteId: remoteId(id), ts: Date.now(),
  body: { text }, attachments: [{ url: "https://files.example/cat.png", name: "cat.png" }], isAction: false, mentions: [],
});
const onXmpp = (over: Partial<BridgeEvent> & { kind: BridgeEvent["kind"] }, who = "alice"): BridgeEvent => ({
  origin: "xmpp", room: roomRef("a@muc"), ts: Date.now(), sender: sender(who), ...over,
} as BridgeEvent);
const texts = (a: FakeAdapter) => a.sent.map((s) => (s.event as { body?: { text: string } }).body?.text);

describe("the retry cap", () => {
  it("fails a transient error after maxAttempts with its reason, logged once with link and room, and moves on", async () => {
    const { log, lines } = recordingLog();
    const matrix = new FakeAdapter("matrix");
    matrix.failWith = (_r, e) => ((e as { body?: { text: string } }).body?.text === "stuck" ? new Error("502 from the homeserver") : undefined);
    const { app, xmpp } = await setup({ matrix, log, config: { delivery: { maxAttempts: 3, maxAgeHours: 24 } } });
    await xmpp.say("a@muc", "stuck", "s1");
    await xmpp.say("a@muc", "next", "s2");
    await app.queues.idle(15_000);
    expect(texts(matrix)).toEqual(["next"]);
    expect(app.store.outbox.failed()).toMatchObject([{ network: "matrix", room: "!m:hs", attempts: 3 }]);
    expect(app.store.outbox.failed()[0]!.error).toMatch(/^gave up after 3 attempts over 0\.\d h: 502 from the homeserver$/);
    const giveUps = lines.filter((l) => l.msg === "delivery failed for good; recorded and skipped");
    expect(giveUps).toHaveLength(1);
    expect(giveUps[0]).toMatchObject({ link: "lobby", room: "!m:hs", network: "matrix", cause: "gave-up" });
    const metric = await app.metrics.registry.getSingleMetricAsString("junction_delivery_failures_total");
    expect(metric).toContain('junction_delivery_failures_total{network="matrix",cause="gave-up"} 1');
  }, 20_000);

  it("fails a transient error at once when the delivery is older than maxAgeHours", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "junction-")), "j.db");
    const old = new Store(path);
    old.tx(() => old.outbox.add("lobby", "matrix", "!m:hs", null, JSON.stringify(onXmpp({ kind: "join" })), Date.now() - 25 * 3600_000));
    old.close();
    const matrix = new FakeAdapter("matrix");
    matrix.failWith = () => new Error("timeout");
    const { app } = await setup({ path, matrix });
    await app.queues.idle();
    expect(app.store.outbox.failed()[0]!.error).toMatch(/^gave up after 1 attempts over 25\.0 h: timeout$/);
  });

  it("tells the adapter which try is the last, so an attachment can degrade then", async () => {
    const matrix = new FakeAdapter("matrix");
    const seen: boolean[] = [];
    matrix.failWith = (_r, _e, ctx) => { seen.push(ctx.lastAttempt === true); return ctx.lastAttempt ? undefined : new Error("503"); };
    const { app, xmpp } = await setup({ matrix, config: { delivery: { maxAttempts: 2, maxAgeHours: 24 } } });
    await xmpp.say("a@muc", "x", "s1");
    await app.queues.idle(10_000);
    expect(seen).toEqual([false, true]);
    expect(matrix.sent).toHaveLength(1);
  });

  it("fails a body over the destination's limit for good, without trying", async () => {
    const matrix = new FakeAdapter("matrix", { ...ALL_CAPS, maxBodyBytes: 10 });
    const { app, xmpp } = await setup({ matrix });
    await xmpp.say("a@muc", "this is far too long", "s1");
    await xmpp.say("a@muc", "short", "s2");
    await app.queues.idle();
    expect(texts(matrix)).toEqual(["short"]);
    expect(app.store.outbox.failed()[0]!.error).toBe("the text is 20 bytes, over the 10 bytes a matrix message may have");
  });

  it("classifies: a permanent attachment error, the last try or a third failed fetch degrades to a note with the link", () => {
    expect(degradesNow(new PermanentDeliveryError("HTTP 404"), { attempt: 0 })).toBe(true);
    expect(degradesNow(new TransientDeliveryError("HTTP 503"), { attempt: 0 })).toBe(false);
    expect(degradesNow(new Error("socket hang up"), { attempt: 1, lastAttempt: true })).toBe(true);
    expect(degradesNow(new NotReadyError("homeserver down"), { attempt: 9, lastAttempt: true })).toBe(false);
    expect(attachmentNote({ url: "https://f.example/a.png", name: "a.png" }, "the server answered HTTP 404"))
      .toBe("📎 a.png: https://f.example/a.png (not copied by the bridge: the server answered HTTP 404)");
    expect(attachmentNote({ url: "mxc://hs/abc", name: "b.pdf" }, "too large to copy")).toBe("📎 b.pdf (not copied by the bridge: too large to copy)");
  });
});

describe("parts of a multi-part delivery", () => {
  it("a retry sends only the parts that did not land; edits go to the text, reactions to the main part, retractions to all", async () => {
    const matrix = new PartsAdapter("matrix");
    matrix.failPart = (part, attempt) => (part === 1 && attempt === 0 ? new Error("upload: HTTP 503") : undefined);
    const { app, xmpp } = await setup({ matrix });
    await xmpp.host.emit([withFile("look at this", "s1")]);
    await app.queues.idle(10_000);
    expect(matrix.landed.map((l) => [l.part, l.attempt])).toEqual([[0, 0], [1, 1]]); // the text went once
    const [text, file] = matrix.landed.map((l) => l.id);

    await xmpp.host.emit([
      onXmpp({ kind: "edit", target: remoteId("s1"), body: { text: "look at this!" } }),
      onXmpp({ kind: "reaction", target: remoteId("s1"), emoji: "👍", added: true }, "bob"),
      onXmpp({ kind: "retract", target: remoteId("s1") }),
    ]);
    await app.queues.idle();
    const [edit, reaction, retract] = matrix.sent.slice(-3);
    expect(edit!.ctx.target).toMatchObject({ remoteId: text, role: "text", part: 0 });
    expect(reaction!.ctx.target).toMatchObject({ remoteId: text, part: 0 });
    expect(retract!.ctx.targets?.map((t) => t.remoteId)).toEqual([text, file]);
  });

  it("an edit of a message without text goes to its main part", async () => {
    const matrix = new PartsAdapter("matrix");
    const { app, xmpp } = await setup({ matrix });
    await xmpp.host.emit([withFile("", "s1")]);
    await xmpp.host.emit([onXmpp({ kind: "edit", target: remoteId("s1"), body: { text: "caption" } })]);
    await app.queues.idle();
    expect(matrix.sent.at(-1)!.ctx.target).toMatchObject({ remoteId: matrix.landed[0]!.id, role: "file", part: 1 });
  });

  it("an edit gets every part of its target, and may add parts to it or remove some (a re-split text)", async () => {
    const matrix = new PartsAdapter("matrix");
    const { app, xmpp } = await setup({ matrix });
    await xmpp.host.emit([withFile("long", "s1")]);
    await app.queues.idle();
    const [text, file] = matrix.landed.map((l) => l.id);
    const editing: ((ctx: DeliveryContext) => void)[] = [
      (ctx) => ctx.partDelivered?.({ id: remoteId("added-2"), part: 2, role: "text" }),
      (ctx) => ctx.partRemoved?.(0),
    ];
    const send = matrix.send.bind(matrix);
    matrix.send = async (room, event, ctx) => {
      if (event.kind === "edit") editing.shift()?.(ctx);
      return send(room, event, ctx);
    };
    await xmpp.host.emit([onXmpp({ kind: "edit", target: remoteId("s1"), body: { text: "longer" } })]);
    await app.queues.idle();
    await xmpp.host.emit([onXmpp({ kind: "edit", target: remoteId("s1"), body: { text: "shorter" } })]);
    await app.queues.idle();
    await xmpp.host.emit([onXmpp({ kind: "retract", target: remoteId("s1") })]);
    await app.queues.idle();
    const [first, second, retract] = matrix.sent.slice(-3);
    expect(first!.ctx.targets?.map((t) => t.remoteId)).toEqual([text, file]);
    expect(second!.ctx.targets?.map((t) => [t.remoteId, t.part])).toEqual([[text, 0], [file, 1], ["added-2", 2]]);
    expect(retract!.ctx.targets?.map((t) => t.remoteId)).toEqual([file, "added-2"]);
  });

  it("parts that landed before a restart are not sent again after it", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "junction-")), "j.db");
    const first = new PartsAdapter("matrix");
    first.failPart = (part) => (part === 1 ? new Error("down") : undefined);
    const one = await setup({ path, matrix: first });
    await one.xmpp.host.emit([withFile("hello", "s1")]);
    await new Promise((r) => setTimeout(r, 100));
    await one.app.stop();
    running.splice(running.indexOf(one.app), 1);

    const second = new PartsAdapter("matrix");
    const two = await setup({ path, matrix: second });
    await two.app.queues.idle();
    expect(first.landed.map((l) => l.part)).toEqual([0]);
    expect(second.landed.map((l) => l.part)).toEqual([1]);
    expect(second.sent[0]!.ids.map((i) => i.id)).toEqual([first.landed[0]!.id, second.landed[0]!.id]);
  });
});

describe("late failures (host.deliveryFailed)", () => {
  it("a transient bounce sends the bounced part again, and only it", async () => {
    const matrix = new PartsAdapter("matrix");
    const { app, xmpp } = await setup({ matrix });
    await xmpp.host.emit([withFile("text", "s1")]);
    await app.queues.idle();
    const file = matrix.landed[1]!.id;
    matrix.host.deliveryFailed(roomRef("!m:hs"), file, new TransientDeliveryError("not an occupant"));
    await app.queues.idle(10_000);
    expect(matrix.landed.map((l) => l.part)).toEqual([0, 1, 1]);
    expect(app.store.outbox.failed()).toEqual([]);
  });

  it("a not-ready bounce (no attempt counted) still finds the parts that landed: only the bounced one goes again", async () => {
    const matrix = new PartsAdapter("matrix");
    const { app, xmpp } = await setup({ matrix });
    await xmpp.host.emit([withFile("text", "s1")]);
    await app.queues.idle();
    matrix.host.deliveryFailed(roomRef("!m:hs"), matrix.landed[1]!.id, new NotReadyError("the room is rejoining"));
    await app.queues.idle(10_000);
    expect(matrix.landed.map((l) => l.part)).toEqual([0, 1, 1]);
    expect(app.store.outbox.failed()).toEqual([]);
  });

  it("a permanent bounce fails the delivery with the reason, and later references no longer point at it", async () => {
    const { log, lines } = recordingLog();
    const { app, xmpp, matrix } = await setup({ log });
    await xmpp.say("a@muc", "hello", "s1");
    await app.queues.idle();
    matrix.host.deliveryFailed(roomRef("!m:hs"), matrix.sent[0]!.ids[0]!.id, new PermanentDeliveryError("!m:hs refused the message: forbidden (no voice)"));
    matrix.host.deliveryFailed(roomRef("!m:hs"), matrix.sent[0]!.ids[0]!.id, new PermanentDeliveryError("twice"));
    await xmpp.host.emit([onXmpp({ kind: "edit", target: remoteId("s1"), body: { text: "hello!" } })]);
    await app.queues.idle();
    expect(app.store.outbox.failed()).toMatchObject([{ room: "!m:hs", error: "!m:hs refused the message: forbidden (no voice)" }]);
    expect(lines.filter((l) => l.cause === "bounced")).toHaveLength(1);
    expect(matrix.sent.at(-1)!.ctx.target).toBeUndefined(); // the edit finds nothing to replace
  });
});

describe("a store that cannot write (disk full)", () => {
  it("logs failed bookkeeping, keeps bridging, and commits it once there is room again", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "junction-")), "j.db");
    const { log, lines } = recordingLog();
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    try {
      const { app, xmpp, matrix } = await setup({ path, log });
      await xmpp.say("a@muc", "before", "s0");
      await app.queues.idle();
      app.store.db.pragma("wal_checkpoint(TRUNCATE)");
      const pages = app.store.db.pragma("page_count", { simple: true }) as number;
      app.store.db.pragma(`max_page_count = ${pages}`);
      // New rows need new pages: the inbound commit fails (the emit is refused, not crashed).
      const many = Array.from({ length: 200 }, (_, i) => xmpp.say("a@muc", `m${i} ${"x".repeat(400)}`, `f${i}`));
      const results = await Promise.allSettled(many);
      expect(results.some((r) => r.status === "rejected")).toBe(true);
      // (SQLite rolls the transaction back on SQLITE_FULL, so better-sqlite3 reports the failed COMMIT.)
      expect(String((results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason)).toMatch(/full|no transaction is active/);
      // Deliveries still go out for what did commit; room again: everything recorded.
      app.store.db.pragma("max_page_count = 1073741823");
      await xmpp.say("a@muc", "after", "s9");
      await app.queues.idle();
      expect(texts(matrix)).toContain("after");
      expect(app.store.outbox.depth()).toBe(0);
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    void lines;
  });

  it("a deferred commit that fails is logged and retried, never thrown", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "junction-")), "j.db");
    const { log, lines } = recordingLog();
    const { app, xmpp, matrix } = await setup({ path, log });
    await xmpp.say("a@muc", "warm-up", "s0");
    await app.queues.idle();
    // Every deferred write now fails at commit: the outbox row's removal and the copy.
    app.store.db.exec(`CREATE TRIGGER full BEFORE DELETE ON outbox BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END`);
    await xmpp.say("a@muc", "while full", "s1");
    await until(() => lines.some((l) => l.msg === "a deferred store write failed; it was skipped"));
    expect(texts(matrix)).toContain("while full");
    app.store.db.exec(`DROP TRIGGER full`);
    // The queue itself never stopped.
    await xmpp.say("a@muc", "later", "s2");
    await app.queues.idle();
    expect(texts(matrix)).toContain("later");
  });

  it("a failing commit is retried with backoff and given up after ten minutes, with a log line each time", () => {
    const store = new Store(":memory:");
    const errors: (number | undefined)[] = [];
    store.onCommitError = (_err, _writes, retryInMs) => errors.push(retryInMs);
    store.db.exec(`CREATE TABLE t (x INTEGER); CREATE TRIGGER nope BEFORE INSERT ON t BEGIN SELECT RAISE(ROLLBACK, 'disk I/O error'); END`);
    store.defer(() => store.db.prepare("INSERT INTO t VALUES (1)").run());
    let now = 0;
    store.now = () => now;
    // RAISE(ROLLBACK) ends the whole transaction, like a failed COMMIT.
    for (let i = 0; i < 8; i++) { store.flush(); now += 60_000; }
    now = 10 * 60_000;
    store.flush();
    expect(errors).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, undefined]);
    store.flush(); // nothing left to write
    store.close();
  });

  it("stop() closes everything even when the last commit fails", async () => {
    const { app, xmpp } = await setup();
    await xmpp.say("a@muc", "x", "s1");
    await app.queues.idle();
    app.store.defer(() => { throw new Error("disk full"); });
    await app.stop();
    running.splice(running.indexOf(app), 1);
    expect(app.store.db.open).toBe(false);
  });
});

describe("pacing", () => {
  it("a token bucket lets a burst through, then one per interval", () => {
    let now = 0;
    const p = new Pacer({ perSecond: 2, burst: 3 }, () => now);
    expect([p.take("r"), p.take("r"), p.take("r")]).toEqual([0, 0, 0]);
    expect(p.take("r")).toBe(500);
    expect(p.take("other")).toBe(0);
    now = 500;
    expect(p.take("r")).toBe(0);
    expect(p.wait("r")).toBe(500);
  });

  it("a join wave is delayed, not dropped: outbox rows and puppets grow at the paced rate", async () => {
    const { app, xmpp, matrix } = await setup();
    const wave = Array.from({ length: 150 }, (_, i) => xmpp.host.emit([onXmpp({ kind: "join" }, `joiner${i}`)]));
    await new Promise((r) => setTimeout(r, 300));
    // 100 at once (the burst), then 20/s.
    expect(app.store.outbox.depth() + matrix.sent.length).toBeLessThanOrEqual(110);
    // Puppets are made at 5/s after a burst of 20.
    expect(matrix.sent.length).toBeLessThanOrEqual(25);
    await xmpp.say("a@muc", "a message is not held behind the wave", "m1", {}, "joiner0");
    await Promise.all(wave);
    expect(app.store.messages.idOf("xmpp", "a@muc", "m1")).toBeDefined();
  }, 20_000);
});

describe("retention and erasure", () => {
  it("prunes messages, their copies and failed rows older than the retention, keeping what is still pending", async () => {
    const matrix = new FakeAdapter("matrix");
    matrix.failWith = (_r, e) => ((e as { body?: { text: string } }).body?.text === "bad" ? new PermanentDeliveryError("no") : undefined);
    const { app, xmpp } = await setup({ matrix, config: { store: { path: ":memory:", retentionDays: 30 } } });
    await xmpp.say("a@muc", "old", "s1");
    await xmpp.say("a@muc", "bad", "s2");
    await app.queues.idle();
    matrix.host.setReady(false);
    await xmpp.say("a@muc", "pending", "s3");
    const later = Date.now() + 31 * 24 * 3600_000;
    expect(await app.prune(later)).toEqual({ messages: 2, copies: 3, failed: 1 });
    expect(app.store.messages.idOf("xmpp", "a@muc", "s1")).toBeUndefined();
    expect(app.store.messages.idOf("xmpp", "a@muc", "s3")).toBeDefined();
    // An edit of a pruned message is not bridged.
    await xmpp.host.emit([onXmpp({ kind: "edit", target: remoteId("s1"), body: { text: "old!" } })]);
    matrix.host.setReady(true);
    await app.queues.idle();
    expect(texts(matrix)).toEqual(["old", "pending"]);
  });

  it("retention 0 keeps everything", async () => {
    const { app, xmpp } = await setup({ config: { store: { path: ":memory:", retentionDays: 0 } } });
    await xmpp.say("a@muc", "kept", "s1");
    await app.queues.idle();
    expect(await app.prune(Date.now() + 3650 * 24 * 3600_000)).toEqual({ messages: 0, copies: 0, failed: 0 });
  });

  it("a retracted message's text is erased: never quoted by a later reply fallback, gone from failed rows", async () => {
    const matrix = new FakeAdapter("matrix", { ...ALL_CAPS, replies: false });
    const xmppDest = new FakeAdapter("xmpp");
    matrix.failWith = (_r, e) => (e.kind === "edit" ? new PermanentDeliveryError("no") : undefined);
    const { app } = await setup({ matrix, xmpp: xmppDest });
    await xmppDest.say("a@muc", "secret plans", "s1");
    await xmppDest.host.emit([onXmpp({ kind: "edit", target: remoteId("s1"), body: { text: "secret plans, fixed" } })]);
    await app.queues.idle();
    expect(app.store.outbox.failed()).toHaveLength(1);
    await xmppDest.host.emit([onXmpp({ kind: "retract", target: remoteId("s1") })]);
    await xmppDest.host.emit([onXmpp({ kind: "message", remoteId: remoteId("s2"), body: { text: "what plans?" }, attachments: [], isAction: false, mentions: [], replyTo: remoteId("s1") }, "bob")]);
    await app.queues.idle();
    expect(texts(matrix).at(-1)).toBe("> alice: (retracted)\nwhat plans?");
    expect(app.store.outbox.failed()).toHaveLength(0);
    const row = app.store.db.prepare("SELECT excerpt, retracted FROM messages WHERE id = ?").get(app.store.messages.idOf("xmpp", "a@muc", "s1"));
    expect(row).toEqual({ excerpt: "", retracted: 1 });
    expect(JSON.stringify(app.store.db.prepare("SELECT * FROM outbox").all())).not.toContain("secret plans");
  });
});

async function until(ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
