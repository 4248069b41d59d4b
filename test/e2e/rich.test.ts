/**
 * Rich content across all three networks, end to end, on one shared stack: a real Prosody, a real
 * Synapse and the Discord emulator (an unmodified discord.js logs in to it), linked in one room.
 * People are real protocol clients: emulator persons, @xmpp/client, the Client-Server API.
 * Formatting across every ordered pair of networks; mentions that ping exactly the person meant
 * (Matrix m.mentions, Discord's resolved pings, XMPP XEP-0372 references and the room's nick);
 * @room / @everyone / @here typed anywhere pings nobody elsewhere; Discord custom emoji.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { xml } from "@xmpp/client";
import type { Element } from "@xmpp/xml";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runJunction, type RunningJunction } from "../../core/app.ts";
import { DiscordAdapter } from "../../bridges/discord/adapter.ts";
import { MatrixAdapter } from "../../bridges/matrix/adapter.ts";
import { XmppAdapter } from "../../bridges/xmpp/adapter.ts";
import { startDiscordEmulator, type DiscordEmulator, type Person as DiscordPerson } from "../discord-emulator/index.ts";
import { matrixPerson, type MatrixPerson } from "../harness/matrix-person.ts";
import { trackTempDir } from "../harness/process.ts";
import { startProsody, type ProsodyServer } from "../harness/prosody.ts";
import { until } from "../harness/until.ts";
import { TINY_PNG } from "../harness/pictures.ts";
import { Person, type TestProsody } from "./xmpp.fixture.ts";
import { startTestSynapse, type TestSynapse } from "./matrix-synapse.fixture.ts";

const log = pino({ level: process.env.JUNCTION_TEST_LOG ?? "silent" });
const MUC = "rich@conference.localhost";
const REF = "urn:xmpp:reference:0";

let emu: DiscordEmulator;
let prosody: ProsodyServer;
let syn: TestSynapse;
let junction: RunningJunction;
let alice: DiscordPerson; // on Discord
let dana: DiscordPerson; // on Discord too
let bob: Person; // on XMPP
let carol: MatrixPerson; // on Matrix
let carolToken: string;
let lobby: string; // the Discord channel
let room: string; // the Matrix room
// What each network shows for the others, learnt from their first messages.
let aliceNick: string; // alice's puppet on XMPP
let carolNick: string; // carol's puppet on XMPP
let aliceGhost: string; // alice's ghost on Matrix
let bobGhost: string; // bob's ghost on Matrix

const body = (el: Element) => el.getChildText("body") ?? "";
const refsOf = (el: Element) => el.getChildren("reference", REF).map((r) => r.attrs as Record<string, string>);
/** The words a reference covers, in code points of the body. */
const covered = (el: Element, r: Record<string, string>) => Array.from(body(el)).slice(Number(r.begin), Number(r.end)).join("");
const fromPuppet = (el: Element, match: (text: string) => boolean) =>
  el.is("message") && String(el.attrs.from).startsWith(`${MUC}/`) && String(el.attrs.from) !== `${MUC}/bob` && match(body(el));
const onXmpp = (match: (text: string) => boolean, from = 0) => bob.waitFor((el) => fromPuppet(el, match), 20_000, from);
const onMatrix = (match: (ev: any) => boolean, what: string): Promise<any> =>
  until(what, () => carol.timeline(room).find((ev) => ev.sender !== carol.userId && match(ev)), 20_000);
const said = (text: string) => (ev: any) => typeof ev.content?.body === "string" && ev.content.body.includes(text);
const html = (ev: any): string => ev.content?.formatted_body ?? "";

beforeAll(async () => {
  [emu, prosody, syn] = await Promise.all([
    startDiscordEmulator({ channels: ["rich"], heartbeatIntervalMs: 5000 }),
    startProsody({}), startTestSynapse(),
  ]);
  lobby = emu.channels[0]!.id;
  alice = emu.person({ username: "alice", globalName: "Alice A." });
  dana = emu.person({ username: "dana", globalName: "Dana" });
  await prosody.registerUser("bob", "pw");
  const c = await syn.registerUser("carol", "Carol");
  carol = matrixPerson(syn.url, c.userId, c.token);
  carolToken = c.token;
  room = (await carol.request("POST", "/client/v3/createRoom", { preset: "public_chat", room_alias_name: "rich", name: "Rich" }) as any).room_id;
  const dir = mkdtempSync(join(tmpdir(), "junction-rich-e2e-"));
  trackTempDir(dir);
  bob = new Person({ layout: { c2sPort: prosody.c2sPort, host: prosody.host } } as unknown as TestProsody, "bob", MUC);
  await bob.join();
  const xmpp = new XmppAdapter({
    server: `xmpp://127.0.0.1:${prosody.componentPort}`, component: prosody.componentDomain, secret: prosody.componentSecret, nick: "Junction", history: 0,
  }, log.child({ network: "xmpp" }));
  const matrix = new MatrixAdapter(syn.matrixConfig, log.child({ network: "matrix" }));
  const discord = new DiscordAdapter({ token: emu.token, api: emu.api, cdn: emu.cdn, everyone: [], catchUp: 0 }, log.child({ network: "discord" }));
  junction = await runJunction({
    store: { path: join(dir, "junction.db") },
    links: { rich: { xmpp: [MUC], matrix: ["#rich:localhost"], discord: [lobby] } },
  }, [xmpp, matrix, discord], log);
  await until("all networks ready", () => (["xmpp", "matrix", "discord"] as const).every((n) => junction.connected().get(n) === true), 30_000);
  await until("the bridge in the Matrix room", () => carol.timeline(room).find((ev) => ev.type === "m.room.member" && ev.content?.membership === "join" && ev.sender !== carol.userId), 20_000);

  // Everyone speaks once, so that each has a puppet or ghost on the other networks.
  alice.send(lobby, "hello from alice");
  aliceNick = String((await onXmpp((t) => t === "hello from alice")).attrs.from).slice(MUC.length + 1);
  aliceGhost = String((await onMatrix(said("hello from alice"), "alice on Matrix")).sender);
  const fromBob = emu.nextMessage(lobby, 20_000);
  await bob.say("hello from bob");
  await fromBob;
  bobGhost = String((await onMatrix(said("hello from bob"), "bob on Matrix")).sender);
  const fromCarol = emu.nextMessage(lobby, 20_000);
  await carol.say(room, "hello from carol");
  await fromCarol;
  carolNick = String((await onXmpp((t) => t === "hello from carol")).attrs.from).slice(MUC.length + 1);
}, 240_000);

afterAll(async () => {
  await bob?.stop();
  await junction?.stop();
  await carol?.stop();
  await Promise.allSettled([prosody?.stop(), syn?.stop(), emu?.stop()]);
});

describe("formatting across every pair of networks", () => {
  it("Discord → XMPP and Matrix: bold, italic, spoiler, link, code block, quote", async () => {
    const from = bob.heard.length;
    alice.send(lobby, "**bold1** *italic1* ||secret1|| [site1](https://example.org/d)\n```js\nlet d = 1;\n```\n> quoted1");
    const x = await onXmpp((t) => t.includes("bold1"), from);
    expect(body(x)).toBe("*bold1* _italic1_ ||secret1|| site1 (https://example.org/d)\n```js\nlet d = 1;\n```\n> quoted1");
    expect(x.getChild("spoiler", "urn:xmpp:spoiler:0")).toBeDefined();
    const m = await onMatrix(said("bold1"), "Discord formatting on Matrix");
    expect(html(m)).toContain("<strong>bold1</strong> <em>italic1</em> <span data-mx-spoiler>secret1</span> <a href=\"https://example.org/d\">site1</a>");
    expect(html(m)).toContain('<pre><code class="language-js">let d = 1;\n</code></pre><blockquote>quoted1</blockquote>');
  });

  it("Matrix → Discord and XMPP: bold, italic, spoiler, link, code block, quote", async () => {
    const from = bob.heard.length;
    const next = emu.nextMessage(lobby, 20_000);
    await carol.send(room, {
      msgtype: "m.text", body: "bold2 italic2 secret2 site2 let m = 2; quoted2", format: "org.matrix.custom.html",
      formatted_body: '<p><strong>bold2</strong> <em>italic2</em> <span data-mx-spoiler>secret2</span> <a href="https://example.org/m">site2</a></p><pre><code class="language-js">let m = 2;\n</code></pre><blockquote>quoted2</blockquote>',
    });
    const d = await next;
    expect(d.content).toBe("**bold2** *italic2* ||secret2|| [site2](<https://example.org/m>)\n```js\nlet m = 2;\n```\n> quoted2");
    const x = await onXmpp((t) => t.includes("bold2"), from);
    expect(body(x)).toBe("*bold2* _italic2_ ||secret2|| site2 (https://example.org/m)\n```js\nlet m = 2;\n```\n> quoted2");
  });

  it("XMPP → Discord and Matrix: styling (bold, italic, code block, quote), an XHTML-IM link, a XEP-0382 spoiler", async () => {
    const styled = emu.nextMessage(lobby, 20_000);
    await bob.say("*bold3* _italic3_\n```js\nlet x = 3;\n```\n> quoted3");
    expect((await styled).content).toBe("**bold3** *italic3*\n```js\nlet x = 3;\n```\n> quoted3");
    const m = await onMatrix(said("bold3"), "XMPP styling on Matrix");
    expect(html(m)).toBe('<p><strong>bold3</strong> <em>italic3</em></p><pre><code class="language-js">let x = 3;\n</code></pre><blockquote>quoted3</blockquote>');

    const linked = emu.nextMessage(lobby, 20_000);
    await bob.send(xml("body", {}, "site3 (https://example.org/x)"),
      xml("html", { xmlns: "http://jabber.org/protocol/xhtml-im" }, xml("body", { xmlns: "http://www.w3.org/1999/xhtml" }, xml("a", { href: "https://example.org/x" }, "site3"))));
    expect((await linked).content).toBe("[site3](<https://example.org/x>)");
    expect(html(await onMatrix(said("site3"), "XHTML-IM link on Matrix"))).toBe('<a href="https://example.org/x">site3</a>');

    const hidden = emu.nextMessage(lobby, 20_000);
    await bob.send(xml("body", {}, "secret3"), xml("spoiler", { xmlns: "urn:xmpp:spoiler:0" }));
    expect((await hidden).content).toBe("||secret3||");
    expect(html(await onMatrix(said("secret3"), "XMPP spoiler on Matrix"))).toBe("<span data-mx-spoiler>secret3</span>");
  });

  it("a Discord edit carries its formatting", async () => {
    const from = bob.heard.length;
    const sent = alice.send(lobby, "plain4");
    await onXmpp((t) => t === "plain4", from);
    const at = bob.heard.length;
    alice.edit(sent.id, "**bold4**");
    const x = await bob.waitFor((el) => !!el.getChild("replace", "urn:xmpp:message-correct:0") && body(el) === "*bold4*", 20_000, at);
    expect(x).toBeDefined();
    const m = await onMatrix((ev) => ev.content?.["m.new_content"]?.formatted_body === "<strong>bold4</strong>", "the edit on Matrix");
    expect(m.content["m.relates_to"].rel_type).toBe("m.replace");
  });
});

describe("mentions ping exactly the person meant", () => {
  it("XMPP addresses the Discord person by their puppet's nick: a Discord ping of them, a Matrix pill of their ghost", async () => {
    const next = emu.nextMessage(lobby, 20_000);
    await bob.say(`${aliceNick}: look at this`);
    const d = await next;
    expect(d.content).toBe(`<@${alice.id}>: look at this`);
    expect(d.pinged).toEqual({ users: [alice.id], roles: [], everyone: false });
    const m = await onMatrix(said("look at this"), "the mention on Matrix");
    expect(m.content["m.mentions"]).toEqual({ user_ids: [aliceGhost] });
    expect(html(m)).toContain(`<a href="https://matrix.to/#/${aliceGhost}">`);
  });

  it("an XEP-0372 reference to the Matrix person's puppet pings them on Matrix and nobody on Discord", async () => {
    const words = `thanks ${carolNick}!`;
    const begin = "thanks ".length;
    const next = emu.nextMessage(lobby, 20_000);
    await bob.say(words, xml("reference", { xmlns: REF, type: "mention", uri: `xmpp:${MUC}/${encodeURIComponent(carolNick)}`, begin: String(begin), end: String(begin + Array.from(carolNick).length) }));
    const m = await onMatrix(said("thanks"), "the referenced mention on Matrix");
    expect(m.content["m.mentions"]).toEqual({ user_ids: [carol.userId] });
    expect(html(m)).toContain(`<a href="https://matrix.to/#/${carol.userId}">`);
    const d = await next;
    expect(d.pinged).toEqual({ users: [], roles: [], everyone: false });
    expect(d.content).toContain("@Carol");
  });

  it("a reference to someone not in the room, or with a hostile range, pings nobody else", async () => {
    const next = emu.nextMessage(lobby, 20_000);
    await bob.say("hey mallory", xml("reference", { xmlns: REF, type: "mention", uri: `xmpp:${MUC}/mallory`, begin: "4", end: "11" }),
      xml("reference", { xmlns: REF, type: "mention", uri: `xmpp:other@conference.localhost/${encodeURIComponent(carolNick)}`, begin: "0", end: "99999" }));
    expect((await next).pinged).toEqual({ users: [], roles: [], everyone: false });
    const m = await onMatrix(said("hey mallory"), "on Matrix");
    expect(m.content["m.mentions"]).toEqual({ user_ids: [] });
  });

  it("a Matrix pill of the Discord person's ghost pings them on Discord and is a referenced nick on XMPP", async () => {
    const from = bob.heard.length;
    const next = emu.nextMessage(lobby, 20_000);
    await carol.send(room, {
      msgtype: "m.text", body: "Alice A.: ping from matrix", format: "org.matrix.custom.html",
      formatted_body: `<a href="https://matrix.to/#/${aliceGhost}">Alice A.</a>: ping from matrix`, "m.mentions": { user_ids: [aliceGhost] },
    });
    const d = await next;
    expect(d.content).toBe(`<@${alice.id}>: ping from matrix`);
    expect(d.pinged.users).toEqual([alice.id]);
    const x = await onXmpp((t) => t.includes("ping from matrix"), from);
    expect(body(x)).toBe(`${aliceNick}: ping from matrix`);
    const refs = refsOf(x);
    expect(refs.map((r) => [r.type, r.uri])).toEqual([["mention", `xmpp:${MUC}/${encodeURIComponent(aliceNick)}`]]);
    expect(covered(x, refs[0]!)).toBe(aliceNick);
  });

  it("a Matrix pill of the XMPP person's ghost is their own nick with a reference on XMPP, and nobody is pinged on Discord", async () => {
    const from = bob.heard.length;
    const next = emu.nextMessage(lobby, 20_000);
    await carol.send(room, {
      msgtype: "m.text", body: "hello bob-the-ghost", format: "org.matrix.custom.html",
      formatted_body: `hello <a href="https://matrix.to/#/${bobGhost}">bob-the-ghost</a>`, "m.mentions": { user_ids: [bobGhost] },
    });
    const x = await onXmpp((t) => t.startsWith("hello "), from);
    expect(body(x)).toBe("hello bob");
    expect(refsOf(x)).toEqual([{ xmlns: REF, type: "mention", uri: `xmpp:${MUC}/bob`, begin: "6", end: "9" }]);
    const d = await next;
    expect(d.pinged).toEqual({ users: [], roles: [], everyone: false });
    expect(d.content).toBe("hello @bob-the-ghost");
  });

  it("a Discord mention of a Discord person is their puppet's nick with a reference on XMPP and a pill of their ghost on Matrix", async () => {
    const from = bob.heard.length;
    dana.send(lobby, `hi <@${alice.id}>`);
    const x = await onXmpp((t) => t.startsWith("hi "), from);
    expect(body(x)).toBe(`hi ${aliceNick}`);
    expect(refsOf(x).map((r) => covered(x, r))).toEqual([aliceNick]);
    const m = await onMatrix((ev) => said("hi ")(ev) && html(ev).includes("matrix.to"), "dana's mention on Matrix");
    expect(m.content["m.mentions"]).toEqual({ user_ids: [aliceGhost] });
  });
});

describe("@room, @everyone and @here ping nobody elsewhere", () => {
  it("typed on Discord", async () => {
    const from = bob.heard.length;
    alice.send(lobby, "@everyone @here wake up");
    const x = await onXmpp((t) => t.includes("wake up"), from);
    expect(refsOf(x)).toEqual([]);
    const m = await onMatrix(said("wake up"), "on Matrix");
    expect(m.content["m.mentions"]).toEqual({ user_ids: [] });
  });

  it("typed on Matrix (with m.mentions.room)", async () => {
    const from = bob.heard.length;
    const next = emu.nextMessage(lobby, 20_000);
    await carol.send(room, { msgtype: "m.text", body: "@room meeting now", "m.mentions": { room: true } });
    const d = await next;
    expect(d.pinged).toEqual({ users: [], roles: [], everyone: false });
    expect(refsOf(await onXmpp((t) => t.includes("meeting now"), from))).toEqual([]);
  });

  it("typed on XMPP", async () => {
    const next = emu.nextMessage(lobby, 20_000);
    await bob.say("@everyone @here @room lunch");
    const d = await next;
    expect(d.pinged).toEqual({ users: [], roles: [], everyone: false });
    const m = await onMatrix(said("lunch"), "on Matrix");
    expect(m.content["m.mentions"]).toEqual({ user_ids: [] });
  });
});

describe("emoji", () => {
  it("unicode emoji pass through; a Discord custom emoji is an inline picture on Matrix (uploaded once) and :name: on XMPP", async () => {
    const blob = emu.addEmoji("blob", TINY_PNG);
    const from = bob.heard.length;
    alice.send(lobby, `🎉 <:blob:${blob.id}> first`);
    expect(body(await onXmpp((t) => t.includes("first"), from))).toBe("🎉 :blob: first");
    const first = await onMatrix(said("first"), "the emoji on Matrix");
    expect(first.content.body).toBe("🎉 :blob: first");
    const mxc = /<img data-mx-emoticon src="(mxc:\/\/[^"]+)" alt=":blob:"/.exec(html(first))?.[1];
    expect(mxc).toBeDefined();
    const served = await fetch(`${syn.url}/_matrix/client/v1/media/download/${mxc!.slice(6)}`, { headers: { authorization: `Bearer ${carolToken}` } });
    expect(Buffer.from(await served.arrayBuffer()).equals(TINY_PNG)).toBe(true);
    alice.send(lobby, `<:blob:${blob.id}> second`);
    const second = await onMatrix(said("second"), "the emoji again");
    expect(html(second)).toContain(`src="${mxc}"`);
  });

  it("a reaction with a custom emoji is :name: on Matrix and XMPP", async () => {
    const cat = emu.addEmoji("cat", TINY_PNG);
    const from = bob.heard.length;
    const next = emu.nextMessage(lobby, 20_000);
    await bob.say("react here");
    const d = await next;
    alice.react(d.id, cat);
    const r = await bob.waitFor((el) => !!el.getChild("reactions", "urn:xmpp:reactions:0"), 20_000, from);
    expect(r.getChild("reactions", "urn:xmpp:reactions:0")!.getChildren("reaction").map((x) => x.getText())).toEqual([":cat:"]);
    const m = await onMatrix((ev) => ev.type === "m.reaction", "the reaction on Matrix");
    expect(m.content["m.relates_to"].key).toBe(":cat:");
  });
});
