/**
 * Discord payloads (API v10 shapes as the gateway and REST send them, after the examples in
 * Discord's documentation) into neutral events.
 */
import { describe, expect, it } from "vitest";
import { roomRef } from "../../core/events.ts";
import {
  editFromDiscord, messageFromDiscord, presenceFromDiscord, presenceState, profileChange, reactionFromDiscord, senderOf,
  type InboundContext,
} from "../../bridges/discord/inbound.ts";
import { missingPermissions, permissionProblem, privilegedIntents, intentProblem, INVITE_PERMISSIONS, NEEDED } from "../../bridges/discord/permissions.ts";
import { chronological } from "../../bridges/discord/catchup.ts";
import type { RawMessage } from "../../bridges/discord/types.ts";

const CDN = "https://cdn.discordapp.com";
const GUILD = "197038439483310086";
const CHANNEL = "290926798999357250";
const room = roomRef(CHANNEL);
const ctx: InboundContext = {
  cdn: CDN,
  channelName: (id) => (id === "290926798999357251" ? "general" : undefined),
  roleName: (_g, id) => (id === "41771983423143936" ? "mods" : undefined),
  memberName: () => undefined,
};

/** MESSAGE_CREATE as the gateway dispatches it in a guild: the message plus guild_id and member. */
function create(over: Partial<RawMessage> = {}): RawMessage {
  return {
    id: "334385199974967042", channel_id: CHANNEL, guild_id: GUILD, type: 0, tts: false, pinned: false,
    author: { id: "53908099506183680", username: "mason", global_name: "Mason", avatar: "a_d5efa99b3eeaa7dd43acca82f5692432", discriminator: "0" },
    member: { roles: [], nick: null, avatar: null, joined_at: "2015-04-26T06:26:56.936000+00:00", deaf: false, mute: false },
    content: "Supa Hot", timestamp: "2017-07-11T17:27:07.299000+00:00", edited_timestamp: null,
    mention_everyone: false, mentions: [], mention_roles: [], attachments: [], embeds: [], flags: 0,
    ...over,
  } as RawMessage;
}

describe("MESSAGE_CREATE", () => {
  it("is a message from the person, named by nick, then display name, then username", () => {
    const e = messageFromDiscord(create(), room, ctx)!;
    expect(e).toMatchObject({
      kind: "message", origin: "discord", room: CHANNEL, remoteId: "334385199974967042", body: { text: "Supa Hot" },
      sender: { id: "53908099506183680", name: "Mason", isBot: false, avatar: { hash: "a_d5efa99b3eeaa7dd43acca82f5692432", url: `${CDN}/avatars/53908099506183680/a_d5efa99b3eeaa7dd43acca82f5692432.png` } },
      ts: Date.parse("2017-07-11T17:27:07.299Z"), isAction: false, mentions: [], attachments: [],
    });
    expect(messageFromDiscord(create({ member: { nick: "Mace", avatar: "f00" } }), room, ctx)!.sender).toMatchObject({
      name: "Mace", avatar: { url: `${CDN}/guilds/${GUILD}/users/53908099506183680/avatars/f00.png` },
    });
    expect(messageFromDiscord(create({ author: { id: "1", username: "mason", global_name: null } }), room, ctx)!.sender.name).toBe("mason");
  });

  it("turns user, channel, role and emoji mentions into readable text and lists the people", () => {
    const m = create({
      content: "<@80351110224678912> <@!80351110224678912> see <#290926798999357251>, <@&41771983423143936> <:mmLol:216154654256398347> <a:party:216154654256398348> <@999999999999999999>",
      mentions: [{ id: "80351110224678912", username: "Nelly", global_name: null, member: { nick: "Nells" } } as RawMessage["mentions"] extends (infer U)[] | undefined ? U : never],
    });
    const e = messageFromDiscord(m, room, ctx)!;
    expect(e.body.text).toBe("@Nells @Nells see #general, @mods :mmLol: :party: @999999999999999999");
    expect(e.mentions).toEqual(["80351110224678912"]);
  });

  it("carries attachments with the CDN URL, and stickers as images (Lottie as text)", () => {
    const e = messageFromDiscord(create({
      content: "",
      attachments: [{ id: "1", filename: "cat.png", size: 1234, url: `${CDN}/attachments/1/2/cat.png?ex=6&is=7&hm=8`, proxy_url: "x", content_type: "image/png", width: 64, height: 48 }],
      sticker_items: [{ id: "749054660769218631", name: "Wave", format_type: 1 }, { id: "749054660769218632", name: "Dance", format_type: 3 }, { id: "749054660769218633", name: "Spin", format_type: 4 }],
    }), room, ctx)!;
    expect(e.attachments).toEqual([
      { url: `${CDN}/attachments/1/2/cat.png?ex=6&is=7&hm=8`, name: "cat.png", mime: "image/png", size: 1234, width: 64, height: 48 },
      { url: `${CDN}/stickers/749054660769218631.png`, name: "Wave.png", mime: "image/png" },
      { url: `${CDN}/stickers/749054660769218633.gif`, name: "Spin.gif", mime: "image/gif" },
    ]);
    expect(e.body.text).toBe("[sticker: Dance]");
  });

  it("maps a reply (type 19, message_reference) to its target", () => {
    const e = messageFromDiscord(create({ type: 19, message_reference: { message_id: "334385199974967000", channel_id: CHANNEL, guild_id: GUILD } }), room, ctx)!;
    expect(e.replyTo).toBe("334385199974967000");
    // A reference on a message that is not a reply (a forward, a crosspost) is not one.
    expect(messageFromDiscord(create({ message_reference: { message_id: "1", type: 1 } }), room, ctx)!.replyTo).toBeUndefined();
  });

  it("bridges a thread message as a reply to the thread's first message, marked with the thread's name", () => {
    const e = messageFromDiscord(create({ channel_id: "334385199974967042" }), room, ctx, { parentId: CHANNEL, name: "plans", starterId: "334385199974967042" })!;
    expect(e.room).toBe(CHANNEL);
    expect(e.replyTo).toBe("334385199974967042");
    expect(e.body.text).toBe("[thread “plans”] Supa Hot");
  });

  it("names another application's webhook messages after the webhook and the name they used", () => {
    const e = messageFromDiscord(create({ webhook_id: "223704706495545344", author: { id: "223704706495545344", username: "CI", avatar: null, bot: true } }), room, ctx)!;
    expect(e.sender).toEqual({ id: "webhook:223704706495545344:CI", name: "CI", isBot: true });
    const other = messageFromDiscord(create({ webhook_id: "223704706495545344", author: { id: "223704706495545344", username: "deploy", bot: true } }), room, ctx)!;
    expect(other.sender.id).not.toBe(e.sender.id);
  });

  it("is nothing for system messages (joins, pins, thread created) and empty ones", () => {
    for (const type of [6, 7, 18, 21]) expect(messageFromDiscord(create({ type }), room, ctx)).toBeUndefined();
    expect(messageFromDiscord(create({ content: "" }), room, ctx)).toBeUndefined();
  });
});

describe("MESSAGE_UPDATE", () => {
  it("is an edit when edited_timestamp is set", () => {
    const e = editFromDiscord(create({ content: "Supa Hot!", edited_timestamp: "2017-07-11T17:28:00.000000+00:00" }), room, ctx)!;
    expect(e).toMatchObject({ kind: "edit", target: "334385199974967042", body: { text: "Supa Hot!" }, sender: { id: "53908099506183680" } });
  });

  it("is not an edit when it only adds a link preview (edited_timestamp stays null) or lacks content", () => {
    expect(editFromDiscord(create({ embeds: [{ type: "link", url: "https://example.org" }] } as Partial<RawMessage>), room, ctx)).toBeUndefined();
    expect(editFromDiscord({ id: "1", channel_id: CHANNEL, guild_id: GUILD, embeds: [], edited_timestamp: "2017-07-11T17:28:00+00:00" } as never, room, ctx)).toBeUndefined();
  });
});

describe("reactions", () => {
  const sender = senderOf(CDN, { id: "53908099506183680", username: "mason" }, undefined, GUILD);
  const base = { user_id: "53908099506183680", channel_id: CHANNEL, message_id: "334385199974967042", guild_id: GUILD };
  it("a unicode emoji as itself", () => {
    expect(reactionFromDiscord({ ...base, emoji: { id: null, name: "🔥" } }, room, true, sender, CDN)).toMatchObject({
      kind: "reaction", target: "334385199974967042", emoji: "🔥", added: true,
    });
  });
  it("a custom emoji as :name: with its picture", () => {
    expect(reactionFromDiscord({ ...base, emoji: { id: "41771983429993937", name: "LUL", animated: true } }, room, false, sender, CDN)).toMatchObject({
      emoji: ":LUL:", added: false, custom: { name: "LUL", url: `${CDN}/emojis/41771983429993937.gif` },
    });
  });
  it("nothing for a custom emoji without a name (from a guild we cannot see)", () => {
    expect(reactionFromDiscord({ ...base, emoji: { id: "41771983429993937", name: null } }, room, true, sender, CDN)).toBeUndefined();
  });
});

describe("presence and profiles", () => {
  it.each([["online", "online"], ["idle", "away"], ["dnd", "busy"], ["offline", "offline"], ["invisible", "offline"], ["weird", undefined]])("%s → %s", (status, want) => {
    expect(presenceState(status)).toBe(want);
  });
  it("takes the custom status as status text", () => {
    const sender = senderOf(CDN, { id: "1", username: "a" }, undefined, GUILD);
    expect(presenceFromDiscord({ user: { id: "1" }, guild_id: GUILD, status: "idle", activities: [{ type: 0, name: "a game" }, { type: 4, name: "Custom Status", state: "lunch" }] }, room, sender))
      .toMatchObject({ kind: "presence", state: "away", status: "lunch" });
  });
  it("a nick change is a profile event with the old name; nothing when nothing changed", () => {
    const before = senderOf(CDN, { id: "1", username: "a" }, { nick: "Old" }, GUILD);
    const now = senderOf(CDN, { id: "1", username: "a" }, { nick: "New" }, GUILD);
    expect(profileChange(before, now, room)).toMatchObject({ kind: "profile", previousName: "Old", sender: { name: "New" } });
    expect(profileChange(now, now, room)).toBeUndefined();
  });
});

describe("permissions and intents", () => {
  it("names each missing permission with where to grant it", () => {
    const have = NEEDED.filter((p) => p.name !== "Manage Webhooks" && p.name !== "Add Reactions").reduce((s, p) => s | p.bit, 0n);
    const missing = missingPermissions(have);
    expect(missing.map((p) => p.name)).toEqual(["Manage Webhooks", "Add Reactions"]);
    expect(permissionProblem(missing[0]!, { id: CHANNEL, name: "general" })).toBe(
      `the bot lacks the "Manage Webhooks" permission in #general (${CHANNEL}), so it cannot make the webhook that people from other networks speak through: ` +
      "grant it in the channel's settings (Edit Channel → Permissions → the bot's role) or in Server Settings → Roles");
    expect(missingPermissions(8n)).toEqual([]); // Administrator
  });
  it("the invite permission integer covers what the bridge uses", () => {
    expect(INVITE_PERMISSIONS).toBe(536996928n);
  });
  it("asks only for the privileged intents the application has, and names the others", () => {
    const { granted, missing } = privilegedIntents((1 << 19) | (1 << 15)); // message content, members (limited)
    expect(granted).toHaveLength(2);
    expect(missing.map((m) => m.name)).toEqual(["Presence Intent"]);
    expect(intentProblem(missing[0]!)).toContain("Bot → Privileged Gateway Intents");
  });
});

describe("catch-up order", () => {
  it("sorts snowflakes as numbers and drops doubles", () => {
    const m = (id: string) => create({ id });
    expect(chronological([m("1000000000000000010"), m("999999999999999999"), m("1000000000000000010")]).map((x) => x.id))
      .toEqual(["999999999999999999", "1000000000000000010"]);
  });
});
