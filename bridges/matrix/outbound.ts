/**
 * Neutral events → Matrix event contents. Pure: uploads, ghosts and HTTP are the adapter's job;
 * here only the JSON a homeserver expects (client-server API: m.room.message, m.replace,
 * m.annotation, rich replies, intentional mentions).
 */
import type { MappedMessage } from "../../core/adapter.ts";
import type { ActorId, Attachment, Body, EditEvent, MessageEvent, Network } from "../../core/events.ts";
import { attachmentNote } from "../../core/fallbacks.ts";
import { mentionNodes } from "../../core/richtext/tree.ts";
import { htmlOf } from "./html-out.ts";
import { isMxid } from "./pills.ts";

export type Content = Record<string, unknown>;

/** The Matrix user a mentioned person is: by default only a Matrix user is one. */
export type MxidOf = (id: ActorId, network?: Network) => string | undefined;
const matrixUsersOnly: MxidOf = (id, network) => (isMxid(id) && (network ?? "matrix") === "matrix" ? id : undefined);

function msgtypeOf(e: Pick<MessageEvent, "isAction" | "isNotice">): string {
  return e.isAction ? "m.emote" : e.isNotice ? "m.notice" : "m.text";
}

/** `body` is always the plain rendering, readable alone; `formatted_body` only for formatting. */
function textContent(msgtype: string, body: Body, mxidOf: MxidOf): Content {
  const html = body.rich ? htmlOf(body.rich, { mxidOf }) : "";
  return html
    ? { msgtype, body: body.text, format: "org.matrix.custom.html", formatted_body: html }
    : { msgtype, body: body.text };
}

/**
 * Who the message pings on Matrix. Always present, so that text from another network ("@room",
 * a display name) never pings anybody through the legacy body-matching push rules.
 */
function mentionsOf(e: MessageEvent, replyTo: MappedMessage | undefined, mxidOf: MxidOf): Content {
  const ids = new Set<string>();
  const nodes = e.body.rich ? mentionNodes(e.body.rich) : [];
  const add = (mxid: string | undefined): void => {
    if (mxid && isMxid(mxid)) ids.add(mxid);
  };
  // A mention in the text knows its person's network; one listed only in `mentions` is guessed.
  for (const n of nodes) if (e.mentions.includes(n.id)) add(mxidOf(n.id, n.network));
  for (const m of e.mentions) if (!nodes.some((n) => n.id === m)) add(mxidOf(m));
  if (replyTo?.postedAs && isMxid(replyTo.postedAs)) ids.add(replyTo.postedAs);
  return { user_ids: [...ids] };
}

/** The text part of a message, or undefined when it has none (attachments only). */
export function messageContent(e: MessageEvent, replyTo?: MappedMessage, mxidOf: MxidOf = matrixUsersOnly): Content | undefined {
  if (e.body.text.trim() === "") return undefined;
  const content = textContent(msgtypeOf(e), e.body, mxidOf);
  content["m.mentions"] = mentionsOf(e, replyTo, mxidOf);
  if (replyTo) content["m.relates_to"] = { "m.in_reply_to": { event_id: replyTo.remoteId } };
  return content;
}

export function msgtypeForMime(mime: string | undefined): string {
  if (mime?.startsWith("image/")) return "m.image";
  if (mime?.startsWith("video/")) return "m.video";
  if (mime?.startsWith("audio/")) return "m.audio";
  return "m.file";
}

export interface Uploaded {
  readonly mxc: string;
  readonly mime: string;
  readonly size: number;
  /** An image's size, as its bytes say (the attachment's own claim is only a fallback). */
  readonly width?: number;
  readonly height?: number;
}

/** One attachment, already uploaded to the media repository, as its own event. */
export function mediaContent(att: Attachment, up: Uploaded, replyTo?: MappedMessage): Content {
  const info: Content = { mimetype: up.mime, size: up.size };
  const w = up.width ?? att.width;
  const h = up.height ?? att.height;
  if (w !== undefined && h !== undefined) {
    info.w = w;
    info.h = h;
  }
  const content: Content = {
    msgtype: msgtypeForMime(up.mime), body: att.name, filename: att.name, url: up.mxc, info,
    "m.mentions": {},
  };
  if (replyTo) content["m.relates_to"] = { "m.in_reply_to": { event_id: replyTo.remoteId } };
  return content;
}

/**
 * A media event that carries the message's text as its caption (spec v1.10: `filename` names the
 * file, `body` and `formatted_body` are the caption), so text and picture arrive as one event the
 * way Matrix clients post them. The caption's mentions ping. A note in place of a file (a text
 * event) gets the text before it instead.
 */
export function withCaption(file: Content, text: Content): Content {
  const caption: Content = { ...file, body: text.body, "m.mentions": text["m.mentions"] ?? {} };
  if (typeof file.url !== "string") caption.body = `${String(text.body)}\n${String(file.body)}`;
  else if (typeof text.formatted_body === "string") {
    caption.format = text.format;
    caption.formatted_body = text.formatted_body;
  }
  if (text["m.relates_to"] !== undefined) caption["m.relates_to"] = text["m.relates_to"];
  return caption;
}

/**
 * An attachment that could not be copied (refused address, too large, gone): a line naming it and
 * its link where it has one, in place of the file. `reason` is safe to show (see MediaFailure);
 * `link` is a public URL through Junction's HTTP server, where the file can still be had.
 */
export function unavailableContent(att: Attachment, reason: string, replyTo?: MappedMessage, link?: string): Content {
  const content: Content = { msgtype: "m.text", body: attachmentNote(att, reason, link), "m.mentions": {} };
  if (replyTo) content["m.relates_to"] = { "m.in_reply_to": { event_id: replyTo.remoteId } };
  return content;
}

/** An `m.replace` edit with the "* " fallback that clients without edit support show. */
export function editContent(e: EditEvent, target: MappedMessage, mxidOf: MxidOf = matrixUsersOnly): Content {
  return replacement(textContent("m.text", e.body, mxidOf), target);
}

/**
 * An edit of a captioned media event (the target is a file part): its `m.new_content` is the
 * whole media event again (clients replace the content, not a field) with the new caption, or
 * without one when the new text is empty. `original` is the event's content as the homeserver
 * has it; one without a file falls back to a text edit.
 */
export function captionEditContent(e: EditEvent, target: MappedMessage, original: Content, mxidOf: MxidOf = matrixUsersOnly): Content {
  if (typeof original.url !== "string") {
    // A note in place of the file, the caption before it (withCaption): the note stays.
    const body = typeof original.body === "string" ? original.body : "";
    const i = body.lastIndexOf(`\n${NOTE_MARK}`);
    const note = i >= 0 ? body.slice(i + 1) : body.startsWith(NOTE_MARK) ? body : undefined;
    if (note === undefined) return editContent(e, target, mxidOf);
    const text = e.body.text.trim() === "" ? note : `${e.body.text}\n${note}`;
    return replacement({ msgtype: "m.text", body: text, "m.mentions": {} }, target);
  }
  const filename = typeof original.filename === "string" ? original.filename : typeof original.body === "string" ? original.body : "file";
  const fresh = textContent("m.text", e.body, mxidOf);
  const media: Content = { msgtype: original.msgtype, url: original.url, filename, body: filename };
  if (isObjectValue(original.info)) media.info = original.info;
  if (e.body.text.trim() !== "") {
    media.body = fresh.body;
    if (typeof fresh.formatted_body === "string") Object.assign(media, { format: fresh.format, formatted_body: fresh.formatted_body });
  }
  return replacement(media, target);
}

/** How attachmentNote's line starts: a note in place of a file. */
const NOTE_MARK = "📎 ";

/** `fresh` as the new content of `target`, with the "* " fallback beside it. */
function replacement(fresh: Content, target: MappedMessage): Content {
  const fallback: Content = { ...fresh, body: `* ${String(fresh.body)}` };
  if (typeof fresh.formatted_body === "string") fallback.formatted_body = `* ${fresh.formatted_body}`;
  return {
    ...fallback,
    "m.new_content": { ...fresh, "m.mentions": {} },
    "m.mentions": {},
    "m.relates_to": { rel_type: "m.replace", event_id: target.remoteId },
  };
}

const isObjectValue = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export function reactionContent(target: MappedMessage, emoji: string): Content {
  return { "m.relates_to": { rel_type: "m.annotation", event_id: target.remoteId, key: emoji } };
}

export function redactionContent(reason: string | undefined): Content {
  return reason ? { reason } : {};
}

/** Typing lasts until told otherwise or this long, so a lost "stopped" cannot leave a ghost typing forever. */
export const TYPING_TIMEOUT_MS = 30_000;

export function typingContent(active: boolean): Content {
  return active ? { typing: true, timeout: TYPING_TIMEOUT_MS } : { typing: false };
}
