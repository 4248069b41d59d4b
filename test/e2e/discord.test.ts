/**
 * Discord through Junction, end to end: the Discord emulator (an unmodified discord.js logs in to
 * it), a real Prosody and a real Synapse, the real core. A link of all three networks, plus an
 * XMPP–Discord pair and a Matrix–Discord pair. People are real protocol clients: emulator persons
 * (they act the way the Discord client does), @xmpp/client, the Client-Server API.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { xml } from "@xmpp/client";
import type { Element } from "@xmpp/xml";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runJunction, type RunningJunction } from "../../core/app.ts";
import { startDiscordEmulator, type DiscordEmulator, type Person as DiscordPerson } from "../discord-emulator/index.ts";
import { matrixPerson, type MatrixPerson } from "../harness/matrix-person.ts";
import { freePort } from "../harness/ports.ts";
import { trackTempDir } from "../harness/process.ts";
import { startProsody, type ProsodyServer } from "../harness/prosody.ts";
import { until } from "../harness/until.ts";
import { TINY_PNG } from "../harness/pictures.ts";
import { Person, type TestProsody } from "./xmpp.fixture.ts";
import { startTestSynapse, type TestSynapse } from "./matrix-synapse.fixture.ts";
import { threeAdapters } from "./networks.fixture.ts";

const log = pino({ level: process.env.JUNCTION_TEST_LOG ?? "silent" });
const MUC = "lobby@conference.localhost";
const MUC_PAIR = "pair@conference.localhost";

let emu: DiscordEmulator;
let prosody: ProsodyServer;
let syn: TestSynapse;
let junction: RunningJunction;
let storePath: string;
let httpPort: number;
let alice: DiscordPerson; // on Discord
let bob: Person; // on XMPP, in the three-way room
let dave: Person; // on XMPP, in the XMPP–Discord pair
let carol: MatrixPerson; // on Matrix
let lobby: string; // Discord channel ids
let pairX: string;
let pairM: string;
let roomAll: string; // Matrix room ids
let roomPair: string;
let sticker: string;

async function startJunction(): Promise<RunningJunction> {
  const [xmpp, matrix, discord] = threeAdapters({ prosody, syn, emu }, log);
  const j = await runJunction({
    store: { path: storePath },
    http: { listen: { host: "127.0.0.1", port: httpPort }, publicUrl: `http://127.0.0.1:${httpPort}` },
    links: {
      all: { xmpp: [MUC], matrix: ["#all:localhost"], discord: [lobby] },
      xd: { xmpp: [MUC_PAIR], discord: [pairX] },
      md: { matrix: ["#pair:localhost"], discord: [pairM] },
    },
  }, [xmpp, matrix, discord], log);
  await until("all networks ready", () => ["xmpp", "matrix", "discord"].every((n) => j.connected().get(n as "xmpp") === true), 30_000);
  return j;
}

const body = (el: Element) => el.getChildText("body");
const inMuc = (room: string, text: string) => (el: Element) => el.is("message") && String(el.attrs.from).startsWith(`${room}/`) && body(el) === text;
const stanzaId = (el: Element, room: string) => el.getChildren("stanza-id").find((s) => s.attrs.by === room)?.attrs.id as string;
const onMatrix = (room: string, match: (ev: any) => boolean, what: string) => until(what, () => carol.timeline(room).find(match), 15_000);
const ghostSays = (text: string) => (ev: any) => String(ev.sender).startsWith("@_junction_discord_") && (ev.content?.body === text || ev.content?.["m.new_content"]?.body === text);

beforeAll(async () => {
  [emu, prosody, syn] = await Promise.all([
    startDiscordEmulator({ channels: ["lobby", "pair-xmpp", "pair-matrix"], heartbeatIntervalMs: 5000 }),
    startProsody({}), startTestSynapse(),
  ]);
  [lobby, pairX, pairM] = emu.channels.map((c) => c.id) as [string, string, string];
  alice = emu.person({ username: "alice", globalName: "Alice A.", avatar: TINY_PNG });
  sticker = emu.addSticker("wave", TINY_PNG).id;
  await prosody.registerUser("bob", "pw");
  await prosody.registerUser("dave", "pw");
  const c = await syn.registerUser("carol", "Carol");
  carol = matrixPerson(syn.url, c.userId, c.token);
  roomAll = (await carol.request("POST", "/client/v3/createRoom", { preset: "public_chat", room_alias_name: "all", name: "All" }) as any).room_id;
  roomPair = (await carol.request("POST", "/client/v3/createRoom", { preset: "public_chat", room_alias_name: "pair", name: "Pair" }) as any).room_id;
  const dir = mkdtempSync(join(tmpdir(), "junction-discord-e2e-"));
  trackTempDir(dir);
  storePath = join(dir, "junction.db");
  httpPort = await freePort();
  const layout = { layout: { c2sPort: prosody.c2sPort, host: prosody.host } } as unknown as TestProsody;
  bob = new Person(layout, "bob", MUC);
  dave = new Person(layout, "dave", MUC_PAIR);
  await Promise.all([bob.join(), dave.join()]);
  junction = await startJunction();
}, 180_000);

afterAll(async () => {
  await Promise.allSettled([bob?.stop(), dave?.stop()]);
  await junction?.stop();
  await carol?.stop();
  await Promise.allSettled([prosody?.stop(), syn?.stop(), emu?.stop()]);
});

describe("Discord in a link of three networks", () => {
  it("a Discord message reaches XMPP and Matrix under the person's name", async () => {
    alice.send(lobby, "hello from discord");
    const x = await bob.waitFor(inMuc(MUC, "hello from discord"), 15_000);
    expect(String(x.attrs.from)).toBe(`${MUC}/Alice A.`);
    const ev = await onMatrix(roomAll, ghostSays("hello from discord"), "Discord message on Matrix");
    const member = await carol.request("GET", `/client/v3/rooms/${encodeURIComponent(roomAll)}/state/m.room.member/${encodeURIComponent(String(ev.sender))}`) as any;
    expect(member.displayname).toBe("Alice A.");
  });

  it("XMPP and Matrix messages reach Discord through the webhook, under each sender's name, with an avatar URL that serves", async () => {
    const fromXmpp = emu.nextMessage(lobby, 15_000);
    await bob.say("hello from xmpp");
    const seen = await fromXmpp;
    expect(seen).toMatchObject({ username: "bob", content: "hello from xmpp", bot: true });
    expect(seen.webhookId).toBeTruthy();
    expect(emu.webhooks(lobby).filter((w) => w.applicationId === emu.applicationId)).toHaveLength(1);
    const mxc = await upload(carol, TINY_PNG);
    await carol.request("PUT", `/client/v3/profile/${encodeURIComponent(carol.userId)}/avatar_url`, { avatar_url: mxc });
    // Synapse updates the member event in each room after answering: send once it is in the room.
    await onMatrix(roomAll, (ev) => ev.type === "m.room.member" && ev.state_key === carol.userId && ev.content?.avatar_url === mxc, "carol's new avatar in the room");
    const fromMatrix = emu.nextMessage(lobby, 15_000);
    await carol.send(roomAll, { msgtype: "m.text", body: "hello from matrix" });
    const m = await fromMatrix;
    expect(m).toMatchObject({ username: "Carol", content: "hello from matrix" });
    // Nobody on XMPP or Matrix sees Discord's copies come back.
    await new Promise((r) => setTimeout(r, 500));
    expect(bob.messages().filter((el) => body(el) === "hello from xmpp")).toHaveLength(1);
    expect(carol.timeline(roomAll).filter((e) => e.content?.body === "hello from matrix")).toHaveLength(1);
    const avatar = m.avatarUrl ?? "";
    expect(avatar.startsWith(`http://127.0.0.1:${httpPort}/media/`)).toBe(true);
    const res = await fetch(avatar);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(Buffer.from(await res.arrayBuffer()).equals(TINY_PNG)).toBe(true);
    // A URL is only good with its signature: another reference under a made-up one is refused.
    const forged = await fetch(avatar.replace(/\/media\/([^/]+)\/([^/]+)/, (_a, p: string) => `/media/${p}/${"A".repeat(32)}`));
    expect(forged.status).toBe(404);
  });

  it("an edit and a deletion on Discord reach XMPP and Matrix; a link preview is not an edit", async () => {
    const msg = alice.send(lobby, "see https://example.org/x tpyo");
    const orig = await bob.waitFor(inMuc(MUC, "see https://example.org/x tpyo"), 15_000);
    await onMatrix(roomAll, ghostSays("see https://example.org/x tpyo"), "original on Matrix");
    const from = bob.heard.length;
    alice.linkPreview(msg.id);
    alice.edit(msg.id, "see https://example.org/x typo");
    const fixed = await bob.waitFor(inMuc(MUC, "see https://example.org/x typo"), 15_000, from);
    expect(fixed.getChild("replace", "urn:xmpp:message-correct:0")?.attrs.id).toBe(orig.attrs.id);
    await onMatrix(roomAll, (ev) => ev.content?.["m.new_content"]?.body === "see https://example.org/x typo", "edit on Matrix");
    expect(bob.heard.slice(from).filter((el) => el.getChild("replace", "urn:xmpp:message-correct:0"))).toHaveLength(1);
    alice.delete(msg.id);
    await bob.waitFor((el) => el.is("message") && !!el.getChild("retract", "urn:xmpp:message-retract:1"), 15_000, from);
    await onMatrix(roomAll, (ev) => ev.type === "m.room.redaction", "redaction on Matrix");
  });

  it("edits and retractions from XMPP reach the webhook message; a forged correction of someone else's changes nothing", async () => {
    const created = emu.nextMessage(lobby, 15_000);
    const id = await bob.say("bob's first");
    const copy = await created;
    const updated = emu.nextUpdate(lobby, copy.id, 15_000);
    await bob.say("bob's fixed", xml("replace", { xmlns: "urn:xmpp:message-correct:0", id }));
    expect((await updated).content).toBe("bob's fixed");
    // Another XMPP person forges a correction of bob's message (XEP-0308 by bob's message id).
    const eve = new Person({ layout: { c2sPort: prosody.c2sPort, host: prosody.host } } as unknown as TestProsody, "eve", MUC);
    await prosody.registerUser("eve", "pw");
    await eve.join();
    await eve.say("hijacked", xml("replace", { xmlns: "urn:xmpp:message-correct:0", id }));
    await new Promise((r) => setTimeout(r, 1500));
    expect(emu.message(copy.id)?.content).toBe("bob's fixed");
    await eve.stop();
    const echo = await bob.waitFor((el) => el.is("message") && el.attrs.id === id && String(el.attrs.from) === `${MUC}/bob`);
    const deleted = emu.nextDelete(lobby, copy.id, 15_000);
    await bob.send(xml("retract", { xmlns: "urn:xmpp:message-retract:1", id: stanzaId(echo, MUC) }), xml("body", {}, "retracted"));
    await deleted;
    expect(emu.message(copy.id)).toBeUndefined();
  });

  it("replies cross both ways: a quote line with a jump link on Discord, a native reply elsewhere", async () => {
    const created = emu.nextMessage(lobby, 15_000);
    const id = await bob.say("what time is it?");
    const copy = await created;
    const native = alice.send(lobby, "noon", { reply: copy.id });
    const x = await bob.waitFor((el) => el.is("message") && String(el.attrs.from) === `${MUC}/Alice A.` && (body(el) ?? "").endsWith("noon"), 15_000);
    const echo = bob.heard.find((el) => el.attrs.id === id && String(el.attrs.from) === `${MUC}/bob`)!;
    expect(x.getChild("reply", "urn:xmpp:reply:0")?.attrs.id).toBe(stanzaId(echo, MUC));
    void native;
    const replyCopy = emu.nextMessage(lobby, 15_000);
    const noon = x;
    await bob.say("thanks", xml("reply", { xmlns: "urn:xmpp:reply:0", id: stanzaId(noon, MUC) }));
    const r = await replyCopy;
    expect(r.content.split("\n")).toHaveLength(2);
    expect(r.content).toMatch(/^> \*\*Alice A\.\*\*: noon \[↩\]\(<https:\/\/discord\.com\/channels\/\d+\/\d+\/\d+>\)\nthanks$/);
    expect(r.content).toContain(`/${lobby}/${native.id}>`);
  });

  it("reactions cross both ways and are removed when removed", async () => {
    const msg = alice.send(lobby, "react to me");
    const x = await bob.waitFor(inMuc(MUC, "react to me"), 15_000);
    const from = bob.heard.length;
    alice.react(msg.id, "👍");
    const r = await bob.waitFor((el) => !!el.getChild("reactions", "urn:xmpp:reactions:0"), 15_000, from);
    expect(r.getChild("reactions", "urn:xmpp:reactions:0")!.getChildren("reaction").map((e) => e.getText())).toEqual(["👍"]);
    alice.unreact(msg.id, "👍");
    await bob.waitFor((el) => el.getChild("reactions", "urn:xmpp:reactions:0")?.getChildren("reaction").length === 0, 15_000, from + 1);
    // XMPP → Discord: the bot adds it, and takes it away.
    const added = emu.nextReaction("add", lobby, 15_000);
    await bob.send(xml("reactions", { xmlns: "urn:xmpp:reactions:0", id: stanzaId(x, MUC) }, xml("reaction", {}, "🎉")));
    await added;
    expect(emu.message(msg.id)?.reactions).toEqual([{ emoji: "🎉", count: 1, users: [emu.botUserId] }]);
    const removed = emu.nextReaction("remove", lobby, 15_000);
    await bob.send(xml("reactions", { xmlns: "urn:xmpp:reactions:0", id: stanzaId(x, MUC) }));
    await removed;
    expect(emu.message(msg.id)?.reactions).toEqual([]);
  });

  it("a Discord attachment arrives on Matrix as a file of its own (re-hosted), and Matrix files are uploaded to Discord", async () => {
    alice.send(lobby, "a picture", { attachments: [{ filename: "dot.png", data: TINY_PNG, contentType: "image/png" }] });
    // One captioned event: the file's name in filename, the text as its caption.
    const img = await onMatrix(roomAll, (ev) => ev.content?.msgtype === "m.image" && ev.content?.filename === "dot.png", "image on Matrix");
    expect(img.content.body).toBe("a picture");
    expect(String(img.content.url)).toMatch(/^mxc:\/\//);
    const mxc = await upload(carol, TINY_PNG);
    const up = emu.nextMessage(lobby, 15_000);
    await carol.send(roomAll, { msgtype: "m.image", body: "mine.png", url: mxc, info: { mimetype: "image/png", size: TINY_PNG.length } });
    const seen = await up;
    expect(seen.attachments).toHaveLength(1);
    expect(seen.attachments[0]).toMatchObject({ filename: "mine.png", size: TINY_PNG.length });
  });

  it("a 4,500-character message arrives on Discord in parts, whole words kept; edits reach every part, adding and deleting parts; a retraction removes every part", async () => {
    const text = (n: number, p: string) => Array.from({ length: n }, (_, i) => `${p}${String(i).padStart(3, "0")}`).join(" ");
    const words = text(900, "w"); // 4,499 characters
    const parts = emu.nextMessages(lobby, 3, 20_000);
    const id = await bob.say(words);
    const got = await parts;
    expect(got.every((m) => m.content.length <= 2000)).toBe(true);
    expect(got.map((m) => m.content).join(" ")).toBe(words);
    const correct = (body: string) => bob.say(body, xml("replace", { xmlns: "urn:xmpp:message-correct:0", id }));
    // As long: every part changes.
    const edited = Promise.all(got.map((m) => emu.nextUpdate(lobby, m.id, 15_000)));
    const same = text(900, "v");
    await correct(same);
    await edited;
    expect(got.map((m) => emu.message(m.id)!.content).join(" ")).toBe(same);
    // Longer: every part changes and one more is added, under bob's name.
    const longer = text(1300, "u"); // 6,499 characters: four parts
    const updated = Promise.all(got.map((m) => emu.nextUpdate(lobby, m.id, 15_000)));
    const added = emu.nextMessage(lobby, 15_000);
    await correct(longer);
    const [fourth] = await Promise.all([added, updated]);
    expect(fourth.username).toBe(got[0]!.username);
    const all = [...got, fourth];
    expect(all.map((m) => emu.message(m.id)!.content).join(" ")).toBe(longer);
    // Shorter: the first part changes, the other three are deleted.
    const deletions = Promise.all(all.slice(1).map((m) => emu.nextDelete(lobby, m.id, 15_000)));
    const firstUpdated = emu.nextUpdate(lobby, got[0]!.id, 15_000);
    await correct("short now");
    await Promise.all([deletions, firstUpdated]);
    expect(emu.message(got[0]!.id)!.content).toBe("short now");
    expect(all.slice(1).map((m) => emu.message(m.id))).toEqual([undefined, undefined, undefined]);
    // Growing again posts new parts (the deleted ones are no longer the message's).
    const again = emu.nextMessages(lobby, 2, 15_000);
    await correct(words);
    const grown = await again;
    const now = [got[0]!, ...grown];
    expect(now.map((m) => emu.message(m.id)!.content).join(" ")).toBe(words);
    // A retraction removes every part the message has now.
    const echo = await bob.waitFor((el) => el.is("message") && el.attrs.id === id && String(el.attrs.from) === `${MUC}/bob`);
    const gone = Promise.all(now.map((m) => emu.nextDelete(lobby, m.id, 15_000)));
    await bob.send(xml("retract", { xmlns: "urn:xmpp:message-retract:1", id: stanzaId(echo, MUC) }), xml("body", {}, "retracted"));
    await gone;
    expect([...all, ...grown].map((m) => emu.message(m.id)).filter(Boolean)).toEqual([]);
  });

  it("@everyone and @here from XMPP and from Matrix arrive as text and ping nobody", async () => {
    const a = emu.nextMessage(lobby, 15_000);
    await bob.say("@everyone look @here");
    const x = await a;
    expect(x.content).toBe("@everyone look @here");
    expect(x.pinged).toEqual({ users: [], roles: [], everyone: false });
    const b = emu.nextMessage(lobby, 15_000);
    await carol.send(roomAll, { msgtype: "m.text", body: "@everyone from matrix" });
    const m = await b;
    expect(m.content).toBe("@everyone from matrix");
    expect(m.pinged).toEqual({ users: [], roles: [], everyone: false });
  });

  it("formatting crosses every pair: bold, italic, code, spoiler, link, quote, code block", async () => {
    // Matrix → Discord and XMPP.
    const fromMatrix = emu.nextMessage(lobby, 15_000);
    await carol.send(roomAll, {
      msgtype: "m.text", body: "**bold** _it_ `c` sp link\n> quoted\n```js\nlet x = 1;\n```",
      format: "org.matrix.custom.html",
      formatted_body: `<strong>bold</strong> <em>it</em> <code>c</code> <span data-mx-spoiler>sp</span> <a href="https://example.org/">link</a><blockquote>quoted</blockquote><pre><code class="language-js">let x = 1;\n</code></pre><script>alert(1)</script>`,
    });
    expect((await fromMatrix).content).toBe("**bold** *it* `c` ||sp|| [link](<https://example.org/>)\n> quoted\n```js\nlet x = 1;\n```");
    await bob.waitFor(inMuc(MUC, "*bold* _it_ `c` ||sp|| link (https://example.org/)\n> quoted\n```js\nlet x = 1;\n```"), 15_000);

    // XMPP (message styling) → Discord and Matrix.
    const fromXmpp = emu.nextMessage(lobby, 15_000);
    await bob.say("*bold* _it_ ~gone~ `c`\n> quoted\n```py\nx = 1\n```");
    expect((await fromXmpp).content).toBe("**bold** *it* ~~gone~~ `c`\n> quoted\n```py\nx = 1\n```");
    const onM = await onMatrix(roomAll, (ev) => ev.content?.body === "bold it gone `c`\n> quoted\n```py\nx = 1\n```", "styled XMPP message on Matrix");
    expect(onM.content.formatted_body).toBe(`<p><strong>bold</strong> <em>it</em> <del>gone</del> <code>c</code></p><blockquote>quoted</blockquote><pre><code class="language-py">x = 1\n</code></pre>`);

    // Discord markdown → XMPP and Matrix; text that only looks like markup stays text.
    alice.send(lobby, "**bold** *it* __under__ ||sp|| [link](https://example.org/) 2\\*3\\*4\n> quoted\n```js\nlet y\n```");
    await bob.waitFor(inMuc(MUC, "*bold* _it_ under ||sp|| link (https://example.org/) 2*3*4\n> quoted\n```js\nlet y\n```"), 15_000);
    const onD = await onMatrix(roomAll, (ev) => String(ev.content?.body).startsWith("bold it under"), "Discord markdown on Matrix");
    expect(onD.content.formatted_body).toBe(`<p><strong>bold</strong> <em>it</em> <u>under</u> <span data-mx-spoiler>sp</span> <a href="https://example.org/">link</a> 2*3*4</p><blockquote>quoted</blockquote><pre><code class="language-js">let y\n</code></pre>`);

    // Plain words from Discord that an XMPP client would style arrive marked unstyled.
    alice.send(lobby, "a \\*literal\\* star");
    const plain = await bob.waitFor(inMuc(MUC, "a *literal* star"), 15_000);
    expect(plain.getChild("unstyled", "urn:xmpp:styling:0")).toBeTruthy();
  });

  it("an XMPP message addressed to a puppet's nick pings exactly that person on Discord and on Matrix", async () => {
    const toDiscord = emu.nextMessage(lobby, 15_000);
    await bob.say("Alice A.: look at this @everyone");
    const d = await toDiscord;
    expect(d.content).toBe(`<@${alice.id}>: look at this @everyone`);
    expect(d.pinged).toEqual({ users: [alice.id], roles: [], everyone: false });
    const ev = await onMatrix(roomAll, (e) => e.content?.body === "@Alice A.: look at this @everyone", "the addressed message on Matrix");
    const aliceGhost = (await onMatrix(roomAll, ghostSays("hello from discord"), "alice's ghost")).sender as string;
    expect((ev.content as any)["m.mentions"]).toEqual({ user_ids: [aliceGhost] });
    expect((ev.content as any).formatted_body).toBe(`<a href="https://matrix.to/#/${aliceGhost}">Alice A.</a>: look at this @everyone`);

    const carolNick = bob.messages().map((el) => String(el.attrs.from)).find((f) => f.startsWith(`${MUC}/Carol`))?.slice(MUC.length + 1) ?? "Carol";
    const toMatrix = emu.nextMessage(lobby, 15_000);
    await bob.say(`${carolNick}, your turn`);
    const m = await onMatrix(roomAll, (e) => e.content?.body === `@${carolNick}, your turn`, "the message addressed to carol on Matrix");
    expect((m.content as any)["m.mentions"]).toEqual({ user_ids: [carol.userId] });
    expect((m.content as any).formatted_body).toBe(`<a href="https://matrix.to/#/${carol.userId}">${carolNick}</a>, your turn`);
    // Discord sees Carol's name, and nobody there is pinged.
    const dm = await toMatrix;
    expect(dm.content).toBe(`@${carolNick}, your turn`);
    expect(dm.pinged).toEqual({ users: [], roles: [], everyone: false });
  });

  it("typing, presence and a nick change on Discord reach XMPP", async () => {
    const from = bob.heard.length;
    alice.typing(lobby);
    await bob.waitFor((el) => el.is("message") && !!el.getChild("composing", "http://jabber.org/protocol/chatstates"), 15_000, from);
    alice.setPresence("dnd");
    await bob.waitFor((el) => el.is("presence") && String(el.attrs.from).startsWith(`${MUC}/Alice`) && el.getChildText("show") === "dnd", 15_000, from);
    alice.setNick("Ally");
    await bob.waitFor((el) => el.is("presence") && String(el.attrs.from) === `${MUC}/Ally`, 15_000, from);
  });
});

describe("Discord and Matrix in the three-network link", () => {
  it("replies from Matrix carry one quote line (the Matrix fallback not doubled); Discord replies are native on Matrix", async () => {
    const created = emu.nextMessage(lobby, 15_000);
    const first = await carol.send(roomAll, { msgtype: "m.text", body: "matrix question" });
    const copy = await created;
    const answer = alice.send(lobby, "discord answer", { reply: copy.id });
    const ev = await onMatrix(roomAll, ghostSays("discord answer"), "the Discord reply on Matrix");
    expect((ev.content as any)["m.relates_to"]?.["m.in_reply_to"]?.event_id).toBe(first);
    const back = emu.nextMessage(lobby, 15_000);
    await carol.send(roomAll, {
      msgtype: "m.text", body: "> <@_junction_discord_x:localhost> discord answer\n\nmatrix follow-up",
      format: "org.matrix.custom.html",
      formatted_body: `<mx-reply><blockquote><a href="https://matrix.to/#/${roomAll}/${ev.event_id}">In reply to</a><br>discord answer</blockquote></mx-reply>matrix follow-up`,
      "m.relates_to": { "m.in_reply_to": { event_id: ev.event_id } },
    });
    const r = await back;
    expect(r.content).toBe(`> **Ally**: discord answer [↩](<https://discord.com/channels/${emu.guild.id}/${lobby}/${answer.id}>)\nmatrix follow-up`);
  });

  it("a Matrix mention of a Discord person's ghost pings exactly that person on Discord; Discord mentions read as names", async () => {
    const ghost = (await onMatrix(roomAll, ghostSays("hello from discord"), "alice's ghost")).sender as string;
    const next = emu.nextMessage(lobby, 15_000);
    await carol.send(roomAll, { msgtype: "m.text", body: "Ally: look at this @everyone", "m.mentions": { user_ids: [ghost] } });
    const m = await next;
    expect(m.content).toBe(`<@${alice.id}>: look at this @everyone`);
    expect(m.pinged).toEqual({ users: [alice.id], roles: [], everyone: false });
    const bobby = emu.person({ username: "zed" });
    alice.send(lobby, `hi <@${bobby.id}> in <#${lobby}>`);
    await onMatrix(roomAll, ghostSays("hi @zed in #lobby"), "readable mentions on Matrix");
  });

  it("edits, redactions and reactions from Matrix reach Discord; a custom emoji becomes text", async () => {
    const created = emu.nextMessage(lobby, 15_000);
    const id = await carol.send(roomAll, { msgtype: "m.text", body: "matrix tpyo" });
    const copy = await created;
    const updated = emu.nextUpdate(lobby, copy.id, 15_000);
    await carol.send(roomAll, { msgtype: "m.text", body: "* matrix typo", "m.new_content": { msgtype: "m.text", body: "matrix typo" }, "m.relates_to": { rel_type: "m.replace", event_id: id } });
    expect((await updated).content).toBe("matrix typo");
    const native = alice.send(lobby, "react here, matrix");
    const onM = await onMatrix(roomAll, ghostSays("react here, matrix"), "the message on Matrix");
    const added = emu.nextReaction("add", lobby, 15_000);
    const reaction = await carol.send(roomAll, { "m.relates_to": { rel_type: "m.annotation", event_id: onM.event_id, key: "❤️" } }, "m.reaction");
    await added;
    expect(emu.message(native.id)?.reactions.map((r) => r.emoji)).toEqual(["❤️"]);
    const removed = emu.nextReaction("remove", lobby, 15_000);
    await carol.request("PUT", `/client/v3/rooms/${encodeURIComponent(roomAll)}/redact/${encodeURIComponent(reaction)}/r1`, {});
    await removed;
    const custom = emu.nextMessage(lobby, 15_000);
    await carol.send(roomAll, { "m.relates_to": { rel_type: "m.annotation", event_id: onM.event_id, key: "mxc://localhost/blobcat" }, shortcode: ":blobcat:" }, "m.reaction");
    const text = await custom;
    expect(text.username).toBe("Carol");
    expect(text.content).toMatch(/^> \*\*Ally\*\*: react here, matrix \[↩\]\(<.*>\)\nreacted :blobcat:$/);
    const deleted = emu.nextDelete(lobby, copy.id, 15_000);
    await carol.request("PUT", `/client/v3/rooms/${encodeURIComponent(roomAll)}/redact/${encodeURIComponent(id)}/r2`, {});
    await deleted;
  });

  it("typing and presence on Discord reach Matrix", async () => {
    const bobby = emu.person({ username: "bobby" });
    bobby.send(lobby, "bobby here");
    const ev = await onMatrix(roomAll, ghostSays("bobby here"), "bobby on Matrix");
    bobby.typing(lobby);
    await until("typing on Matrix", () => carol.arrivals.find((a) => a.kind === "ephemeral" && a.roomId === roomAll && a.event.type === "m.typing" && ((a.event.content as any)?.user_ids ?? []).includes(ev.sender)), 15_000);
    bobby.setPresence("idle");
    await until("presence on Matrix", async () => {
      const p = await carol.request("GET", `/client/v3/presence/${encodeURIComponent(String(ev.sender))}/status`) as { presence?: string };
      return p.presence === "unavailable" ? p : undefined;
    }, 15_000);
  });

  it("an avatar change on Discord reaches the Matrix ghost", async () => {
    const ghost = (await onMatrix(roomAll, ghostSays("react here, matrix"), "alice's ghost")).sender as string;
    const stateOf = () => carol.request("GET", `/client/v3/rooms/${encodeURIComponent(roomAll)}/state/m.room.member/${encodeURIComponent(ghost)}`) as Promise<{ avatar_url?: string }>;
    const before = (await stateOf()).avatar_url;
    expect(before).toMatch(/^mxc:\/\//);
    alice.setAvatar(Buffer.concat([TINY_PNG, Buffer.from([0])]));
    await until("a new avatar on Matrix", async () => {
      const now = (await stateOf()).avatar_url;
      return now && now !== before ? now : undefined;
    }, 15_000);
  });

  it("thread messages arrive as replies to the thread's first message, marked with its name", async () => {
    const starter = alice.send(lobby, "thread starter");
    const x = await bob.waitFor(inMuc(MUC, "thread starter"), 15_000);
    const thread = alice.startThread(lobby, "plans", starter.id);
    alice.send(thread.id, "inside the thread");
    const inThread = await bob.waitFor((el) => el.is("message") && (body(el) ?? "").endsWith("[thread “plans”] inside the thread"), 15_000);
    expect(inThread.getChild("reply", "urn:xmpp:reply:0")?.attrs.id).toBe(stanzaId(x, MUC));
  });

  it("stickers arrive as images; other bots and webhooks as puppets named after them; a bulk delete retracts", async () => {
    alice.send(lobby, "", { stickers: [sticker] });
    await onMatrix(roomAll, (ev) => ev.content?.msgtype === "m.image" && ev.content?.body === "wave.png", "the sticker on Matrix");
    const hook = emu.addForeignWebhook(lobby, "CI");
    const res = await fetch(`${emu.api}/v10/webhooks/${hook.id}/${hook.token}?wait=true`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ content: "build passed", username: "CI" }),
    });
    expect(res.status).toBe(200);
    const ci = await bob.waitFor(inMuc(MUC, "build passed"), 15_000);
    expect(String(ci.attrs.from)).toBe(`${MUC}/CI`);
    const robot = emu.person({ username: "robot", bot: true });
    robot.send(lobby, "beep");
    const beep = await bob.waitFor(inMuc(MUC, "beep"), 15_000);
    expect(String(beep.attrs.from)).toBe(`${MUC}/robot`);
    const a = alice.send(lobby, "bulk one");
    const b = alice.send(lobby, "bulk two");
    await bob.waitFor(inMuc(MUC, "bulk two"), 15_000);
    const from = bob.heard.length;
    emu.bulkDelete(lobby, [a.id, b.id]);
    await until("two retractions on XMPP", () => bob.heard.slice(from).filter((el) => el.is("message") && el.getChild("retract", "urn:xmpp:message-retract:1")).length >= 2 || undefined, 15_000);
  });

  it("a file over the channel's upload limit is linked through Junction's HTTP server, with its name and size", async () => {
    emu.setUploadLimit(10);
    const mxc = await upload(carol, TINY_PNG);
    const up = emu.nextMessage(lobby, 15_000);
    await carol.send(roomAll, { msgtype: "m.file", body: "big.png", url: mxc, info: { mimetype: "image/png", size: TINY_PNG.length } });
    const seen = await up;
    emu.setUploadLimit(10 * 1024 * 1024);
    expect(seen.attachments).toEqual([]);
    const link = /^📎 \[big\.png \(75 B\)\]\(<(http:\/\/127\.0\.0\.1:\d+\/media\/[^>]+)>\) \(over this channel's upload limit\)$/.exec(seen.content);
    expect(link, seen.content).not.toBeNull();
    const res = await fetch(link![1]!);
    expect(Buffer.from(await res.arrayBuffer()).equals(TINY_PNG)).toBe(true);
  });
});

describe("other networks' typing and nick changes on Discord", () => {
  it("typing on XMPP shows as the bot typing; a nick change shows on the next message", async () => {
    const typing = emu.nextTyping(lobby, 15_000);
    await bob.send(xml("composing", { xmlns: "http://jabber.org/protocol/chatstates" }));
    expect(await typing).toBe(emu.botUserId);
    const presence = bob.waitFor((el) => el.is("presence") && String(el.attrs.from) === `${MUC}/bobby-x`, 15_000);
    await bob.xmpp.send(xml("presence", { to: `${MUC}/bobby-x` }));
    await presence;
    const next = emu.nextMessage(lobby, 15_000);
    await bob.say("renamed");
    expect(await next).toMatchObject({ username: "bobby-x", content: "renamed" });
  });
});

describe("Discord in two-network links", () => {
  it("XMPP–Discord: both directions", async () => {
    alice.send(pairX, "to the pair");
    await dave.waitFor(inMuc(MUC_PAIR, "to the pair"), 15_000);
    const back = emu.nextMessage(pairX, 15_000);
    await dave.say("from dave");
    expect(await back).toMatchObject({ username: "dave", content: "from dave" });
  });

  it("Matrix–Discord: both directions", async () => {
    alice.send(pairM, "to matrix only");
    await onMatrix(roomPair, ghostSays("to matrix only"), "pair message on Matrix");
    const back = emu.nextMessage(pairM, 15_000);
    await carol.send(roomPair, { msgtype: "m.text", body: "from carol" });
    expect(await back).toMatchObject({ username: "Carol", content: "from carol" });
  });
});

describe("Discord delivery across drops and rate limits", () => {
  it("a resumable gateway drop: messages posted meanwhile arrive once, in order", async () => {
    const from = dave.heard.length;
    emu.dropGateway({ resumable: true });
    for (let i = 0; i < 5; i++) alice.send(pairX, `resume ${i}`);
    await until("five messages on XMPP", () => dave.messages().slice().filter((el) => /^resume \d$/.test(body(el) ?? "")).length >= 5, 30_000);
    await new Promise((r) => setTimeout(r, 1000));
    const got = dave.heard.slice(from).filter((el) => el.is("message") && /^resume \d$/.test(body(el) ?? "")).map(body);
    expect(got).toEqual(["resume 0", "resume 1", "resume 2", "resume 3", "resume 4"]);
  });

  it("a drop that cannot be resumed: the messages are fetched from the channel's history, once, in order", async () => {
    const from = dave.heard.length;
    emu.dropGateway({ resumable: false });
    for (let i = 0; i < 5; i++) alice.send(pairX, `gap ${i}`);
    await until("five messages on XMPP", () => dave.heard.slice(from).filter((el) => el.is("message") && /^gap \d$/.test(body(el) ?? "")).length >= 5, 30_000);
    alice.send(pairX, "after the gap");
    await dave.waitFor(inMuc(MUC_PAIR, "after the gap"), 15_000, from);
    await new Promise((r) => setTimeout(r, 1000));
    const got = dave.heard.slice(from).filter((el) => el.is("message") && /^(gap \d|after the gap)$/.test(body(el) ?? "")).map(body);
    expect(got).toEqual(["gap 0", "gap 1", "gap 2", "gap 3", "gap 4", "after the gap"]);
  });

  it("a long message whose third part meets a failing Discord is retried without sending its first parts again", async () => {
    const words = Array.from({ length: 900 }, (_, i) => `r${String(i).padStart(3, "0")}`).join(" ");
    const before = emu.seen(pairX).length;
    emu.failWebhookExecutes({ after: 2, times: 5 }); // more than discord.js's own retries of a 500
    await dave.say(words);
    await until("the whole message on Discord", () => emu.seen(pairX).slice(before).map((m) => m.content).join(" ") === words || undefined, 30_000);
    await new Promise((r) => setTimeout(r, 1000)); // a late duplicate would show up here
    const got = emu.seen(pairX).slice(before);
    expect(got).toHaveLength(3);
    expect(got.map((m) => m.content).join(" ")).toBe(words);
    expect(junction.store.outbox.failed().filter((f) => f.room === pairX)).toEqual([]);
  });

  it("a refusal Discord will repeat (50013 Missing Permissions) fails the delivery at once with what to grant; the channel keeps flowing", async () => {
    const msg = alice.send(lobby, "no reactions allowed");
    const x = await bob.waitFor(inMuc(MUC, "no reactions allowed"), 15_000);
    emu.withhold(lobby, "AddReactions");
    try {
      await bob.send(xml("reactions", { xmlns: "urn:xmpp:reactions:0", id: stanzaId(x, MUC) }, xml("reaction", {}, "🎉")));
      const failed = await until("the failed reaction", () => junction.store.outbox.failed().find((f) => f.room === lobby && /Missing Permissions/.test(f.error)), 15_000);
      expect(failed.attempts).toBe(1);
      expect(failed.error).toMatch(/code 50013.*lacks a permission/);
      const next = emu.nextMessage(lobby, 15_000);
      await bob.say("after the refusal");
      expect((await next).content).toBe("after the refusal");
      expect(emu.message(msg.id)?.reactions).toEqual([]);
    } finally {
      emu.restore(lobby);
    }
  });

  it("a storm of 429s: every message arrives, in order, none twice", async () => {
    emu.rateLimitStorm({ count: 20, retryAfterMs: 200 });
    const arrived = emu.nextMessages(pairX, 10, 60_000);
    for (let i = 0; i < 10; i++) await dave.say(`storm ${i}`);
    const got = await arrived;
    expect(got.map((m) => m.content)).toEqual(Array.from({ length: 10 }, (_, i) => `storm ${i}`));
    await new Promise((r) => setTimeout(r, 1000));
    expect(emu.seen(pairX).filter((m) => /^storm \d$/.test(m.content))).toHaveLength(10);
    expect(emu.stats().rateLimited).toBeGreaterThan(0);
  });
});

async function upload(p: MatrixPerson, data: Buffer): Promise<string> {
  const res = await fetch(`${syn.url}/_matrix/media/v3/upload?filename=a.png`, {
    method: "POST", headers: { authorization: `Bearer ${p.accessToken}`, "content-type": "image/png" }, body: new Uint8Array(data),
  });
  return ((await res.json()) as { content_uri: string }).content_uri;
}
