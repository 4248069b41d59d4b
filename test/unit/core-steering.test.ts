import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { runJunction, type CoreConfig, type RunningJunction } from "../../core/app.ts";
import { PermanentDeliveryError } from "../../core/errors.ts";
import { renderStatusPage } from "../../core/status-page.ts";
import { FakeAdapter } from "../support/fake-adapter.ts";

const dir = mkdtempSync(join(tmpdir(), "junction-steering-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const running: RunningJunction[] = [];
afterEach(async () => { await Promise.all(running.splice(0).map((a) => a.stop())); });

const LINKS = { lobby: { xmpp: ["a@muc"], matrix: ["!m:hs"] }, dev: { xmpp: ["d@muc"], matrix: ["!d:hs"] } };

/** Log lines as objects, to check what the admin log says. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: "info" }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
  return { log, lines };
}

async function setup(path = ":memory:", config: Partial<CoreConfig> = {}, log = pino({ level: "silent" })) {
  const xmpp = new FakeAdapter("xmpp");
  const matrix = new FakeAdapter("matrix");
  const app = await runJunction({ store: { path }, links: LINKS, admin: { xmpp: ["root@localhost"], matrix: ["@admin:hs"] }, ...config }, [xmpp, matrix], log);
  running.push(app);
  return { app, xmpp, matrix };
}

const texts = (a: FakeAdapter) => a.sent.map((s) => (s.event.kind === "message" ? s.event.body.text : s.event.kind));

describe("steering a running Junction", () => {
  it("a paused link holds its deliveries in the outbox and delivers them in order on resume; other links flow", async () => {
    const { app, xmpp, matrix } = await setup();
    expect(app.steering.pause("lobby", "root@localhost")).toMatchObject({ link: "lobby", paused: true, changed: true });
    await xmpp.say("a@muc", "one", "x1");
    await xmpp.say("a@muc", "two", "x2");
    await xmpp.say("d@muc", "elsewhere", "x3");
    await new Promise((r) => setTimeout(r, 100));
    expect(texts(matrix)).toEqual(["elsewhere"]);
    expect(app.store.outbox.pending().map((r) => r.link)).toEqual(["lobby", "lobby"]);
    expect(app.steering.links().find((l) => l.name === "lobby")).toMatchObject({ paused: true, queued: 2 });
    const snap = app.status.snapshot();
    expect(snap.links.map((l) => [l.name, l.paused])).toEqual([["lobby", true], ["dev", false]]);
    expect(renderStatusPage(snap, [])).toContain("<h3>lobby <small class=\"paused\">(paused by an admin");
    expect(app.steering.resume("lobby")).toMatchObject({ paused: false, changed: true, queued: 2 });
    await app.queues.idle();
    expect(texts(matrix)).toEqual(["elsewhere", "one", "two"]);
  });

  it("a pause survives a restart", async () => {
    const path = join(dir, "paused.db");
    const first = await setup(path);
    first.app.steering.pause("dev", "@admin:hs");
    await first.xmpp.say("d@muc", "held over a restart", "y1");
    await first.app.stop();
    const second = await setup(path);
    await new Promise((r) => setTimeout(r, 100));
    expect(texts(second.matrix)).toEqual([]);
    expect(second.app.steering.status("dev").links[0]).toMatchObject({ paused: true, queued: 1, pausedBy: { by: "@admin:hs" } });
    second.app.steering.resume("dev");
    await second.app.queues.idle();
    expect(texts(second.matrix)).toEqual(["held over a restart"]);
  });

  it("a paused link removed from the config stays held over a restart, named in the log; resume lets its deliveries go", async () => {
    const path = join(dir, "paused-removed.db");
    const first = await setup(path);
    first.app.steering.pause("dev", "@admin:hs");
    await first.xmpp.say("d@muc", "held, then unlinked", "z1");
    await first.app.stop();
    const { log, lines } = capture();
    const second = await setup(path, { links: { lobby: LINKS.lobby } }, log);
    await new Promise((r) => setTimeout(r, 100));
    expect(texts(second.matrix)).toEqual([]);
    expect(lines.find((l) => String(l.msg).startsWith("links paused by an admin and since removed"))).toMatchObject({ links: ["dev"] });
    expect(() => second.app.steering.pause("dev", "@admin:hs")).toThrow(/no link named "dev"/);
    expect(second.app.steering.resume("dev")).toMatchObject({ paused: false, changed: true, queued: 1 });
    await second.app.queues.idle();
    expect(texts(second.matrix)).toEqual(["held, then unlinked"]);
    expect(() => second.app.steering.resume("dev")).toThrow(/no link named "dev"/);
  });

  it("retry puts a link's failed deliveries back under their old ids, with a fresh budget", async () => {
    const { app, xmpp, matrix } = await setup();
    matrix.failWith = () => new PermanentDeliveryError("refused by the room");
    await xmpp.say("a@muc", "lost once", "z1");
    await app.queues.idle();
    const [failed] = app.store.outbox.failed();
    expect(failed).toMatchObject({ link: "lobby", error: "refused by the room" });
    expect(app.steering.links().find((l) => l.name === "lobby")?.failed).toBe(1);
    matrix.failWith = undefined;
    expect(app.steering.retry("dev")).toEqual({ link: "dev", requeued: 0, more: false });
    expect(app.steering.retry("lobby")).toEqual({ link: "lobby", requeued: 1, more: false });
    await app.queues.idle();
    expect(texts(matrix)).toEqual(["lost once"]);
    expect(matrix.sent[0]?.ctx.deliveryId).toBe(String(failed?.id));
    expect(app.store.outbox.failed()).toEqual([]);
  });

  it("the desk refuses non-admins, runs admins' commands, and logs both", async () => {
    const { log, lines } = capture();
    // The desk is what adapters get as host.admin.
    const host = (await setupHost(log)).admin!;
    const refused = await host.run({ network: "xmpp", id: "mallory@localhost" }, "pause", "lobby");
    expect(refused).toEqual({ ok: false, refused: "mallory@localhost is not one of Junction's admins; ask an admin to add you to admin.xmpp in its config" });
    const ok = await host.run({ network: "xmpp", id: "Root@LocalHost", via: "xmpp:bridge.localhost" }, "pause", "lobby");
    expect(ok).toMatchObject({ ok: true, value: { link: "lobby", paused: true } });
    const unknown = await host.run({ network: "matrix", id: "@admin:hs" }, "retry", "nope");
    expect(unknown).toEqual({ ok: false, error: 'there is no link named "nope"; the links are: lobby, dev' });
    const matrixOutsider = await host.run({ network: "matrix", id: "@Admin:hs" }, "links");
    expect(matrixOutsider).toMatchObject({ ok: false }); // Matrix ids compare exactly
    const reload = await host.run({ network: "matrix", id: "@admin:hs" }, "reload");
    expect(reload).toMatchObject({ ok: true, value: { applied: false, reason: "reload is not available in this Junction: restart it to apply a new config" } });
    const admin = lines.filter((l) => l.part === "admin");
    expect(admin.map((l) => [l.admin, l.action, l.link, l.outcome === "refused" || l.outcome === "error" ? l.outcome : "done"])).toEqual([
      ["mallory@localhost", "pause", "lobby", "refused"],
      ["Root@LocalHost", "pause", "lobby", "done"],
      ["@admin:hs", "retry", "nope", "error"],
      ["@Admin:hs", "links", undefined, "refused"],
      ["@admin:hs", "reload", undefined, "done"],
    ]);
    expect(admin[1]).toMatchObject({ via: "xmpp:bridge.localhost", outcome: { link: "lobby", paused: true, changed: true } });
  });
});

/** A Junction whose fake XMPP adapter hands out its host (and so the admin desk). */
async function setupHost(log: pino.Logger) {
  const xmpp = new FakeAdapter("xmpp");
  const app = await runJunction({ store: { path: ":memory:" }, links: LINKS, admin: { xmpp: ["root@localhost"], matrix: ["@admin:hs"] } }, [xmpp, new FakeAdapter("matrix")], log);
  running.push(app);
  return xmpp.host;
}
