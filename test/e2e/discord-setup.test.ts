/**
 * Discord set-up problems and restarts, against the emulator and a real Prosody: each missing
 * permission and privileged intent is reported once, by name, with what to grant and where, and
 * the other links keep working; after a restart the webhook is reused and our own messages in the
 * channel's history are never bridged back, while what was written meanwhile arrives once.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runJunction, type RunningJunction } from "../../core/app.ts";
import { DiscordAdapter } from "../../bridges/discord/adapter.ts";
import { XmppAdapter } from "../../bridges/xmpp/adapter.ts";
import { startDiscordEmulator, type DiscordEmulator, type Person as DiscordPerson } from "../discord-emulator/index.ts";
import { trackTempDir } from "../harness/process.ts";
import { startProsody, type ProsodyServer } from "../harness/prosody.ts";
import { until } from "../harness/until.ts";
import { newPerson, type Person } from "../harness/xmpp-person.ts";

let prosody: ProsodyServer;
let emu: DiscordEmulator;
let junction: RunningJunction | undefined;
let x: Person;
let alice: DiscordPerson;
let storePath: string;
const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
const log = pino({ level: "info" }, { write: (s: string) => { lines.push(JSON.parse(s)); } });
let ok: string, broken: string, hidden: string;
let roomOk: string, roomBroken: string, roomHidden: string;

async function start(catchUp = 500): Promise<RunningJunction> {
  const j = await runJunction({
    store: { path: storePath },
    links: { ok: { xmpp: [roomOk], discord: [ok] }, broken: { xmpp: [roomBroken], discord: [broken] }, hidden: { xmpp: [roomHidden], discord: [hidden] } },
  }, [
    new XmppAdapter({ server: prosody.componentService, component: prosody.componentDomain, secret: prosody.componentSecret, nick: "Junction", history: 0 }, log.child({ network: "xmpp" })),
    new DiscordAdapter({ token: emu.token, api: emu.api, cdn: emu.cdn, everyone: [ok], catchUp }, log.child({ network: "discord" })),
  ], log);
  await until("both networks ready", () => j.connected().get("xmpp") === true && j.connected().get("discord") === true, 30_000);
  return j;
}

beforeAll(async () => {
  [prosody, emu] = await Promise.all([
    startProsody(),
    startDiscordEmulator({ channels: ["ok", "broken", "hidden"], intents: { presence: false }, heartbeatIntervalMs: 5000 }),
  ]);
  [ok, broken, hidden] = emu.channels.map((c) => c.id) as [string, string, string];
  emu.withhold(broken, "ManageWebhooks", "AddReactions");
  emu.withhold(hidden, "ViewChannel");
  [roomOk, roomBroken, roomHidden] = ["ok", "broken", "hidden"].map((n) => `setup-${n}@${prosody.mucDomain}`) as [string, string, string];
  x = await newPerson(prosody, "setup-x");
  for (const r of [roomOk, roomBroken, roomHidden]) await x.join(r, "x", { maxHistory: 0 });
  alice = emu.person({ username: "alice" });
  const dir = mkdtempSync(join(tmpdir(), "junction-discord-setup-"));
  trackTempDir(dir);
  storePath = join(dir, "junction.db");
  junction = await start();
}, 120_000);

afterAll(async () => {
  await junction?.stop();
  await x?.stop();
  await Promise.allSettled([prosody?.stop(), emu?.stop()]);
});

const warnings = () => lines.filter((l) => l.level >= 40).map((l) => l.msg);

it("names each missing permission and intent once, with what to grant and where", () => {
  const w = warnings();
  const once = (re: RegExp) => expect(w.filter((m) => re.test(m)), String(re)).toHaveLength(1);
  once(/"Presence Intent" is off .*developer portal .*Bot → Privileged Gateway Intents/);
  once(new RegExp(`lacks the "Manage Webhooks" permission in #broken \\(${broken}\\).*Edit Channel → Permissions`));
  once(new RegExp(`lacks the "Add Reactions" permission in #broken \\(${broken}\\)`));
  expect(w.some((m) => /Message Content/.test(m))).toBe(false);
  expect(w.some((m) => new RegExp(`permission in #ok`).test(m))).toBe(false);
  // A channel the bot cannot see is left out of its link (with the reason), not retried per message.
  const left = lines.filter((l) => l.level >= 50 && String(l.msg).includes(`cannot resolve discord room ${hidden}`));
  expect(left).toHaveLength(1);
  expect((left[0]!.err as { message: string }).message).toMatch(/cannot see Discord channel .*"View Channel" permission in #hidden/);
  expect(w.some((m) => /catch up/.test(m))).toBe(false);
});

it("the other links keep working", async () => {
  await x.say(roomOk, "through the good link");
  await until("on Discord", () => emu.seen(ok).some((m) => m.content === "through the good link" && m.username === "x"), 15_000);
  alice.send(ok, "back through it");
  await x.waitFor((s) => s.getChildText("body") === "back through it", 15_000, "the Discord message on XMPP");
  // Without Manage Webhooks nothing can be said on Discord, but Discord is still heard.
  alice.send(broken, "heard from the broken channel");
  await x.waitFor((s) => s.getChildText("body") === "heard from the broken channel", 15_000, "the broken channel's message on XMPP");
});

it("after a restart: the same webhook, our own messages never bridged back, what was written meanwhile arrives once", async () => {
  const hooks = emu.webhooks(ok).map((w) => w.id);
  expect(hooks).toHaveLength(1);
  await junction!.stop();
  junction = undefined;
  alice.send(ok, "while down 1");
  alice.send(ok, "while down 2");
  junction = await start();
  await x.waitFor((s) => s.getChildText("body") === "while down 2", 15_000, "the second missed message");
  await x.say(roomOk, "after the restart");
  await until("on Discord", () => emu.seen(ok).some((m) => m.content === "after the restart"), 15_000);
  expect(emu.webhooks(ok).map((w) => w.id)).toEqual(hooks);
  expect(emu.seen(ok).filter((m) => m.content === "after the restart")[0]?.webhookId).toBe(hooks[0]);
  await new Promise((r) => setTimeout(r, 1000));
  const heard = x.messages(roomOk).filter((m) => m.attrs.from !== `${roomOk}/x`).map((m) => m.getChildText("body"));
  expect(heard.filter((b) => b === "through the good link" || b === "after the restart")).toEqual([]);
  expect(heard.filter((b) => b === "while down 1")).toHaveLength(1);
  expect(heard.filter((b) => b === "while down 2")).toHaveLength(1);
  expect(heard.indexOf("while down 1")).toBeLessThan(heard.indexOf("while down 2"));
});

it("@everyone from another network pings in a channel that config trusts with it (discord.everyone)", async () => {
  await x.say(roomOk, "@everyone meeting now");
  await until("on Discord", () => emu.seen(ok).find((m) => m.content === "@everyone meeting now"), 15_000);
  expect(emu.seen(ok).find((m) => m.content === "@everyone meeting now")?.pinged.everyone).toBe(true);
  // The same words in a channel not listed ping nobody.
  await x.say(roomBroken, "@everyone not here");
  await new Promise((r) => setTimeout(r, 500));
  expect(emu.seen(broken).find((m) => m.content === "@everyone not here")).toBeUndefined(); // no webhook there at all
});

it("a gap longer than discord.catchUp is announced in the other rooms, then the newest messages follow", async () => {
  await junction!.stop();
  junction = undefined;
  for (let i = 0; i < 6; i++) alice.send(ok, `missed ${i}`);
  const from = x.messages(roomOk).length;
  junction = await start(3);
  await x.waitFor((s) => s.getChildText("body") === "missed 5", 15_000, "the newest missed message");
  await new Promise((r) => setTimeout(r, 500));
  const heard = x.messages(roomOk).slice(from).map((m) => m.getChildText("body") ?? "");
  expect(heard[0]).toMatch(/^Junction was away: more than 3 messages were written in #ok on Discord meanwhile; only the newest 3 follow\.$/);
  expect(heard.slice(1)).toEqual(["missed 3", "missed 4", "missed 5"]);
});

it("Discord down when Junction starts: its channels stay linked, and the bot connects when Discord is back", async () => {
  await junction!.stop();
  junction = undefined;
  emu.startOutage({ resumable: false });
  const before = lines.length;
  const starting = start();
  await until("the outage noticed", () => lines.slice(before).some((l) => /Discord is unreachable/.test(l.msg)), 20_000);
  await until("a retry planned", () => lines.slice(before).some((l) => /cannot connect to Discord; retrying/.test(l.msg)), 20_000);
  alice.send(ok, "said during the outage");
  emu.endOutage();
  junction = await starting;
  await x.waitFor((s) => s.getChildText("body") === "said during the outage", 15_000, "the message said during the outage");
  await x.say(roomOk, "after the outage");
  await until("on Discord", () => emu.seen(ok).some((m) => m.content === "after the outage"), 15_000);
  expect(lines.slice(before).filter((l) => l.level >= 50 && /cannot resolve discord room/.test(l.msg))).toEqual([]);
});

it("two people who would show the same name keep their distinct names across a restart", async () => {
  const upper = await newPerson(prosody, "setup-upper");
  const lower = await newPerson(prosody, "setup-lower");
  await upper.join(roomOk, "Sam", { maxHistory: 0 });
  await lower.join(roomOk, "sam", { maxHistory: 0 });
  const shown = (text: string) => until(`"${text}" on Discord`, () => emu.seen(ok).find((m) => m.content === text)?.username, 15_000);
  await upper.say(roomOk, "one");
  expect(await shown("one")).toBe("Sam");
  await lower.say(roomOk, "two");
  expect(await shown("two")).toBe("sam (xmpp)");
  await junction!.stop();
  junction = await start();
  await lower.say(roomOk, "three");
  expect(await shown("three")).toBe("sam (xmpp)");
  await upper.say(roomOk, "four");
  expect(await shown("four")).toBe("Sam");
  await Promise.all([upper.stop(), lower.stop()]);
});

it("with a new store, the webhook our application made before is found, not made again", async () => {
  const hooks = emu.webhooks(ok).map((w) => w.id);
  await junction!.stop();
  const dir = mkdtempSync(join(tmpdir(), "junction-discord-setup-new-"));
  trackTempDir(dir);
  storePath = join(dir, "junction.db");
  junction = await start();
  await x.say(roomOk, "with a new store");
  await until("on Discord", () => emu.seen(ok).find((m) => m.content === "with a new store"), 15_000);
  expect(emu.webhooks(ok).map((w) => w.id)).toEqual(hooks);
  expect(emu.seen(ok).find((m) => m.content === "with a new store")?.webhookId).toBe(hooks[0]);
  expect(lines.some((l) => l.msg === "using our webhook in this channel")).toBe(true);
});
