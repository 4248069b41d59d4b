/**
 * Matrix ⇄ XMPP through Junction, end to end: real Synapse and Prosody, the real core (SQLite store,
 * outbox, queues), a Matrix person speaking the Client-Server API and an XMPP person on @xmpp/client.
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
import { XmppAdapter } from "../../bridges/xmpp/adapter.ts";
import { MatrixAdapter } from "../../bridges/matrix/adapter.ts";
import { DEFAULT_MEDIA } from "../../core/media/fetcher.ts";
import { matrixPerson, type MatrixPerson as HarnessMatrixPerson } from "../harness/matrix-person.ts";
import { startProsody, type ProsodyServer } from "../harness/prosody.ts";
import { trackTempDir } from "../harness/process.ts";
import { Person, type TestProsody } from "./xmpp.fixture.ts";
import { startTestSynapse, type TestSynapse } from "./matrix-synapse.fixture.ts";
import { until } from "../harness/until.ts";
import { TINY_PNG } from "../harness/pictures.ts";

const MUC = "lobby@conference.localhost";
const log = pino({ level: process.env.JUNCTION_TEST_LOG ?? "silent" });

let prosody: ProsodyServer;
let syn: TestSynapse;
let junction: RunningJunction;
let storePath: string;
let bob: Person; // on XMPP
let alice: MatrixPerson; // on Matrix
let files: Server;
let filesUrl: string;

/**
 * Alice, as this file speaks to her: the shared harness's Matrix person (the Client-Server API
 * over fetch with a /sync loop), seen through the one room of the test.
 */
function inRoom(p: HarnessMatrixPerson) {
  return {
    userId: p.userId,
    token: p.accessToken,
    room: "",
    get timeline(): any[] { return p.timeline(this.room); },
    get ephemeral(): any[] { return p.arrivals.filter((a) => a.kind === "ephemeral" && a.roomId === this.room).map((a) => a.event); },
    cs(method: string, path: string, body?: unknown): Promise<any> { return p.request(method, path.replace(/^\/_matrix/, ""), body); },
    send(content: Record<string, unknown>, type = "m.room.message"): Promise<string> { return p.send(this.room, content, type); },
    redact(eventId: string, reason?: string): Promise<string> { return p.redact(this.room, eventId, reason); },
    sees(what: string, match: (ev: any) => boolean, timeoutMs = 15_000): Promise<any> {
      return until(what, () => this.timeline.find(match), timeoutMs);
    },
    stopSync: () => p.stop(),
  };
}
type MatrixPerson = ReturnType<typeof inRoom>;

async function startJunction(): Promise<RunningJunction> {
  const xmpp = new XmppAdapter({
    server: `xmpp://127.0.0.1:${prosody.componentPort}`, component: prosody.componentDomain, secret: prosody.componentSecret,
    nick: "Junction", history: 20, upload: prosody.uploadDomain!,
  }, log.child({ network: "xmpp" }));
  const matrix = new MatrixAdapter(syn.matrixConfig, log.child({ network: "matrix" }));
  // The file server is on loopback, which Junction refuses to fetch from unless allowed.
  const media = { ...DEFAULT_MEDIA, allowHosts: [new URL(filesUrl).host] };
  const j = await runJunction({ store: { path: storePath }, media, links: { lobby: { xmpp: [MUC], matrix: ["#lobby:localhost"] } } }, [xmpp, matrix], log);
  await until("both networks ready", () => j.connected().get("xmpp") === true && j.connected().get("matrix") === true, 30_000);
  return j;
}

const stanzaIdOf = (el: Element) => el.getChildren("stanza-id").find((s) => s.attrs.xmlns === "urn:xmpp:sid:0" && s.attrs.by === MUC)?.attrs.id as string;
const fromMatrix = (nick: string, text: string) => (el: Element) =>
  el.is("message") && el.attrs.from === `${MUC}/${nick}` && el.getChildText("body") === text;
/** Bob's ghost: the XMPP bridge names occupants by occupant-id, so the mxid is learnt from his first message. */
let bobGhost = "";
const ghostOf = (_nick: "bob") => bobGhost;

/** Bob says something and we learn the room's stanza-id for it (the id everybody refers to it by). */
async function bobSays(text: string, ...extra: Element[]): Promise<{ id: string; sid: string; event: any }> {
  const from = bob.heard.length;
  const id = await bob.say(text, ...extra);
  const echo = await bob.waitFor((el) => el.is("message") && el.attrs.id === id && el.attrs.from === `${MUC}/bob`, 10_000, from);
  const event = await alice.sees(`"${text}" on Matrix (seen: ${alice.timeline.slice(-5).map((e) => `${e.sender} ${e.type} ${JSON.stringify(e.content).slice(0, 80)}`).join(" | ")})`, (ev) => String(ev.sender).startsWith("@_junction_xmpp_") && (bobGhost === "" || ev.sender === bobGhost) &&
    (ev.content?.body === text || ev.content?.["m.new_content"]?.body === text));
  bobGhost = event.sender;
  return { id, sid: stanzaIdOf(echo), event };
}

beforeAll(async () => {
  files = createServer((_req, res) => { res.writeHead(200, { "content-type": "image/png" }); res.end(TINY_PNG); });
  await new Promise<void>((r) => files.listen(0, "127.0.0.1", r));
  filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  [prosody, syn] = await Promise.all([startProsody({ upload: true }), startTestSynapse()]);
  await prosody.registerUser("bob", "pw");
  const a = await syn.registerUser("alice", "Alice");
  alice = inRoom(matrixPerson(syn.url, a.userId, a.token));
  alice.room = (await alice.cs("POST", "/_matrix/client/v3/createRoom", { preset: "public_chat", room_alias_name: "lobby", name: "Lobby" })).room_id;
  const dir = mkdtempSync(join(tmpdir(), "junction-matrix-e2e-"));
  trackTempDir(dir);
  storePath = join(dir, "junction.db");
  bob = new Person({ layout: { c2sPort: prosody.c2sPort, host: prosody.host } } as unknown as TestProsody, "bob", MUC);
  await bob.join();
  junction = await startJunction();
}, 180_000);

afterAll(async () => {
  await bob?.stop();
  await junction?.stop();
  await alice?.stopSync();
  await Promise.allSettled([prosody?.stop(), syn?.stop()]);
  files?.close();
});

describe("Matrix ⇄ XMPP through Junction", () => {
  it("messages cross both ways with the right names", async () => {
    const { event } = await bobSays("hello matrix");
    expect(event.content.msgtype).toBe("m.text");
    const member = await alice.cs("GET", `/_matrix/client/v3/rooms/${encodeURIComponent(alice.room)}/state/m.room.member/${encodeURIComponent(ghostOf("bob"))}`);
    expect(member.displayname).toBe("bob");
    await alice.send({ msgtype: "m.text", body: "hello xmpp" });
    await bob.waitFor(fromMatrix("Alice", "hello xmpp"));
  });

  it("emotes cross both ways", async () => {
    await bob.say("/me waves");
    await alice.sees("m.emote", (ev) => ev.sender === ghostOf("bob") && ev.content?.msgtype === "m.emote" && ev.content.body === "waves");
    await alice.send({ msgtype: "m.emote", body: "dances" });
    await bob.waitFor(fromMatrix("Alice", "/me dances"));
  });

  it("edits cross both ways", async () => {
    const orig = await bobSays("teh typo");
    await bob.say("the typo", xml("replace", { xmlns: "urn:xmpp:message-correct:0", id: orig.id }));
    await alice.sees("the edit", (ev) => ev.content?.["m.relates_to"]?.rel_type === "m.replace" && ev.content["m.relates_to"].event_id === orig.event.event_id && ev.content["m.new_content"]?.body === "the typo");
    const mine = await alice.send({ msgtype: "m.text", body: "speling" });
    const heard = await bob.waitFor(fromMatrix("Alice", "speling"));
    await alice.send({ msgtype: "m.text", body: "* spelling", "m.new_content": { msgtype: "m.text", body: "spelling" }, "m.relates_to": { rel_type: "m.replace", event_id: mine } });
    const edit = await bob.waitFor(fromMatrix("Alice", "spelling"));
    expect(edit.getChild("replace", "urn:xmpp:message-correct:0")?.attrs.id).toBe(heard.attrs.id);
  });

  it("replies point at the right message both ways", async () => {
    const q = await bobSays("question from xmpp");
    await alice.send({ msgtype: "m.text", body: "answer from matrix", "m.relates_to": { "m.in_reply_to": { event_id: q.event.event_id } } });
    // The XMPP side may prepend a quote of the original as a XEP-0461 fallback.
    const ans = await bob.waitFor((el) => el.is("message") && el.attrs.from === `${MUC}/Alice` && (el.getChildText("body") ?? "").endsWith("answer from matrix"));
    expect(ans.getChild("reply", "urn:xmpp:reply:0")?.attrs.id).toBe(q.sid);
    const mq = await alice.send({ msgtype: "m.text", body: "question from matrix" });
    const heard = await bob.waitFor(fromMatrix("Alice", "question from matrix"));
    await bob.say("answer from xmpp", xml("reply", { xmlns: "urn:xmpp:reply:0", id: stanzaIdOf(heard), to: `${MUC}/Alice` }));
    const ev = await alice.sees("xmpp reply", (e) => e.sender === ghostOf("bob") && e.content?.body === "answer from xmpp");
    expect(ev.content["m.relates_to"]?.["m.in_reply_to"]?.event_id).toBe(mq);
  });

  it("reactions are added and removed both ways", async () => {
    const m = await bobSays("react to me");
    const r = await alice.send({ "m.relates_to": { rel_type: "m.annotation", event_id: m.event.event_id, key: "👍" } }, "m.reaction");
    const added = await bob.waitFor((el) => el.is("message") && el.attrs.from === `${MUC}/Alice` && el.getChild("reactions", "urn:xmpp:reactions:0")?.attrs.id === m.sid);
    expect(added.getChild("reactions", "urn:xmpp:reactions:0")!.getChildren("reaction").map((x) => x.text())).toEqual(["👍"]);
    const from = bob.heard.length;
    await alice.redact(r);
    const removed = await bob.waitFor((el) => el.is("message") && el.attrs.from === `${MUC}/Alice` && el.getChild("reactions", "urn:xmpp:reactions:0")?.attrs.id === m.sid, 10_000, from);
    expect(removed.getChild("reactions", "urn:xmpp:reactions:0")!.getChildren("reaction")).toHaveLength(0);

    const mine = await alice.send({ msgtype: "m.text", body: "react to this" });
    const heard = await bob.waitFor(fromMatrix("Alice", "react to this"));
    await bob.send(xml("reactions", { xmlns: "urn:xmpp:reactions:0", id: stanzaIdOf(heard) }, xml("reaction", {}, "🎉")));
    const ann = await alice.sees("reaction from xmpp", (e) => e.type === "m.reaction" && e.sender === ghostOf("bob") && e.content["m.relates_to"]?.event_id === mine);
    expect(ann.content["m.relates_to"].key).toBe("🎉");
    await bob.send(xml("reactions", { xmlns: "urn:xmpp:reactions:0", id: stanzaIdOf(heard) }));
    await alice.sees("reaction removal", (e) => e.type === "m.room.redaction" && e.sender === ghostOf("bob") && (e.redacts ?? e.content?.redacts) === ann.event_id);
  });

  it("retractions and redactions cross both ways", async () => {
    const m = await bobSays("retract me");
    await bob.send(xml("retract", { xmlns: "urn:xmpp:message-retract:1", id: m.sid }), xml("fallback", { xmlns: "urn:xmpp:fallback:0", for: "urn:xmpp:message-retract:1" }), xml("body", {}, "retracted"));
    await alice.sees("redaction", (e) => e.type === "m.room.redaction" && (e.redacts ?? e.content?.redacts) === m.event.event_id);
    const mine = await alice.send({ msgtype: "m.text", body: "redact me" });
    const heard = await bob.waitFor(fromMatrix("Alice", "redact me"));
    await alice.redact(mine, "oops");
    const retract = await bob.waitFor((el) => el.is("message") && el.attrs.from === `${MUC}/Alice` && !!el.getChild("retract", "urn:xmpp:message-retract:1"));
    expect(retract.getChild("retract", "urn:xmpp:message-retract:1")!.attrs.id).toBe(stanzaIdOf(heard));
  });

  it("images cross both ways", async () => {
    await bob.say(`${filesUrl}/cat.png`, xml("x", { xmlns: "jabber:x:oob" }, xml("url", {}, `${filesUrl}/cat.png`)));
    const img = await alice.sees("m.image", (e) => e.sender === ghostOf("bob") && e.content?.msgtype === "m.image");
    expect(img.content.url).toMatch(/^mxc:\/\//);
    expect(img.content.info.mimetype).toBe("image/png");
    const up = await fetch(`${syn.url}/_matrix/media/v3/upload?filename=dot.png`, { method: "POST", body: TINY_PNG, headers: { authorization: `Bearer ${alice.token}`, "content-type": "image/png" } });
    const mxc = (await up.json() as { content_uri: string }).content_uri;
    await alice.send({ msgtype: "m.image", body: "dot.png", url: mxc, info: { mimetype: "image/png", size: TINY_PNG.length, w: 1, h: 1 } });
    const oob = await bob.waitFor((el) => el.is("message") && el.attrs.from === `${MUC}/Alice` && !!el.getChild("x", "jabber:x:oob"));
    const url = oob.getChild("x", "jabber:x:oob")!.getChildText("url")!;
    const got = Buffer.from(await (await fetch(url)).arrayBuffer());
    expect(got.equals(TINY_PNG)).toBe(true);
  });

  it("typing crosses both ways", async () => {
    await bob.send(xml("composing", { xmlns: "http://jabber.org/protocol/chatstates" }));
    await until("ghost typing on Matrix", () => alice.ephemeral.find((e) => e.type === "m.typing" && e.content.user_ids.includes(ghostOf("bob"))));
    await alice.cs("PUT", `/_matrix/client/v3/rooms/${encodeURIComponent(alice.room)}/typing/${encodeURIComponent(alice.userId)}`, { typing: true, timeout: 10_000 });
    await bob.waitFor((el) => el.is("message") && el.attrs.from === `${MUC}/Alice` && !!el.getChild("composing", "http://jabber.org/protocol/chatstates"));
  });

  it("presence crosses both ways", async () => {
    await bob.xmpp.send(xml("presence", { to: `${MUC}/bob` }, xml("show", {}, "away"), xml("status", {}, "lunch")));
    await until("ghost away on Matrix", async () => {
      const p = await alice.cs("GET", `/_matrix/client/v3/presence/${encodeURIComponent(ghostOf("bob"))}/status`);
      return p.presence === "unavailable" && p.status_msg === "lunch" ? p : undefined;
    });
    await alice.cs("PUT", `/_matrix/client/v3/presence/${encodeURIComponent(alice.userId)}/status`, { presence: "unavailable", status_msg: "brb" });
    await bob.waitFor((el) => el.is("presence") && el.attrs.from === `${MUC}/Alice` && el.getChildText("show") === "away");
  });

  it("display name changes rename the puppet and the ghost", async () => {
    await alice.cs("PUT", `/_matrix/client/v3/profile/${encodeURIComponent(alice.userId)}/displayname`, { displayname: "Alice L" });
    await bob.waitFor((el) => el.is("presence") && el.attrs.from === `${MUC}/Alice L` && el.attrs.type !== "unavailable");
    await alice.send({ msgtype: "m.text", body: "new name" });
    await bob.waitFor(fromMatrix("Alice L", "new name"));

    const ghostName = async () => (await alice.cs("GET", `/_matrix/client/v3/profile/${encodeURIComponent(ghostOf("bob"))}`)).displayname;
    await bob.xmpp.send(xml("presence", { to: `${MUC}/bobby` }));
    await until("the ghost renamed on Matrix", async () => (await ghostName()) === "bobby" || undefined);
    await bob.xmpp.send(xml("presence", { to: `${MUC}/bob` }));
    await until("the ghost renamed back", async () => (await ghostName()) === "bob" || undefined);
  });

  it("after a Junction restart: no duplicate ghosts, and a reply finds its target", async () => {
    const before = await bobSays("before restart");
    const membersBefore = alice.timeline.filter((e) => e.type === "m.room.member" && e.state_key === ghostOf("bob")).length;
    await junction.stop();
    await alice.send({ msgtype: "m.text", body: "while junction was down" });
    junction = await startJunction();
    await bob.waitFor(fromMatrix("Alice L", "while junction was down"), 20_000);
    await alice.send({ msgtype: "m.text", body: "reply after restart", "m.relates_to": { "m.in_reply_to": { event_id: before.event.event_id } } });
    const ans = await bob.waitFor((el) => el.is("message") && String(el.attrs.from).startsWith(`${MUC}/Alice`) && (el.getChildText("body") ?? "").includes("reply after restart"));
    expect(ans.getChild("reply", "urn:xmpp:reply:0")?.attrs.id).toBe(before.sid);
    await bobSays("after restart");
    expect(alice.timeline.filter((e) => e.type === "m.room.member" && e.state_key === ghostOf("bob")).length).toBe(membersBefore);
    expect(bob.messages().filter((el) => el.getChildText("body") === "while junction was down")).toHaveLength(1);
  });

  it("a Synapse restart mid-conversation loses nothing and doubles nothing", async () => {
    await syn.stop({ keepData: true });
    const sent = ["during outage 1", "during outage 2", "during outage 3"];
    for (const t of sent) await bob.say(t);
    await syn.start();
    for (const t of sent) await alice.sees(`"${t}"`, (e) => e.content?.body === t, 60_000);
    await alice.send({ msgtype: "m.text", body: "after synapse restart" });
    await bob.waitFor((el) => el.is("message") && String(el.attrs.from).startsWith(`${MUC}/Alice`) && el.getChildText("body") === "after synapse restart", 30_000);
    await new Promise((r) => setTimeout(r, 1500));
    for (const t of sent) expect(alice.timeline.filter((e) => e.content?.body === t)).toHaveLength(1);
    expect(bob.messages().filter((el) => el.getChildText("body") === "after synapse restart")).toHaveLength(1);
  });
});
