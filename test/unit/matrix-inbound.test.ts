import { describe, expect, it } from "vitest";
import type { FoundMessage } from "../../core/adapter.ts";
import { remoteId, type BridgeEvent } from "../../core/events.ts";
import { diffTyping, presenceFromMatrix, presenceToMatrix, receiptReaders } from "../../bridges/matrix/ephemeral.ts";
import { sanitize, stripReplyFallbackText } from "../../bridges/matrix/html.ts";
import { fromRoomEvent, type InboundContext } from "../../bridges/matrix/inbound.ts";
import { parseTransaction, type RoomEvent } from "../../bridges/matrix/types.ts";
import { gapNotice, missedEvents } from "../../bridges/matrix/catchup.ts";
import type { Homeserver } from "../../bridges/matrix/client.ts";
import { creatorsOf, mayRedactOthers, parsePowerLevels } from "../../bridges/matrix/power.ts";
import { roomRef } from "../../core/events.ts";

const ROOM = "!jEsUZKDJdhlrceRyVU:example.org";
const found = new Map<string, FoundMessage>([
  ["$reaction", { remoteId: remoteId("$reaction"), kind: "reaction", reactionTo: remoteId("$msg"), emoji: "👍", postedAs: "@alice:example.org", bridged: false }],
  ["$bobs", { remoteId: remoteId("$bobs"), kind: "message", postedAs: "@bob:example.org", bridged: false }],
  ["$alices", { remoteId: remoteId("$alices"), kind: "message", postedAs: "@alice:example.org", bridged: false }],
]);
const ctx: InboundContext = {
  profile: (_room, mxid) => (mxid === "@alice:example.org" ? { name: "Alice", avatar: "mxc://example.org/alice" } : undefined),
  findMessage: (_room, id) => found.get(id),
};

function ev(type: string, content: Record<string, unknown>, extra: Partial<RoomEvent> = {}): RoomEvent {
  return { type, event_id: "$143273582443PhrSn:example.org", room_id: ROOM, sender: "@alice:example.org", origin_server_ts: 1432735824653, content, ...extra };
}

function one(e: RoomEvent): BridgeEvent {
  const out = fromRoomEvent(e, ctx);
  expect(out).toHaveLength(1);
  return out[0]!;
}

describe("matrix inbound: messages", () => {
  it("m.text with its envelope", () => {
    expect(one(ev("m.room.message", { msgtype: "m.text", body: "This is an example text message" }))).toEqual({
      kind: "message", origin: "matrix", room: ROOM, remoteId: "$143273582443PhrSn:example.org", ts: 1432735824653,
      sender: { id: "@alice:example.org", name: "Alice", avatar: { hash: "mxc://example.org/alice", url: "mxc://example.org/alice" }, isBot: false },
      body: { text: "This is an example text message" }, attachments: [], isAction: false, mentions: [],
    });
  });

  it.each<[Record<string, unknown>, Partial<BridgeEvent>]>([
    [{ msgtype: "m.emote", body: "thinks this is an example emote" }, { isAction: true, body: { text: "thinks this is an example emote" } }],
    [{ msgtype: "m.notice", body: "This is an example notice" }, { isAction: false, isNotice: true }],
    [{ msgtype: "m.text", body: "**hi**", format: "org.matrix.custom.html", formatted_body: "<strong>hi</strong>" },
      { body: { text: "hi", rich: [{ t: "para", children: [{ t: "bold", children: [{ t: "text", text: "hi" }] }] }] } }],
    [{ msgtype: "m.text", body: "x", format: "org.matrix.custom.html",
      formatted_body: `<b onclick="steal()">x</b><script>alert(1)</script><a href="javascript:alert(1)">y</a><img src="https://evil/track.png"><iframe src="x"></iframe>` },
      { body: { text: "xy", rich: [{ t: "para", children: [{ t: "bold", children: [{ t: "text", text: "x" }] }, { t: "text", text: "y" }] }] } }],
    [{ msgtype: "m.text", body: "x", format: "text/markdown", formatted_body: "<b>x</b>" }, { body: { text: "x" } }],
    [{ msgtype: "m.text", body: "hey bob", "m.mentions": { user_ids: ["@bob:example.org", 7] } }, { mentions: ["@bob:example.org"] as never }],
  ])("message %#", (content, want) => {
    expect(one(ev("m.room.message", content))).toMatchObject(want);
  });

  it("a mentioned ghost becomes the remote person it stands for", () => {
    const withGhosts: InboundContext = { ...ctx, mentioned: (u) => (u.startsWith("@_junction_xmpp_") ? "bob@xmpp.example" : u) as never };
    const out = fromRoomEvent(ev("m.room.message", { msgtype: "m.text", body: "hi bob, carol", "m.mentions": { user_ids: ["@_junction_xmpp_bob=40xmpp.example:example.org", "@carol:example.org"] } }), withGhosts);
    expect(out[0]).toMatchObject({ mentions: ["bob@xmpp.example", "@carol:example.org"] });
  });

  it("unknown sender falls back to the localpart", () => {
    expect(one(ev("m.room.message", { msgtype: "m.text", body: "hi" }, { sender: "@carol:example.org" })).sender)
      .toEqual({ id: "@carol:example.org", name: "carol", isBot: false });
  });

  it("a reply points at its target and loses its fallback", () => {
    const e = one(ev("m.room.message", {
      msgtype: "m.text",
      body: "> <@bob:example.org> original message\n> second line\n\nThis is my reply",
      format: "org.matrix.custom.html",
      formatted_body: `<mx-reply><blockquote><a href="https://matrix.to/#/!room:example.org/$bobs">In reply to</a> <a href="https://matrix.to/#/@bob:example.org">@bob:example.org</a><br />original message</blockquote></mx-reply>This is my <em>reply</em>`,
      "m.relates_to": { "m.in_reply_to": { event_id: "$bobs" } },
    }));
    expect(e).toMatchObject({ kind: "message", replyTo: "$bobs", body: { text: "This is my reply", rich: [{ t: "para", children: [{ t: "text", text: "This is my " }, { t: "italic", children: [{ t: "text", text: "reply" }] }] }] } });
  });

  it("a thread message is not a reply to the thread's latest event", () => {
    const e = one(ev("m.room.message", {
      msgtype: "m.text", body: "in thread",
      "m.relates_to": { rel_type: "m.thread", event_id: "$root", is_falling_back: true, "m.in_reply_to": { event_id: "$latest" } },
    }));
    expect(e).toMatchObject({ thread: "$root" });
    expect("replyTo" in e).toBe(false);
  });

  it("an edit takes m.new_content and targets the original event", () => {
    expect(one(ev("m.room.message", {
      msgtype: "m.text", body: "* Hello world!",
      "m.new_content": { msgtype: "m.text", body: "Hello world!", format: "org.matrix.custom.html", formatted_body: "<b>Hello</b> world!" },
      "m.relates_to": { rel_type: "m.replace", event_id: "$some_event_id" },
    }))).toMatchObject({ kind: "edit", target: "$some_event_id", body: { text: "Hello world!", rich: [{ t: "para", children: [{ t: "bold", children: [{ t: "text", text: "Hello" }] }, { t: "text", text: " world!" }] }] } });
  });

  it("an edit of someone else's message is dropped", () => {
    expect(fromRoomEvent(ev("m.room.message", {
      msgtype: "m.text", body: "* rewritten", "m.new_content": { msgtype: "m.text", body: "rewritten" },
      "m.relates_to": { rel_type: "m.replace", event_id: "$bobs" },
    }), ctx)).toEqual([]);
    expect(fromRoomEvent(ev("m.room.message", {
      msgtype: "m.text", body: "* mine", "m.new_content": { msgtype: "m.text", body: "mine" },
      "m.relates_to": { rel_type: "m.replace", event_id: "$alices" },
    }), ctx)).toHaveLength(1);
  });

  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ["m.image", { body: "filename.jpg", info: { h: 398, w: 394, mimetype: "image/jpeg", size: 31037 }, msgtype: "m.image", url: "mxc://example.org/JWEIFJgwEIhweiWJE" },
      { url: "mxc://example.org/JWEIFJgwEIhweiWJE", name: "filename.jpg", mime: "image/jpeg", size: 31037, width: 394, height: 398 }],
    ["m.file", { body: "something-important.doc", filename: "something-important.doc", info: { mimetype: "application/msword", size: 46144 }, msgtype: "m.file", url: "mxc://example.org/FHyPlCeYUSFFxlgbQYZmoEoe" },
      { url: "mxc://example.org/FHyPlCeYUSFFxlgbQYZmoEoe", name: "something-important.doc", mime: "application/msword", size: 46144 }],
    ["m.video", { body: "Gangnam Style", info: { duration: 2140786, h: 320, mimetype: "video/mp4", size: 1563685, w: 480 }, msgtype: "m.video", url: "mxc://example.org/a526eYUSFFxlgbQYZmo442" },
      { url: "mxc://example.org/a526eYUSFFxlgbQYZmo442", name: "Gangnam Style", mime: "video/mp4", width: 480, height: 320 }],
    ["m.audio", { body: "Bee Gees - Stayin' Alive", info: { duration: 2140786, mimetype: "audio/mpeg", size: 1563685 }, msgtype: "m.audio", url: "mxc://example.org/ffed755USFFxlgbQYZGtryd" },
      { url: "mxc://example.org/ffed755USFFxlgbQYZGtryd", mime: "audio/mpeg" }],
  ])("%s becomes an attachment", (_t, content, att) => {
    const e = one(ev("m.room.message", content));
    expect(e).toMatchObject({ kind: "message", body: { text: "" } });
    expect(e.kind === "message" && e.attachments[0]).toMatchObject(att);
  });

  it("a media caption (body differing from filename) becomes the text", () => {
    const e = one(ev("m.room.message", { msgtype: "m.image", body: "look at this", filename: "cat.png", url: "mxc://example.org/cat", info: { mimetype: "image/png" } }));
    expect(e).toMatchObject({ body: { text: "look at this" }, attachments: [{ name: "cat.png", url: "mxc://example.org/cat" }] });
  });

  it("encrypted files and malformed media are dropped", () => {
    expect(fromRoomEvent(ev("m.room.message", { msgtype: "m.image", body: "x.png", file: { url: "mxc://a/b" } }), ctx)).toEqual([]);
    expect(fromRoomEvent(ev("m.room.message", { msgtype: "m.text" }), ctx)).toEqual([]);
    expect(fromRoomEvent(ev("m.room.encrypted", { algorithm: "m.megolm.v1.aes-sha2" }), ctx)).toEqual([]);
  });
});

describe("matrix inbound: reactions and redactions", () => {
  it("m.reaction annotation", () => {
    expect(one(ev("m.reaction", { "m.relates_to": { rel_type: "m.annotation", event_id: "$msg", key: "👍" } })))
      .toMatchObject({ kind: "reaction", target: "$msg", emoji: "👍", added: true, remoteId: "$143273582443PhrSn:example.org" });
  });

  it("a custom emoji reaction keeps its picture", () => {
    expect(one(ev("m.reaction", { shortcode: ":party:", "m.relates_to": { rel_type: "m.annotation", event_id: "$msg", key: "mxc://example.org/party" } })))
      .toMatchObject({ kind: "reaction", emoji: ":party:", custom: { name: ":party:", url: "mxc://example.org/party" } });
  });

  it.each<[string, Partial<RoomEvent>, Record<string, unknown>]>([
    ["v11 (content.redacts)", {}, { redacts: "$alices", reason: "Spamming" }],
    ["pre-v11 (top-level redacts)", { redacts: "$alices" }, { reason: "Spamming" }],
  ])("redaction %s → retract", (_n, extra, content) => {
    expect(one(ev("m.room.redaction", content, extra))).toMatchObject({ kind: "retract", target: "$alices", reason: "Spamming" });
  });

  it("a redaction of someone else's message is a moderation", () => {
    expect(one(ev("m.room.redaction", { redacts: "$bobs" }))).toMatchObject({ kind: "retract", target: "$bobs", moderated: true });
  });

  it("a redaction of a reaction removes the reaction", () => {
    expect(one(ev("m.room.redaction", { redacts: "$reaction" }))).toMatchObject({ kind: "reaction", target: "$msg", emoji: "👍", added: false });
    expect(fromRoomEvent(ev("m.room.redaction", { redacts: "$reaction" }, { sender: "@mod:example.org" }), ctx)).toEqual([]);
  });
});

describe("matrix inbound: members", () => {
  const member = (content: Record<string, unknown>, prev?: Record<string, unknown>) =>
    fromRoomEvent(ev("m.room.member", content, { state_key: "@alice:example.org", ...(prev ? { unsigned: { prev_content: prev } } : {}) }), ctx);

  it.each<[string, Record<string, unknown>, Record<string, unknown> | undefined, Partial<BridgeEvent>[]]>([
    ["join", { membership: "join", displayname: "Alice" }, undefined, [{ kind: "join", sender: { id: "@alice:example.org" as never, name: "Alice", isBot: false } }]],
    ["join after invite", { membership: "join", displayname: "Alice" }, { membership: "invite" }, [{ kind: "join" }]],
    ["rename", { membership: "join", displayname: "Alicia" }, { membership: "join", displayname: "Alice" },
      [{ kind: "profile", previousName: "Alice", sender: { id: "@alice:example.org" as never, name: "Alicia", isBot: false } }]],
    ["new avatar", { membership: "join", displayname: "Alice", avatar_url: "mxc://example.org/new" }, { membership: "join", displayname: "Alice", avatar_url: "mxc://example.org/old" },
      [{ kind: "profile", sender: { id: "@alice:example.org" as never, name: "Alice", avatar: { hash: "mxc://example.org/new", url: "mxc://example.org/new" }, isBot: false } }]],
    ["no change", { membership: "join", displayname: "Alice" }, { membership: "join", displayname: "Alice" }, []],
    ["leave", { membership: "leave", reason: "bye" }, { membership: "join", displayname: "Alice" }, [{ kind: "leave", reason: "bye" }]],
    ["invite", { membership: "invite" }, undefined, []],
  ])("%s", (_n, content, prev, want) => {
    const out = member(content, prev);
    expect(out).toHaveLength(want.length);
    want.forEach((w, i) => expect(out[i]).toMatchObject(w));
  });
});

describe("matrix inbound: ephemeral and transactions", () => {
  it("typing sets diff into starts and stops, without our own ghosts", () => {
    const keep = (u: string) => !u.startsWith("@_junction_");
    const a = diffTyping(new Set(), { user_ids: ["@alice:x", "@_junction_xmpp_bob:x"] }, keep);
    expect(a).toMatchObject({ started: ["@alice:x"], stopped: [] });
    const b = diffTyping(a.now, { user_ids: ["@carol:x"] }, keep);
    expect(b).toMatchObject({ started: ["@carol:x"], stopped: ["@alice:x"] });
    expect(diffTyping(b.now, {}, keep)).toMatchObject({ started: [], stopped: ["@carol:x"] });
  });

  it.each<[Record<string, unknown>, unknown]>([
    [{ presence: "online", currently_active: true }, { state: "online" }],
    [{ presence: "unavailable", status_msg: "lunch" }, { state: "away", status: "lunch" }],
    [{ presence: "offline", status_msg: "  " }, { state: "offline" }],
    [{ presence: "dnd" }, undefined],
  ])("presence in %j", (content, want) => {
    expect(presenceFromMatrix(content)).toEqual(want);
  });

  it.each<[Parameters<typeof presenceToMatrix>, unknown]>([
    [["online", undefined], { presence: "online" }],
    [["away", "brb"], { presence: "unavailable", status_msg: "brb" }],
    [["busy", undefined], { presence: "unavailable", status_msg: "Busy" }],
    [["busy", "in a meeting"], { presence: "unavailable", status_msg: "in a meeting" }],
    [["offline", undefined], { presence: "offline" }],
  ])("presence out %j", (args, want) => {
    expect(presenceToMatrix(...args)).toEqual(want);
  });

  it("receipts name their readers", () => {
    expect(receiptReaders({ "$ev": { "m.read": { "@alice:x": { ts: 1 } } } })).toEqual([{ eventId: "$ev", userId: "@alice:x" }]);
  });

  it("a transaction body is read defensively, stable ephemeral key first", () => {
    const good = { type: "m.room.message", event_id: "$a", room_id: ROOM, sender: "@a:x", origin_server_ts: 1, content: { body: "x" } };
    const t = parseTransaction({
      events: [good, { type: "broken" }, null],
      ephemeral: [{ type: "m.typing", room_id: ROOM, content: { user_ids: [] } }],
      "de.sorunome.msc2409.ephemeral": [{ type: "m.typing", room_id: ROOM, content: { user_ids: [] } }],
    });
    expect(t.events).toEqual([good]);
    expect(t.ephemeral).toHaveLength(1);
    expect(parseTransaction({ "de.sorunome.msc2409.ephemeral": [{ type: "m.presence", sender: "@a:x", content: {} }] }).ephemeral).toHaveLength(1);
    expect(parseTransaction("nonsense")).toEqual({ events: [], ephemeral: [] });
  });
});

describe("matrix html", () => {
  it.each<[string, string]>([
    [`<p>ok</p>`, `<p>ok</p>`],
    [`<a href="https://x.org" onclick="x()">l</a>`, `<a href="https://x.org">l</a>`],
    [`<a href="/relative">l</a>`, `<a>l</a>`],
    [`<img src="mxc://x/y" alt="a"><img src="http://x/y.png">`, `<img src="mxc://x/y" alt="a" />`],
    [`<code class="language-ts evil">x</code>`, `<code class="language-ts">x</code>`],
    [`<span data-mx-color="#ff0000" style="font-size:99px">r</span><span data-mx-color="red">r</span>`, `<span data-mx-color="#ff0000">r</span><span>r</span>`],
    [`<span data-mx-spoiler>s</span>`, `<span data-mx-spoiler>s</span>`],
    [`<style>*{}</style><script>x</script><svg onload=x()></svg>t`, `t`],
  ])("sanitises %s", (dirty, clean) => {
    expect(sanitize(dirty)).toBe(clean);
  });

  it("keeps a quote that is not a reply fallback", () => {
    expect(stripReplyFallbackText("no quote\n> here")).toBe("no quote\n> here");
  });

  it("nesting past 100 levels is cut", () => {
    const deep = "<b>".repeat(150) + "x" + "</b>".repeat(150);
    expect((sanitize(deep).match(/<b>/g) ?? []).length).toBeLessThanOrEqual(100);
  });
});

/** A timeline of `n` events ($1 oldest … $n newest) served by /messages, dir=b, like Synapse pages it. */
function timelineHs(n: number, calls: string[] = []): Homeserver {
  return {
    async request(_method: string, _path: string, opts: { qs?: Record<string, string> }) {
      const from = opts.qs?.from !== undefined ? Number(opts.qs.from) : n;
      const limit = Number(opts.qs?.limit);
      calls.push(`${from}:${limit}`);
      const chunk = [];
      for (let i = from; i > Math.max(0, from - limit); i--) {
        chunk.push({ type: i % 10 === 0 ? "m.reaction" : "m.room.message", event_id: `$${i}`, sender: "@a:x", origin_server_ts: i, content: { body: `m${i}` } });
      }
      return { chunk, ...(from - limit > 0 ? { end: String(from - limit) } : {}) };
    },
  } as unknown as Homeserver;
}

describe("matrix catch-up", () => {
  const room = roomRef(ROOM);
  const ids = (c: { events: RoomEvent[] }) => c.events.map((e) => e.event_id);
  const opts = (cursor: string | undefined, limit: number, known: string[] = []) => ({
    cursor, limit, known: (id: string) => known.includes(id), ours: () => false,
  });

  it("hands back what came after the cursor, oldest first", async () => {
    const c = await missedEvents(timelineHs(5), room, opts("$3", 100));
    expect(ids(c)).toEqual(["$4", "$5"]);
    expect(c).toMatchObject({ lost: 0, lostAtLeast: false, first: false });
  });

  it("stops at the newest known event even without a cursor", async () => {
    expect(ids(await missedEvents(timelineHs(5), room, opts(undefined, 100, ["$2", "$4"])))).toEqual(["$5"]);
  });

  it("pages past 100 events up to the limit", async () => {
    const calls: string[] = [];
    const c = await missedEvents(timelineHs(400, calls), room, opts("$50", 1000));
    expect(ids(c)).toHaveLength(350);
    expect(ids(c)[0]).toBe("$51");
    expect(ids(c).at(-1)).toBe("$400");
    expect(calls).toEqual(["400:100", "300:100", "200:100", "100:100"]);
  });

  it("a first start hands back nothing and names the newest event", async () => {
    const c = await missedEvents(timelineHs(300), room, opts(undefined, 1000));
    expect(c).toMatchObject({ events: [], first: true, newest: "$300" });
    expect(await missedEvents(timelineHs(3000), room, opts(undefined, 100))).toMatchObject({ events: [], first: true, newest: "$3000" });
  });

  it("a gap over the limit hands back the newest events and counts the messages before them", async () => {
    const c = await missedEvents(timelineHs(1000), room, opts("$100", 250));
    expect(ids(c)[0]).toBe("$751");
    expect(ids(c)).toHaveLength(250);
    // $101..$750: 650 events, of which 65 are reactions ($110, $120, ...): 585 messages.
    expect(c).toMatchObject({ lost: 585, lostAtLeast: false });
    expect(gapNotice(c.lost, c.lostAtLeast)).toBe("585 messages from the Matrix room could not be bridged while Junction was away.");
  });

  it("stops counting at ten times the limit", async () => {
    const c = await missedEvents(timelineHs(5000), room, opts("$1", 100));
    expect(c.events).toHaveLength(100);
    expect(c.lostAtLeast).toBe(true);
    expect(c.lost).toBe(900);
    expect(gapNotice(c.lost, true)).toMatch(/^More than 900 messages/);
  });
});

describe("matrix power levels", () => {
  it.each<[unknown, string, boolean]>([
    [{ users: { "@mod:x": 50 } }, "@mod:x", true],
    [{ users: { "@mod:x": 50 } }, "@eve:x", false],
    [{ users_default: 50 }, "@eve:x", true],
    [{ redact: 100, users: { "@mod:x": 50 } }, "@mod:x", false],
    [{ redact: "0" }, "@eve:x", true],
    [{ redact: "lots", users: { "@eve:x": "9999999999999999999999" } }, "@eve:x", false],
    [{ redact: null, users_default: [100], users: [] }, "@eve:x", false],
    [{ users: { "@eve:x": 1.5 } }, "@eve:x", false],
    [null, "@eve:x", false],
  ])("%j: %s may redact others → %s", (content, who, want) => {
    expect(mayRedactOthers(parsePowerLevels(content), who)).toBe(want);
  });
});

describe("matrix room creators (room version 12)", () => {
  const create = (version: string | undefined, extra: Record<string, unknown> = {}) =>
    ({ type: "m.room.create", sender: "@founder:x", content: { ...(version ? { room_version: version } : {}), ...extra } });
  it.each<[unknown, string, boolean]>([
    [create("12"), "@founder:x", true],
    [create("12", { additional_creators: ["@cofounder:x", 7] }), "@cofounder:x", true],
    [create("12"), "@eve:x", false],
    [create("11"), "@founder:x", false],
    [create(undefined), "@founder:x", false],
    [{ content: { room_version: "12" } }, "@founder:x", false],
  ])("%j: %s is privileged → %s", (ev, who, want) => {
    const p = { ...parsePowerLevels({ users: {} }), ...(creatorsOf(ev) ? { creators: creatorsOf(ev)! } : {}) };
    expect(mayRedactOthers(p, who)).toBe(want);
  });
});
