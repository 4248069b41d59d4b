/**
 * The XMPP bridge end to end: one real Prosody, two MUCs linked to each other, real XMPP clients
 * as people, and the real core in between (SQLite store, outbox, queues).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { xml } from "@xmpp/client";
import type { Element } from "@xmpp/xml";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runJunction, type RunningJunction } from "../../core/app.ts";
import { XmppAdapter } from "../../bridges/xmpp/adapter.ts";
import { trackTempDir } from "../harness/process.ts";
import { Person, startTestProsody, type TestProsody } from "./xmpp.fixture.ts";

const ROOM_A = "alpha@conference.localhost";
const ROOM_B = "beta@conference.localhost";

let prosody: TestProsody;
let junction: RunningJunction;
let storePath: string;
let alice: Person; // in A
let bob: Person; // in B
const log = pino({ level: process.env.JUNCTION_TEST_LOG ?? "silent" });

async function startJunction(): Promise<RunningJunction> {
  const l = prosody.layout;
  const adapter = new XmppAdapter({
    server: `xmpp://127.0.0.1:${l.componentPort}`, component: l.componentDomain, secret: l.componentSecret,
    nick: "Junction", history: 20,
  }, log.child({ network: "xmpp" }));
  const j = await runJunction({ store: { path: storePath }, links: { lobby: { xmpp: [ROOM_A, ROOM_B] } } }, [adapter], log);
  await until(() => j.connected().get("xmpp") === true, "the XMPP adapter to be ready");
  return j;
}

async function until(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const bodyIs = (room: string, nick: string, text: string) => (el: Element) =>
  el.is("message") && el.attrs.from === `${room}/${nick}` && el.getChildText("body") === text;

beforeAll(async () => {
  prosody = await startTestProsody();
  for (const u of ["alice", "bob", "carol"]) prosody.register(u, "pw");
  const dir = mkdtempSync(join(tmpdir(), "junction-xmpp-store-"));
  trackTempDir(dir);
  storePath = join(dir, "junction.db");
  junction = await startJunction();
  alice = new Person(prosody, "alice", ROOM_A);
  bob = new Person(prosody, "bob", ROOM_B);
  await alice.join();
  await bob.join();
});

afterAll(async () => {
  await alice?.stop();
  await bob?.stop();
  await junction?.stop();
  await prosody?.stop();
});

describe("XMPP ⇄ XMPP through Junction", () => {
  it("a message crosses both ways with the right puppet nick", async () => {
    await alice.say("hello from alpha");
    await bob.waitFor(bodyIs(ROOM_B, "alice", "hello from alpha"));
    await bob.say("hello from beta");
    await alice.waitFor(bodyIs(ROOM_A, "bob", "hello from beta"));
  });
});
