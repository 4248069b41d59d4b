/**
 * Media keeps its shape across every pair of networks (issue 13, "Media"), end to end: a real
 * Prosody with mod_http_file_share (found by Junction through service discovery, not configured),
 * a real Synapse, the Discord emulator, and the real core in one shared stack; people are real
 * protocol clients. A picture with a caption from each network arrives on the other two as a
 * picture with its caption: on Matrix one m.image with filename, caption and info (mimetype, size,
 * w, h); on Discord one message with content and a real uploaded file; on XMPP the caption, then
 * the upload service's URL with XEP-0066 OOB. Edits and retractions reach every part. A file over
 * a destination's limit (Prosody's, Synapse's, the Discord channel's) arrives as a link through
 * Junction's HTTP server with a note. A second
 * Prosody without an upload service (and a second Junction on the same Synapse) gets a Matrix file
 * as a signed Junction link that downloads the same bytes.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { xml } from "@xmpp/client";
import type { Element } from "@xmpp/xml";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runJunction, type RunningJunction } from "../../core/app.ts";
import type { MatrixConfig } from "../../config/schema.ts";
import { MatrixAdapter } from "../../bridges/matrix/adapter.ts";
import { XmppAdapter } from "../../bridges/xmpp/adapter.ts";
import { startDiscordEmulator, type DiscordEmulator, type Person as DiscordPerson } from "../discord-emulator/index.ts";
import { matrixPerson, type MatrixPerson } from "../harness/matrix-person.ts";
import { freePort } from "../harness/ports.ts";
import { trackTempDir } from "../harness/process.ts";
import { startProsody, type ProsodyServer } from "../harness/prosody.ts";
import { until } from "../harness/until.ts";
import { png } from "../support/images.ts";
import { Person, type TestProsody } from "./xmpp.fixture.ts";
import { startTestSynapse, type TestSynapse } from "./matrix-synapse.fixture.ts";
import { threeAdapters } from "./networks.fixture.ts";

const log = pino({ level: process.env.JUNCTION_TEST_LOG ?? "silent" });
const MUC = "media@conference.localhost";
const MUC_PLAIN = "plain@conference.localhost";
/** Prosody's http_file_share_size_limit in this test: a larger file cannot be uploaded to XMPP. */
const XMPP_LIMIT = 200 * 1024;
/** Synapse's max_upload_size here: a larger file cannot be uploaded to Matrix. */
const MATRIX_LIMIT = 300 * 1024;
const NS_UPLOAD = "urn:xmpp:http:upload:0";
const NS_OOB = "jabber:x:oob";

let emu: DiscordEmulator;
let prosody: ProsodyServer; // with an upload service
let plainProsody: ProsodyServer; // without one
let syn: TestSynapse;
let junction: RunningJunction;
let plainJunction: RunningJunction;
let httpPort: number;
let plainHttpPort: number;
let alice: DiscordPerson; // on Discord
let bob: Person; // on XMPP (with upload)
let erin: Person; // on XMPP (without upload)
let carol: MatrixPerson; // on Matrix, in both rooms
let channel: string;
let room: string;
let plainRoom: string;

function storeIn(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `junction-${name}-`));
  trackTempDir(dir);
  return join(dir, "junction.db");
}

async function startStack(): Promise<RunningJunction> {
  const [xmpp, matrix, discord] = threeAdapters({ prosody, syn, emu }, log);
  const j = await runJunction({
    store: { path: storeIn("rich-media") },
    http: { listen: { host: "127.0.0.1", port: httpPort }, publicUrl: `http://127.0.0.1:${httpPort}` },
    // Prosody serves its uploads on loopback, not listed: Junction learns where from a slot's GET URL.
    media: { allowHosts: [], maxBytes: 8 * 1024 * 1024, timeouts: { connect: 10, headers: 30, total: 120 } },
    links: { media: { xmpp: [MUC], matrix: ["#media:localhost"], discord: [channel] } },
  }, [xmpp, matrix, discord], log);
  await until("all networks ready", () => ["xmpp", "matrix", "discord"].every((n) => j.connected().get(n as "xmpp") === true), 30_000);
  return j;
}

async function startPlainStack(matrixConfig: MatrixConfig): Promise<RunningJunction> {
  const xmpp = new XmppAdapter({
    server: `xmpp://127.0.0.1:${plainProsody.componentPort}`, component: plainProsody.componentDomain, secret: plainProsody.componentSecret,
    nick: "Junction", history: 0,
  }, log.child({ network: "xmpp", stack: "plain" }));
  const matrix = new MatrixAdapter(matrixConfig, log.child({ network: "matrix", stack: "plain" }));
  const j = await runJunction({
    store: { path: storeIn("rich-media-plain") },
    http: { listen: { host: "127.0.0.1", port: plainHttpPort }, publicUrl: `http://127.0.0.1:${plainHttpPort}` },
    links: { plain: { xmpp: [MUC_PLAIN], matrix: ["#plain:localhost"] } },
  }, [xmpp, matrix], log);
  await until("plain stack ready", () => ["xmpp", "matrix"].every((n) => j.connected().get(n as "xmpp") === true), 30_000);
  return j;
}

const body = (el: Element) => el.getChildText("body");
const fromRoom = (muc: string) => (el: Element) => el.is("message") && String(el.attrs.from).startsWith(`${muc}/`);
const stanzaId = (el: Element, muc: string) => el.getChildren("stanza-id").find((s) => s.attrs.by === muc)?.attrs.id as string;
const oobUrl = (el: Element) => el.getChild("x", NS_OOB)?.getChildText("url");
const onMatrix = (roomId: string, match: (ev: any) => boolean, what: string) => until(what, () => carol.timeline(roomId).find(match), 20_000);
const bytesOf = async (url: string) => Buffer.from(await (await fetch(url)).arrayBuffer());

/** What an XMPP client does to share a file: a slot from the upload service, a PUT, then the message. */
async function xmppUpload(p: Person, name: string, data: Buffer, mime: string): Promise<string> {
  const iqCaller = (p.xmpp as unknown as { iqCaller: { request(el: Element): Promise<Element> } }).iqCaller;
  const slot = (await iqCaller.request(xml("iq", { type: "get", to: prosody.uploadDomain },
    xml("request", { xmlns: NS_UPLOAD, filename: name, size: String(data.length), "content-type": mime })))).getChild("slot", NS_UPLOAD)!;
  const put = slot.getChild("put")!.attrs.url as string;
  const headers: Record<string, string> = { "content-type": mime };
  for (const h of slot.getChild("put")!.getChildren("header")) headers[String(h.attrs.name)] = h.getText();
  const res = await fetch(put, { method: "PUT", body: new Uint8Array(data), headers });
  expect(res.status).toBeLessThan(300);
  return slot.getChild("get")!.attrs.url as string;
}

async function matrixUpload(data: Buffer, mime: string, name: string): Promise<string> {
  return carol.uploadMedia(data, mime, name);
}

beforeAll(async () => {
  [emu, prosody, plainProsody, syn] = await Promise.all([
    startDiscordEmulator({ channels: ["media"], heartbeatIntervalMs: 5000 }),
    startProsody({ upload: true, uploadSizeLimit: XMPP_LIMIT }),
    startProsody({}),
    startTestSynapse({ alsoGhostPrefixes: ["_plain_"], extraConfig: { max_upload_size: `${MATRIX_LIMIT / 1024}K` } }),
  ]);
  channel = emu.channel.id;
  alice = emu.person({ username: "alice", globalName: "Alice" });
  await prosody.registerUser("bob", "pw");
  await plainProsody.registerUser("erin", "pw");
  const c = await syn.registerUser("carol", "Carol");
  carol = matrixPerson(syn.url, c.userId, c.token);
  room = await carol.createRoom({ alias: "media", preset: "public_chat", name: "Media" });
  plainRoom = await carol.createRoom({ alias: "plain", preset: "public_chat", name: "Plain" });
  [httpPort, plainHttpPort] = [await freePort(), await freePort()];
  bob = new Person({ layout: { c2sPort: prosody.c2sPort, host: prosody.host } } as unknown as TestProsody, "bob", MUC);
  erin = new Person({ layout: { c2sPort: plainProsody.c2sPort, host: plainProsody.host } } as unknown as TestProsody, "erin", MUC_PLAIN);
  await Promise.all([bob.join(), erin.join()]);
  [junction, plainJunction] = await Promise.all([startStack(), startPlainStack(syn.otherConfigs[0]!)]);
}, 240_000);

afterAll(async () => {
  await Promise.allSettled([bob?.stop(), erin?.stop()]);
  await Promise.allSettled([junction?.stop(), plainJunction?.stop()]);
  await carol?.stop();
  await Promise.allSettled([prosody?.stop(), plainProsody?.stop(), syn?.stop(), emu?.stop()]);
});

describe("a picture with its caption, from each network to the other two", () => {
  it("from Matrix: one Discord message with the caption and the uploaded file; on XMPP the caption, then the upload service's URL with OOB", async () => {
    const pic = png(40, 30, 3);
    const mxc = await matrixUpload(pic, "image/png", "sunset.png");
    const onDiscord = emu.nextMessage(channel, 20_000);
    const mark = bob.heard.length;
    await carol.send(room, { msgtype: "m.image", body: "sunset at the lake", filename: "sunset.png", url: mxc, info: { mimetype: "image/png", size: pic.length, w: 40, h: 30 } });

    const seen = await onDiscord;
    expect(seen.content).toBe("sunset at the lake");
    expect(seen.attachments).toHaveLength(1);
    expect(seen.attachments[0]).toMatchObject({ filename: "sunset.png", size: pic.length, contentType: "image/png", width: 40, height: 30 });
    expect((await bytesOf(seen.attachments[0]!.url)).equals(pic)).toBe(true);

    const caption = await bob.waitFor((el) => fromRoom(MUC)(el) && body(el) === "sunset at the lake", 20_000, mark);
    const file = await bob.waitFor((el) => fromRoom(MUC)(el) && oobUrl(el) !== undefined, 20_000, mark);
    const url = oobUrl(file)!;
    expect(body(file)).toBe(url);
    expect(url.startsWith(`http://127.0.0.1:${prosody.uploadPort}/`)).toBe(true); // the upload service's, not a link to Matrix
    expect(url.endsWith("/sunset.png")).toBe(true);
    expect((await bytesOf(url)).equals(pic)).toBe(true);
    expect(bob.heard.indexOf(caption)).toBeLessThan(bob.heard.indexOf(file));
  });

  it("from XMPP (a caption typed with the upload, in one message): one captioned m.image on Matrix with mimetype, size, w and h; one Discord message with content and file", async () => {
    const pic = png(64, 48, 5);
    const url = await xmppUpload(bob, "harbour.png", pic, "image/png");
    const onDiscord = emu.nextMessage(channel, 20_000);
    await bob.send(xml("body", {}, `the harbour at dawn\n${url}`), xml("x", { xmlns: NS_OOB }, xml("url", {}, url)));

    const img = await onMatrix(room, (ev) => ev.content?.msgtype === "m.image" && ev.content?.filename === "harbour.png", "the picture on Matrix");
    expect(img.content.body).toBe("the harbour at dawn");
    expect(img.content.info).toEqual({ mimetype: "image/png", size: pic.length, w: 64, h: 48 });
    expect(String(img.content.url)).toMatch(/^mxc:\/\//);
    const got = await carol.downloadMedia(String(img.content.url));
    expect(Buffer.from(got.data).equals(pic)).toBe(true);
    // Text and picture are one event on Matrix: no separate text message.
    expect(carol.timeline(room).filter((ev) => ev.content?.body === "the harbour at dawn")).toHaveLength(1);

    const seen = await onDiscord;
    expect(seen.username).toMatch(/^bob/);
    expect(seen.content).toBe("the harbour at dawn");
    expect(seen.attachments[0]).toMatchObject({ filename: "harbour.png", size: pic.length, width: 64, height: 48 });
    expect((await bytesOf(seen.attachments[0]!.url)).equals(pic)).toBe(true);
  });

  it("from Discord (content and attachment): one captioned m.image on Matrix; on XMPP the caption, then an upload-service URL with OOB (not the CDN's expiring link)", async () => {
    const pic = png(25, 75, 7);
    const mark = bob.heard.length;
    alice.send(channel, "my **new** desk", { attachments: [{ filename: "desk.png", data: pic, contentType: "image/png" }] });

    const img = await onMatrix(room, (ev) => ev.content?.msgtype === "m.image" && ev.content?.filename === "desk.png", "the Discord picture on Matrix");
    expect(img.content.body).toBe("my new desk");
    expect(img.content.formatted_body).toBe("my <strong>new</strong> desk");
    expect(img.content.info).toEqual({ mimetype: "image/png", size: pic.length, w: 25, h: 75 });
    expect(Buffer.from((await carol.downloadMedia(String(img.content.url))).data).equals(pic)).toBe(true);

    await bob.waitFor((el) => fromRoom(MUC)(el) && body(el) === "my *new* desk", 20_000, mark);
    const file = await bob.waitFor((el) => fromRoom(MUC)(el) && oobUrl(el) !== undefined, 20_000, mark);
    expect(oobUrl(file)!.startsWith(`http://127.0.0.1:${prosody.uploadPort}/`)).toBe(true);
    expect((await bytesOf(oobUrl(file)!)).equals(pic)).toBe(true);
  });
});

describe("edits and retractions of a captioned picture reach every part", () => {
  it("a caption edit on Matrix corrects the caption on XMPP and the Discord message; a redaction retracts both XMPP parts and deletes the Discord message", async () => {
    const pic = png(10, 10, 9);
    const mxc = await matrixUpload(pic, "image/png", "cat.png");
    const onDiscord = emu.nextMessage(channel, 20_000);
    const mark = bob.heard.length;
    const media = { msgtype: "m.image", filename: "cat.png", url: mxc, info: { mimetype: "image/png", size: pic.length, w: 10, h: 10 } };
    const eventId = await carol.send(room, { ...media, body: "a cat" });
    const sent = await onDiscord;
    const caption = await bob.waitFor((el) => fromRoom(MUC)(el) && body(el) === "a cat", 20_000, mark);
    const file = await bob.waitFor((el) => fromRoom(MUC)(el) && oobUrl(el) !== undefined, 20_000, mark);

    const onUpdate = emu.nextUpdate(channel, sent.id);
    await carol.send(room, { ...media, body: "* a sleepy cat", "m.new_content": { ...media, body: "a sleepy cat" }, "m.relates_to": { rel_type: "m.replace", event_id: eventId } });
    const correction = await bob.waitFor((el) => fromRoom(MUC)(el) && el.getChild("replace", "urn:xmpp:message-correct:0") !== undefined && body(el) === "a sleepy cat", 20_000, mark);
    expect(correction.getChild("replace", "urn:xmpp:message-correct:0")!.attrs.id).toBe(caption.attrs.id);
    expect((await onUpdate).content).toBe("a sleepy cat");
    expect(emu.message(sent.id)!.attachments).toHaveLength(1); // the file stays

    const onDelete = emu.nextDelete(channel, sent.id);
    await carol.redact(room, eventId);
    const retracted = new Set<string>();
    await until("both XMPP parts retracted", () => {
      for (const el of bob.heard.slice(mark)) {
        const r = el.getChild("retract", "urn:xmpp:message-retract:1");
        if (fromRoom(MUC)(el) && r) retracted.add(String(r.attrs.id));
      }
      return retracted.size >= 2;
    }, 20_000);
    // The original's ids, not the correction's: XMPP clients find the message by those.
    expect([...retracted].sort()).toEqual([stanzaId(caption, MUC), stanzaId(file, MUC)].sort());
    await onDelete;
    expect(emu.message(sent.id)).toBeUndefined();
  });

  it("a correction on XMPP of a captioned picture edits the Matrix media event (its caption) and the Discord message", async () => {
    const pic = png(12, 8, 11);
    const url = await xmppUpload(bob, "boat.png", pic, "image/png");
    const onDiscord = emu.nextMessage(channel, 20_000);
    const id = await bob.send(xml("body", {}, `a boat\n${url}`), xml("x", { xmlns: NS_OOB }, xml("url", {}, url)));
    const img = await onMatrix(room, (ev) => ev.content?.filename === "boat.png" && !ev.content?.["m.new_content"], "the boat on Matrix");
    const sent = await onDiscord;

    const onUpdate = emu.nextUpdate(channel, sent.id);
    await bob.send(xml("body", {}, `a red boat\n${url}`), xml("x", { xmlns: NS_OOB }, xml("url", {}, url)), xml("replace", { xmlns: "urn:xmpp:message-correct:0", id }));
    const edit = await onMatrix(room, (ev) => ev.content?.["m.relates_to"]?.event_id === img.event_id && ev.content?.["m.relates_to"]?.rel_type === "m.replace", "the caption edit on Matrix");
    expect(edit.content["m.new_content"]).toMatchObject({ msgtype: "m.image", body: "a red boat", filename: "boat.png", url: img.content.url });
    expect((await onUpdate).content).toBe("a red boat");
  });
});

describe("text added later to a file sent alone", () => {
  it("a Discord edit that adds text to a picture: on XMPP the file stays and the text comes as its own message, which a second edit corrects; on Matrix the media event gets the caption", async () => {
    const pic = png(9, 6, 13);
    const mark = bob.heard.length;
    const sent = alice.send(channel, "", { attachments: [{ filename: "lamp.png", data: pic, contentType: "image/png" }] });
    const file = await bob.waitFor((el) => fromRoom(MUC)(el) && oobUrl(el) !== undefined, 20_000, mark);
    const img = await onMatrix(room, (ev) => ev.content?.filename === "lamp.png" && !ev.content?.["m.new_content"], "the lamp on Matrix");

    alice.edit(sent.id, "my lamp");
    const text = await bob.waitFor((el) => fromRoom(MUC)(el) && body(el) === "my lamp", 20_000, mark);
    expect(text.getChild("replace", "urn:xmpp:message-correct:0")).toBeUndefined();
    // No correction replaced the file's stanza.
    expect(bob.heard.slice(mark).some((el) => el.getChild("replace", "urn:xmpp:message-correct:0")?.attrs.id === file.attrs.id)).toBe(false);
    const edit = await onMatrix(room, (ev) => ev.content?.["m.relates_to"]?.event_id === img.event_id, "the caption on Matrix");
    expect(edit.content["m.new_content"]).toMatchObject({ msgtype: "m.image", body: "my lamp", filename: "lamp.png", url: img.content.url });

    alice.edit(sent.id, "my desk lamp");
    const correction = await bob.waitFor((el) => fromRoom(MUC)(el) && body(el) === "my desk lamp", 20_000, mark);
    expect(correction.getChild("replace", "urn:xmpp:message-correct:0")?.attrs.id).toBe(text.attrs.id);
  });
});

describe("a caption taken off and put back", () => {
  it("on Matrix: XMPP sees the caption's message retracted (never an empty correction), and the new caption as a message of its own", async () => {
    const pic = png(7, 7, 17);
    const mxc = await matrixUpload(pic, "image/png", "moon.png");
    const mark = bob.heard.length;
    const media = { msgtype: "m.image", filename: "moon.png", url: mxc, info: { mimetype: "image/png", size: pic.length, w: 7, h: 7 } };
    const eventId = await carol.send(room, { ...media, body: "the moon" });
    const caption = await bob.waitFor((el) => fromRoom(MUC)(el) && body(el) === "the moon", 20_000, mark);
    await bob.waitFor((el) => fromRoom(MUC)(el) && oobUrl(el) !== undefined && oobUrl(el)!.endsWith("moon.png"), 20_000, mark);

    await carol.send(room, { ...media, body: "* moon.png", "m.new_content": { ...media, body: "moon.png" }, "m.relates_to": { rel_type: "m.replace", event_id: eventId } });
    await bob.waitFor((el) => fromRoom(MUC)(el) && el.getChild("retract", "urn:xmpp:message-retract:1")?.attrs.id === stanzaId(caption, MUC), 20_000, mark);
    expect(bob.heard.slice(mark).some((el) => el.getChild("replace", "urn:xmpp:message-correct:0") !== undefined && !body(el))).toBe(false);

    await carol.send(room, { ...media, body: "* the full moon", "m.new_content": { ...media, body: "the full moon" }, "m.relates_to": { rel_type: "m.replace", event_id: eventId } });
    const again = await bob.waitFor((el) => fromRoom(MUC)(el) && body(el) === "the full moon", 20_000, mark);
    expect(again.getChild("replace", "urn:xmpp:message-correct:0")).toBeUndefined();
  });
});

describe("a file that cannot be fetched", () => {
  it("a Matrix file the homeserver no longer has reaches Discord as a line with its name and why, without a Junction link that would fail the same way", async () => {
    const onDiscord = emu.nextMessage(channel, 20_000);
    await carol.send(room, { msgtype: "m.file", body: "gone.pdf", filename: "gone.pdf", url: "mxc://localhost/NoSuchMediaHere", info: { mimetype: "application/pdf" } });
    const sent = await onDiscord;
    expect(sent.content).toMatch(/^📎 gone\.pdf \(not copied by the bridge: [^)]+\)$/);
    expect(sent.content).not.toContain(`127.0.0.1:${httpPort}`);
  });
});

describe("the upload service's host, beyond where it keeps files", () => {
  it("an XMPP link to another path on it (Prosody's HTTP root, a way out of /file_share/) is not fetched: Matrix sees the link and why", async () => {
    const root = `http://127.0.0.1:${prosody.uploadPort}`;
    for (const url of [`${root}/`, `${root}/file_share/..%2f`, `${root}/file_share_x/a/b`]) {
      await bob.send(xml("body", {}, url), xml("x", { xmlns: NS_OOB }, xml("url", {}, url)));
      const note = await onMatrix(room, (ev) => typeof ev.content?.body === "string" && ev.content.body.includes(url) && ev.content.msgtype === "m.text", `a note for ${url}`);
      // "could not be fetched" is a refusal; a request that reached Prosody would say "HTTP 404".
      expect(String(note.content.body)).toMatch(/not copied by the bridge: it could not be fetched\)$/);
    }
  });
});

describe("files over a destination's limit", () => {
  it("a Matrix file over the XMPP upload service's limit arrives on XMPP as a note with a Junction link that serves it; over Discord's limit, the same on Discord", async () => {
    const big = Buffer.alloc(XMPP_LIMIT + 50 * 1024, 0x5a);
    const mxc = await matrixUpload(big, "application/octet-stream", "big.bin");
    emu.setUploadLimit(100 * 1024);
    const onDiscord = emu.nextMessage(channel, 20_000);
    const mark = bob.heard.length;
    await carol.send(room, { msgtype: "m.file", body: "big.bin", filename: "big.bin", url: mxc, info: { mimetype: "application/octet-stream", size: big.length } });
    try {
      const note = await bob.waitFor((el) => fromRoom(MUC)(el) && String(body(el)).startsWith("📎 big.bin"), 20_000, mark);
      const m = /^📎 big\.bin \(250\.0 KiB\): (http:\/\/127\.0\.0\.1:\d+\/media\/\S+) \(not copied by the bridge: over the XMPP server's upload limit\)$/.exec(body(note)!);
      expect(m, body(note)!).not.toBeNull();
      expect(m![1]!.startsWith(`http://127.0.0.1:${httpPort}/media/`)).toBe(true);
      expect(note.getChild("x", NS_OOB)).toBeUndefined();
      expect((await bytesOf(m![1]!)).equals(big)).toBe(true);

      const seen = await onDiscord;
      expect(seen.attachments).toEqual([]);
      const link = /^📎 \[big\.bin \(250\.0 KiB\)\]\(<(http:\/\/127\.0\.0\.1:\d+\/media\/[^>]+)>\) \(over this channel's upload limit\)$/.exec(seen.content);
      expect(link, seen.content).not.toBeNull();
      expect((await bytesOf(link![1]!)).equals(big)).toBe(true);
    } finally {
      emu.setUploadLimit(10 * 1024 * 1024);
    }
  });
  it("a Discord file over the homeserver's upload limit arrives on Matrix as a note with a Junction link that serves it (and on XMPP, over its limit too, the same)", async () => {
    const huge = Buffer.alloc(MATRIX_LIMIT + 50 * 1024, 0x42);
    const mark = bob.heard.length;
    alice.send(channel, "the dump", { attachments: [{ filename: "huge.bin", data: huge, contentType: "application/octet-stream" }] });
    const note = await onMatrix(room, (ev) => String(ev.content?.body).includes("📎 huge.bin"), "the note on Matrix");
    expect(note.content.msgtype).toBe("m.text");
    const m = /^the dump\n📎 huge\.bin \(350\.0 KiB\): (http:\/\/127\.0\.0\.1:\d+\/media\/\S+) \(not copied by the bridge: over the homeserver's upload limit\)$/.exec(String(note.content.body));
    expect(m, String(note.content.body)).not.toBeNull();
    expect((await bytesOf(m![1]!)).equals(huge)).toBe(true);
    await bob.waitFor((el) => fromRoom(MUC)(el) && body(el) === "the dump", 20_000, mark);
    const xmppNote = await bob.waitFor((el) => fromRoom(MUC)(el) && String(body(el)).startsWith("📎 huge.bin (350.0 KiB): http://127.0.0.1:"), 20_000, mark);
    expect(body(xmppNote)).toMatch(/\(not copied by the bridge: over the XMPP server's upload limit\)$/);
  });
});

describe("an XMPP server without an upload service", () => {
  it("a Matrix file and a captioned picture arrive as signed Junction links (body and OOB) that download the same bytes; never a bare [file: name]", async () => {
    await until("the plain stack's bot in the Matrix room", async () => (await carol.request<{ joined: Record<string, unknown> }>("GET", `/client/v3/rooms/${encodeURIComponent(plainRoom)}/joined_members`)).joined["@_plain_bot:localhost"] !== undefined, 20_000);
    const report = Buffer.from("%PDF-1.4 a small report\n");
    const pic = png(20, 10, 13);
    const mark = erin.heard.length;
    await carol.send(plainRoom, { msgtype: "m.file", body: "report.pdf", filename: "report.pdf", url: await matrixUpload(report, "application/pdf", "report.pdf"), info: { mimetype: "application/pdf", size: report.length } });
    await carol.send(plainRoom, { msgtype: "m.image", body: "the view", filename: "view.png", url: await matrixUpload(pic, "image/png", "view.png"), info: { mimetype: "image/png", size: pic.length } });

    const file = await erin.waitFor((el) => fromRoom(MUC_PLAIN)(el) && oobUrl(el)?.endsWith("/report.pdf") === true, 20_000, mark);
    const url = oobUrl(file)!;
    expect(body(file)).toBe(url);
    expect(url.startsWith(`http://127.0.0.1:${plainHttpPort}/media/`)).toBe(true);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toBe("attachment");
    expect(Buffer.from(await res.arrayBuffer()).equals(report)).toBe(true);
    // A link with a forged signature serves nothing.
    expect((await fetch(url.replace(/\/media\/([^/]+)\/([^/]+)\//, (_m, p) => `/media/${p}/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/`))).status).toBe(404);

    await erin.waitFor((el) => fromRoom(MUC_PLAIN)(el) && body(el) === "the view", 20_000, mark);
    const view = await erin.waitFor((el) => fromRoom(MUC_PLAIN)(el) && oobUrl(el)?.endsWith("/view.png") === true, 20_000, mark);
    const shown = await fetch(oobUrl(view)!);
    expect(shown.headers.get("content-type")).toBe("image/png");
    expect(Buffer.from(await shown.arrayBuffer()).equals(pic)).toBe(true);
    expect(erin.heard.some((el) => /\[file:/.test(String(body(el))))).toBe(false);
  });
});
