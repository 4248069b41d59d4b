/**
 * The Discord emulator (test/discord-emulator/) against an unmodified discord.js 14: the client
 * logs in through `rest.api` and the gateway URL from GET /gateway/bot, receives what a person
 * does, sends and webhooks, waits out 429s, resumes after a resumable drop and re-identifies
 * after a non-resumable one. What passes here is what the Discord adapter may rely on.
 */
import {
  AttachmentBuilder, ChannelType, Client, DiscordAPIError, Events, GatewayIntentBits as I, Partials,
  WebhookClient, type Message, type TextChannel,
} from "discord.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDiscordEmulator, type DiscordEmulator, type Person } from "../discord-emulator/index.ts";
import { until } from "../harness/until.ts";

const ALL = [I.Guilds, I.GuildMembers, I.GuildPresences, I.GuildMessages, I.GuildMessageReactions, I.GuildMessageTyping, I.MessageContent, I.GuildWebhooks];
const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002000100ffff03000006000557bfabd40000000049454e44ae426082", "hex");

function client(emu: DiscordEmulator, intents: number[] = ALL): Client {
  return new Client({
    intents, partials: [Partials.Message, Partials.Reaction, Partials.User],
    rest: { api: emu.api, cdn: emu.cdn },
  });
}

async function login(c: Client, emu: DiscordEmulator): Promise<number> {
  const started = Date.now();
  const ready = new Promise<void>((resolve) => c.once(Events.ClientReady, () => resolve()));
  await c.login(emu.token);
  await ready;
  return Date.now() - started;
}

/** Collects events of one kind from the client, to assert on what arrived and how often. */
function collect<T>(c: Client, event: string, map: (...args: any[]) => T): T[] {
  const got: T[] = [];
  c.on(event, (...args: any[]) => { got.push(map(...args)); });
  return got;
}

describe("discord.js against the emulator", () => {
  let emu: DiscordEmulator;
  let bot: Client;
  let alice: Person;
  let readyMs = 0;

  beforeAll(async () => {
    emu = await startDiscordEmulator({ heartbeatIntervalMs: 5000 });
    alice = emu.person({ username: "alice", globalName: "Alice A.", avatar: PNG });
    bot = client(emu);
    readyMs = await login(bot, emu);
  });
  afterAll(async () => {
    await bot?.destroy();
    await emu?.stop();
  });

  it("logs in through rest.api and the gateway URL from /gateway/bot, ready without the 15 s guild wait", async () => {
    expect(readyMs).toBeLessThan(5000);
    expect(bot.user?.id).toBe(emu.botUserId);
    expect(bot.application?.id).toBe(emu.applicationId);
    const guild = bot.guilds.cache.get(emu.guild.id)!;
    expect(guild.available).toBe(true);
    const channel = bot.channels.cache.get(emu.channel.id) as TextChannel;
    expect(channel.type).toBe(ChannelType.GuildText);
    expect(guild.members.cache.get(alice.id)?.user.username).toBe("alice");
    expect(channel.permissionsFor(bot.user!)?.has("ManageWebhooks")).toBe(true);
    await bot.application!.fetch();
    expect(bot.application!.flags.toArray()).toContain("GatewayMessageContentLimited");
    expect(emu.requests.some((r) => r.route === "GET /gateway/bot")).toBe(true);
  });

  it("receives a person's message, edit, link preview, deletion and bulk deletion", async () => {
    const created = new Promise<Message>((resolve) => bot.once(Events.MessageCreate, resolve));
    const sent = alice.send(emu.channel.id, "hello <@" + emu.botUserId + "> and https://example.org/x");
    const msg = await created;
    expect(msg.id).toBe(sent.id);
    expect(msg.content).toContain("hello");
    expect(msg.author.id).toBe(alice.id);
    expect(msg.member?.displayName).toBe("Alice A.");
    expect(msg.mentions.users.has(emu.botUserId)).toBe(true);

    const updates = collect(bot, Events.MessageUpdate, (_old: Message, m: Message) => ({ content: m.content, edited: m.editedTimestamp, embeds: m.embeds.length }));
    alice.linkPreview(sent.id);
    alice.edit(sent.id, "hello again");
    await until("two updates", () => updates.length === 2);
    expect(updates[0]).toMatchObject({ edited: null, embeds: 1 });
    expect(updates[1]!.content).toBe("hello again");
    expect(updates[1]!.edited).not.toBeNull();

    const deleted = new Promise<string>((resolve) => bot.once(Events.MessageDelete, (m) => resolve(m.id)));
    alice.delete(sent.id);
    expect(await deleted).toBe(sent.id);

    const a = alice.send(emu.channel.id, "one"), b = alice.send(emu.channel.id, "two");
    const bulk = new Promise<string[]>((resolve) => bot.once(Events.MessageBulkDelete, (ms) => resolve([...ms.keys()].sort())));
    emu.bulkDelete(emu.channel.id, [a.id, b.id]);
    expect(await bulk).toEqual([a.id, b.id].sort());
    expect(emu.seen(emu.channel.id).map((m) => m.id)).not.toContain(a.id);
  });

  it("receives reactions (unicode and custom), typing, presence, nick and avatar changes", async () => {
    const party = emu.addEmoji("party", PNG);
    const m = alice.send(emu.channel.id, "react to me");
    const adds = collect(bot, Events.MessageReactionAdd, (r: any, u: any) => ({ emoji: r.emoji.id ?? r.emoji.name, user: u.id }));
    const removes = collect(bot, Events.MessageReactionRemove, (r: any) => r.emoji.id ?? r.emoji.name);
    alice.react(m.id, "👍");
    alice.react(m.id, party);
    alice.unreact(m.id, "👍");
    await until("reactions", () => adds.length === 2 && removes.length === 1);
    expect(adds).toEqual([{ emoji: "👍", user: alice.id }, { emoji: party.id, user: alice.id }]);
    expect(removes).toEqual(["👍"]);
    expect(emu.message(m.id)!.reactions).toEqual([{ emoji: `party:${party.id}`, count: 1, users: [alice.id] }]);

    const typing = new Promise<string>((resolve) => bot.once(Events.TypingStart, (t) => resolve(t.user.id)));
    alice.typing(emu.channel.id);
    expect(await typing).toBe(alice.id);

    const presence = new Promise<string | undefined>((resolve) => bot.once(Events.PresenceUpdate, (_o, p) => resolve(p.status)));
    alice.setPresence("dnd");
    expect(await presence).toBe("dnd");

    const nick = new Promise<string | null>((resolve) => bot.once(Events.GuildMemberUpdate, (_o, mm) => resolve(mm.nickname)));
    alice.setNick("Ally");
    expect(await nick).toBe("Ally");
    const avatar = new Promise<string | null>((resolve) => bot.once(Events.GuildMemberUpdate, (_o, mm) => resolve(mm.displayAvatarURL())));
    alice.setAvatar(PNG);
    const url = (await avatar)!;
    expect(url.startsWith(emu.cdn)).toBe(true);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(PNG)).toBe(true);
  });

  it("receives THREAD_CREATE and messages in the thread under the thread's channel id", async () => {
    const root = alice.send(emu.channel.id, "thread root");
    const created = new Promise<string>((resolve) => bot.once(Events.ThreadCreate, (t) => resolve(t.id)));
    const thread = alice.startThread(emu.channel.id, "side talk", root.id);
    expect(await created).toBe(root.id);
    const inThread = new Promise<Message>((resolve) => bot.once(Events.MessageCreate, resolve));
    alice.send(thread.id, "in the thread");
    const m = await inThread;
    expect(m.channelId).toBe(thread.id);
    expect(m.channel.isThread() && m.channel.parentId).toBe(emu.channel.id);
  });

  it("sends, replies, uploads and pages history forward with after; answers permission errors by code", async () => {
    const channel = bot.channels.cache.get(emu.channel.id) as TextChannel;
    const first = await channel.send({ content: "from the bot", allowedMentions: { parse: [] } });
    expect(emu.message(first.id)).toMatchObject({ content: "from the bot", authorId: emu.botUserId });
    const again = await channel.send({ content: "once", nonce: "n-1", enforceNonce: true, allowedMentions: { parse: [] } });
    const repeat = await channel.send({ content: "once", nonce: "n-1", enforceNonce: true, allowedMentions: { parse: [] } });
    expect(repeat.id).toBe(again.id);
    expect(emu.seen(emu.channel.id).filter((m) => m.content === "once")).toHaveLength(1);
    const typing = emu.nextTyping(emu.channel.id);
    await channel.sendTyping();
    expect(await typing).toBe(emu.botUserId);
    const target = alice.send(emu.channel.id, "reply to this");
    const reply = await channel.send({ content: "a reply", reply: { messageReference: target.id } });
    expect(emu.message(reply.id)!.replyTo).toBe(target.id);
    expect(emu.message(reply.id)!.pinged.users).toEqual([alice.id]);
    const up = await channel.send({ files: [new AttachmentBuilder(PNG, { name: "dot.png" })] });
    const seen = emu.message(up.id)!.attachments[0]!;
    expect(seen).toMatchObject({ filename: "dot.png", size: PNG.length });
    expect(seen.url).toMatch(/\?ex=[0-9a-f]+&is=[0-9a-f]+&hm=[0-9a-f]+&$/);
    expect((await fetch(seen.url)).status).toBe(200);
    expect((await fetch(seen.url.replace(/hm=[0-9a-f]/, "hm=x"))).status).toBe(404);

    const after = await channel.messages.fetch({ after: first.id, limit: 100 });
    expect([...after.keys()].reverse()).toEqual(emu.seen(emu.channel.id).filter((m) => BigInt(m.id) > BigInt(first.id)).map((m) => m.id));

    const quiet = emu.addChannel("quiet");
    const hidden = emu.addChannel("hidden");
    emu.withhold(quiet.id, "SendMessages");
    emu.withhold(hidden.id, "ViewChannel");
    await until("the client to see the overwrite", () => (bot.channels.cache.get(quiet.id) as TextChannel | undefined)?.permissionsFor(bot.user!)?.has("SendMessages") === false);
    expect((bot.channels.cache.get(quiet.id) as TextChannel).permissionsFor(bot.user!)!.has("ViewChannel")).toBe(true);
    const codeOf = async (p: Promise<unknown>): Promise<number | string> => p.then(() => "ok", (e) => (e instanceof DiscordAPIError ? Number(e.code) : String(e)));
    expect(await codeOf(bot.rest.post(`/channels/${quiet.id}/messages`, { body: { content: "x" } }))).toBe(50013);
    expect(await codeOf(bot.rest.post(`/channels/${hidden.id}/messages`, { body: { content: "x" } }))).toBe(50001);
    expect(await codeOf(bot.rest.get(`/channels/${emu.channel.id}/messages/1`))).toBe(10008);
    expect(await codeOf(bot.rest.get(`/channels/1/messages`))).toBe(10003);
    expect(await codeOf(channel.send({ content: "   " }))).toBe(50006);
    emu.setUploadLimit(10);
    expect(await codeOf(channel.send({ files: [new AttachmentBuilder(PNG, { name: "big.png" })] }))).toBe(40005);
    emu.setUploadLimit(10 * 1024 * 1024);
  });

  it("creates, lists and executes a webhook through WebhookClient; edits and deletes through it", async () => {
    const channel = bot.channels.cache.get(emu.channel.id) as TextChannel;
    const created = await channel.createWebhook({ name: "Junction" });
    const listed = await channel.fetchWebhooks();
    expect([...listed.keys()]).toContain(created.id);
    expect(listed.get(created.id)!.applicationId).toBe(emu.applicationId);
    const hook = new WebhookClient({ id: created.id, token: created.token! }, { rest: { api: emu.api } });
    try {
      const sent = await hook.send({ content: "  from xmpp  ", username: "bob (XMPP)", avatarURL: "http://127.0.0.1:1/avatar.png", allowedMentions: { parse: [] } });
      expect(emu.message(sent.id)).toMatchObject({ content: "from xmpp", username: "bob (XMPP)", avatarUrl: "http://127.0.0.1:1/avatar.png", webhookId: created.id });
      await hook.editMessage(sent.id, { content: "edited" });
      expect(emu.message(sent.id)).toMatchObject({ content: "edited", edited: true });
      await hook.deleteMessage(sent.id);
      expect(emu.message(sent.id)).toBeUndefined();
      const file = await hook.send({ content: "a file", files: [new AttachmentBuilder(PNG, { name: "pic.png" })], allowedMentions: { parse: [] } });
      expect(emu.message(file.id)!.attachments.map((a) => [a.filename, a.size])).toEqual([["pic.png", PNG.length]]);

      const codeOf = async (p: Promise<unknown>): Promise<number | string> => p.then(() => "ok", (e) => (e instanceof DiscordAPIError ? Number(e.code) : String(e)));
      expect(await codeOf(hook.send({ content: "x", username: "My Discord bridge" }))).toBe(50035);
      expect(await codeOf(hook.send({ content: "x", username: "Clyde" }))).toBe(50035);
      expect(await codeOf(hook.send({ content: "x", username: "everyone" }))).toBe(50035);
      expect(await codeOf(hook.send({ content: "x".repeat(2001) }))).toBe(50035);
      expect(await codeOf(hook.send({ content: " \n " }))).toBe(50006);
      expect(await codeOf(new WebhookClient({ id: created.id, token: "wrong" }, { rest: { api: emu.api } }).send("x"))).toBe(50027);
      emu.setUploadLimit(10);
      expect(await codeOf(hook.send({ files: [new AttachmentBuilder(PNG, { name: "big.png" })] }))).toBe(40005);
      emu.setUploadLimit(10 * 1024 * 1024);
    } finally {
      hook.destroy();
    }
  });

  it("records who was pinged: a webhook's @everyone with parse [] pings nobody, users by default, everyone only when allowed", async () => {
    const channel = bot.channels.cache.get(emu.channel.id) as TextChannel;
    const w = (await channel.fetchWebhooks()).first()!;
    const hook = new WebhookClient({ id: w.id, token: w.token! }, { rest: { api: emu.api } });
    try {
      const text = `@everyone @here <@${alice.id}>`;
      const none = await hook.send({ content: text, allowedMentions: { parse: [] } });
      expect(emu.message(none.id)!.pinged).toEqual({ users: [], roles: [], everyone: false });
      const only = await hook.send({ content: text, allowedMentions: { users: [alice.id] } });
      expect(emu.message(only.id)!.pinged).toEqual({ users: [alice.id], roles: [], everyone: false });
      const plain = await hook.send({ content: text });
      expect(emu.message(plain.id)!.pinged).toEqual({ users: [alice.id], roles: [], everyone: false });
      const all = await hook.send({ content: text, allowedMentions: { parse: ["everyone"] } });
      expect(emu.message(all.id)!.pinged.everyone).toBe(true);
    } finally {
      hook.destroy();
    }
  });

  it("pages history before and around, reacts as the bot and lists reactors, looks up guild, members and roles", async () => {
    const channel = bot.channels.cache.get(emu.channel.id) as TextChannel;
    const sent = Array.from({ length: 7 }, (_, i) => alice.send(emu.channel.id, `page ${i}`));
    const before = await channel.messages.fetch({ before: sent[6]!.id, limit: 3 });
    expect([...before.values()].map((m) => m.content)).toEqual(["page 5", "page 4", "page 3"]);
    const around = await channel.messages.fetch({ around: sent[3]!.id, limit: 4 });
    expect([...around.values()].map((m) => m.content)).toEqual(["page 4", "page 3", "page 2", "page 1"]);

    const msg = await channel.messages.fetch(sent[0]!.id);
    await msg.react("🎉");
    alice.react(sent[0]!.id, "🎉");
    const users = await msg.reactions.resolve("🎉")!.users.fetch();
    expect([...users.keys()].sort()).toEqual([emu.botUserId, alice.id].sort());
    await msg.reactions.resolve("🎉")!.users.remove(emu.botUserId);
    expect(emu.message(sent[0]!.id)!.reactions).toEqual([{ emoji: "🎉", count: 1, users: [alice.id] }]);

    const guild = await bot.guilds.fetch({ guild: emu.guild.id, force: true });
    expect(guild.name).toBe(emu.guild.name);
    const member = await guild.members.fetch({ user: alice.id, force: true });
    expect(member.user.username).toBe("alice");
    const all = await guild.members.fetch();
    expect(all.has(alice.id)).toBe(true);
    const roles = await guild.roles.fetch();
    expect(roles.get(emu.guild.id)?.name).toBe("@everyone");
  });

  it("shows a person's files and stickers, another application's webhook, and a webhook post in a thread", async () => {
    const sticker = emu.addSticker("wave", PNG);
    const got = collect(bot, Events.MessageCreate, (m: Message) => m);
    alice.send(emu.channel.id, "a file", { attachments: [{ filename: "note.txt", data: "hello file", contentType: "text/plain" }] });
    alice.send(emu.channel.id, "", { stickers: [sticker.id] });
    const ci = emu.addForeignWebhook(emu.channel.id, "CI");
    const res = await fetch(`${emu.api}/v10/webhooks/${ci.id}/${ci.token}?wait=true`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ content: "build passed", username: "CI bot" }),
    });
    expect(res.status).toBe(200);
    await until("three messages", () => got.length === 3);
    const file = got[0]!.attachments.first()!;
    expect(file.name).toBe("note.txt");
    expect(await (await fetch(file.url)).text()).toBe("hello file");
    expect(got[1]!.stickers.first()?.name).toBe("wave");
    expect((await fetch(got[1]!.stickers.first()!.url)).status).toBe(200);
    expect(got[2]!.webhookId).toBe(ci.id);
    expect(got[2]!.author.username).toBe("CI bot");

    const channel = bot.channels.cache.get(emu.channel.id) as TextChannel;
    const thread = alice.startThread(emu.channel.id, "builds");
    await until("the thread cached", () => bot.channels.cache.has(thread.id));
    const w = (await channel.fetchWebhooks()).find((x) => x.owner?.id === emu.botUserId)!;
    const hook = new WebhookClient({ id: w.id, token: w.token! }, { rest: { api: emu.api } });
    try {
      const inThread = new Promise<Message>((resolve) => bot.once(Events.MessageCreate, resolve));
      const posted = await hook.send({ content: "into the thread", threadId: thread.id, allowedMentions: { parse: [] } });
      expect((await inThread).channelId).toBe(thread.id);
      expect(emu.message(posted.id)!.channelId).toBe(thread.id);
    } finally {
      hook.destroy();
    }
  });

  it("resumes when told to reconnect (op 7)", async () => {
    const { resumes, identifies } = { ...emu.gatewayCounts };
    emu.reconnectGateway();
    await until("the resume", () => emu.gatewayCounts.resumes === resumes + 1 && emu.liveSessions === 1, 15_000);
    const next = new Promise<string>((resolve) => bot.once(Events.MessageCreate, (m) => resolve(m.content)));
    alice.send(emu.channel.id, "after op 7");
    expect(await next).toBe("after op 7");
    expect(emu.gatewayCounts.identifies).toBe(identifies);
  }, 30_000);

  it("waits out 429s with Retry-After: a storm loses and reorders nothing", async () => {
    const channel = bot.channels.cache.get(emu.channel.id) as TextChannel;
    const w = await channel.createWebhook({ name: "storm" });
    const hook = new WebhookClient({ id: w.id, token: w.token! }, { rest: { api: emu.api } });
    const route = "POST /webhooks/:webhook/:token";
    const before = emu.stats().routes[route] ?? { requests: 0, rateLimited: 0 };
    try {
      emu.rateLimitStorm({ count: 4, retryAfterMs: 150 });
      const started = Date.now();
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < 12; i++) sends.push(hook.send({ content: `storm ${i}`, allowedMentions: { parse: [] } }));
      await Promise.all(sends);
      const elapsed = Date.now() - started;
      const mine = emu.seen(emu.channel.id).filter((m) => m.webhookId === w.id).map((m) => m.content);
      expect(mine).toEqual(Array.from({ length: 12 }, (_, i) => `storm ${i}`));
      const after = emu.stats().routes[route]!;
      const limited = after.rateLimited - before.rateLimited;
      const requests = after.requests - before.requests;
      // The storm's 4, plus any the bucket's own 5-per-2-s limit caused; each 429 was retried once.
      expect(limited).toBeGreaterThanOrEqual(4);
      expect(requests).toBe(12 + limited);
      // 12 executes at 5 per 2 s cannot finish in under 4 s unless the client ignored the headers.
      expect(elapsed).toBeGreaterThanOrEqual(3500);
      console.log(`rate limits: ${requests} requests, ${limited} answered 429, ${elapsed} ms for 12 webhook executes`);

      // A global storm for a time: the bot's sends wait it out and keep their order.
      const globalBefore = emu.stats().rateLimited;
      emu.rateLimitStorm({ durationMs: 600, retryAfterMs: 200, global: true });
      const t0 = Date.now();
      for (let i = 0; i < 3; i++) await channel.send({ content: `global ${i}`, allowedMentions: { parse: [] } });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(550);
      expect(emu.stats().rateLimited).toBeGreaterThan(globalBefore);
      expect(emu.seen(emu.channel.id).map((m) => m.content).filter((c) => c.startsWith("global "))).toEqual(["global 0", "global 1", "global 2"]);
    } finally {
      hook.destroy();
    }
  }, 30_000);

  it("resumes after a resumable drop: what was missed arrives once, in order", async () => {
    const got = collect(bot, Events.MessageCreate, (m: Message) => m.content);
    const { identifies, resumes } = { ...emu.gatewayCounts };
    emu.dropGateway({ resumable: true });
    const missed = ["missed 1", "missed 2", "missed 3"];
    for (const text of missed) alice.send(emu.channel.id, text);
    await until("the resume", () => emu.gatewayCounts.resumes === resumes + 1 && emu.liveSessions === 1, 15_000);
    alice.send(emu.channel.id, "after resume");
    await until("four messages", () => got.length >= 4);
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toEqual([...missed, "after resume"]);
    expect(emu.gatewayCounts.identifies).toBe(identifies);
  }, 30_000);

  it("rides out an outage: REST fails with 502, the gateway resumes once Discord is back", async () => {
    const got = collect(bot, Events.MessageCreate, (m: Message) => m.content);
    const { resumes, identifies } = { ...emu.gatewayCounts };
    emu.startOutage();
    alice.send(emu.channel.id, "said during the outage");
    await expect(bot.rest.get(`/channels/${emu.channel.id}`)).rejects.toMatchObject({ status: 502 });
    expect(emu.liveSessions).toBe(0);
    emu.endOutage();
    await until("the resume", () => emu.gatewayCounts.resumes === resumes + 1 && emu.liveSessions === 1, 20_000);
    await until("the missed message", () => got.includes("said during the outage"));
    expect(emu.gatewayCounts.identifies).toBe(identifies);
  }, 40_000);

  it("re-identifies after a non-resumable drop: what was missed is not replayed, history has it", async () => {
    const got = collect(bot, Events.MessageCreate, (m: Message) => m.content);
    const { identifies, invalidSessions } = { ...emu.gatewayCounts };
    emu.dropGateway({ resumable: false });
    const lost = alice.send(emu.channel.id, "sent while the session was lost");
    await until("a new session", () => emu.gatewayCounts.identifies === identifies + 1 && emu.liveSessions === 1, 20_000);
    expect(emu.gatewayCounts.invalidSessions).toBe(invalidSessions + 1);
    await until("the client ready again", () => bot.isReady() && bot.guilds.cache.get(emu.guild.id)?.available);
    alice.send(emu.channel.id, "after re-identify");
    await until("the next message", () => got.includes("after re-identify"));
    expect(got).not.toContain(lost.content);
    const channel = bot.channels.cache.get(emu.channel.id) as TextChannel;
    const history = await channel.messages.fetch({ limit: 5 });
    expect([...history.values()].map((m) => m.content)).toContain(lost.content);
  }, 40_000);
});

describe("plain HTTP", () => {
  it("answers with Discord's error bodies, rate-limit headers and 429 shape", async () => {
    const emu = await startDiscordEmulator({ rateLimits: { "message.create": { limit: 2, windowMs: 60_000 } } });
    const auth = { authorization: `Bot ${emu.token}`, "content-type": "application/json" };
    const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = auth) => {
      const res = await fetch(`${emu.api}/v10${path}`, { method, headers, ...(body ? { body: JSON.stringify(body) } : {}) });
      return { status: res.status, headers: res.headers, body: res.status === 204 ? null : await res.json() as any };
    };
    try {
      expect(await call("GET", "/users/@me", undefined, {})).toMatchObject({ status: 401, body: { message: "401: Unauthorized", code: 0 } });
      expect(await call("GET", "/nowhere")).toMatchObject({ status: 404, body: { message: "404: Not Found", code: 0 } });
      expect(await call("PUT", "/gateway/bot")).toMatchObject({ status: 405, body: { code: 0 } });
      expect(await call("GET", "/channels/1")).toMatchObject({ status: 404, body: { code: 10003, message: "Unknown Channel" } });
      expect(await call("POST", "/webhooks/1/x", { content: "x" }, { "content-type": "application/json" })).toMatchObject({ status: 404, body: { code: 10015 } });
      const tooLong = await call("POST", `/channels/${emu.channel.id}/messages`, { content: "x".repeat(2001) });
      expect(tooLong).toMatchObject({ status: 400, body: { code: 50035, message: "Invalid Form Body", errors: { content: { _errors: [{ code: "BASE_TYPE_MAX_LENGTH" }] } } } });
      const ok = await call("POST", `/channels/${emu.channel.id}/messages`, { content: "fine" });
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ content: "fine", channel_id: emu.channel.id, author: { id: emu.botUserId, bot: true }, edited_timestamp: null, type: 0 });
      expect(ok.headers.get("x-ratelimit-limit")).toBe("2");
      expect(ok.headers.get("x-ratelimit-remaining")).toBe("0");
      expect(Number(ok.headers.get("x-ratelimit-reset-after"))).toBeGreaterThan(50);
      expect(ok.headers.get("x-ratelimit-bucket")).toMatch(/^[0-9a-f]+$/);
      const limited = await call("POST", `/channels/${emu.channel.id}/messages`, { content: "too soon" });
      expect(limited.status).toBe(429);
      expect(limited.body).toMatchObject({ message: "You are being rate limited.", global: false });
      expect(limited.body.retry_after).toBeGreaterThan(50);
      expect(Number(limited.headers.get("retry-after"))).toBeCloseTo(limited.body.retry_after, 0);
      expect(limited.headers.get("x-ratelimit-scope")).toBe("user");
      expect(emu.seen(emu.channel.id).map((m) => m.content)).toEqual(["fine"]);
      expect(emu.stats().routes["POST /channels/:channel/messages"]).toEqual({ requests: 3, rateLimited: 1 });
    } finally {
      await emu.stop();
    }
  });
});

describe("privileged intents", () => {
  it("closes with 4014 when the client asks for an intent the application has not enabled", async () => {
    const emu = await startDiscordEmulator({ intents: { messageContent: false } });
    const c = client(emu);
    try {
      await expect(c.login(emu.token)).rejects.toThrow(/disallowed intents/i);
    } finally {
      await c.destroy();
      await emu.stop();
    }
  });

  it("refuses a wrong token at login, and member listing when Server Members is off", async () => {
    const emu = await startDiscordEmulator({ intents: { serverMembers: false } });
    const wrong = client(emu, [I.Guilds]);
    const c = client(emu, [I.Guilds, I.GuildMessages, I.MessageContent]);
    try {
      await expect(wrong.login("not.the.token")).rejects.toThrow(/token/i);
      await login(c, emu);
      await expect(c.rest.get(`/guilds/${emu.guild.id}/members`)).rejects.toMatchObject({ code: 50001 });
      await c.application!.fetch();
      expect(c.application!.flags.has("GatewayGuildMembersLimited")).toBe(false);
    } finally {
      await wrong.destroy();
      await c.destroy();
      await emu.stop();
    }
  });

  it("blanks message content for a client without the Message Content intent, unless the bot is mentioned", async () => {
    const emu = await startDiscordEmulator();
    const c = client(emu, [I.Guilds, I.GuildMessages]);
    try {
      await login(c, emu);
      const membersAtLogin = [...c.guilds.cache.get(emu.guild.id)!.members.cache.keys()];
      const bob = emu.person({ username: "bob" });
      const got = collect(c, Events.MessageCreate, (m: Message) => m.content);
      bob.send(emu.channel.id, "secret");
      bob.send(emu.channel.id, `<@${emu.botUserId}> visible`);
      await until("two messages", () => got.length === 2);
      expect(got).toEqual(["", `<@${emu.botUserId}> visible`]);
      const read = async () => [...(await (c.channels.cache.get(emu.channel.id) as TextChannel).messages.fetch({ limit: 2, cache: false })).values()].map((m) => m.content);
      expect(await read()).toEqual([`<@${emu.botUserId}> visible`, "secret"]);
      emu.setIntents({ messageContent: false });
      expect(await read()).toEqual([`<@${emu.botUserId}> visible`, ""]);

      // Without Server Members and Presence, GUILD_CREATE listed only the bot, and no presence or typing arrives.
      expect(membersAtLogin).toEqual([emu.botUserId]);
      const presences = collect(c, Events.PresenceUpdate, () => 1);
      const typing = collect(c, Events.TypingStart, () => 1);
      bob.setPresence("idle");
      bob.typing(emu.channel.id);
      bob.send(emu.channel.id, "marker");
      await until("the marker", () => got.length === 3);
      expect(presences).toEqual([]);
      expect(typing).toEqual([]);
    } finally {
      await c.destroy();
      await emu.stop();
    }
  });
});

describe("direct messages", () => {
  it("a DM reaches only a client with Direct Messages, without guild_id and with its text even without Message Content; the bot answers in it over REST", async () => {
    const emu = await startDiscordEmulator();
    const withDm = client(emu, [I.Guilds, I.GuildMessages, I.DirectMessages]);
    const without = client(emu, [I.Guilds, I.GuildMessages]);
    try {
      await Promise.all([login(withDm, emu), login(without, emu)]);
      const seenWith: { t: string | null; d: any }[] = [];
      const seenWithout: { t: string | null; d: any }[] = [];
      withDm.on(Events.Raw, (p: { t: string | null; d: any }) => { if (p.t === "MESSAGE_CREATE") seenWith.push(p); });
      without.on(Events.Raw, (p: { t: string | null; d: any }) => { if (p.t === "MESSAGE_CREATE") seenWithout.push(p); });
      const dave = emu.person({ username: "dave" });
      const sent = dave.dm("psst");
      await until("the DM", () => seenWith.length === 1);
      const d = seenWith[0]!.d;
      expect(d.channel_id).toBe(sent.channelId);
      expect(d.guild_id).toBeUndefined();
      expect(d.content).toBe("psst");
      expect(d.author.id).toBe(dave.id);
      dave.send(emu.channel.id, "marker");
      await until("the marker", () => seenWithout.length === 1);
      expect(seenWithout.map((p) => p.d.channel_id)).toEqual([emu.channel.id]); // the DM never came

      // The bot's answer, and the channel as Discord describes it; a DM has no webhooks.
      const answer = await withDm.rest.post(`/channels/${sent.channelId}/messages`, { body: { content: "hello dave", allowed_mentions: { parse: [] } } }) as { guild_id?: string };
      expect(answer.guild_id).toBeUndefined();
      expect(emu.seen(sent.channelId).map((m) => [m.authorId, m.content])).toEqual([[dave.id, "psst"], [emu.botUserId, "hello dave"]]);
      expect(await withDm.rest.get(`/channels/${sent.channelId}`)).toMatchObject({ type: ChannelType.DM, recipients: [{ id: dave.id }] });
      expect(await withDm.rest.post("/users/@me/channels", { body: { recipient_id: dave.id } })).toMatchObject({ id: sent.channelId, type: ChannelType.DM });
      await expect(withDm.rest.post(`/channels/${sent.channelId}/webhooks`, { body: { name: "hook" } })).rejects.toMatchObject({ code: 50003 });
      // Another person's DM with the bot is a channel of its own.
      expect(emu.dmChannel(emu.person({ username: "erin" }).id).id).not.toBe(sent.channelId);
    } finally {
      await Promise.all([withDm.destroy(), without.destroy()]);
      await emu.stop();
    }
  });
});
