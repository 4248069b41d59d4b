/**
 * A message, correction, retraction or reaction said in a MUC: by the puppet of its sender (or,
 * for a moderation, by the puppet that wrote the target; for Junction's own notices, by the bot),
 * with its files uploaded or linked first. Parts that landed on an earlier try are not sent
 * again, and what is sent is kept until the room reflects it (resend.ts).
 */
import type { Logger } from "pino";
import type { AdapterHost, DeliveryContext, RemoteIds } from "../../core/adapter.ts";
import { PermanentDeliveryError } from "../../core/adapter.ts";
import type { EditEvent, MessageEvent, ReactionEvent, RetractEvent } from "../../core/events.ts";
import { remoteId } from "../../core/events.ts";
import type { XmppConnection } from "./connection.ts";
import { nickIn } from "./mentions.ts";
import { CannotDeliver, outboundStanzas } from "./outbound.ts";
import { PUPPET_RESOURCE, type Puppets } from "./puppets.ts";
import type { RoomState } from "./rooms.ts";
import { NS, resourceOf } from "./stanza.ts";
import { attachmentUrls } from "./upload.ts";
import type { UploadServices } from "./upload-service.ts";

const STANZA_ID_WAIT_MS = 2000;

export interface SendDeps {
  readonly conn: XmppConnection;
  readonly host: AdapterHost;
  readonly puppets: Puppets;
  readonly uploads: UploadServices;
  readonly log: Logger;
  /** The bot's full JID, and the nick it asked for (said by notices before the room confirmed one). */
  readonly botFull: string;
  readonly botNick: string;
  /** The component's domain: puppets' JIDs are on it (mentions of them). */
  readonly component: string;
}

export async function sendMessage(state: RoomState, event: MessageEvent | EditEvent | RetractEvent | ReactionEvent, original: DeliveryContext, deps: SendDeps): Promise<RemoteIds> {
  const { conn, host, puppets, log } = deps;
  if (event.kind === "message" && event.bridgeNotice) {
    // Junction's own notice (events.ts): the bot occupant says it, never a puppet.
    const out = outboundStanzas({ ...event, attachments: [], mentions: [] }, original, {
      room: state.room, from: deps.botFull, occupant: `${state.room}/${state.botNick ?? deps.botNick}`,
    });
    for (const i of out.ids) state.sent(i.id);
    await conn.send(...out.stanzas);
    return out.ids.map((i) => ({ id: remoteId(i.id), altId: i.altId, postedAs: i.postedAs }));
  }
  const ctx = await state.withStanzaIds(original, STANZA_ID_WAIT_MS);
  let speaker = await puppets.ensureJoined(state, event.origin, event.sender, ctx);
  let occupant = `${state.room}/${speaker.nick}`;
  if (event.kind === "retract" && event.moderated && ctx.target?.postedAs && ctx.target.postedAs !== occupant) {
    // A moderator elsewhere removed someone's message: only the puppet that wrote it can retract it here.
    const puppet = state.puppetByNick(resourceOf(ctx.target.postedAs) ?? "");
    if (!puppet?.joined) throw new PermanentDeliveryError(`cannot retract ${ctx.target.remoteId} in ${state.room}: it was not written by a puppet of ours that is still in the room, and Junction does not moderate native XMPP messages`);
    speaker = { ...puppet, full: `${puppet.bare}/${PUPPET_RESOURCE}` };
    occupant = ctx.target.postedAs;
  }
  // Parts that landed on an earlier try are neither fetched nor sent again.
  const done = new Set((ctx.delivered ?? []).map((p) => p.part));
  const service = event.kind === "message" && event.attachments.length > 0 ? await deps.uploads.get() : undefined;
  const links = event.kind === "message" && event.attachments.length > 0
    ? await attachmentUrls(event.attachments, ctx, {
      conn, http: host.media, from: deps.botFull, room: state.room, log, ...(service ? { service } : {}),
      publicLink: (url, name) => host.publicMedia(event.origin, url, name),
      skip: new Set(event.attachments.filter((_, i) => done.has(i + 1)).map((a) => a.url)),
    })
    : undefined;
  const replyPostedAs = ctx.replyTo?.postedAs;
  const replyToOccupant = replyPostedAs ? state.occupantJidOf(replyPostedAs) : undefined;
  let out;
  try {
    out = outboundStanzas(event, ctx, {
      room: state.room, from: speaker.full, occupant, endsTyping: state.typing.has(speaker.bare.toLowerCase()),
      nickOf: (m) => nickIn(state, m, deps.component),
      ...(replyToOccupant ? { replyToOccupant } : {}),
      ...(links ? { attachmentUrls: links.urls, attachmentNotes: links.notes } : {}),
    });
  } catch (err) {
    if (err instanceof CannotDeliver) throw new PermanentDeliveryError(err.message);
    throw err;
  }
  const parts = out.ids.map((id, i) => ({ id, stanza: out.stanzas[i]! })).filter((p) => !done.has(p.id.part));
  // Our ids are stable across retries: if the room already shows this one (its reflection came
  // back in the history the bot got on rejoin), it was delivered before a crash could record it.
  const already = parts.length > 0 && parts.every((p) => state.reflected(p.id.id) !== undefined);
  if (already) {
    log.info({ room: state.room, deliveryId: ctx.deliveryId }, "already in the room (seen in its history); not sent again");
  } else if (parts.length > 0) {
    for (const p of parts) {
      state.sent(p.id.id);
      await conn.send(p.stanza);
      // Only a message's own parts are parts: a correction replaces its target (XEP-0308 points
      // every correction at the original's id), it adds nothing the target's parts should list;
      // text added to a file-only message is its new text part (outbound.ts).
      if (event.kind === "message" || (event.kind === "edit" && ctx.target?.role === "file")) ctx.partDelivered?.({ id: remoteId(p.id.id), altId: p.id.altId, postedAs: p.id.postedAs, part: p.id.part, role: p.id.role });
    }
    if (out.removedPart !== undefined) ctx.partRemoved?.(out.removedPart);
    if (parts.some((p) => p.stanza.getChild("active", NS.chatStates))) state.typing.delete(speaker.bare.toLowerCase());
    // Kept until the room reflects it (a moderation, spoken by another puppet, is not resent).
    if (speaker.full === puppets.fullJid(event.origin, event.sender)) {
      state.unconfirmed.add(parts.map((p) => p.id.id), { origin: event.origin, sender: event.sender, ctx: { fetchMedia: ctx.fetchMedia }, stanzas: parts.map((p) => p.stanza) });
    }
  }
  return out.ids.map((i) => ({ id: remoteId(i.id), altId: i.altId, postedAs: i.postedAs, part: i.part, role: i.role }));
}
