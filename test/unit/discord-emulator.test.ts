/**
 * The Discord emulator's pure rules, each against what Discord's API documentation says:
 * snowflakes, permission overwrites, allowed_mentions, rate-limit buckets and storms, webhook
 * names. The protocol itself is proven with discord.js in test/e2e/discord-emulator.test.ts.
 */
import { describe, expect, it } from "vitest";
import { resolveMentions, type MentionInput } from "../discord-emulator/mentions.ts";
import { checkWebhookName } from "../discord-emulator/message-input.ts";
import { ApiError } from "../discord-emulator/http.ts";
import { channelPermissions, Permission as P, DEFAULT_EVERYONE } from "../discord-emulator/permissions.ts";
import { RateLimiter } from "../discord-emulator/ratelimit.ts";
import { compareSnowflakes, snowflake, snowflakeTime } from "../discord-emulator/snowflake.ts";
import { State } from "../discord-emulator/state.ts";

describe("snowflakes", () => {
  it("carry their creation time and only grow, also within one millisecond", () => {
    const at = Date.now();
    const ids = [snowflake(at), snowflake(at), snowflake(at)];
    expect(new Set(ids).size).toBe(3);
    expect([...ids].sort(compareSnowflakes)).toEqual(ids);
    expect(Math.abs(snowflakeTime(ids[0]!) - at)).toBeLessThan(2);
    // The docs' example: 175928847299117063 was made at 2016-04-30 11:18:25.796 UTC.
    expect(snowflakeTime("175928847299117063")).toBe(Date.UTC(2016, 3, 30, 11, 18, 25, 796));
  });
});

describe("channel permissions", () => {
  const base = { guildId: "1", ownerId: "9", userId: "5", memberRoles: ["2"], rolePermissions: (r: string) => (r === "1" ? DEFAULT_EVERYONE : r === "2" ? P.ManageWebhooks : undefined) };
  it("applies @everyone, then role, then member overwrites, as the docs order them", () => {
    const perms = channelPermissions({
      ...base,
      overwrites: [
        { id: "1", type: 0, allow: 0n, deny: P.SendMessages },
        { id: "2", type: 0, allow: P.SendMessages, deny: 0n },
        { id: "5", type: 1, allow: 0n, deny: P.ManageWebhooks },
      ],
    });
    expect(perms & P.SendMessages).toBe(P.SendMessages);
    expect(perms & P.ManageWebhooks).toBe(0n);
  });
  it("gives nothing in a channel the member cannot view, everything to the owner and Administrator", () => {
    expect(channelPermissions({ ...base, overwrites: [{ id: "5", type: 1, allow: 0n, deny: P.ViewChannel }] })).toBe(0n);
    expect(channelPermissions({ ...base, userId: "9", overwrites: [{ id: "1", type: 0, allow: 0n, deny: P.ViewChannel }] }) & P.ViewChannel).toBe(P.ViewChannel);
    expect(channelPermissions({ ...base, rolePermissions: (r) => (r === "2" ? P.Administrator : 0n), overwrites: [{ id: "5", type: 1, allow: 0n, deny: P.ViewChannel }] }) & P.ViewChannel).toBe(P.ViewChannel);
  });
});

describe("allowed_mentions", () => {
  const state = new State();
  const guild = state.addGuild();
  const role = state.addRole(guild.id, { name: "mods", mentionable: true });
  const content = `@everyone <@123> <@!456> <@&${role.id}>`;
  const input = (over: Partial<MentionInput>): MentionInput => ({
    content, allowed: undefined, guild, webhook: false, mayMentionEveryone: false, webhookDefault: "users", replyAuthorId: null, ...over,
  });
  const pinged = (over: Partial<MentionInput>) => {
    const r = resolveMentions(input(over));
    if ("error" in r) throw new Error(JSON.stringify(r.error));
    return r.pinged;
  };
  it("pings users and mentionable roles by default, @everyone only with Mention Everyone", () => {
    expect(pinged({})).toEqual({ users: ["123", "456"], roles: [role.id], everyone: false });
    expect(pinged({ mayMentionEveryone: true }).everyone).toBe(true);
  });
  it("a webhook without allowed_mentions pings users only (FIELD-NOTES), or everything when configured so", () => {
    expect(pinged({ webhook: true })).toEqual({ users: ["123", "456"], roles: [], everyone: false });
    expect(pinged({ webhook: true, webhookDefault: "all" })).toEqual({ users: ["123", "456"], roles: [role.id], everyone: true });
  });
  it("parse [] pings nobody; a users list pings only those; parse everyone from a webhook pings everyone", () => {
    expect(pinged({ webhook: true, allowed: { parse: [] } })).toEqual({ users: [], roles: [], everyone: false });
    expect(pinged({ webhook: true, allowed: { users: ["456"] } })).toEqual({ users: ["456"], roles: [], everyone: false });
    expect(pinged({ webhook: true, allowed: { parse: ["everyone"] } }).everyone).toBe(true);
  });
  it("pings a reply's author unless allowed_mentions leaves out replied_user", () => {
    expect(pinged({ content: "hi", replyAuthorId: "789" }).users).toEqual(["789"]);
    expect(pinged({ content: "hi", replyAuthorId: "789", allowed: { parse: [] } }).users).toEqual([]);
    expect(pinged({ content: "hi", replyAuthorId: "789", allowed: { replied_user: true } }).users).toEqual(["789"]);
  });
  it("refuses parse users together with a users list, and unknown parse values", () => {
    expect("error" in resolveMentions(input({ allowed: { parse: ["users"], users: ["1"] } }))).toBe(true);
    expect("error" in resolveMentions(input({ allowed: { parse: ["all"] } }))).toBe(true);
  });
});

describe("webhook names", () => {
  const code = (name: unknown): number | string => {
    try { return checkWebhookName("username", name); } catch (e) { return (e as ApiError).code; }
  };
  it("refuses what Discord refuses with 50035 and trims the rest", () => {
    for (const bad of ["Discord", "my discord bot", "CLYDE", "everyone", "Here", "", "   ", "x".repeat(81)]) expect(code(bad)).toBe(50035);
    expect(code("  bob (XMPP) ")).toBe("bob (XMPP)");
    expect(code("x".repeat(80))).toBe("x".repeat(80));
  });
});

describe("rate limits", () => {
  it("counts down a bucket per major parameter, then answers 429 until the window resets", () => {
    const rl = new RateLimiter({ default: { limit: 50, windowMs: 1000 }, "webhook.execute": { limit: 5, windowMs: 2000 } }, 50);
    const route = "POST /webhooks/:webhook/:token";
    const verdicts = Array.from({ length: 6 }, () => rl.check(route, "webhook.execute", "w1", null));
    expect(verdicts.slice(0, 5).map((v) => v.headers["x-ratelimit-remaining"])).toEqual(["4", "3", "2", "1", "0"]);
    expect(verdicts[5]!.limited).toMatchObject({ global: false, scope: "user" });
    expect(Number(verdicts[5]!.headers["retry-after"])).toBeGreaterThan(1.5);
    expect(rl.check(route, "webhook.execute", "w2", null).limited).toBeNull();
    expect(rl.routes.get(route)).toEqual({ requests: 7, rateLimited: 1 });
  });
  it("limits a bot token globally, and a storm answers 429 to the next requests whatever their bucket", () => {
    const rl = new RateLimiter({ default: { limit: 1000, windowMs: 1000 } }, 3);
    const r = Array.from({ length: 4 }, (_, i) => rl.check("GET /x", "default", String(i), "token"));
    expect(r[3]!.limited).toMatchObject({ global: true, scope: "global" });
    expect(r[3]!.headers["x-ratelimit-global"]).toBe("true");
    rl.startStorm({ count: 2, retryAfterMs: 250 });
    const s = Array.from({ length: 3 }, () => rl.check("GET /y", "default", "a", null));
    expect(s.map((v) => v.limited?.retryAfterMs ?? null)).toEqual([250, 250, null]);
    expect(s[0]!.headers["retry-after"]).toBe("0.250");
  });
});
