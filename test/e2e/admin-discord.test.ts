/**
 * The admin commands on Discord, end to end: the Discord emulator (an unmodified discord.js logs
 * in to it), a real Prosody for the other side of a link, the real core. Emulator persons write
 * `!junction …` in the admin channel and in a DM with the bot, as an admin and as someone else;
 * a webhook and a bot write it too, and an admin writes it in a linked channel. Pause holds an
 * XMPP message for Discord and resume delivers it. Every command and refusal is in the admin log.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runJunction, type RunningJunction } from "../../core/app.ts";
import { DiscordAdapter } from "../../bridges/discord/adapter.ts";
import { XmppAdapter } from "../../bridges/xmpp/adapter.ts";
import { startDiscordEmulator, type DiscordEmulator, type Person as DiscordPerson, type SeenMessage } from "../discord-emulator/index.ts";
import { startProsody, type ProsodyServer } from "../harness/prosody.ts";
import { trackTempDir } from "../harness/process.ts";
import { until } from "../harness/until.ts";
import { Person } from "./xmpp.fixture.ts";

const LOBBY = "discordadmin@conference.localhost";

const lines: Record<string, unknown>[] = [];
const log = pino({ level: "info" }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
const adminLog = () => lines.filter((l) => l.part === "admin" && l.action !== undefined);

let emu: DiscordEmulator;
let prosody: ProsodyServer;
let junction: RunningJunction;
let root: DiscordPerson; // a Discord admin
let mallory: DiscordPerson; // on Discord, not an admin
let bob: Person; // on XMPP, in the linked room
let lobby = ""; // the linked Discord channel
let admins = ""; // the admin channel

/** The bot's own messages (not a webhook's) in a channel. */
const fromBot = (channel: string): SeenMessage[] => emu.seen(channel).filter((m) => m.authorId === emu.botUserId && m.webhookId === null);
/** The bot's next answer in a channel, after the `before` it had written. */
const answer = (channel: string, before: number, what: string) => until(what, () => fromBot(channel)[before], 15_000);

beforeAll(async () => {
  [emu, prosody] = await Promise.all([startDiscordEmulator({ channels: ["lobby", "junction-admin"], heartbeatIntervalMs: 5000 }), startProsody()]);
  [lobby, admins] = emu.channels.map((c) => c.id) as [string, string];
  root = emu.person({ username: "root" });
  mallory = emu.person({ username: "mallory" });
  await prosody.registerUser("bob", "pw");
  bob = new Person(prosody, "bob", LOBBY);
  await bob.join();
  const dir = mkdtempSync(join(tmpdir(), "junction-admin-discord-e2e-"));
  trackTempDir(dir);
  const xmpp = new XmppAdapter({
    server: `xmpp://127.0.0.1:${prosody.componentPort}`, component: prosody.componentDomain, secret: prosody.componentSecret, nick: "Junction", history: 0,
  }, log.child({ network: "xmpp" }));
  const discord = new DiscordAdapter({ token: emu.token, api: emu.api, cdn: emu.cdn, everyone: [], catchUp: 500 }, log.child({ network: "discord" }), { adminChannel: admins });
  junction = await runJunction({
    store: { path: join(dir, "junction.db") },
    admin: { discord: [root.id] },
    links: { lobby: { xmpp: [LOBBY], discord: [lobby] } },
  }, [xmpp, discord], log);
  await until("both networks ready", () => junction.connected().get("xmpp") === true && junction.connected().get("discord") === true, 30_000);
}, 120_000);

afterAll(async () => {
  await bob?.stop();
  await junction?.stop();
  await Promise.allSettled([prosody?.stop(), emu?.stop()]);
});

describe("admin commands on Discord (!junction)", () => {
  it("in the admin channel an admin gets answers from the bot itself, pinging nobody", async () => {
    let n = fromBot(admins).length;
    root.send(admins, "!junction links");
    const links = await answer(admins, n++, "the links answer");
    expect(links.content).toBe(`lobby: xmpp ${LOBBY}, discord ${lobby}; 0 queued, 0 failed`);
    expect(links.pinged).toEqual({ users: [], roles: [], everyone: false });
    root.send(admins, "!junction status");
    const status = await answer(admins, n++, "the status answer");
    expect(status.content).toMatch(/^xmpp: connected since .*\ndiscord: connected since .*\nLink lobby: active; 0 queued, 0 failed\n  xmpp discordadmin@conference\.localhost: joined, 0 queued/);
    root.send(admins, "!junction help");
    expect((await answer(admins, n++, "the help")).content).toContain("!junction retry \\<link>: send a link's failed deliveries again");
    expect(adminLog().filter((l) => l.admin === root.id).map((l) => [l.action, l.via, l.outcome])).toEqual([
      ["links", `the admin channel ${admins}`, "shown"], ["status", `the admin channel ${admins}`, "shown"], ["help", `the admin channel ${admins}`, "shown"],
    ]);
  });

  it("in a DM an admin pauses the link: an XMPP message is held for Discord, and resume delivers it", async () => {
    const dm = emu.dmChannel(root.id).id;
    let n = fromBot(dm).length;
    root.dm("!junction pause lobby");
    expect((await answer(dm, n++, "the pause answer")).content).toBe("lobby is paused: its deliveries wait in the outbox (0 now) until resume.");
    expect(junction.queues.isPaused("lobby")).toBe(true);
    await bob.say("held while paused");
    await until("the message held in the outbox", () => junction.store.outbox.pending().find((r) => r.link === "lobby" && r.event.includes("held while paused")));
    await new Promise((r) => setTimeout(r, 1500));
    expect(emu.seen(lobby).some((m) => m.content === "held while paused")).toBe(false);
    const delivered = emu.nextMessage(lobby, 20_000);
    root.dm("!junction resume lobby");
    expect((await answer(dm, n++, "the resume answer")).content).toBe("lobby is resumed: 1 held delivery goes out now.");
    expect((await delivered).content).toBe("held while paused");
    expect(adminLog().filter((l) => l.admin === root.id && (l.action === "pause" || l.action === "resume")).map((l) => [l.action, l.link, l.via, (l.outcome as { changed?: boolean }).changed])).toEqual([
      ["pause", "lobby", `a DM ${dm}`, true], ["resume", "lobby", `a DM ${dm}`, true],
    ]);
  });

  it("someone who is not an admin is refused, in the admin channel and in a DM, and the refusals logged", async () => {
    const n = fromBot(admins).length;
    mallory.send(admins, "!junction pause lobby");
    const refusal = `Refused: ${mallory.id} is not one of Junction's admins; ask an admin to add you to admin.discord in its config.`;
    expect((await answer(admins, n, "the refusal in the admin channel")).content).toBe(refusal);
    const dm = emu.dmChannel(mallory.id).id;
    mallory.dm("!junction resume lobby");
    expect((await answer(dm, 0, "the refusal in a DM")).content).toBe(refusal);
    expect(junction.queues.isPaused("lobby")).toBe(false);
    expect(adminLog().filter((l) => l.admin === mallory.id).map((l) => [l.action, l.outcome, l.network])).toEqual([
      ["pause", "refused", "discord"], ["resume", "refused", "discord"],
    ]);
  });

  it("a webhook's or a bot's !junction never runs, whatever name it shows; in a linked channel it is bridged, not run", async () => {
    const n = fromBot(admins).length;
    const hook = emu.addForeignWebhook(admins, "root");
    const res = await fetch(`${emu.api}/v10/webhooks/${hook.id}/${hook.token}?wait=true`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ content: "!junction pause lobby", username: "root" }),
    });
    expect(res.status).toBe(200);
    emu.person({ username: "otherbot", bot: true }).send(admins, "!junction pause lobby");
    const bridged = bob.waitFor((el) => el.is("message") && el.getChildText("body") === "!junction pause lobby", 15_000);
    root.send(lobby, "!junction pause lobby");
    await bridged;
    // A command after them is answered, and is the only answer: the three above never ran.
    root.send(admins, "!junction links");
    await answer(admins, n, "the marker's answer");
    await new Promise((r) => setTimeout(r, 500));
    expect(fromBot(admins).slice(n).map((m) => m.content)).toEqual([`lobby: xmpp ${LOBBY}, discord ${lobby}; 0 queued, 0 failed`]);
    expect(fromBot(lobby)).toEqual([]);
    expect(junction.queues.isPaused("lobby")).toBe(false);
    expect(adminLog().filter((l) => l.action === "pause" && l.outcome !== "refused").length).toBe(1); // the DM's, earlier
  });
});
