import { describe, expect, it } from "vitest";
import type { MappedMessage } from "../../core/adapter.ts";
import { actorId, remoteId, roomRef, type EditEvent, type MessageEvent } from "../../core/events.ts";
import { txnIdFor } from "../../bridges/matrix/delivery.ts";
import {
  editContent, mediaContent, messageContent, msgtypeForMime, reactionContent, redactionContent, typingContent,
  unavailableContent,
} from "../../bridges/matrix/outbound.ts";
import { para, text, type Inline } from "../../core/richtext/tree.ts";

const b = (s: string): Inline => ({ t: "bold", children: [text(s)] });

const base = { origin: "xmpp", room: roomRef("lobby@muc.example"), ts: 1, sender: { id: actorId("lobby@muc.example/Bob"), name: "Bob", isBot: false } } as const;
const msg = (over: Partial<MessageEvent> = {}): MessageEvent => ({ ...base, kind: "message", body: { text: "hello" }, attachments: [], isAction: false, mentions: [], ...over });
const mapped = (id: string, postedAs?: string): MappedMessage => ({ remoteId: remoteId(id), authorName: "A", excerpt: "x", ...(postedAs ? { postedAs } : {}) });

describe("matrix outbound", () => {
  it.each<[Partial<MessageEvent>, Record<string, unknown>]>([
    [{}, { msgtype: "m.text", body: "hello", "m.mentions": { user_ids: [] } }],
    [{ isAction: true, body: { text: "waves" } }, { msgtype: "m.emote", body: "waves" }],
    [{ isNotice: true }, { msgtype: "m.notice" }],
    [{ body: { text: "hi", rich: [para(b("hi"))] } }, { body: "hi", format: "org.matrix.custom.html", formatted_body: "<strong>hi</strong>" }],
    [{ body: { text: "x", rich: [para(text(`<img src=x onerror=alert(1)>`), b("x"))] } }, { formatted_body: "&lt;img src=x onerror=alert(1)&gt;<strong>x</strong>" }],
    [{ body: { text: "@room look" } }, { "m.mentions": { user_ids: [] } }],
    [{ mentions: [actorId("@carol:example.org"), actorId("carol@xmpp.example")] }, { "m.mentions": { user_ids: ["@carol:example.org"] } }],
  ])("message %#", (over, want) => {
    expect(messageContent(msg(over))).toMatchObject(want);
  });

  it("a body without a tree has no formatted_body", () => {
    expect(messageContent(msg({ body: { text: "<script>1</script>" } }))).toEqual({ msgtype: "m.text", body: "<script>1</script>", "m.mentions": { user_ids: [] } });
  });

  it("a message with only attachments has no text part", () => {
    expect(messageContent(msg({ body: { text: "  " } }))).toBeUndefined();
  });

  it("a reply relates to the target and mentions its author", () => {
    expect(messageContent(msg(), mapped("$orig", "@alice:example.org"))).toEqual({
      msgtype: "m.text", body: "hello",
      "m.mentions": { user_ids: ["@alice:example.org"] },
      "m.relates_to": { "m.in_reply_to": { event_id: "$orig" } },
    });
  });

  it("an edit replaces with m.new_content and a '* ' fallback", () => {
    const e: EditEvent = { ...base, kind: "edit", target: remoteId("t"), body: { text: "fixed", rich: [para({ t: "italic", children: [text("fixed")] })] } };
    expect(editContent(e, mapped("$orig"))).toEqual({
      msgtype: "m.text", body: "* fixed", format: "org.matrix.custom.html", formatted_body: "* <em>fixed</em>",
      "m.new_content": { msgtype: "m.text", body: "fixed", format: "org.matrix.custom.html", formatted_body: "<em>fixed</em>", "m.mentions": {} },
      "m.mentions": {},
      "m.relates_to": { rel_type: "m.replace", event_id: "$orig" },
    });
  });

  it("reactions, redactions, typing", () => {
    expect(reactionContent(mapped("$m"), "👍")).toEqual({ "m.relates_to": { rel_type: "m.annotation", event_id: "$m", key: "👍" } });
    expect(redactionContent("spam")).toEqual({ reason: "spam" });
    expect(redactionContent(undefined)).toEqual({});
    expect(typingContent(true)).toEqual({ typing: true, timeout: 30000 });
    expect(typingContent(false)).toEqual({ typing: false });
  });

  it.each<[string | undefined, string]>([
    ["image/png", "m.image"], ["video/webm", "m.video"], ["audio/ogg", "m.audio"], ["application/pdf", "m.file"], [undefined, "m.file"],
  ])("%s is sent as %s", (mime, type) => {
    expect(msgtypeForMime(mime)).toBe(type);
  });

  it("an uploaded image carries its info", () => {
    expect(mediaContent({ url: "https://x/cat.png", name: "cat.png", width: 10, height: 20 }, { mxc: "mxc://example.org/abc", mime: "image/png", size: 123 }, mapped("$r")))
      .toEqual({
        msgtype: "m.image", body: "cat.png", filename: "cat.png", url: "mxc://example.org/abc",
        info: { mimetype: "image/png", size: 123, w: 10, h: 20 }, "m.mentions": {},
        "m.relates_to": { "m.in_reply_to": { event_id: "$r" } },
      });
  });

  it("a transaction id is stable across retries and never shared by two events", () => {
    const a = msg({ remoteId: remoteId("s1") });
    const b = msg({ remoteId: remoteId("s2") });
    expect(txnIdFor(a, { deliveryId: "1" })).toBe(txnIdFor(structuredClone(a), { deliveryId: "1" }));
    expect(txnIdFor(a, { deliveryId: "1" })).toMatch(/^junction-1-[\w-]{16}$/);
    expect(txnIdFor(a, { deliveryId: "1" })).not.toBe(txnIdFor(b, { deliveryId: "1" }));
    expect(txnIdFor(a, { deliveryId: "1" })).not.toBe(txnIdFor(a, { deliveryId: "2" }));
  });
});

describe("an attachment that could not be copied", () => {
  it("becomes a line with its name and link, no file, mentioning nobody", () => {
    const c = unavailableContent({ url: "http://files.example/cat.png", name: "cat.png" }, "too large to copy");
    expect(c).toEqual({ msgtype: "m.text", body: "📎 cat.png: http://files.example/cat.png (not copied by the bridge: too large to copy)", "m.mentions": {} });
  });

  it("names a file that has no link, and keeps the reply", () => {
    const reply = { remoteId: remoteId("$target"), authorName: "a", excerpt: "" } satisfies MappedMessage;
    const c = unavailableContent({ url: "mxc://x/y", name: "notes.txt" }, "it could not be fetched", reply);
    expect(c.body).toBe("📎 notes.txt (not copied by the bridge: it could not be fetched)");
    expect(c["m.relates_to"]).toEqual({ "m.in_reply_to": { event_id: "$target" } });
  });
});
