/**
 * kill -9 of Junction in the middle of a stream between an XMPP room and a Discord channel, in
 * both directions at once: after a restart on the same store, every message arrives on the other
 * side exactly once and in order. Webhook executes take no idempotency key, so the deliveries in
 * flight at the kill are found in the channel's recent messages instead of being sent twice; the
 * Discord messages written while Junction was down come from the channel's history after its
 * cursor. Junction runs in its own process, started as operators do.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { startDiscordEmulator, type DiscordEmulator, type Person as DiscordPerson } from "../discord-emulator/index.ts";
import { spawnJunction, type JunctionProcess } from "../harness/junction-process.ts";
import { startProsody, type ProsodyServer } from "../harness/prosody.ts";
import { newPerson, type Person } from "../harness/xmpp-person.ts";

let prosody: ProsodyServer;
let emu: DiscordEmulator;
let x: Person;
let alice: DiscordPerson;
let junction: JunctionProcess | undefined;

beforeAll(async () => {
  [prosody, emu] = await Promise.all([
    startProsody(),
    // Discord's real webhook limit (5 per 2 s) would make this test take minutes; 429s have a test of their own.
    startDiscordEmulator({ rateLimits: { "webhook.execute": { limit: 200, windowMs: 1000 } }, heartbeatIntervalMs: 5000 }),
  ]);
});

afterAll(async () => {
  await junction?.stop();
  await x?.stop();
  await Promise.allSettled([prosody?.stop(), emu?.stop()]);
});

it("loses and doubles nothing on either side across a kill -9 mid-stream", async () => {
  const room = `dcrash@${prosody.mucDomain}`;
  const channel = emu.channel.id;
  const config = {
    xmpp: { server: prosody.componentService, component: prosody.componentDomain, secret: prosody.componentSecret, nick: "Junction" },
    discord: { token: emu.token, api: emu.api, cdn: emu.cdn },
    links: { crash: { xmpp: room, discord: channel } },
  };
  x = await newPerson(prosody, "dcrash-x");
  await x.join(room, "x", { maxHistory: 0 });
  alice = emu.person({ username: "alice" });
  alice.send(channel, "said before the link");
  junction = await spawnJunction(config, 2);
  const dir = junction.dir;
  await x.say(room, "before");
  await until(() => emu.seen(channel).some((m) => m.content === "before"), "the first message on Discord");

  const total = 150;
  const onDiscord = () => emu.seen(channel).filter((m) => m.webhookId && m.content.startsWith("x ")).map((m) => m.content);
  const onXmpp = () => x.messages(room).filter((m) => m.attrs.from !== `${room}/x`).map((m) => m.getChildText("body") ?? "").filter((b) => b.startsWith("d "));
  for (let i = 0; i < 100; i++) {
    await x.say(room, `x ${i}`);
    alice.send(channel, `d ${i}`);
    if (i === 60) await junction.kill(); // mid-stream: some deliveries in flight, some not yet read
  }
  // Junction is down: these wait in the room's archive and the channel's history.
  for (let i = 100; i < total; i++) {
    await x.say(room, `x ${i}`);
    alice.send(channel, `d ${i}`);
  }
  junction = await spawnJunction(config, 2, { dir });

  const deadline = Date.now() + 60_000;
  while ((onDiscord().length < total || onXmpp().length < total) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, 1500)); // a late duplicate would show up here
  for (const [side, got, prefix] of [["Discord", onDiscord(), "x"], ["XMPP", onXmpp(), "d"]] as const) {
    const want = Array.from({ length: total }, (_, i) => `${prefix} ${i}`);
    expect(got.filter((b, i) => got.indexOf(b) !== i), `doubled on ${side}`).toEqual([]);
    expect(want.filter((b) => !got.includes(b)), `lost on ${side}`).toEqual([]);
    expect(got, `order on ${side}`).toEqual(want);
  }
  // A new link does not backfill; nothing of ours came back.
  expect(x.messages(room).map((m) => m.getChildText("body"))).not.toContain("said before the link");
  expect(x.messages(room).filter((m) => m.attrs.from !== `${room}/x` && (m.getChildText("body") ?? "").startsWith("x "))).toEqual([]);
}, 180_000);

async function until(ok: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
