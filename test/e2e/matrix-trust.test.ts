/**
 * Who may act on someone else's message on Matrix (issue 11, item 5), end to end: a real Synapse
 * and Prosody, Junction in this process, Matrix people on the Client-Server API and an XMPP person.
 * Synapse refuses a powerless redaction from its own users; a federated one may reach the bridge
 * before anyone checked it, which is what a transaction pushed with the hs_token looks like.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Element } from "@xmpp/xml";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runJunction, type RunningJunction } from "../../core/app.ts";
import { XmppAdapter } from "../../bridges/xmpp/adapter.ts";
import { MatrixAdapter } from "../../bridges/matrix/adapter.ts";
import { appservicePusher, type AppservicePusher } from "../harness/appservice-push.ts";
import { matrixPerson, type MatrixPerson } from "../harness/matrix-person.ts";
import { startProsody, type ProsodyServer } from "../harness/prosody.ts";
import { trackTempDir } from "../harness/process.ts";
import { until } from "../harness/until.ts";
import { Person } from "./xmpp.fixture.ts";
import { startTestSynapse, type TestSynapse } from "./matrix-synapse.fixture.ts";

const MUC = "trust@conference.localhost";
const logLines: { level: number; msg: string; sender?: string }[] = [];
const log = pino({ level: "info" }, { write: (l: string) => { logLines.push(JSON.parse(l)); if (process.env.JUNCTION_TEST_LOG) process.stderr.write(l); } });

let prosody: ProsodyServer;
let syn: TestSynapse;
let junction: RunningJunction;
let bob: Person; // on XMPP
let alice: MatrixPerson; // the room's creator: power level 100
let carol: MatrixPerson; // power level 0
let eve: MatrixPerson; // power level 0, later 50
let room = "";
let pusher: AppservicePusher;

const stanzaIdOf = (el: Element) => el.getChildren("stanza-id").find((s) => s.attrs.xmlns === "urn:xmpp:sid:0" && s.attrs.by === MUC)?.attrs.id as string;
const retracts = (sid: string) => (el: Element) => el.is("message") && el.getChild("retract", "urn:xmpp:message-retract:1")?.attrs.id === sid;
const corrects = (el: Element) => el.is("message") && !!el.getChild("replace", "urn:xmpp:message-correct:0");

/** A Matrix person says `text`; resolves to its event id and the stanza-id it got on XMPP. */
async function says(p: MatrixPerson, nick: string, text: string): Promise<{ event: string; sid: string }> {
  const event = await p.say(room, text);
  const heard = await bob.waitFor((el) => el.is("message") && el.attrs.from === `${MUC}/${nick}` && el.getChildText("body") === text, 15_000);
  return { event, sid: stanzaIdOf(heard) };
}

/** Everything bob heard before this message from alice reached him: a barrier through the same path. */
async function barrier(text: string): Promise<Element[]> {
  await alice.say(room, text);
  await bob.waitFor((el) => el.is("message") && el.attrs.from === `${MUC}/Alice` && el.getChildText("body") === text, 15_000);
  return [...bob.heard];
}

/** An event as Synapse pushes it in a transaction, with an id no client chose. */
function pushed(sender: string, type: string, content: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { type, sender, room_id: room, content, origin_server_ts: Date.now(), event_id: `$forged-${Math.random().toString(36).slice(2)}:evil.example`, ...extra };
}

beforeAll(async () => {
  [prosody, syn] = await Promise.all([startProsody(), startTestSynapse()]);
  await prosody.registerUser("bob", "pw");
  const [a, c, e] = await Promise.all([syn.registerUser("alice", "Alice"), syn.registerUser("carol", "Carol"), syn.registerUser("eve", "Eve")]);
  alice = matrixPerson(syn.url, a.userId, a.token);
  carol = matrixPerson(syn.url, c.userId, c.token);
  eve = matrixPerson(syn.url, e.userId, e.token);
  room = await alice.createRoom({ alias: "trust", preset: "public_chat", name: "Trust" });
  await carol.join(room);
  await eve.join(room);
  const dir = mkdtempSync(join(tmpdir(), "junction-matrix-trust-"));
  trackTempDir(dir);
  bob = new Person(prosody, "bob", MUC);
  await bob.join();
  const xmpp = new XmppAdapter({
    server: prosody.componentService, component: prosody.componentDomain, secret: prosody.componentSecret, nick: "Junction", history: 0,
  }, log.child({ network: "xmpp" }));
  const matrix = new MatrixAdapter(syn.matrixConfig, log.child({ network: "matrix" }));
  junction = await runJunction({ store: { path: join(dir, "junction.db") }, links: { trust: { xmpp: [MUC], matrix: ["#trust:localhost"] } } }, [xmpp, matrix], log);
  await until("both networks ready", () => junction.connected().get("xmpp") === true && junction.connected().get("matrix") === true, 30_000);
  pusher = appservicePusher(syn.matrixConfig.registration, syn.matrixConfig.listen);
}, 180_000);

afterAll(async () => {
  await bob?.stop();
  await junction?.stop();
  await Promise.allSettled([alice?.stop(), carol?.stop(), eve?.stop()]);
  await Promise.allSettled([prosody?.stop(), syn?.stop()]);
});

describe("Matrix moderation needs the room's redact power level", () => {
  let alices: { event: string; sid: string };
  let carols: { event: string; sid: string };

  it("Synapse itself refuses a powerless member's redaction of someone else's message (held)", async () => {
    alices = await says(alice, "Alice", "alice's words");
    carols = await says(carol, "Carol", "carol's words");
    await expect(eve.redact(room, alices.event, "mine now")).rejects.toMatchObject({ status: 403 });
  });

  it("a pushed redaction or edit of someone else's message by a member without power is not bridged", async () => {
    const from = bob.heard.length;
    expect(await pusher.push({ events: [
      pushed(eve.userId, "m.room.redaction", { redacts: alices.event, reason: "forged" }, { redacts: alices.event }),
      pushed(eve.userId, "m.room.redaction", { redacts: carols.event }),
      pushed(eve.userId, "m.room.message", {
        msgtype: "m.text", body: "* eve was here", "m.new_content": { msgtype: "m.text", body: "eve was here" },
        "m.relates_to": { rel_type: "m.replace", event_id: alices.event },
      }),
      // From someone who is not in the room at all.
      pushed("@mallory:evil.example", "m.room.redaction", { redacts: carols.event }),
      pushed("@mallory:evil.example", "m.room.message", { msgtype: "m.text", body: "mallory speaks" }),
    ] })).toBe(200);
    const heard = (await barrier("after the forgeries")).slice(from);
    expect(heard.filter(retracts(alices.sid))).toHaveLength(0);
    expect(heard.filter(retracts(carols.sid))).toHaveLength(0);
    expect(heard.filter(corrects)).toHaveLength(0);
    expect(heard.filter((el) => el.getChildText("body") === "mallory speaks")).toHaveLength(0);
    expect(logLines.filter((l) => /below the room's redact power level/.test(l.msg) && l.sender === eve.userId)).toHaveLength(2);
    expect(logLines.some((l) => /not in the room/.test(l.msg) && l.sender === "@mallory:evil.example")).toBe(true);
  });

  it("a redaction by the room's moderator is bridged as a moderation", async () => {
    await alice.redact(room, carols.event, "off topic");
    await bob.waitFor(retracts(carols.sid), 15_000);
  });

  it("power given later through m.room.power_levels counts from that event on", async () => {
    const levels = await alice.request<Record<string, any>>("GET", `/client/v3/rooms/${encodeURIComponent(room)}/state/m.room.power_levels/`);
    await alice.request("PUT", `/client/v3/rooms/${encodeURIComponent(room)}/state/m.room.power_levels/`, { ...levels, users: { ...levels.users, [eve.userId]: 50 } });
    await eve.redact(room, alices.event, "now I may");
    await bob.waitFor(retracts(alices.sid), 15_000);
  });
});
