/**
 * Deliveries that fail, end to end: real Prosody and Synapse, the real core, an XMPP person on
 * @xmpp/client, a Matrix person on the Client-Server API, and a loopback HTTP server for files.
 * Each case is something a room member can do: post a link to a file that is gone, speak through
 * a puppet the room has muted, edit or retract a message that crossed as text plus a file, and
 * quote a message that was retracted.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { xml } from "@xmpp/client";
import type { Element } from "@xmpp/xml";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runJunction, type RunningJunction } from "../../core/app.ts";
import { DEFAULT_MEDIA } from "../../core/media/fetcher.ts";
import { XmppAdapter } from "../../bridges/xmpp/adapter.ts";
import { MatrixAdapter } from "../../bridges/matrix/adapter.ts";
import { matrixPerson, type MatrixEvent, type MatrixPerson } from "../harness/matrix-person.ts";
import { startProsody, type ProsodyServer } from "../harness/prosody.ts";
import { trackTempDir } from "../harness/process.ts";
import { until } from "../harness/until.ts";
import { TINY_PNG } from "../harness/pictures.ts";
import { Person } from "./xmpp.fixture.ts";
import { startTestSynapse, type TestSynapse } from "./matrix-synapse.fixture.ts";

const LOBBY = "faults@conference.localhost";
const STAGE = "stage@conference.localhost";
const log = pino({ level: process.env.JUNCTION_TEST_LOG ?? "silent" });
const OOB = "jabber:x:oob";
const RETRACT = "urn:xmpp:message-retract:1";

let prosody: ProsodyServer;
let syn: TestSynapse;
let junction: RunningJunction;
let bob: Person; // on XMPP, in the lobby
let carol: Person; // on XMPP, owner of the moderated stage
let alice: MatrixPerson;
let lobby = "";
let stage = "";
let files: Server;
let filesUrl = "";
const hits = new Map<string, number>();

/** Files: one that is there, one that is gone, one that fails once (503) and then is there. */
function fileServer(): Server {
  return createServer((req, res) => {
    const path = req.url ?? "";
    const n = (hits.get(path) ?? 0) + 1;
    hits.set(path, n);
    if (path.startsWith("/gone")) { res.writeHead(404); res.end("not found"); return; }
    if (path.startsWith("/flaky") && n === 1) { res.writeHead(503); res.end("busy"); return; }
    res.writeHead(200, { "content-type": "image/png" });
    res.end(TINY_PNG);
  });
}

const timeline = (room: string) => alice.arrivals.filter((a) => a.kind === "timeline" && a.roomId === room).map((a) => a.event);
const sees = (room: string, what: string, match: (e: MatrixEvent) => boolean, timeoutMs = 20_000) =>
  until(what, () => timeline(room).find(match), timeoutMs);
const body = (e: MatrixEvent) => (e.content as { body?: string }).body;
const redacts = (e: MatrixEvent) => e.redacts ?? (e.content as { redacts?: string }).redacts;
const stanzaIdOf = (el: Element) => el.getChildren("stanza-id").find((s) => s.attrs.xmlns === "urn:xmpp:sid:0" && s.attrs.by === LOBBY)?.attrs.id as string;

/** Bob says something with extra children; resolves with the room's stanza-id for it. */
async function bobSays(text: string, ...extra: Element[]): Promise<string> {
  const from = bob.heard.length;
  const id = await bob.say(text, ...extra);
  const echo = await bob.waitFor((el) => el.is("message") && el.attrs.id === id && el.attrs.from === `${LOBBY}/bob`, 10_000, from);
  return stanzaIdOf(echo);
}

const oob = (url: string) => xml("x", { xmlns: OOB }, xml("url", {}, url));

/** Carol makes the stage moderated: newcomers without affiliation (our puppets) join as visitors. */
async function moderate(room: string): Promise<void> {
  const iqCaller = (carol.xmpp as unknown as { iqCaller: { request(el: Element): Promise<Element> } }).iqCaller;
  await iqCaller.request(xml("iq", { type: "set", to: room },
    xml("query", { xmlns: "http://jabber.org/protocol/muc#owner" },
      xml("x", { xmlns: "jabber:x:data", type: "submit" },
        xml("field", { var: "FORM_TYPE" }, xml("value", {}, "http://jabber.org/protocol/muc#roomconfig")),
        xml("field", { var: "muc#roomconfig_moderatedroom" }, xml("value", {}, "1")),
        xml("field", { var: "muc#roomconfig_persistentroom" }, xml("value", {}, "1"))))));
}

beforeAll(async () => {
  files = fileServer();
  await new Promise<void>((r) => files.listen(0, "127.0.0.1", r));
  filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  [prosody, syn] = await Promise.all([startProsody({ upload: true }), startTestSynapse()]);
  await Promise.all([prosody.registerUser("bob", "pw"), prosody.registerUser("carol", "pw")]);
  const a = await syn.registerUser("alice", "Alice");
  alice = matrixPerson(syn.url, a.userId, a.token);
  lobby = await alice.createRoom({ alias: "faults", preset: "public_chat", name: "Faults" });
  stage = await alice.createRoom({ alias: "stage", preset: "public_chat", name: "Stage" });
  bob = new Person(prosody, "bob", LOBBY);
  carol = new Person(prosody, "carol", STAGE);
  await Promise.all([bob.join(), carol.join()]);
  await moderate(STAGE);
  const dir = mkdtempSync(join(tmpdir(), "junction-faults-e2e-"));
  trackTempDir(dir);
  const xmppAdapter = new XmppAdapter({
    server: `xmpp://127.0.0.1:${prosody.componentPort}`, component: prosody.componentDomain, secret: prosody.componentSecret,
    nick: "Junction", history: 0, upload: prosody.uploadDomain!,
  }, log.child({ network: "xmpp" }));
  const matrixAdapter = new MatrixAdapter(syn.matrixConfig, log.child({ network: "matrix" }));
  junction = await runJunction({
    store: { path: join(dir, "junction.db") },
    // The file server is on loopback, which Junction refuses to fetch from unless allowed.
    media: { ...DEFAULT_MEDIA, allowHosts: [new URL(filesUrl).host] },
    // One puppet a second per room, after a burst of four: slow enough that the join wave below
    // shows the pacing rather than the rooms' own speed.
    delivery: { maxAttempts: 10, maxAgeHours: 24, puppetsPerSecond: 1 },
    links: { faults: { xmpp: [LOBBY], matrix: ["#faults:localhost"] }, stage: { xmpp: [STAGE], matrix: ["#stage:localhost"] } },
  }, [xmppAdapter, matrixAdapter], log);
  await until("both networks ready", () => junction.connected().get("xmpp") === true && junction.connected().get("matrix") === true, 30_000);
}, 180_000);

afterAll(async () => {
  await Promise.allSettled([bob?.stop(), carol?.stop()]);
  await junction?.stop();
  await alice?.stop();
  await Promise.allSettled([prosody?.stop(), syn?.stop()]);
  files?.close();
});

describe("deliveries that fail", () => {
  it("a file link answering 404 becomes a note with the link, and the room keeps flowing", async () => {
    await bobSays("here is the report", oob(`${filesUrl}/gone/report.pdf`));
    // The text is the caption: it goes before the note, in the same event.
    const note = await sees(lobby, "the note for the missing file", (e) => body(e)?.includes("📎 report.pdf") === true);
    expect(body(note)).toBe(`here is the report\n📎 report.pdf: ${filesUrl}/gone/report.pdf (not copied by the bridge: the server answered HTTP 404)`);
    expect(hits.get("/gone/report.pdf")).toBe(1); // permanent: not fetched again
    for (const n of [1, 2, 3]) await bobSays(`after the 404, ${n}`);
    for (const n of [1, 2, 3]) await sees(lobby, `message ${n} after the 404`, (e) => body(e) === `after the 404, ${n}`);
    expect(timeline(lobby).filter((e) => body(e)?.startsWith("here is the report") === true)).toHaveLength(1);
    expect(junction.store.outbox.failed()).toEqual([]);
  });

  it("a text-plus-file message whose file fails once is retried without posting the text again", async () => {
    await bobSays("see the picture", oob(`${filesUrl}/flaky/pic.png`));
    const img = await sees(lobby, "the picture after a retry", (e) => (e.content as { msgtype?: string; filename?: string }).msgtype === "m.image" && (e.content as { filename?: string }).filename === "pic.png");
    expect(body(img)).toBe("see the picture"); // its caption
    expect((img.content as { url: string }).url).toMatch(/^mxc:\/\//);
    expect(hits.get("/flaky/pic.png")).toBe(2);
    await bobSays("after the picture");
    await sees(lobby, "the next message", (e) => body(e) === "after the picture");
    expect(timeline(lobby).filter((e) => body(e) === "see the picture")).toHaveLength(1);
  });

  it("an edit reaches the caption and a retraction removes every part of a text-plus-files message", async () => {
    const id = await bob.say("two pets: look", oob(`${filesUrl}/cat.png`), oob(`${filesUrl}/dog.png`));
    const sid = stanzaIdOf(await bob.waitFor((el) => el.is("message") && el.attrs.id === id && el.attrs.from === `${LOBBY}/bob`));
    const filename = (e: MatrixEvent) => (e.content as { filename?: string }).filename;
    // The text is the first file's caption (one event); the second file is an event of its own.
    const cat = await sees(lobby, "the captioned first file", (e) => filename(e) === "cat.png" && body(e) === "two pets: look");
    const dog = await sees(lobby, "the second file", (e) => filename(e) === "dog.png" && body(e) === "dog.png");
    await bob.say("two pets: look!", xml("replace", { xmlns: "urn:xmpp:message-correct:0", id }));
    const edit = await sees(lobby, "the edit", (e) => (e.content as { "m.relates_to"?: { rel_type?: string } })["m.relates_to"]?.rel_type === "m.replace");
    expect((edit.content as { "m.relates_to": { event_id: string } })["m.relates_to"].event_id).toBe(cat.event_id);
    expect((edit.content as { "m.new_content": unknown })["m.new_content"]).toMatchObject({ msgtype: "m.image", filename: "cat.png", body: "two pets: look!" });
    await bob.send(xml("retract", { xmlns: RETRACT, id: sid }), xml("fallback", { xmlns: "urn:xmpp:fallback:0", for: RETRACT }), xml("body", {}, "retracted"));
    await sees(lobby, "the captioned file redacted", (e) => e.type === "m.room.redaction" && redacts(e) === cat.event_id);
    await sees(lobby, "the second file redacted", (e) => e.type === "m.room.redaction" && redacts(e) === dog.event_id);
  });

  it("a retracted message's text never shows in a later reply's quote", async () => {
    await bobSays("my secret plan");
    const original = await sees(lobby, "the message", (e) => body(e) === "my secret plan");
    const sid = stanzaIdOf(bob.heard.find((el) => el.getChildText("body") === "my secret plan")!);
    await bob.send(xml("retract", { xmlns: RETRACT, id: sid }), xml("fallback", { xmlns: "urn:xmpp:fallback:0", for: RETRACT }), xml("body", {}, "retracted"));
    await sees(lobby, "its redaction", (e) => e.type === "m.room.redaction" && redacts(e) === original.event_id);
    // A Matrix client can still answer the redacted event.
    await alice.send(lobby, { msgtype: "m.text", body: "what plan?", "m.relates_to": { "m.in_reply_to": { event_id: original.event_id } } });
    const reply = await bob.waitFor((el) => el.is("message") && el.attrs.from === `${LOBBY}/Alice` && (el.getChildText("body") ?? "").endsWith("what plan?"));
    expect(reply.getChildText("body")).toBe("> bob: (retracted)\nwhat plan?");
    expect(reply.toString()).not.toContain("secret");
    const stored = junction.store.db.prepare("SELECT excerpt FROM messages WHERE excerpt LIKE '%secret%'").all();
    expect(stored).toEqual([]);
  });

  it("a puppet without voice in a moderated room: the bounce fails the delivery with the room's reason", async () => {
    const before = carol.heard.length;
    await alice.say(stage, "can anyone hear me?");
    await until("the failed delivery", () => junction.store.outbox.failed().find((f) => f.room === STAGE), 20_000);
    const failed = junction.store.outbox.failed().find((f) => f.room === STAGE)!;
    expect(failed).toMatchObject({ network: "xmpp", link: "stage" });
    expect(failed.error).toBe(`${STAGE} refused the message: forbidden (You do not currently have permission to speak in this chat)`);
    expect(carol.heard.slice(before).some((el) => el.getChildText("body") === "can anyone hear me?")).toBe(false);
    const metric = await junction.metrics.registry.getSingleMetricAsString("junction_delivery_failures_total");
    expect(metric).toContain('junction_delivery_failures_total{network="xmpp",cause="bounced"} 1');
    // Nothing is left pending for the stage: the queue moved on.
    expect(junction.store.outbox.pending().filter((r) => r.room === STAGE)).toEqual([]);
  });

  it("a full disk: Junction stays up, refuses what it cannot store, and bridges again when there is room", async () => {
    const db = junction.store.db;
    db.pragma("wal_checkpoint(TRUNCATE)");
    db.pragma(`max_page_count = ${db.pragma("page_count", { simple: true }) as number}`);
    try {
      for (let i = 0; i < 20; i++) await bob.say(`while the disk is full ${i} ${"x".repeat(2000)}`);
      await bob.waitFor((el) => el.getChildText("body")?.startsWith("while the disk is full 19") === true);
      await new Promise((r) => setTimeout(r, 1000));
      // The disk really was full: not all of them could be stored.
      const stored = db.prepare("SELECT count(*) AS n FROM messages WHERE excerpt LIKE 'while the disk is full%'").get() as { n: number };
      expect(stored.n).toBeLessThan(20);
    } finally {
      db.pragma("max_page_count = 1073741823");
    }
    expect(junction.connected().get("xmpp")).toBe(true);
    await bobSays("the disk has room again");
    await sees(lobby, "a message after the full disk", (e) => body(e) === "the disk has room again");
    await alice.say(lobby, "and back the other way");
    await bob.waitFor((el) => el.is("message") && el.attrs.from === `${LOBBY}/Alice` && el.getChildText("body") === "and back the other way");
  });

  it("past the retention, an edit of a forgotten message is not bridged; new messages are", async () => {
    const id = await bob.say("old news");
    await sees(lobby, "the old message", (e) => body(e) === "old news");
    await junction.queues.idle();
    const pruned = await junction.prune(Date.now() + 91 * 24 * 3600_000);
    expect(pruned.messages).toBeGreaterThan(0);
    await bob.say("old news, corrected", xml("replace", { xmlns: "urn:xmpp:message-correct:0", id }));
    await bobSays("fresh news");
    await sees(lobby, "the new message", (e) => body(e) === "fresh news");
    expect(timeline(lobby).some((e) => body(e)?.includes("old news, corrected"))).toBe(false);
  });

  it("a join wave from Matrix is paced into the XMPP room, and nobody is dropped", async () => {
    const wave = await Promise.all(Array.from({ length: 8 }, (_, i) => syn.registerUser(`wave${i}`)));
    const arrived: number[] = [];
    const seen = new Set<string>();
    const from = bob.heard.length;
    const all = until("every joiner's puppet in the XMPP room", () => {
      for (const el of bob.heard.slice(from)) {
        const nick = el.is("presence") && el.attrs.type !== "unavailable" ? (el.attrs.from ?? "").split("/")[1] ?? "" : "";
        if (nick.includes("wave") && !seen.has(nick)) { seen.add(nick); arrived.push(Date.now()); }
      }
      return seen.size === 8 ? true : undefined;
    }, 60_000);
    await Promise.all(wave.map(async (u) => {
      const res = await fetch(`${syn.url}/_matrix/client/v3/join/${encodeURIComponent(lobby)}`, {
        method: "POST", headers: { authorization: `Bearer ${u.token}`, "content-type": "application/json" }, body: "{}",
      });
      if (!res.ok) throw new Error(`${u.userId} could not join: HTTP ${res.status}`);
    }));
    await all;
    // A burst of (at most) four puppets, then one a second: the last four take about four seconds.
    expect(arrived[7]! - arrived[3]!).toBeGreaterThanOrEqual(2500);
  }, 90_000);
});
