/**
 * Channel message routes (docs: "Channel" resource): history (before/after/around/limit, newest
 * first), one message, create (content, embeds, files, allowed_mentions, message_reference,
 * sticker_ids), edit, delete, bulk delete and reactions (@me add/remove, another's removal, list).
 */
import { type EmojiRef } from "./actions.ts";
import { botChannel, botHas, isThread, messageIn, type RouteContext } from "./access.ts";
import { ApiError, fieldError, invalidForm, missingPermissions, type Route } from "./http.ts";
import { resolveMentions, type AllowedMentions } from "./mentions.ts";
import { attachmentsOf, contentOf, embedsOf, refuseEmpty } from "./message-input.ts";
import { Permission as P } from "./permissions.ts";
import { compareSnowflakes, snowflakeTime } from "./snowflake.ts";
import { userJson } from "./shapes.ts";
import type { Message } from "./state.ts";

function history(list: Message[], q: URLSearchParams): Message[] {
  const limitRaw = q.get("limit");
  const limit = limitRaw === null ? 50 : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw fieldError("limit", "NUMBER_TYPE_MAX", "int value should be less than or equal to 100.");
  const before = q.get("before"), after = q.get("after"), around = q.get("around");
  let picked: Message[];
  if (around) {
    const older = list.filter((m) => compareSnowflakes(m.id, around) < 0).slice(-Math.floor(limit / 2));
    const rest = list.filter((m) => compareSnowflakes(m.id, around) >= 0).slice(0, limit - older.length);
    picked = [...older, ...rest];
  } else if (after) picked = list.filter((m) => compareSnowflakes(m.id, after) > 0).slice(0, limit);
  else if (before) picked = list.filter((m) => compareSnowflakes(m.id, before) < 0).slice(-limit);
  else picked = list.slice(-limit);
  return picked.reverse();
}

export function parseEmoji(ctx: RouteContext, raw: string): EmojiRef {
  const custom = /^(a:)?([A-Za-z0-9_~]{1,32}):([0-9]{1,20})$/.exec(raw);
  if (custom) {
    const id = custom[3]!;
    const known = [...ctx.state.guilds.values()].some((g) => g.members.has(ctx.state.application.botUserId) && g.emojis.has(id));
    if (!known) throw new ApiError(400, 10014, "Unknown Emoji");
    return { id, name: custom[2]!, animated: Boolean(custom[1]) };
  }
  if (!raw || /[:<>\s]/.test(raw) || /^[\x20-\x7e]+$/.test(raw)) throw new ApiError(400, 10014, "Unknown Emoji");
  return { id: null, name: raw, animated: false };
}

export function messageRoutes(ctx: RouteContext): Route[] {
  const { state, actions } = ctx;
  const bot = (): string => state.application.botUserId;
  const json = (m: Message): unknown => actions.json(m, false);
  /** Read back over REST: without the Message Content switch in the portal, others' text is empty. */
  const read = (m: Message): unknown => {
    const j = actions.json(m, false);
    const blank = !state.application.intents.messageContent && m.guildId !== null && m.authorId !== bot() && !m.pinged.users.includes(bot());
    return blank ? { ...j, content: "", embeds: [], attachments: [], components: [] } : j;
  };
  const reactionTarget = (channel: string, message: string): Message => {
    botChannel(ctx, channel, P.ReadMessageHistory);
    return messageIn(ctx, channel, message);
  };
  return [
    {
      method: "GET", pattern: "/channels/:channel/messages", bucket: "default", major: "channel", auth: "bot",
      handle: (req) => {
        const ch = botChannel(ctx, req.params.channel!);
        if (!botHas(ctx, ch.id, P.ReadMessageHistory)) return { status: 200, body: [] };
        return { status: 200, body: history(state.channelMessages(ch.id), req.query).map(read) };
      },
    },
    {
      method: "GET", pattern: "/channels/:channel/messages/:message", bucket: "default", major: "channel", auth: "bot",
      handle: (req) => {
        botChannel(ctx, req.params.channel!, P.ReadMessageHistory);
        return { status: 200, body: read(messageIn(ctx, req.params.channel!, req.params.message!)) };
      },
    },
    {
      method: "POST", pattern: "/channels/:channel/messages", bucket: "message.create", major: "channel", auth: "bot",
      handle: (req) => {
        const known = state.channels.get(req.params.channel!);
        const ch = botChannel(ctx, req.params.channel!, known && isThread(known) ? P.SendMessagesInThreads : P.SendMessages);
        const content = contentOf(req.body);
        const embeds = embedsOf(req.body);
        if (embeds?.length && !botHas(ctx, ch.id, P.EmbedLinks)) throw missingPermissions();
        if (req.files.length && !botHas(ctx, ch.id, P.AttachFiles)) throw missingPermissions();
        const stickers = Array.isArray(req.body.sticker_ids) ? (req.body.sticker_ids as unknown[]).map(String) : [];
        const attachments = attachmentsOf(actions, ch, req);
        refuseEmpty(content, embeds, attachments, stickers.length);
        let reference: Message["reference"] = null;
        let replyAuthor: string | null = null;
        const ref = req.body.message_reference as { message_id?: unknown; channel_id?: unknown; fail_if_not_exists?: unknown } | undefined;
        if (ref && typeof ref === "object" && ref.message_id !== undefined) {
          if (!botHas(ctx, ch.id, P.ReadMessageHistory)) throw missingPermissions();
          const refChannel = typeof ref.channel_id === "string" ? ref.channel_id : ch.id;
          const target = state.findMessage(refChannel, String(ref.message_id));
          if (target) { reference = { messageId: target.id, channelId: target.channelId, guildId: target.guildId }; replyAuthor = target.webhookId ? null : target.authorId; }
          else if (ref.fail_if_not_exists !== false) {
            throw fieldError("message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message");
          }
        }
        const mentions = resolveMentions({
          content: content ?? "", allowed: req.body.allowed_mentions as AllowedMentions | undefined, guild: ch.guildId === null ? undefined : state.guild(ch.guildId),
          webhook: false, mayMentionEveryone: botHas(ctx, ch.id, P.MentionEveryone), webhookDefault: ctx.webhookDefaultMentions, replyAuthorId: replyAuthor,
        });
        if ("error" in mentions) throw invalidForm(mentions.error);
        const nonce = typeof req.body.nonce === "string" || typeof req.body.nonce === "number" ? req.body.nonce : null;
        if (nonce !== null && req.body.enforce_nonce === true) {
          // Discord answers a repeated nonce from the same author (within a few minutes) with the first message.
          const since = Date.now() - 10 * 60 * 1000;
          const earlier = state.channelMessages(ch.id).find((x) => x.authorId === bot() && x.nonce === nonce && Date.parse(x.timestamp) > since);
          if (earlier) return { status: 200, body: json(earlier) };
        }
        const m = actions.createMessage({ channelId: ch.id, authorId: bot(), content: content ?? "", embeds, attachments, reference, stickerIds: stickers, pinged: mentions.pinged, nonce });
        return { status: 200, body: json(m) };
      },
    },
    {
      method: "POST", pattern: "/channels/:channel/typing", bucket: "default", major: "channel", auth: "bot",
      handle: (req) => {
        const known = state.channels.get(req.params.channel!);
        const ch = botChannel(ctx, req.params.channel!, known && isThread(known) ? P.SendMessagesInThreads : P.SendMessages);
        actions.typing(ch.id, bot());
        return { status: 204 };
      },
    },
    {
      method: "PATCH", pattern: "/channels/:channel/messages/:message", bucket: "message.edit", major: "channel", auth: "bot",
      handle: (req) => {
        const ch = botChannel(ctx, req.params.channel!);
        const m = messageIn(ctx, ch.id, req.params.message!);
        if (m.authorId !== bot()) throw new ApiError(403, 50005, "Cannot edit a message authored by another user");
        const content = contentOf(req.body);
        const embeds = embedsOf(req.body);
        const attachments = attachmentsOf(actions, ch, req, m.attachments);
        refuseEmpty(content ?? m.content, embeds ?? m.embeds, attachments ?? m.attachments, m.stickerIds.length);
        let pinged = m.pinged;
        if (content !== undefined) {
          const r = resolveMentions({
            content, allowed: req.body.allowed_mentions as AllowedMentions | undefined, guild: ch.guildId === null ? undefined : state.guild(ch.guildId), webhook: false,
            mayMentionEveryone: botHas(ctx, ch.id, P.MentionEveryone), webhookDefault: ctx.webhookDefaultMentions, replyAuthorId: null,
          });
          if ("error" in r) throw invalidForm(r.error);
          pinged = r.pinged;
        }
        return { status: 200, body: json(actions.updateMessage(m, { content, embeds, attachments, pinged })) };
      },
    },
    {
      method: "DELETE", pattern: "/channels/:channel/messages/:message", bucket: "message.delete", major: "channel", auth: "bot",
      handle: (req) => {
        const ch = botChannel(ctx, req.params.channel!);
        const m = messageIn(ctx, ch.id, req.params.message!);
        if (m.authorId !== bot() && !botHas(ctx, ch.id, P.ManageMessages)) throw missingPermissions();
        actions.deleteMessage(m);
        return { status: 204 };
      },
    },
    {
      method: "POST", pattern: "/channels/:channel/messages/bulk-delete", bucket: "message.bulkDelete", major: "channel", auth: "bot",
      handle: (req) => {
        const ch = botChannel(ctx, req.params.channel!, P.ManageMessages);
        const ids = req.body.messages;
        if (!Array.isArray(ids) || ids.length < 2 || ids.length > 100) throw fieldError("messages", "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 100 in length.");
        const twoWeeks = Date.now() - 14 * 24 * 3600 * 1000;
        if (ids.some((id) => snowflakeTime(String(id)) < twoWeeks)) throw new ApiError(400, 50034, "You can only bulk delete messages that are under 14 days old.");
        actions.bulkDelete(ch.id, ids.map(String));
        return { status: 204 };
      },
    },
    {
      method: "PUT", pattern: "/channels/:channel/messages/:message/reactions/:emoji/@me", bucket: "reaction", major: "channel", auth: "bot",
      handle: (req) => {
        const m = reactionTarget(req.params.channel!, req.params.message!);
        const emoji = parseEmoji(ctx, req.params.emoji!);
        const exists = m.reactions.some((r) => (r.emoji.id ?? r.emoji.name) === (emoji.id ?? emoji.name));
        if (!exists && !botHas(ctx, m.channelId, P.AddReactions)) throw missingPermissions();
        actions.addReaction(m, bot(), emoji);
        return { status: 204 };
      },
    },
    {
      method: "DELETE", pattern: "/channels/:channel/messages/:message/reactions/:emoji/:user", bucket: "reaction", major: "channel", auth: "bot",
      handle: (req) => {
        const m = reactionTarget(req.params.channel!, req.params.message!);
        const user = req.params.user === "@me" ? bot() : req.params.user!;
        if (user !== bot() && !botHas(ctx, m.channelId, P.ManageMessages)) throw missingPermissions();
        actions.removeReaction(m, user, parseEmoji(ctx, req.params.emoji!));
        return { status: 204 };
      },
    },
    {
      method: "GET", pattern: "/channels/:channel/messages/:message/reactions/:emoji", bucket: "default", major: "channel", auth: "bot",
      handle: (req) => {
        const m = reactionTarget(req.params.channel!, req.params.message!);
        const emoji = parseEmoji(ctx, req.params.emoji!);
        const r = m.reactions.find((x) => (x.emoji.id ?? x.emoji.name) === (emoji.id ?? emoji.name));
        const limit = Math.min(Number(req.query.get("limit") ?? 25) || 25, 100);
        const after = req.query.get("after");
        const users = (r?.users ?? []).filter((u) => !after || compareSnowflakes(u, after) > 0).sort(compareSnowflakes).slice(0, limit);
        return { status: 200, body: users.flatMap((u) => { const x = state.users.get(u); return x ? [userJson(x)] : []; }) };
      },
    },
  ];
}
