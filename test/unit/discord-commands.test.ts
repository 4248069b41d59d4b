import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { AdminDesk, REFUSAL_QUIET_MS } from "../../core/admin.ts";
import { HELP } from "../../core/admin-command.ts";
import type { Steering } from "../../core/steering.ts";
import { DiscordCommands, MESSAGE_LIMIT, splitAnswer } from "../../bridges/discord/commands.ts";
import type { RawMessage } from "../../bridges/discord/types.ts";
import { until } from "../harness/until.ts";

describe("an answer as Discord messages", () => {
  it("a short answer is one message, its markup escaped", () => {
    expect(splitAnswer("lobby_2 (paused): xmpp a*b@conference.example.org")).toEqual(["lobby\\_2 (paused): xmpp a\\*b@conference.example.org"]);
    expect(splitAnswer(HELP)).toHaveLength(1);
  });

  it("lines are packed into messages of at most 2000 characters, none split", () => {
    const lines = Array.from({ length: 150 }, (_, i) => `line ${String(i).padStart(3, "0")} ${"x".repeat(30)}`);
    const parts = splitAnswer(lines.join("\n"));
    expect(parts.length).toBe(3);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(MESSAGE_LIMIT);
    expect(parts.join("\n").split("\n")).toEqual(lines);
  });

  it("past four messages the rest is left out with a note saying how much", () => {
    const lines = Array.from({ length: 400 }, (_, i) => `line ${String(i).padStart(3, "0")} ${"x".repeat(30)}`);
    const parts = splitAnswer(lines.join("\n"));
    expect(parts).toHaveLength(4);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(MESSAGE_LIMIT);
    const shown = parts.join("\n").split("\n").filter((l) => l.startsWith("line "));
    const note = parts[3]!.split("\n").at(-1)!;
    expect(note).toBe(`… ${400 - shown.length} more lines left out (Discord takes 2000 characters a message): ask for one link with !junction status <link>`);
    expect(shown).toEqual(lines.slice(0, shown.length));
  });

  it("a line longer than a message is cut, never after an escaping backslash", () => {
    const parts = splitAnswer(`${"a".repeat(1999)}_${"b".repeat(3000)}`);
    expect(parts.map((p) => p.length)).toEqual([1999, 2000, 1002]);
    expect(parts[1]!.startsWith("\\_")).toBe(true);
  });
});

describe("who may run a command, and where", () => {
  const steering: Steering = {
    links: () => [{ name: "lobby", paused: false, rooms: [{ network: "discord", room: "111111111111111111" }], queued: 0, failed: 0 }],
    status: () => ({ networks: [], links: [] }),
    retry: (link) => ({ link, requeued: 0, more: false }),
    pause: (link) => ({ link, paused: true, changed: true, queued: 0 }),
    resume: (link) => ({ link, paused: false, changed: true, queued: 0 }),
    reload: async () => ({ applied: false, reason: "no" }),
  };
  const ADMIN = "100000000000000001";
  const ADMIN_CHANNEL = "200000000000000002";
  const GUILD_CHANNEL = "300000000000000003";
  const DM = "400000000000000004";
  const BOT = "500000000000000005";
  function setup(now: () => number = Date.now) {
    const logged: Record<string, unknown>[] = [];
    const log = pino({ level: "info" }, { write: (s: string) => { logged.push(JSON.parse(s) as Record<string, unknown>); } });
    const posted: { channel: string; content: string; mentions: unknown }[] = [];
    const rest = { post: async (route: string, o: { body: { content: string; allowed_mentions: unknown } }) => {
      posted.push({ channel: route.split("/")[2]!, content: o.body.content, mentions: o.body.allowed_mentions });
      return {};
    } };
    const commands = new DiscordCommands({
      rest: rest as never, desk: new AdminDesk({ discord: [ADMIN] }, steering, log, now), botId: () => BOT, adminChannel: ADMIN_CHANNEL,
      isGuildChannel: (id) => id === GUILD_CHANNEL || id === ADMIN_CHANNEL, log,
    });
    return { commands, posted, logged };
  }
  let n = 0;
  const msg = (channel: string, author: string, content: string, extra: Partial<RawMessage> = {}): RawMessage => ({
    id: String(600000000000000000n + BigInt(++n)), channel_id: channel, author: { id: author, username: "x" }, content, type: 0,
    ...(channel === DM ? {} : { guild_id: "700000000000000007" }), ...extra,
  });

  it("an admin's command in the admin channel and in a DM runs and is answered there, pinging nobody", async () => {
    const { commands, posted, logged } = setup();
    commands.take(msg(ADMIN_CHANNEL, ADMIN, "!junction pause lobby"));
    commands.take(msg(DM, ADMIN, "!junction links"));
    await until("two answers", () => posted.length === 2, 3000);
    expect(posted).toContainEqual({ channel: ADMIN_CHANNEL, content: "lobby is paused: its deliveries wait in the outbox (0 now) until resume.", mentions: { parse: [] } });
    expect(posted).toContainEqual({ channel: DM, content: "lobby: discord 111111111111111111; 0 queued, 0 failed", mentions: { parse: [] } });
    expect(logged.filter((l) => l.action).map((l) => [l.admin, l.action, l.via])).toEqual([
      [ADMIN, "pause", `the admin channel ${ADMIN_CHANNEL}`], [ADMIN, "links", `a DM ${DM}`],
    ]);
  });

  it("a non-admin is refused, and the refusal logged", async () => {
    const { commands, posted, logged } = setup();
    commands.take(msg(DM, "100000000000000009", "!junction pause lobby"));
    await until("the refusal", () => posted.length === 1, 3000);
    expect(posted[0]!.content).toBe("Refused: 100000000000000009 is not one of Junction's admins; ask an admin to add you to admin.discord in its config.");
    expect(logged.find((l) => l.outcome === "refused")).toMatchObject({ admin: "100000000000000009", network: "discord", action: "pause" });
  });

  it("a non-admin is told once a minute: more commands meanwhile are refused and logged, not answered", async () => {
    let clock = 1_000_000;
    const { commands, posted, logged } = setup(() => clock);
    const EVE = "100000000000000009";
    for (const c of ["!junction pause lobby", "!junction links", "!junction nonsense", "!junction resume lobby"]) commands.take(msg(DM, EVE, c));
    commands.take(msg(DM, ADMIN, "!junction links")); // an admin is never held back by someone else's refusals
    commands.take(msg(ADMIN_CHANNEL, EVE, "!junction links")); // told in the DM is not told here
    await until("two refusals and the admin's answer", () => posted.length === 3, 3000);
    await new Promise((r) => setTimeout(r, 50));
    const refusal = `Refused: ${EVE} is not one of Junction's admins; ask an admin to add you to admin.discord in its config.`;
    expect(posted.map((p) => [p.channel, p.content]).sort()).toEqual([
      [ADMIN_CHANNEL, refusal], [DM, refusal], [DM, "lobby: discord 111111111111111111; 0 queued, 0 failed"],
    ].sort());
    expect(logged.filter((l) => l.outcome === "refused").map((l) => [l.action, l.answered])).toEqual([
      ["pause", undefined], ["links", false], ["nonsense", false], ["resume", false], ["links", undefined],
    ]);
    clock += REFUSAL_QUIET_MS;
    commands.take(msg(DM, EVE, "!junction links"));
    await until("the refusal a minute later", () => posted.length === 4, 3000);
    expect(posted[3]).toMatchObject({ channel: DM, content: refusal });
  });

  it("never a webhook's message, a bot's, the bot's own, a system message, one elsewhere, or one answered already", async () => {
    const { commands, posted } = setup();
    commands.take(msg(ADMIN_CHANNEL, ADMIN, "!junction pause lobby", { webhook_id: "800000000000000008" }));
    commands.take(msg(ADMIN_CHANNEL, ADMIN, "!junction pause lobby", { author: { id: ADMIN, bot: true } }));
    commands.take(msg(ADMIN_CHANNEL, BOT, "!junction pause lobby"));
    commands.take(msg(ADMIN_CHANNEL, ADMIN, "!junction pause lobby", { type: 7 }));
    commands.take(msg(GUILD_CHANNEL, ADMIN, "!junction pause lobby"));
    // No guild_id, but the client knows it for a guild's channel: not a DM.
    commands.take(msg(DM, ADMIN, "!junction pause lobby", { channel_id: GUILD_CHANNEL }));
    commands.take(msg(ADMIN_CHANNEL, ADMIN, "hello !junction pause lobby"));
    const once = msg(DM, ADMIN, "!junction help");
    commands.take(once);
    commands.take(once);
    await until("the help", () => posted.length >= 1, 3000);
    await new Promise((r) => setTimeout(r, 50));
    expect(posted.map((p) => p.content)).toEqual(splitAnswer(HELP));
  });
});
