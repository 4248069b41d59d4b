/**
 * The Matrix adapter against a real Synapse, with a fake core (AdapterHost) in memory: what a Matrix
 * person does reaches host.emit, what the host sends reaches the person from a ghost, and a
 * transaction is acknowledged only once the host committed it.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pino from "pino";
import type { AdapterHost, DeliveryContext, EmitOptions, FoundMessage, Media, MessageLookup, PuppetRecord } from "../../core/adapter.ts";
import { actorId, remoteId, type BridgeEvent, type RoomRef } from "../../core/events.ts";
import { MatrixAdapter } from "../../bridges/matrix/adapter.ts";
import { DEFAULT_MEDIA, mediaHttp } from "../../core/media/fetcher.ts";
import { startTestSynapse, type TestSynapse } from "./matrix-synapse.fixture.ts";
import { until } from "../harness/until.ts";
import { TINY_PNG } from "../harness/pictures.ts";

const log = pino({ level: process.env.LOG_LEVEL ?? "silent" });

class FakeHost implements AdapterHost {
  readonly log = log;
  readonly emitted: BridgeEvent[] = [];
  readonly keys = new Set<string>();
  readonly messages = new Map<string, FoundMessage>();
  puppetMap = new Map<string, PuppetRecord>();
  ready = false;
  failNext = 0;
  /** As the core builds it: no allowances of its own, the homeserver the adapter names. */
  readonly media = mediaHttp(DEFAULT_MEDIA, [new MatrixAdapter(syn.matrixConfig, log)]);
  #rooms: RoomRef[];
  constructor(rooms: RoomRef[]) {
    this.#rooms = rooms;
  }
  async emit(events: readonly BridgeEvent[], opts?: EmitOptions): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error("simulated commit failure");
    }
    if (opts?.dedupeKey) {
      if (this.keys.has(opts.dedupeKey)) return;
      this.keys.add(opts.dedupeKey);
    }
    for (const e of events) {
      this.emitted.push(e);
      if (e.remoteId && (e.kind === "message" || e.kind === "reaction")) {
        this.messages.set(e.remoteId, e.kind === "reaction"
          ? { remoteId: e.remoteId, kind: "reaction", reactionTo: e.target, emoji: e.emoji, postedAs: e.sender.id, bridged: false }
          : { remoteId: e.remoteId, kind: "message", postedAs: e.sender.id, bridged: false });
      }
    }
  }
  setReady(r: boolean) { this.ready = r; }
  rooms() { return this.#rooms; }
  findMessage(_room: RoomRef, by: MessageLookup) { return "remoteId" in by ? this.messages.get(by.remoteId) : undefined; }
  addAlias() {}
  cursor() { return undefined; }
  reactions() { return []; }
  publicMedia() { return undefined; }
  avatars = { put: () => "", get: () => undefined };
  uploads = { get: () => undefined, put: () => {} };
  readonly failed: { room: string; remoteId: string; reason: string }[] = [];
  deliveryFailed(room: string, remoteId: string, err: Error) { this.failed.push({ room, remoteId, reason: err.message }); }
  progress() {}
  puppets = {
    get: (network: string, actor: string) => this.puppetMap.get(`${network}|${actor}`),
    put: (r: PuppetRecord) => { this.puppetMap.set(`${r.network}|${r.actor}`, r); },
    all: (network: string) => [...this.puppetMap.values()].filter((r) => r.network === network),
  };
}

let syn: TestSynapse;
let adapter: MatrixAdapter;
let host: FakeHost;
let room: RoomRef;
let alice: { userId: string; token: string };
let delivery = 0;

const ctx = (over: Partial<DeliveryContext> = {}): DeliveryContext => ({
  deliveryId: `d${++delivery}`, attempt: 0,
  fetchMedia: async (): Promise<Media> => ({ data: TINY_PNG, mime: "image/png", name: "dot.png" }),
  ...over,
});
const bob = { id: actorId("lobby@muc.example/Bob"), name: "Bob the Builder", isBot: false };
const xmppBase = { origin: "xmpp" as const, room: "lobby@muc.example" as RoomRef, ts: Date.now(), sender: bob };

async function cs(token: string, method: string, path: string, body?: unknown): Promise<Record<string, any>> {
  const res = await fetch(`${syn.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const json = await res.json() as Record<string, any>;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}
async function say(content: Record<string, unknown>, type = "m.room.message"): Promise<string> {
  return (await cs(alice.token, "PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/send/${type}/t${Date.now()}${Math.random()}`, content)).event_id;
}
async function timeline(): Promise<any[]> {
  const r = await cs(alice.token, "GET", `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/messages?dir=b&limit=50`);
  return r.chunk;
}

beforeAll(async () => {
  syn = await startTestSynapse();
  alice = await syn.registerUser("alice", "Alice");
  room = (await cs(alice.token, "POST", "/_matrix/client/v3/createRoom", { preset: "public_chat", room_alias_name: "lobby", name: "Lobby" })).room_id;
  adapter = new MatrixAdapter(syn.matrixConfig, log);
  expect(await adapter.resolveRoom("#lobby:localhost")).toBe(room);
  expect(await adapter.resolveRoom(room)).toBe(room);
  await expect(adapter.resolveRoom("#nope:localhost")).rejects.toThrow(/does not exist/);
  host = new FakeHost([room]);
  await adapter.start(host);
}, 120_000);

afterAll(async () => {
  await adapter?.stop();
  await syn?.stop();
});

describe("matrix adapter against Synapse", () => {
  it("starts, joins the linked room and becomes ready", () => {
    expect(host.ready).toBe(true);
  });

  it("says once what to do when the homeserver does not know its as_token, and keeps trying quietly", async () => {
    const copy = join(mkdtempSync(join(tmpdir(), "junction-reg-")), "registration.yaml");
    writeFileSync(copy, readFileSync(syn.matrixConfig.registration, "utf8").replace(/as_token: .*/, "as_token: not-the-registered-one"));
    const lines: { level: number; msg: string; reason?: string }[] = [];
    const captured = pino({ level: "debug" }, { write: (l: string) => { lines.push(JSON.parse(l)); } });
    const wrong = new MatrixAdapter({ ...syn.matrixConfig, registration: copy, listen: { host: "127.0.0.1", port: 0 } }, captured);
    const wrongHost = new FakeHost([room]);
    await wrong.start(wrongHost); // does not throw: the other networks keep working
    await until("a second attempt", () => lines.filter((l) => l.msg === "matrix: homeserver still not usable").length >= 2, 10_000);
    const errors = lines.filter((l) => l.level >= 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.reason).toMatch(/does not know the as_token.*app_service_config_files/);
    expect(wrongHost.ready).toBe(false);
    await wrong.stop();
  });

  it("a listen port in use is reported once with what to fix, and the bridge starts once it is free", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as AddressInfo).port;
    const lines: { level: number; msg: string; reason?: string }[] = [];
    const captured = pino({ level: "info" }, { write: (l: string) => { lines.push(JSON.parse(l)); } });
    const second = new MatrixAdapter({ ...syn.matrixConfig, listen: { host: "127.0.0.1", port } }, captured);
    const secondHost = new FakeHost([room]);
    await second.start(secondHost);
    await new Promise((r) => setTimeout(r, 3_500)); // a few retries
    const errors = lines.filter((l) => l.level >= 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.reason).toMatch(new RegExp(`cannot listen on 127.0.0.1:${port} .*free that port or change matrix.listen`));
    expect(secondHost.ready).toBe(false);
    await new Promise<void>((r) => blocker.close(() => r()));
    await until("ready once the port is free", () => secondHost.ready, 40_000);
    await second.stop();
  }, 60_000);

  it("a Matrix message reaches host.emit with the sender's display name", async () => {
    const id = await say({ msgtype: "m.text", body: "hello from matrix", format: "org.matrix.custom.html", formatted_body: "<b>hello</b> from matrix<script>x</script>" });
    const e = await until("message", () => host.emitted.find((x) => x.remoteId === id));
    expect(e).toMatchObject({ kind: "message", room, sender: { id: alice.userId, name: "Alice" }, body: {
      text: "hello from matrix",
      rich: [{ t: "para", children: [{ t: "bold", children: [{ t: "text", text: "hello" }] }, { t: "text", text: " from matrix" }] }],
    } });
  });

  it("a bridge notice from another network is said by the bridge bot as m.notice, never by a ghost", async () => {
    const ev: BridgeEvent = {
      ...xmppBase, sender: { id: actorId("junction@bridge.example"), name: "Junction", isBot: true },
      kind: "message", body: { text: "3 messages from the XMPP room could not be bridged while Junction was away." },
      attachments: [], isAction: false, bridgeNotice: true, mentions: [actorId(alice.userId)],
    };
    const ids = await adapter.send(room, ev, ctx());
    const msg = (await timeline()).find((x) => x.event_id === ids[0]!.id);
    expect(msg.sender).toBe("@_junction_bot:localhost");
    expect(msg.content).toMatchObject({ msgtype: "m.notice", body: ev.body.text, "m.mentions": { user_ids: [] } });
  });

  it("a host message appears from a ghost with the right name, once per delivery id", async () => {
    const c = ctx();
    const ev: BridgeEvent = { ...xmppBase, kind: "message", body: { text: "hi from xmpp" }, attachments: [], isAction: false, mentions: [] };
    const ids = await adapter.send(room, ev, c);
    const again = await adapter.send(room, ev, { ...c, attempt: 1 });
    expect(again[0]!.id).toBe(ids[0]!.id);
    const tl = await timeline();
    const msg = tl.find((x) => x.event_id === ids[0]!.id);
    expect(msg.sender).toBe("@_junction_xmpp_lobby=40muc.example/_bob:localhost");
    expect(tl.filter((x) => x.content?.body === "hi from xmpp")).toHaveLength(1);
    const member = await cs(alice.token, "GET", `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/state/m.room.member/${encodeURIComponent(msg.sender)}`);
    expect(member.displayname).toBe("Bob the Builder");
    // the ghost's own echo never comes back to the host
    await new Promise((r) => setTimeout(r, 500));
    expect(host.emitted.some((x) => x.remoteId === ids[0]!.id)).toBe(false);
  });

  it("edits, replies, reactions and redactions go out in their Matrix forms", async () => {
    const [sent] = await adapter.send(room, { ...xmppBase, kind: "message", body: { text: "typo" }, attachments: [], isAction: true, mentions: [] }, ctx());
    const target = { remoteId: sent!.id, authorName: "Bob", excerpt: "typo", postedAs: sent!.postedAs! };
    const [edit] = await adapter.send(room, { ...xmppBase, kind: "edit", target: remoteId("x"), body: { text: "fixed" } }, ctx({ target }));
    const aliceMsg = await say({ msgtype: "m.text", body: "question?" });
    const [reply] = await adapter.send(room, { ...xmppBase, kind: "message", body: { text: "answer" }, attachments: [], isAction: false, mentions: [] },
      ctx({ replyTo: { remoteId: remoteId(aliceMsg), authorName: "Alice", excerpt: "question?", postedAs: alice.userId } }));
    const [react] = await adapter.send(room, { ...xmppBase, kind: "reaction", target: remoteId("x"), emoji: "👍", added: true }, ctx({ target: { remoteId: remoteId(aliceMsg), authorName: "Alice", excerpt: "" } }));
    const [unreact] = await adapter.send(room, { ...xmppBase, kind: "reaction", target: remoteId("x"), emoji: "👍", added: false }, ctx({ reaction: { remoteId: react!.id, authorName: "", excerpt: "" } }));
    const [redact] = await adapter.send(room, { ...xmppBase, kind: "retract", target: remoteId("x"), reason: "oops" }, ctx({ target }));
    const tl = await timeline();
    const byId = (id: string) => tl.find((x) => x.event_id === id);
    expect(byId(edit!.id).content).toMatchObject({ body: "* fixed", "m.new_content": { body: "fixed" }, "m.relates_to": { rel_type: "m.replace", event_id: sent!.id } });
    expect(byId(reply!.id).content["m.relates_to"]).toEqual({ "m.in_reply_to": { event_id: aliceMsg } });
    expect(byId(unreact!.id)).toMatchObject({ type: "m.room.redaction" });
    expect(byId(redact!.id)).toMatchObject({ type: "m.room.redaction", content: { reason: "oops" } });
    expect(byId(sent!.id).content).toEqual({}); // redacted
  });

  it("a ghost's avatar is uploaded once per picture", async () => {
    let fetched = 0;
    const c = () => ctx({ fetchMedia: async () => { fetched++; return { data: TINY_PNG, mime: "image/png" }; } });
    const carol = { id: actorId("lobby@muc.example/Carol"), name: "Carol", isBot: false, avatar: { hash: "h1", url: "xmpp-vcard:carol" } };
    const say = (text: string, sender = carol) => adapter.send(room, { ...xmppBase, sender, kind: "message", body: { text }, attachments: [], isAction: false, mentions: [] }, c());
    const [m] = await say("with avatar");
    await say("same avatar");
    expect(fetched).toBe(1);
    const ghost = m!.postedAs!;
    const p1 = await cs(alice.token, "GET", `/_matrix/client/v3/profile/${encodeURIComponent(ghost)}`);
    expect(p1.avatar_url).toMatch(/^mxc:\/\//);
    expect(p1.displayname).toBe("Carol");
    await say("new avatar", { ...carol, name: "Carol C", avatar: { hash: "h2", url: "xmpp-vcard:carol" } });
    expect(fetched).toBe(2);
    const p2 = await cs(alice.token, "GET", `/_matrix/client/v3/profile/${encodeURIComponent(ghost)}`);
    expect(p2.avatar_url).not.toBe(p1.avatar_url);
    expect(p2.displayname).toBe("Carol C");
    expect(host.puppets.get("matrix", carol.id)).toMatchObject({ handle: ghost, data: { avatarHash: "h2", avatarMxc: p2.avatar_url, name: "Carol C" } });
  });

  it("a ghost kicked behind our back rejoins and the message still goes out", async () => {
    const [first] = await adapter.send(room, { ...xmppBase, kind: "message", body: { text: "before kick" }, attachments: [], isAction: false, mentions: [] }, ctx());
    await cs(alice.token, "POST", `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/kick`, { user_id: first!.postedAs, reason: "test" });
    const [after] = await adapter.send(room, { ...xmppBase, kind: "message", body: { text: "after kick" }, attachments: [], isAction: false, mentions: [] }, ctx());
    expect((await timeline()).find((x) => x.event_id === after!.id)?.content.body).toBe("after kick");
  });

  it("a linked room the bot cannot join does not stop the others; an invite lets it in, and it invites its ghosts", async () => {
    const priv = (await cs(alice.token, "POST", "/_matrix/client/v3/createRoom", { preset: "private_chat", name: "Private" })).room_id as RoomRef;
    const h = new FakeHost([room, priv]);
    const a2 = new MatrixAdapter({ ...syn.matrixConfig, listen: { host: "127.0.0.1", port: 0 } }, log);
    await a2.start(h);
    expect(h.ready).toBe(true);
    const [ok] = await a2.send(room, { ...xmppBase, kind: "message", body: { text: "others keep working" }, attachments: [], isAction: false, mentions: [] }, ctx());
    expect(ok!.id).toMatch(/^\$/);
    await a2.stop();
    // The homeserver pushes the invite to the adapter that listens where the registration says.
    await adapter.stop();
    adapter = new MatrixAdapter(syn.matrixConfig, log);
    const h3 = new FakeHost([room, priv]);
    h3.puppetMap = host.puppetMap;
    await adapter.start(h3);
    await cs(alice.token, "POST", `/_matrix/client/v3/rooms/${encodeURIComponent(priv)}/invite`, { user_id: "@_junction_bot:localhost" });
    await until("the bot in the private room", async () => {
      const m = await cs(alice.token, "GET", `/_matrix/client/v3/rooms/${encodeURIComponent(priv)}/joined_members`);
      return m.joined["@_junction_bot:localhost"] ? true : undefined;
    });
    // Power to invite: private_chat gives invite to PL 0 members, so the bot can invite the ghost.
    const [m] = await adapter.send(priv, { ...xmppBase, kind: "message", body: { text: "in private" }, attachments: [], isAction: false, mentions: [] }, ctx());
    const msgs = await cs(alice.token, "GET", `/_matrix/client/v3/rooms/${encodeURIComponent(priv)}/messages?dir=b&limit=10`);
    expect(msgs.chunk.find((x: any) => x.event_id === m!.id)?.content.body).toBe("in private");
    await adapter.stop();
    adapter = new MatrixAdapter(syn.matrixConfig, log);
    await adapter.start(host);
  });

  it("a missing target is a permanent failure, not a retry loop", async () => {
    await expect(adapter.send(room, { ...xmppBase, kind: "edit", target: remoteId("x"), body: { text: "?" } }, ctx())).rejects.toMatchObject({ name: "PermanentDeliveryError" });
    await expect(adapter.send("!nowhere:localhost" as RoomRef, { ...xmppBase, kind: "message", body: { text: "?" }, attachments: [], isAction: false, mentions: [] }, ctx()))
      .rejects.toMatchObject({ name: "PermanentDeliveryError" });
  });

  it("an image is uploaded and sent as m.image; an mxc is fetched back", async () => {
    const [img] = await adapter.send(room, { ...xmppBase, kind: "message", body: { text: "" }, attachments: [{ url: "https://x/dot.png", name: "dot.png", width: 1, height: 1 }], isAction: false, mentions: [] }, ctx());
    const ev = (await timeline()).find((x) => x.event_id === img!.id);
    expect(ev.content).toMatchObject({ msgtype: "m.image", body: "dot.png", info: { mimetype: "image/png", size: TINY_PNG.length, w: 1, h: 1 } });
    const media = await adapter.fetchMedia(ev.content.url);
    expect(Buffer.from(media.data).equals(TINY_PNG)).toBe(true);
    expect(media.mime).toBe("image/png");
  });

  it("Matrix edits, reactions, redactions, typing and renames reach the host", async () => {
    const orig = await say({ msgtype: "m.text", body: "draft" });
    await say({ msgtype: "m.text", body: "* final", "m.new_content": { msgtype: "m.text", body: "final" }, "m.relates_to": { rel_type: "m.replace", event_id: orig } });
    const reaction = await say({ "m.relates_to": { rel_type: "m.annotation", event_id: orig, key: "🎉" } }, "m.reaction");
    await until("reaction", () => host.emitted.find((x) => x.remoteId === reaction));
    await cs(alice.token, "PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/redact/${encodeURIComponent(reaction)}/r${Date.now()}`, {});
    await cs(alice.token, "PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/redact/${encodeURIComponent(orig)}/r2${Date.now()}`, { reason: "gone" });
    await cs(alice.token, "PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/typing/${encodeURIComponent(alice.userId)}`, { typing: true, timeout: 10000 });
    await cs(alice.token, "PUT", `/_matrix/client/v3/profile/${encodeURIComponent(alice.userId)}/displayname`, { displayname: "Alice Liddell" });
    await until("edit", () => host.emitted.find((x) => x.kind === "edit" && x.target === orig && x.body.text === "final"));
    await until("reaction removal", () => host.emitted.find((x) => x.kind === "reaction" && !x.added && x.target === orig && x.emoji === "🎉"));
    await until("retract", () => host.emitted.find((x) => x.kind === "retract" && x.target === orig && x.reason === "gone"));
    await until("typing", () => host.emitted.find((x) => x.kind === "typing" && x.active && x.sender.id === alice.userId));
    await until("rename", () => host.emitted.find((x) => x.kind === "profile" && x.sender.name === "Alice Liddell" && x.previousName === "Alice"));
  });

  it("a transaction the host fails to commit is sent again by Synapse, and bridged once", async () => {
    host.failNext = 1;
    const id = await say({ msgtype: "m.text", body: "survives a failed commit" });
    await until("redelivered message", () => host.emitted.find((x) => x.remoteId === id), 30_000);
    expect(host.emitted.filter((x) => x.remoteId === id)).toHaveLength(1);
  });

  it("after an adapter restart the ghost is reused without re-registering or re-joining", async () => {
    await adapter.stop();
    adapter = new MatrixAdapter(syn.matrixConfig, log);
    host.ready = false;
    await adapter.start(host);
    expect(host.ready).toBe(true);
    const latest = (await timeline())[0].event_id;
    const [m] = await adapter.send(room, { ...xmppBase, kind: "message", body: { text: "after restart" }, attachments: [], isAction: false, mentions: [] }, ctx());
    const tl = await timeline();
    expect(tl.find((x) => x.event_id === m!.id).sender).toBe("@_junction_xmpp_lobby=40muc.example/_bob:localhost");
    // only the message itself: no new membership or profile events for the ghost
    expect(tl.findIndex((x) => x.event_id === latest)).toBe(1);
    const id = await say({ msgtype: "m.text", body: "heard after restart" });
    await until("message after restart", () => host.emitted.find((x) => x.remoteId === id));
  });

  it("what arrives while the bridge is down comes through once, by retry and catch-up together", async () => {
    await adapter.stop();
    const id = await say({ msgtype: "m.text", body: "sent while the bridge was down" });
    await new Promise((r) => setTimeout(r, 300));
    adapter = new MatrixAdapter(syn.matrixConfig, log);
    await adapter.start(host);
    await until("missed message", () => host.emitted.find((x) => x.remoteId === id), 30_000);
    await new Promise((r) => setTimeout(r, 1000));
    expect(host.emitted.filter((x) => x.remoteId === id)).toHaveLength(1);
  });

  it("a Synapse restart pauses delivery (not ready) and resumes it; nothing is lost or doubled", async () => {
    await syn.stop({ keepData: true });
    const ev: BridgeEvent = { ...xmppBase, kind: "message", body: { text: "while synapse was down" }, attachments: [], isAction: false, mentions: [] };
    const c = ctx();
    await expect(adapter.send(room, ev, c)).rejects.toMatchObject({ name: "NotReadyError" });
    expect(host.ready).toBe(false);
    await syn.start();
    await until("ready again", () => host.ready, 30_000);
    const [m] = await adapter.send(room, ev, { ...c, attempt: 1 });
    const [again] = await adapter.send(room, ev, { ...c, attempt: 2 });
    expect(again!.id).toBe(m!.id);
    const id = await say({ msgtype: "m.text", body: "after synapse restart" });
    await until("message after synapse restart", () => host.emitted.find((x) => x.remoteId === id));
    expect((await timeline()).filter((x) => x.content?.body === "while synapse was down")).toHaveLength(1);
  });
});
