/**
 * Media keeps its shape across networks (issue 13, "Media"): what the bytes say about a picture,
 * how each network's file metadata maps into an attachment, and how an attachment (with its
 * caption) becomes each destination's native form — or a link with a note when it cannot be one.
 */
import parse from "@xmpp/xml/lib/parse.js";
import type { Element } from "@xmpp/xml";
import pino from "pino";
import { describe, expect, it, vi } from "vitest";
import type { MappedMessage, Media } from "../../core/adapter.ts";
import { actorId, remoteId, roomRef, type Attachment, type EditEvent, type MessageEvent } from "../../core/events.ts";
import { attachmentNote, formatSize } from "../../core/fallbacks.ts";
import { mediaFailure } from "../../core/media/errors.ts";
import { HEADER_BYTES, measured } from "../../core/media/measure.ts";
import { AddressPolicy } from "../../core/media/policy.ts";
import { para, text } from "../../core/richtext/tree.ts";
import { fileLine } from "../../bridges/discord/outbound.ts";
import { fromRoomEvent } from "../../bridges/matrix/inbound.ts";
import { captionEditContent, mediaContent, messageContent, unavailableContent, withCaption } from "../../bridges/matrix/outbound.ts";
import { MAX_FILES, parseBody } from "../../bridges/xmpp/body.ts";
import type { XmppConnection } from "../../bridges/xmpp/connection.ts";
import { outboundStanzas } from "../../bridges/xmpp/outbound.ts";
import { attachmentUrls, type MoveDeps } from "../../bridges/xmpp/upload.ts";
import { parentDomain, uploadServiceOf, UploadServices, withinDomain } from "../../bridges/xmpp/upload-service.ts";
import { gif, png } from "../support/images.ts";

const log = pino({ level: "silent" });
const el = (s: string) => parse(s) as Element;

describe("what the bytes say", () => {
  it.each<[string, Media, Partial<Media>]>([
    ["a PNG named as such", { data: png(30, 20), mime: "image/png" }, { mime: "image/png", width: 30, height: 20 }],
    ["a PNG served as octet-stream gets its type", { data: png(4, 7), mime: "application/octet-stream" }, { mime: "image/png", width: 4, height: 7 }],
    ["a GIF", { data: gif(640, 480), mime: "image/gif" }, { width: 640, height: 480 }],
  ])("%s", (_name, media, want) => {
    expect(measured(media)).toMatchObject(want);
  });
  it("a text file, or bytes that only claim to be a picture, get no dimensions", () => {
    expect(measured({ data: Buffer.from("hello"), mime: "text/plain" })).toEqual({ data: Buffer.from("hello"), mime: "text/plain" });
    const fake = measured({ data: Buffer.from("not a png at all"), mime: "image/png" });
    expect(fake.width).toBeUndefined();
    expect(fake.height).toBeUndefined();
  });
  it("a large file of hostile bytes that starts like a JPEG is measured from its header only, quickly", () => {
    // A JPEG start, then no frame header: image-size would walk all of it one byte at a time.
    const data = new Uint8Array(40 * 1024 * 1024);
    data.set([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x01]);
    const started = performance.now();
    expect(measured({ data, mime: "image/jpeg" }).width).toBeUndefined();
    expect(performance.now() - started).toBeLessThan(2000);
  });
  it("a PNG whose header claims huge dimensions is taken at its word, not decoded", () => {
    const data = Buffer.concat([png(1, 1).subarray(0, 16), Buffer.from("ffffffffffffffff0806000000", "hex")]);
    expect(measured({ data, mime: "image/png" })).toMatchObject({ width: 0xffffffff, height: 0xffffffff });
  });
  it("a file cut short in its header is left unmeasured, without an error", () => {
    expect(measured({ data: png(5, 5).subarray(0, 12), mime: "image/png" }).width).toBeUndefined();
    const late = Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.alloc(HEADER_BYTES), gif(3, 3)]);
    expect(measured({ data: late, mime: "image/jpeg" }).width).toBeUndefined();
  });
  it("an SVG is a document, not measured (its size is whatever its text says)", () => {
    const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>`);
    expect(measured({ data: svg, mime: "image/svg+xml" }).width).toBeUndefined();
  });
});

describe("notes in place of files", () => {
  it.each<[Attachment, string, string | undefined, string]>([
    [{ url: "mxc://hs/a", name: "a.bin", size: 3 * 1024 * 1024 }, "over the XMPP server's upload limit", "https://j.example/media/x/y/a.bin",
      "📎 a.bin (3.0 MiB): https://j.example/media/x/y/a.bin (not copied by the bridge: over the XMPP server's upload limit)"],
    [{ url: "https://f.example/a.png", name: "a.png" }, "too large to copy", undefined, "📎 a.png: https://f.example/a.png (not copied by the bridge: too large to copy)"],
    [{ url: "mxc://hs/b", name: "" }, "it could not be fetched", undefined, "📎 attachment (not copied by the bridge: it could not be fetched)"],
  ])("%j", (a, reason, link, want) => {
    expect(attachmentNote(a, reason, link)).toBe(want);
  });
  it.each([[0, "0 B"], [1023, "1023 B"], [1536, "1.5 KiB"], [10 * 1024 * 1024, "10.0 MiB"]])("%d bytes read as %s", (n, s) => {
    expect(formatSize(n)).toBe(s);
  });
  it("Discord: a file over the channel's limit is a link with the reason, markdown in names escaped", () => {
    expect(fileLine("big_file*.iso", 50 * 1024 * 1024, "https://j.example/media/x", "over this channel's upload limit"))
      .toBe("📎 [big\\_file\\*.iso (50.0 MiB)](<https://j.example/media/x>) (over this channel's upload limit)");
    expect(fileLine("a.iso", 2048, undefined, "not copied by the bridge: too large to copy")).toBe("📎 a.iso (2.0 KiB) (not copied by the bridge: too large to copy)");
  });
});

// ---- Matrix ----

const base = { origin: "discord", room: roomRef("123"), ts: 1, sender: { id: actorId("42"), name: "Dee", isBot: false } } as const;
const msg = (over: Partial<MessageEvent> = {}): MessageEvent => ({ ...base, kind: "message", body: { text: "look at this" }, attachments: [], isAction: false, mentions: [], ...over });
const mapped = (id: string, over: Partial<MappedMessage> = {}): MappedMessage => ({ remoteId: remoteId(id), authorName: "A", excerpt: "x", ...over });
const cat: Attachment = { url: "https://cdn.example/cat.png", name: "cat.png", mime: "image/png", size: 999, width: 64, height: 48 };

describe("Matrix: media events with info and captions", () => {
  it("info has mimetype, size and the dimensions the bytes say (over the sender's claim)", () => {
    const c = mediaContent(cat, { mxc: "mxc://hs/1", mime: "image/png", size: 1234, width: 30, height: 20 });
    expect(c).toEqual({ msgtype: "m.image", body: "cat.png", filename: "cat.png", url: "mxc://hs/1", info: { mimetype: "image/png", size: 1234, w: 30, h: 20 }, "m.mentions": {} });
  });
  it("without measured dimensions the attachment's are used; with only one of them, none", () => {
    expect(mediaContent(cat, { mxc: "mxc://hs/1", mime: "image/png", size: 9 }).info).toEqual({ mimetype: "image/png", size: 9, w: 64, h: 48 });
    expect(mediaContent({ ...cat, height: undefined } as Attachment, { mxc: "mxc://hs/1", mime: "image/png", size: 9 }).info).toEqual({ mimetype: "image/png", size: 9 });
  });
  it("text with a file is one captioned event: filename names the file, body and formatted_body are the caption, mentions ping", () => {
    const rich = msg({ body: { text: "look at this", rich: [para(text("look at "), { t: "bold", children: [text("this")] })] }, mentions: [actorId("@a:hs")] });
    const caption = messageContent(rich, mapped("$q"))!;
    const c = withCaption(mediaContent(cat, { mxc: "mxc://hs/1", mime: "image/png", size: 9 }), caption);
    expect(c).toMatchObject({
      msgtype: "m.image", filename: "cat.png", url: "mxc://hs/1", body: "look at this",
      format: "org.matrix.custom.html", formatted_body: "look at <strong>this</strong>",
      "m.relates_to": { "m.in_reply_to": { event_id: "$q" } },
    });
    expect((c["m.mentions"] as { user_ids: string[] }).user_ids).toEqual(["@a:hs"]);
  });
  it("a caption on a note (the file could not be copied) goes before the note, in one text event", () => {
    const c = withCaption(unavailableContent(cat, "too large to copy"), messageContent(msg())!);
    expect(c.msgtype).toBe("m.text");
    expect(c.body).toBe(`look at this\n📎 cat.png (999 B): https://cdn.example/cat.png (not copied by the bridge: too large to copy)`);
  });
  it("over the homeserver's limit: a note with Junction's signed link", () => {
    expect(unavailableContent(cat, "over the homeserver's upload limit", undefined, "https://j.example/media/p/s/cat.png").body)
      .toBe("📎 cat.png (999 B): https://j.example/media/p/s/cat.png (not copied by the bridge: over the homeserver's upload limit)");
  });
  const original = { msgtype: "m.image", body: "old caption", filename: "cat.png", url: "mxc://hs/1", info: { mimetype: "image/png", size: 9, w: 3, h: 2 } };
  const edit = (t: string): EditEvent => ({ ...base, kind: "edit", target: remoteId("d1"), body: { text: t } });
  it("a caption edit replaces the whole media event with the new caption", () => {
    const c = captionEditContent(edit("new caption"), mapped("$img", { role: "file", part: 1 }), original);
    expect(c["m.new_content"]).toEqual({ msgtype: "m.image", url: "mxc://hs/1", filename: "cat.png", body: "new caption", info: original.info, "m.mentions": {} });
    expect(c.body).toBe("* new caption");
    expect(c["m.relates_to"]).toEqual({ rel_type: "m.replace", event_id: "$img" });
  });
  it("an edit to empty text removes the caption; an original that is not media gets a text edit", () => {
    expect((captionEditContent(edit(""), mapped("$img"), original)["m.new_content"] as Record<string, unknown>).body).toBe("cat.png");
    expect((captionEditContent(edit("x"), mapped("$t"), { msgtype: "m.text", body: "y" })["m.new_content"] as Record<string, unknown>).msgtype).toBe("m.text");
  });
  it("a caption edit of a note in place of the file (over the homeserver's limit) keeps the note", () => {
    const note = unavailableContent(cat, "over the homeserver's upload limit", undefined, "https://j.example/media/p/s/cat.png");
    const captioned = withCaption(note, { msgtype: "m.text", body: "old\ncaption" });
    const c = captionEditContent(edit("new caption"), mapped("$note", { role: "file", part: 1 }), captioned);
    expect((c["m.new_content"] as Record<string, unknown>).body).toBe(`new caption\n${String(note.body)}`);
    expect(((captionEditContent(edit(""), mapped("$note"), captioned))["m.new_content"] as Record<string, unknown>).body).toBe(note.body);
  });
  const ROOM = "!r:hs";
  const mctx = { profile: () => undefined, findMessage: () => undefined };
  const ev = (content: Record<string, unknown>) => ({ type: "m.room.message", event_id: "$e", room_id: ROOM, sender: "@m:hs", origin_server_ts: 5, content });
  it.each<[string, Record<string, unknown>, string, Partial<Attachment>]>([
    ["captioned, with info", { msgtype: "m.image", body: "my cat", filename: "cat.png", url: "mxc://hs/c", info: { mimetype: "image/png", size: 10, w: 3, h: 2 } },
      "my cat", { name: "cat.png", mime: "image/png", size: 10, width: 3, height: 2 }],
    ["no caption (body is the file name)", { msgtype: "m.file", body: "a.pdf", filename: "a.pdf", url: "mxc://hs/f" }, "", { name: "a.pdf" }],
    ["no filename: body is the name", { msgtype: "m.video", body: "clip.webm", url: "mxc://hs/v", info: { mimetype: "video/webm" } }, "", { name: "clip.webm", mime: "video/webm" }],
    ["a formatted caption without a filename: the body names the file", { msgtype: "m.image", body: "y.png", format: "org.matrix.custom.html", formatted_body: "<i>look</i>", url: "mxc://hs/y" }, "look", { name: "y.png" }],
    ["a formatted caption", { msgtype: "m.image", body: "**hi**", format: "org.matrix.custom.html", formatted_body: "<b>hi</b>", filename: "x.png", url: "mxc://hs/x" }, "hi", { name: "x.png" }],
  ])("Matrix in: %s", (_n, content, caption, att) => {
    const [e] = fromRoomEvent(ev(content), mctx);
    expect(e).toMatchObject({ kind: "message", body: { text: caption }, attachments: [att] });
  });
  it("Matrix in: a caption edit (m.new_content is a media event) carries the new caption; back to the file name is no caption", () => {
    const replace = (body: string) => ev({ msgtype: "m.image", body: `* ${body}`, "m.new_content": { msgtype: "m.image", body, filename: "cat.png", url: "mxc://hs/c" }, "m.relates_to": { rel_type: "m.replace", event_id: "$orig" } });
    expect(fromRoomEvent(replace("better caption"), mctx)[0]).toMatchObject({ kind: "edit", body: { text: "better caption" } });
    expect(fromRoomEvent(replace("cat.png"), mctx)[0]).toMatchObject({ kind: "edit", body: { text: "" } });
  });
});

// ---- XMPP ----

const FROM = `from="room@muc.example/ann" type="groupchat"`;
describe("XMPP in: captions and file metadata", () => {
  const url = "https://up.example/abc/cat.png";
  it("a stanza stuffed with files yields MAX_FILES of them; the other URLs stay words", () => {
    const urls = Array.from({ length: 500 }, (_, i) => `https://up.example/f${i}.png`);
    const oob = urls.map((u) => `<x xmlns="jabber:x:oob"><url>${u}</url></x>`).join("");
    const sims = urls.map((u) => `<file-sharing xmlns="urn:xmpp:sfs:0"><sources><url-data xmlns="http://jabber.org/protocol/url-data" target="${u}x"/></sources></file-sharing>`).join("");
    const parsed = parseBody(el(`<message ${FROM}><body>${urls.join("\n")}</body>${oob}${sims}</message>`));
    expect(MAX_FILES).toBe(10);
    expect(parsed.attachments.map((a) => a.url)).toEqual(urls.slice(0, MAX_FILES));
    expect(parsed.text).toBe(urls.slice(MAX_FILES).join("\n"));
  });
  it.each<[string, string, string | undefined, Partial<Attachment>[]]>([
    ["the URL alone (how Conversations sends a file): no text", `<body>${url}</body><x xmlns="jabber:x:oob"><url>${url}</url></x>`, "", [{ url, name: "cat.png" }]],
    ["a caption and the URL on its own line: the caption is the text", `<body>my cat\n${url}</body><x xmlns="jabber:x:oob"><url>${url}</url></x>`, "my cat", [{ url }]],
    ["a caption ending in the URL", `<body>my cat ${url}</body><x xmlns="jabber:x:oob"><url>${url}</url></x>`, "my cat", [{ url }]],
    ["a caption without the URL in the body", `<body>my cat</body><x xmlns="jabber:x:oob"><url>${url}</url><desc>kitty.png</desc></x>`, "my cat", [{ url, name: "kitty.png" }]],
    ["a URL in the middle of words stays words", `<body>see ${url} now</body><x xmlns="jabber:x:oob"><url>${url}</url></x>`, `see ${url} now`, [{ url }]],
    ["SIMS metadata joins the OOB file of the same URL",
      `<body>${url}</body><x xmlns="jabber:x:oob"><url>${url}</url></x><file-sharing xmlns="urn:xmpp:sfs:0"><file xmlns="urn:xmpp:file:metadata:0"><media-type>image/png</media-type><name>cat.png</name><size>4096</size><width>30</width><height>20</height></file><sources><url-data xmlns="http://jabber.org/protocol/url-data" target="${url}"/></sources></file-sharing>`,
      "", [{ url, name: "cat.png", mime: "image/png", size: 4096, width: 30, height: 20 }]],
    ["SIMS alone is a file too; nonsense numbers and types are dropped",
      `<body>hi</body><file-sharing xmlns="urn:xmpp:sfs:0"><file xmlns="urn:xmpp:file:metadata:0"><media-type>not a type</media-type><name>x.bin</name><size>-5</size><width>1e400</width></file><sources><url-data xmlns="http://jabber.org/protocol/url-data" target="https://up.example/x.bin"/></sources></file-sharing>`,
      "hi", [{ url: "https://up.example/x.bin", name: "x.bin" }]],
    ["a SIMS source that is not http(s) is no file", `<body>hi</body><file-sharing xmlns="urn:xmpp:sfs:0"><sources><url-data xmlns="http://jabber.org/protocol/url-data" target="file:///etc/passwd"/></sources></file-sharing>`, "hi", []],
    ["the same OOB URL twice is one file", `<body>${url}</body><x xmlns="jabber:x:oob"><url>${url}</url></x><x xmlns="jabber:x:oob"><url>${url}</url></x>`, "", [{ url }]],
  ])("%s", (_n, inner, want, atts) => {
    const parsed = parseBody(el(`<message ${FROM}>${inner}</message>`));
    expect(parsed.text).toBe(want);
    expect(parsed.attachments).toHaveLength(atts.length);
    atts.forEach((a, i) => expect(parsed.attachments[i]).toMatchObject(a));
    for (const a of parsed.attachments) expect(Object.keys(a).every((k) => ["url", "name", "mime", "size", "width", "height"].includes(k))).toBe(true);
  });
});

describe("XMPP: the upload service", () => {
  const info = (features: string[], max?: number) => el(`<iq type="result"><query xmlns="http://jabber.org/protocol/disco#info">${features.map((f) => `<feature var="${f}"/>`).join("")}${max !== undefined ? `<x xmlns="jabber:x:data" type="result"><field var="FORM_TYPE" type="hidden"><value>urn:xmpp:http:upload:0</value></field><field var="max-file-size"><value>${max}</value></field></x>` : ""}</query></iq>`);
  it("disco#info: an upload service and its max-file-size; other entities are none", () => {
    expect(uploadServiceOf("upload.example", info(["urn:xmpp:http:upload:0"], 1048576))).toEqual({ jid: "upload.example", maxBytes: 1048576 });
    expect(uploadServiceOf("upload.example", info(["urn:xmpp:http:upload:0"]))).toEqual({ jid: "upload.example" });
    expect(uploadServiceOf("upload.example", info(["urn:xmpp:http:upload:0"], -1))).toEqual({ jid: "upload.example" });
    expect(uploadServiceOf("muc.example", info(["http://jabber.org/protocol/muc"]))).toBeUndefined();
  });
  it("an upload host learned while running is allowed from then on (its ports only); a bad entry is left out", () => {
    const learned: string[] = [];
    const policy = new AddressPolicy(["files.lan"], () => learned);
    const at = (host: string, port: number) => policy.check({ host, port, address: "10.0.0.5" });
    expect(at("upload.example.org", 5280)).toMatch(/does not allow/);
    learned.push("upload.example.org:5280", "not a host!");
    expect(at("upload.example.org", 5280)).toBeUndefined();
    expect(at("upload.example.org", 22)).toMatch(/does not allow/);
    expect(at("files.lan", 22)).toBeUndefined();
  });
  it.each<[string, boolean]>([
    ["upload.example.org", true], ["example.org", true], ["a.b.example.org", true],
    ["notexample.org", false], ["upload.example.org.evil", false], ["127.0.0.1", false], ["u@example.org", false], ["example.org/r", false],
  ])("%s is a service of example.org: %s", (jid, want) => {
    expect(withinDomain(jid, "example.org")).toBe(want);
  });
  it.each([["bridge.example.org", "example.org"], ["bridge.localhost", "localhost"], ["bridge", undefined], ["a.org", undefined]])("the domain asked about for %s is %s", (c, d) => {
    expect(parentDomain(c)).toBe(d);
  });
  it("found through the parent domain's items, once per connection; a server without one has none", async () => {
    const asked: string[] = [];
    const fake = (withUpload: boolean) => ({
      request: async (iq: Element) => {
        if (iq.getChild("request", "urn:xmpp:http:upload:0")) {
          asked.push(`slot ${iq.attrs.to}`);
          return el(`<iq type="result" from="${iq.attrs.to}"><slot xmlns="urn:xmpp:http:upload:0"><put url="https://files.example.org/file_share/a1/junction-probe.txt"/><get url="https://files.example.org/file_share/a1/junction-probe.txt"/></slot></iq>`);
        }
        asked.push(`${String(iq.getChild("query")!.attrs.xmlns).split("#")[1] ?? ""} ${iq.attrs.to}`);
        if (iq.getChild("query", "http://jabber.org/protocol/disco#items")) {
          return el(`<iq type="result"><query xmlns="http://jabber.org/protocol/disco#items"><item jid="conference.example.org"/><item jid="upload.example.org"/><item jid="someone@example.org"/><item jid="upload.evil.example"/><item jid="127.0.0.1"/><item jid="notexample.org"/></query></iq>`);
        }
        // Every foreign item would claim to be one, and answer first.
        if (["upload.evil.example", "127.0.0.1", "notexample.org"].includes(String(iq.attrs.to))) return info(["urn:xmpp:http:upload:0"]);
        return iq.attrs.to === "upload.example.org" && withUpload ? info(["urn:xmpp:http:upload:0"], 5000) : info(["x"]);
      },
    }) as unknown as XmppConnection;
    const s = new UploadServices({ conn: fake(true), from: "junction@bridge.example.org/junction", component: "bridge.example.org", log });
    // Where it keeps files, from one slot's GET URL (its HTTP host may be another than its JID).
    expect(await s.get()).toEqual({ jid: "upload.example.org", maxBytes: 5000, files: { host: "files.example.org:443", path: "/file_share/" } });
    await s.get();
    expect(asked.sort()).toEqual(["info conference.example.org", "info example.org", "info upload.example.org", "items example.org", "slot upload.example.org"]);
    expect(await new UploadServices({ conn: fake(false), from: "j@bridge.example.org/j", component: "bridge.example.org", log }).get()).toBeUndefined();
  });
});

describe("where the upload service keeps files, when it gives Junction no slot", () => {
  const info = el(`<iq type="result"><query xmlns="http://jabber.org/protocol/disco#info"><feature var="urn:xmpp:http:upload:0"/></query></iq>`);
  function service(answer: () => Promise<Element>) {
    const slots: string[] = [];
    const warned: string[] = [];
    const conn = {
      request: async (iq: Element) => {
        if (!iq.getChild("request", "urn:xmpp:http:upload:0")) return info;
        slots.push(String(iq.attrs.to));
        return answer();
      },
    } as unknown as XmppConnection;
    const warnLog = pino({ level: "warn" }, { write: (line: string) => { warned.push(JSON.parse(line).msg as string); } });
    return { s: new UploadServices({ conn, from: "junction@bridge.example.org/junction", component: "bridge.example.org", configured: "upload.example.org", log: warnLog }), slots, warned };
  }

  it("a refusal: nothing of the service's is allowed (no scope), said once with the fix, not asked again", async () => {
    const { IqError } = await import("../../bridges/xmpp/connection.ts");
    const { s, slots, warned } = service(async () => { throw new IqError(el(`<iq type="error"><error type="auth"><forbidden xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`)); });
    expect(await s.get()).toEqual({ jid: "upload.example.org" });
    expect(await s.files()).toBeUndefined();
    expect(await s.files()).toBeUndefined();
    expect(slots).toHaveLength(1);
    expect(warned).toEqual([expect.stringMatching(/^where the XMPP upload service keeps files is not known .*http_file_share_access/)]);
  });

  it("a failure that may pass (no answer in time): asked again a minute later, and the scope learned then", async () => {
    const { IqTimeout } = await import("../../bridges/xmpp/connection.ts");
    let fail = true;
    const { s, slots, warned } = service(async () => {
      if (fail) throw new IqTimeout("no answer to iq 1 to upload.example.org within 15000 ms");
      return el(`<iq type="result" from="upload.example.org"><slot xmlns="urn:xmpp:http:upload:0"><put url="http://10.0.0.7:5280/file_share/b2/x"/><get url="http://10.0.0.7:5280/file_share/b2/x"/></slot></iq>`);
    });
    vi.useFakeTimers({ now: 1_000_000, toFake: ["Date"] });
    try {
      expect(await s.files()).toBeUndefined();
      vi.setSystemTime(1_000_000 + 61_000);
      expect(await s.files()).toBeUndefined(); // asked again, failed again
      fail = false;
      expect(await s.files()).toBeUndefined(); // not within the minute
      vi.setSystemTime(1_000_000 + 122_000);
      expect(await s.files()).toEqual({ host: "10.0.0.7:5280", path: "/file_share/" });
      expect(s.known?.files).toEqual({ host: "10.0.0.7:5280", path: "/file_share/" });
      expect(slots).toHaveLength(3);
      expect(warned).toHaveLength(1); // the first failure only; the second at debug
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("XMPP out: files as uploads, links or notes", () => {
  const mxc: Attachment = { url: "mxc://hs/pic", name: "pic.png" };
  const pic: Media = { data: png(3, 2), mime: "image/png" };
  const ctx = (fetch: () => Promise<Media> = async () => pic) => ({ fetchMedia: fetch, attempt: 0, lastAttempt: false });
  function deps(over: Partial<MoveDeps> & { slot?: "ok" | "refused" } = {}): MoveDeps & { puts: string[] } {
    const puts: string[] = [];
    const conn = {
      request: async (iq: Element) => {
        if (over.slot === "refused") {
          const { IqError } = await import("../../bridges/xmpp/connection.ts");
          throw new IqError(el(`<iq type="error"><error type="modify"><not-acceptable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`));
        }
        const name = iq.getChild("request")!.attrs.filename;
        return el(`<iq type="result" from="upload.example"><slot xmlns="urn:xmpp:http:upload:0"><put url="https://up.example/put/${name}"/><get url="https://up.example/get/${name}"/></slot></iq>`);
      },
    } as unknown as XmppConnection;
    return {
      conn, http: { get: async () => pic, put: async (url: string) => void puts.push(url) }, from: "j@bridge/j", room: "r@muc", log,
      publicLink: (url, name) => `https://junction.example/media/${encodeURIComponent(url)}/sig/${name}`,
      service: { jid: "upload.example", maxBytes: 1000 },
      ...over, puts,
    };
  }
  it("with an upload service: fetched, PUT to the slot, the GET URL goes out", async () => {
    const d = deps();
    const r = await attachmentUrls([mxc], ctx(), d);
    expect(r.urls.get("mxc://hs/pic")).toBe("https://up.example/get/pic.png");
    expect(d.puts).toEqual(["https://up.example/put/pic.png"]);
  });
  it("a public URL (a Discord CDN link that expires) is uploaded too", async () => {
    const r = await attachmentUrls([{ url: "https://cdn.discordapp.com/attachments/1/2/a.png", name: "a.png" }], ctx(), deps());
    expect(r.urls.get("https://cdn.discordapp.com/attachments/1/2/a.png")).toBe("https://up.example/get/a.png");
  });
  it("over the service's max-file-size (claimed or fetched): a note with Junction's link, nothing uploaded", async () => {
    const d = deps({ service: { jid: "upload.example", maxBytes: 10 } });
    const r = await attachmentUrls([mxc, { url: "mxc://hs/big", name: "big.iso", size: 1e9 }], ctx(), d);
    expect(r.notes.get("mxc://hs/pic")).toMatch(/^📎 pic\.png \(\d+ B\): https:\/\/junction\.example\/media\/.+ \(not copied by the bridge: over the XMPP server's upload limit\)$/);
    expect(r.notes.get("mxc://hs/big")).toContain("(953.7 MiB)");
    expect(d.puts).toEqual([]);
  });
  it("a slot refused by the service: a note with Junction's link", async () => {
    const r = await attachmentUrls([mxc], ctx(), deps({ slot: "refused" }));
    expect(r.notes.get("mxc://hs/pic")).toContain("(not copied by the bridge: the XMPP server's upload service refused it)");
    expect(r.notes.get("mxc://hs/pic")).toContain("https://junction.example/media/");
  });
  it("no upload service: Junction's signed link as the URL; without Junction links, a public URL as it is, else a note", async () => {
    const none = deps({ service: undefined });
    const r = await attachmentUrls([mxc], ctx(async () => { throw new Error("never fetched"); }), none);
    expect(r.urls.get("mxc://hs/pic")).toMatch(/^https:\/\/junction\.example\/media\//);
    const bare = deps({ service: undefined, publicLink: () => undefined });
    const r2 = await attachmentUrls([mxc, { url: "https://f.example/a.png", name: "a.png" }], ctx(), bare);
    expect(r2.urls.get("https://f.example/a.png")).toBe("https://f.example/a.png");
    expect(r2.notes.get("mxc://hs/pic")).toBe("📎 pic.png (not copied by the bridge: this XMPP server has no upload service, and Junction serves no links (http.publicUrl))");
  });
  it("an upload service that does not answer holds the room MEDIA_ATTEMPTS tries, as a fetch would, then a note", async () => {
    const { IqTimeout } = await import("../../bridges/xmpp/connection.ts");
    const silent = deps({ conn: { request: async () => { throw new IqTimeout("no answer to iq 1 to upload.example within 30000 ms"); } } as unknown as XmppConnection });
    await expect(attachmentUrls([mxc], { ...ctx(), attempt: 0 }, silent)).rejects.toThrow("no answer");
    await expect(attachmentUrls([mxc], { ...ctx(), attempt: 1 }, silent)).rejects.toThrow("no answer");
    const r = await attachmentUrls([mxc], { ...ctx(), attempt: 2 }, silent);
    expect(r.notes.get("mxc://hs/pic")).toMatch(/^📎 pic\.png \(\d+ B\): https:\/\/junction\.example\/media\/.+ \(not copied by the bridge: the XMPP server's upload service did not answer\)$/);
  });
  it("a file gone for good is a note; a passing failure throws so the delivery is tried again", async () => {
    const gone = await attachmentUrls([mxc], ctx(async () => { throw mediaFailure("status", "404", { status: 404 }); }), deps());
    expect(gone.notes.get("mxc://hs/pic")).toBe("📎 pic.png (not copied by the bridge: the server answered HTTP 404)");
    await expect(attachmentUrls([mxc], ctx(async () => { throw mediaFailure("timeout", "slow"); }), deps())).rejects.toThrow("slow");
  });
  it("a captioned picture: the caption message, then the URL with OOB — two parts an edit and a retraction both reach", () => {
    const e = msg({ body: { text: "my cat" }, attachments: [mxc] });
    const out = outboundStanzas(e, { deliveryId: "7", attempt: 0, fetchMedia: async () => pic }, {
      room: "r@muc", from: "p@bridge/j", occupant: "r@muc/Dee", attachmentUrls: new Map([["mxc://hs/pic", "https://up.example/get/pic.png"]]),
    });
    expect(out.stanzas.map((s) => s.getChildText("body"))).toEqual(["my cat", "https://up.example/get/pic.png"]);
    expect(out.stanzas[1]!.getChild("x", "jabber:x:oob")?.getChildText("url")).toBe("https://up.example/get/pic.png");
    expect(out.ids.map((i) => [i.part, i.role])).toEqual([[0, "text"], [1, "file"]]);
  });
  it("text added by an edit to a file sent alone is its own message (the text part), never a correction that replaces the file", () => {
    const file: MappedMessage = { remoteId: remoteId("jn-7-abc-1"), altId: "jn-7-abc-1", authorName: "Dee", excerpt: "pic.png", role: "file" } as MappedMessage;
    const opts = { room: "r@muc", from: "p@bridge/j", occupant: "r@muc/Dee" };
    const edit = (text: string): EditEvent => ({ ...base, kind: "edit", target: remoteId("d1"), body: { text } });
    const out = outboundStanzas(edit("my cat"), { deliveryId: "8", attempt: 0, fetchMedia: async () => pic, target: file }, opts);
    expect(out.stanzas).toHaveLength(1);
    expect(out.stanzas[0]!.getChildText("body")).toBe("my cat");
    expect(out.stanzas[0]!.getChild("replace")).toBeUndefined();
    expect(out.ids.map((i) => [i.part, i.role])).toEqual([[0, "text"]]);
    expect(outboundStanzas(edit(""), { deliveryId: "9", attempt: 0, fetchMedia: async () => pic, target: file }, opts).stanzas).toEqual([]);
    // Taking the caption off a file again retracts the caption's message (no empty correction).
    const caption = { ...file, remoteId: remoteId("sid-caption"), altId: "jn-8-x", role: "text", part: 0 } as MappedMessage;
    const off = outboundStanzas(edit(""), { deliveryId: "11", attempt: 0, fetchMedia: async () => pic, target: caption, targets: [caption, file] }, opts);
    expect(off.stanzas).toHaveLength(1);
    expect(off.stanzas[0]!.getChild("retract", "urn:xmpp:message-retract:1")?.attrs.id).toBe("sid-caption");
    expect(off.stanzas[0]!.getChild("replace")).toBeUndefined();
    expect(off.removedPart).toBe(0);
    // A message that is only text is corrected as ever, even to nothing.
    const textOnly = outboundStanzas(edit(""), { deliveryId: "12", attempt: 0, fetchMedia: async () => pic, target: caption, targets: [caption] }, opts);
    expect(textOnly.stanzas[0]!.getChild("replace")?.attrs.id).toBe("jn-8-x");
    // Once there is a text part, an edit corrects it.
    const textPart = { ...file, remoteId: remoteId("jn-8-x"), altId: "jn-8-x", role: "text" } as MappedMessage;
    const again = outboundStanzas(edit("my cat, asleep"), { deliveryId: "10", attempt: 0, fetchMedia: async () => pic, target: textPart }, opts);
    expect(again.stanzas[0]!.getChild("replace")?.attrs.id).toBe("jn-8-x");
  });
});
