/**
 * Webhook routes (docs: "Webhook" resource): create and list per channel (Manage Webhooks),
 * get and delete, execute (username/avatar_url/content/embeds/allowed_mentions/files, `wait`,
 * `thread_id`) with Discord's username rules, and the webhook's own message get/edit/delete.
 * Token routes take no Authorization header; a wrong token is 401/50027.
 */
import { botChannel, isThread, type RouteContext } from "./access.ts";
import { ApiError, invalidForm, unknownChannel, unknownMessage, unknownWebhook, type Req, type Route } from "./http.ts";
import { resolveMentions, type AllowedMentions } from "./mentions.ts";
import { attachmentsOf, checkWebhookName, contentOf, embedsOf, refuseEmpty } from "./message-input.ts";
import { Permission as P } from "./permissions.ts";
import { webhookJson } from "./shapes.ts";
import { snowflake } from "./snowflake.ts";
import { hash, type Channel, type Message, type Webhook } from "./state.ts";

export const MAX_WEBHOOKS_PER_CHANNEL = 15;

export function webhookRoutes(ctx: RouteContext): Route[] {
  const { state, actions } = ctx;
  const byToken = (req: Req): Webhook => {
    const w = state.webhooks.get(req.params.webhook!);
    if (!w) throw unknownWebhook();
    if (w.token !== req.params.token) throw new ApiError(401, 50027, "Invalid Webhook Token");
    return w;
  };
  const byBot = (req: Req): Webhook => {
    const w = state.webhooks.get(req.params.webhook!);
    if (!w) throw unknownWebhook();
    botChannel(ctx, w.channelId, P.ManageWebhooks);
    return w;
  };
  /** The channel a webhook posts to: its own, or one of its threads named by ?thread_id. */
  const target = (w: Webhook, req: Req): Channel => {
    const threadId = req.query.get("thread_id");
    const ch = state.channels.get(threadId ?? w.channelId);
    if (!ch || (threadId && (!isThread(ch) || ch.parentId !== w.channelId))) throw unknownChannel();
    return ch;
  };
  const ownMessage = (w: Webhook, req: Req): Message => {
    const ch = target(w, req);
    const m = state.findMessage(ch.id, req.params.message!);
    if (!m || m.webhookId !== w.id) throw unknownMessage();
    return m;
  };
  const mentions = (w: Webhook, content: string, req: Req) => {
    const r = resolveMentions({
      content, allowed: req.body.allowed_mentions as AllowedMentions | undefined, guild: state.guild(w.guildId), webhook: true,
      mayMentionEveryone: true, webhookDefault: ctx.webhookDefaultMentions, replyAuthorId: null,
    });
    if ("error" in r) throw invalidForm(r.error);
    return r.pinged;
  };
  return [
    {
      method: "POST", pattern: "/channels/:channel/webhooks", bucket: "webhook.manage", major: "channel", auth: "bot",
      handle: (req) => {
        if (state.channels.get(req.params.channel!)?.type === 1) throw new ApiError(403, 50003, "Cannot execute action on a DM channel");
        const ch = botChannel(ctx, req.params.channel!, P.ManageWebhooks);
        if (isThread(ch)) throw new ApiError(400, 50024, "Cannot execute action on this channel type");
        const name = checkWebhookName("name", req.body.name);
        const count = [...state.webhooks.values()].filter((w) => w.channelId === ch.id).length;
        if (count >= MAX_WEBHOOKS_PER_CHANNEL) throw new ApiError(400, 30007, `Maximum number of webhooks reached (${MAX_WEBHOOKS_PER_CHANNEL})`);
        const w: Webhook = {
          id: snowflake(), token: `${hash()}${hash()}`, channelId: ch.id, guildId: state.guildIdOf(ch), name, avatar: null,
          applicationId: state.application.id, creatorId: state.application.botUserId,
        };
        if (typeof req.body.avatar === "string") {
          const data = /^data:image\/[a-z]+;base64,(.*)$/.exec(req.body.avatar);
          if (data) w.avatar = state.storeImage(`avatars/${w.id}`, Buffer.from(data[1]!, "base64"));
        }
        state.webhooks.set(w.id, w);
        actions.webhooksUpdate(ch);
        return { status: 200, body: webhookJson(w, state) };
      },
    },
    {
      method: "GET", pattern: "/channels/:channel/webhooks", bucket: "webhook.manage", major: "channel", auth: "bot",
      handle: (req) => {
        const ch = botChannel(ctx, req.params.channel!, P.ManageWebhooks);
        return { status: 200, body: [...state.webhooks.values()].filter((w) => w.channelId === ch.id).map((w) => webhookJson(w, state)) };
      },
    },
    {
      method: "GET", pattern: "/guilds/:guild/webhooks", bucket: "webhook.manage", major: "guild", auth: "bot",
      handle: (req) => {
        const ws = [...state.webhooks.values()].filter((w) => w.guildId === req.params.guild);
        for (const w of ws) botChannel(ctx, w.channelId, P.ManageWebhooks);
        return { status: 200, body: ws.map((w) => webhookJson(w, state)) };
      },
    },
    { method: "GET", pattern: "/webhooks/:webhook", bucket: "webhook.manage", major: "webhook", auth: "bot", handle: (req) => ({ status: 200, body: webhookJson(byBot(req), state) }) },
    {
      method: "DELETE", pattern: "/webhooks/:webhook", bucket: "webhook.manage", major: "webhook", auth: "bot",
      handle: (req) => { const w = byBot(req); state.webhooks.delete(w.id); actions.webhooksUpdate(state.channels.get(w.channelId)!); return { status: 204 }; },
    },
    { method: "GET", pattern: "/webhooks/:webhook/:token", bucket: "webhook.manage", major: "webhook", auth: "none", handle: (req) => ({ status: 200, body: webhookJson(byToken(req), state, true) }) },
    {
      method: "DELETE", pattern: "/webhooks/:webhook/:token", bucket: "webhook.manage", major: "webhook", auth: "none",
      handle: (req) => { const w = byToken(req); state.webhooks.delete(w.id); actions.webhooksUpdate(state.channels.get(w.channelId)!); return { status: 204 }; },
    },
    {
      method: "POST", pattern: "/webhooks/:webhook/:token", bucket: "webhook.execute", major: "webhook", auth: "none",
      handle: (req) => {
        const w = byToken(req);
        const ch = target(w, req);
        const username = req.body.username === undefined || req.body.username === null ? null : checkWebhookName("username", req.body.username);
        const avatarUrl = typeof req.body.avatar_url === "string" && req.body.avatar_url ? req.body.avatar_url : null;
        const content = contentOf(req.body);
        const embeds = embedsOf(req.body);
        const attachments = attachmentsOf(actions, ch, req);
        refuseEmpty(content, embeds, attachments);
        const m = actions.createMessage({
          channelId: ch.id, authorId: w.id, webhook: w, username, avatarUrl, content: content ?? "", embeds, attachments,
          pinged: mentions(w, content ?? "", req),
        });
        return req.query.get("wait") === "true" ? { status: 200, body: actions.json(m, false) } : { status: 204 };
      },
    },
    {
      method: "GET", pattern: "/webhooks/:webhook/:token/messages/:message", bucket: "webhook.message", major: "webhook", auth: "none",
      handle: (req) => ({ status: 200, body: actions.json(ownMessage(byToken(req), req), false) }),
    },
    {
      method: "PATCH", pattern: "/webhooks/:webhook/:token/messages/:message", bucket: "webhook.message", major: "webhook", auth: "none",
      handle: (req) => {
        const w = byToken(req);
        const m = ownMessage(w, req);
        const content = contentOf(req.body);
        const embeds = embedsOf(req.body);
        const attachments = attachmentsOf(actions, state.channels.get(m.channelId)!, req, m.attachments);
        refuseEmpty(content ?? m.content, embeds ?? m.embeds, attachments ?? m.attachments);
        const pinged = content !== undefined ? mentions(w, content, req) : m.pinged;
        return { status: 200, body: actions.json(actions.updateMessage(m, { content, embeds, attachments, pinged }), false) };
      },
    },
    {
      method: "DELETE", pattern: "/webhooks/:webhook/:token/messages/:message", bucket: "webhook.message", major: "webhook", auth: "none",
      handle: (req) => { actions.deleteMessage(ownMessage(byToken(req), req)); return { status: 204 }; },
    },
  ];
}

