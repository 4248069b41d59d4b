/**
 * kill -9 of Junction in the middle of a burst between two linked MUCs: after a restart on the
 * same store, every message arrives in the other room exactly once and in order. More messages
 * are sent while it is down than the join history would give (Prosody: 100), so the catch-up has
 * to come from the room's archive. Junction runs in its own process, started as operators do.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { spawnJunction, type JunctionProcess } from "../harness/junction-process.ts";
import { startProsody, type ProsodyServer } from "../harness/prosody.ts";
import { newPerson, type Person } from "../harness/xmpp-person.ts";

let prosody: ProsodyServer;
let x: Person;
let y: Person;
let junction: JunctionProcess | undefined;

beforeAll(async () => {
  prosody = await startProsody();
});

afterAll(async () => {
  await junction?.stop();
  await x?.stop();
  await y?.stop();
  await prosody?.stop();
});

it("loses and doubles nothing across a kill -9 in the middle of a burst", async () => {
  const roomA = `crash-a@${prosody.mucDomain}`;
  const roomB = `crash-b@${prosody.mucDomain}`;
  const config = {
    xmpp: { server: prosody.componentService, component: prosody.componentDomain, secret: prosody.componentSecret, nick: "Junction" },
    links: { crash: { xmpp: [roomA, roomB] } },
  };
  x = await newPerson(prosody, "crash-x");
  y = await newPerson(prosody, "crash-y");
  await x.join(roomA, "x", { maxHistory: 0 });
  await y.join(roomB, "y", { maxHistory: 0 });
  // Said before the rooms were linked: a new link does not backfill old messages (xmpp.history: 0).
  await x.say(roomA, "said before the link");
  junction = await spawnJunction(config, 1);
  const dir = junction.dir;
  await x.say(roomA, "before");
  await y.waitFor((s) => s.getChildText("body") === "before", 10_000, "the first message");

  const received = () => y.messages(roomB).map((m) => m.getChildText("body") ?? "").filter((b) => b.startsWith("burst "));
  const total = 400;
  for (let i = 0; i < 200; i++) {
    await x.say(roomA, `burst ${i}`);
    if (i === 120) await junction.kill(); // mid-burst: some rows in flight, some not yet read
  }
  // Junction is down: these wait in the room's archive for the catch-up.
  for (let i = 200; i < total; i++) await x.say(roomA, `burst ${i}`);
  junction = await spawnJunction(config, 1, { dir });

  const deadline = Date.now() + 30_000;
  while (received().length < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 1000)); // a late duplicate would show up here
  const got = received();
  const want = Array.from({ length: total }, (_, i) => `burst ${i}`);
  expect(got.filter((b, i) => got.indexOf(b) !== i), "doubled").toEqual([]);
  expect(want.filter((b) => !got.includes(b)), "lost").toEqual([]);
  expect(got).toEqual(want);
  expect(y.messages(roomB).map((m) => m.getChildText("body"))).not.toContain("said before the link");
}, 120_000);

it("a kill -9 in the middle of a catch-up never moves the cursor past what was not bridged", async () => {
  const roomA = `cu-crash-a@${prosody.mucDomain}`;
  const roomB = `cu-crash-b@${prosody.mucDomain}`;
  const config = {
    xmpp: { server: prosody.componentService, component: prosody.componentDomain, secret: prosody.componentSecret, nick: "Junction", catchUpMax: 5000 },
    links: { crash: { xmpp: [roomA, roomB] } },
  };
  // One Junction per component at a time: the server refuses a second connection.
  await junction?.stop();
  junction = undefined;
  const p = await newPerson(prosody, "cu-crash-p");
  const q = await newPerson(prosody, "cu-crash-q");
  try {
    await p.join(roomA, "p", { maxHistory: 0 });
    await q.join(roomB, "q", { maxHistory: 0 });
    let j = await spawnJunction(config, 1);
    const dir = j.dir;
    await p.say(roomA, "linked");
    await q.waitFor((s) => s.getChildText("body") === "linked", 10_000, "the first message");
    await j.stop();
    // Eighteen archive pages while it is away (the test Prosody's in-memory archive keeps 1,000
    // messages a room); then it is killed three times while reading them.
    const total = 900;
    for (let i = 0; i < total; i++) await p.say(roomA, `gap ${i}`);
    for (const ms of [0, 150, 400]) {
      j = await spawnJunction(config, 1, { dir, logged: "catching up from the room's archive", timeoutMs: 30_000 });
      await new Promise((r) => setTimeout(r, ms));
      await j.kill();
    }
    j = await spawnJunction(config, 1, { dir });
    junction = j;
    const got = () => q.messages(roomB).map((m) => m.getChildText("body") ?? "").filter((b) => b.startsWith("gap "));
    const deadline = Date.now() + 40_000;
    while (got().length < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1000));
    expect(got()).toEqual(Array.from({ length: total }, (_, i) => `gap ${i}`));
  } finally {
    await p.stop();
    await q.stop();
  }
}, 150_000);
