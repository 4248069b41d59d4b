/**
 * Outages on the Matrix side, end to end (issue 11, items 14 and 15): Synapse down when Junction
 * starts, and gaps that the homeserver never pushed (catch-up from the room's timeline, paged,
 * capped, with a notice on the other side). Real Synapse and Prosody, Junction in this process.
 */
import { createServer, type Server } from "node:http";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runJunction, type RunningJunction } from "../../core/app.ts";
import { XmppAdapter } from "../../bridges/xmpp/adapter.ts";
import { MatrixAdapter } from "../../bridges/matrix/adapter.ts";
import { matrixPerson, type MatrixPerson } from "../harness/matrix-person.ts";
import { startProsody, type ProsodyServer } from "../harness/prosody.ts";
import { trackTempDir } from "../harness/process.ts";
import { until } from "../harness/until.ts";
import { Person } from "./xmpp.fixture.ts";
import { startTestSynapse, type TestSynapse } from "./matrix-synapse.fixture.ts";

const MUC = "outage@conference.localhost";
type Line = { level: number; msg: string; network?: string };
const lines: Line[] = [];
const log = pino({ level: "info" }, { write: (l: string) => { lines.push(JSON.parse(l)); if (process.env.JUNCTION_TEST_LOG) process.stderr.write(l); } });

let prosody: ProsodyServer;
let syn: TestSynapse;
let junction: RunningJunction | undefined;
let bob: Person;
let alice: MatrixPerson;
let room = "";
let storePath = "";

function startJunction(catchUp: number): Promise<RunningJunction> {
  const xmpp = new XmppAdapter({
    server: prosody.componentService, component: prosody.componentDomain, secret: prosody.componentSecret, nick: "Junction", history: 0,
  }, log.child({ network: "xmpp" }));
  const matrix = new MatrixAdapter({ ...syn.matrixConfig, catchUp }, log.child({ network: "matrix" }));
  return runJunction({ store: { path: storePath }, links: { outage: { xmpp: [MUC], matrix: ["#outage:localhost"] } } }, [xmpp, matrix], log);
}

const bodiesFromAlice = (prefix: string) => bob.messages()
  .filter((el) => el.attrs.from === `${MUC}/Alice` && (el.getChildText("body") ?? "").startsWith(prefix))
  .map((el) => el.getChildText("body"));

/** While Junction is down, the homeserver's pushes are answered 200 and thrown away: they never reach Junction. */
async function swallowPushes(): Promise<Server> {
  const s = createServer((req, res) => { req.resume(); req.on("end", () => { res.writeHead(200, { "content-type": "application/json" }); res.end("{}"); }); });
  await new Promise<void>((r) => s.listen(syn.matrixConfig.listen.port, syn.matrixConfig.listen.host, r));
  return s;
}

async function stopJunction(): Promise<void> {
  await junction?.stop();
  junction = undefined;
}

beforeAll(async () => {
  [prosody, syn] = await Promise.all([startProsody(), startTestSynapse()]);
  await prosody.registerUser("bob", "pw");
  const a = await syn.registerUser("alice", "Alice");
  alice = matrixPerson(syn.url, a.userId, a.token);
  room = await alice.createRoom({ alias: "outage", preset: "public_chat", name: "Outage" });
  const dir = mkdtempSync(join(tmpdir(), "junction-matrix-outage-"));
  trackTempDir(dir);
  storePath = join(dir, "junction.db");
  bob = new Person(prosody, "bob", MUC);
  await bob.join();
}, 180_000);

afterAll(async () => {
  await bob?.stop();
  await stopJunction();
  await alice?.stop();
  await Promise.allSettled([prosody?.stop(), syn?.stop()]);
});

describe("Synapse down when Junction starts (item 14)", () => {
  it("the aliased room joins its link once Synapse answers, without a restart; each state is logged once", async () => {
    await syn.stop({ keepData: true });
    junction = await startJunction(1000);
    await until("xmpp ready", () => junction!.connected().get("xmpp") === true, 30_000);
    expect(junction.connected().get("matrix")).toBe(false);
    await new Promise((r) => setTimeout(r, 4_000)); // several retries of both the alias and the connection
    const unresolved = lines.filter((l) => /cannot resolve matrix room #outage:localhost/.test(l.msg));
    const unreachable = lines.filter((l) => /cannot reach the homeserver/.test(l.msg));
    expect(unresolved).toHaveLength(1);
    expect(unresolved[0]!.msg).toMatch(/retrying .* joins the link once it resolves/);
    expect(unreachable).toHaveLength(1);
    expect(JSON.stringify(unreachable[0])).toMatch(/start it, or fix matrix.homeserver/);

    await syn.start();
    await until("matrix ready", () => junction!.connected().get("matrix") === true, 60_000);
    await until("the room in its link", () => junction!.links.linkOf("matrix", room) !== undefined, 60_000);
    expect(lines.filter((l) => /resolved; it joins link "outage" now/.test(l.msg))).toHaveLength(1);
    expect(lines.filter((l) => /homeserver usable again/.test(l.msg))).toHaveLength(1);

    await alice.say(room, "synapse is back");
    await bob.waitFor((el) => el.is("message") && el.attrs.from === `${MUC}/Alice` && el.getChildText("body") === "synapse is back", 30_000);
    await bob.say("hello matrix");
    await alice.waitFor((a) => a.kind === "timeline" && a.roomId === room && a.event.content.body === "hello matrix" && String(a.event.sender).startsWith("@_junction_xmpp_"), 30_000);
  }, 150_000);
});

describe("catch-up from the room's timeline (item 15)", () => {
  it("a gap of 150 events is bridged whole and in order, before live traffic that was waiting", async () => {
    await stopJunction();
    const swallower = await swallowPushes();
    const sent: string[] = [];
    for (let i = 1; i <= 150; i++) {
      sent.push(`gap one ${i}`);
      await alice.say(room, `gap one ${i}`);
    }
    await new Promise<void>((r) => swallower.close(() => r()));
    swallower.closeAllConnections();
    // Said after the pushes stopped being swallowed: Synapse queues it and pushes it live once Junction answers.
    await alice.say(room, "gap one live");
    junction = await startJunction(1000);
    await until("all of gap one on XMPP", () => bodiesFromAlice("gap one ").length >= 151 || undefined, 100_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(bodiesFromAlice("gap one ")).toEqual([...sent, "gap one live"]);
  }, 150_000);

  it("a gap larger than matrix.catchUp: a notice from the bridge, then the newest events in order", async () => {
    await stopJunction();
    const swallower = await swallowPushes();
    for (let i = 1; i <= 50; i++) await alice.say(room, `gap two ${i}`);
    await new Promise<void>((r) => swallower.close(() => r()));
    swallower.closeAllConnections();
    const from = bob.heard.length;
    junction = await startJunction(20);
    const notice = await bob.waitFor((el) => el.is("message") && el.attrs.from === `${MUC}/Junction` && /could not be bridged/.test(el.getChildText("body") ?? ""), 60_000, from);
    expect(notice.getChildText("body")).toBe("30 messages from the Matrix room could not be bridged while Junction was away.");
    await until("the newest 20 on XMPP", () => bodiesFromAlice("gap two ").length >= 20 || undefined, 60_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(bodiesFromAlice("gap two ")).toEqual(Array.from({ length: 20 }, (_, i) => `gap two ${i + 31}`));
    const order = bob.heard.slice(from);
    expect(order.indexOf(notice)).toBeLessThan(order.findIndex((el) => el.getChildText("body") === "gap two 31"));
    // The notice is not bridged back to Matrix as a message from a ghost.
    await alice.say(room, "after gap two");
    await bob.waitFor((el) => el.getChildText("body") === "after gap two", 30_000, from);
    expect(alice.timeline(room).filter((e) => /could not be bridged/.test(String(e.content.body)))).toHaveLength(0);
  }, 150_000);
});
