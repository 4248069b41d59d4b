/**
 * The checks Discord makes on a message body, shared by channel messages and webhook executes
 * and edits: content is a string of at most 2,000 characters (trimmed), at most 10 embeds,
 * uploads (files[n] named by the payload's attachments[].id) within the guild's upload limit
 * (413/40005), kept attachments on edit, and a message may not be empty (50006).
 */
import type { Actions } from "./actions.ts";
import { ApiError, fieldError, type Req } from "./http.ts";
import type { Attachment, Channel } from "./state.ts";

/** A DM's per-file upload limit (Discord's default for a bot). */
const DM_UPLOAD_LIMIT = 10 * 1024 * 1024;

export const MAX_CONTENT = 2000;

/** The content to store (trimmed), or undefined when the body has none. */
export function contentOf(body: Record<string, unknown>): string | undefined {
  const c = body.content;
  if (c === undefined || c === null) return undefined;
  if (typeof c !== "string") throw fieldError("content", "BASE_TYPE_BAD_VALUE", `Could not interpret "${String(c)}" as string.`);
  if ([...c].length > MAX_CONTENT) throw fieldError("content", "BASE_TYPE_MAX_LENGTH", `Must be ${MAX_CONTENT} or fewer in length.`);
  return c.trim();
}

export function embedsOf(body: Record<string, unknown>): unknown[] | undefined {
  const e = body.embeds;
  if (e === undefined || e === null) return undefined;
  if (!Array.isArray(e) || !e.every((x) => x && typeof x === "object")) throw fieldError("embeds", "BASE_TYPE_BAD_VALUE", "Must be an array of embed objects.");
  if (e.length > 10) throw fieldError("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.");
  return e.map((x) => ({ type: "rich", ...(x as object) }));
}

/**
 * The attachments the message will have: new uploads plus, on an edit, the existing ones that the
 * payload's `attachments` list keeps (no list keeps them all).
 */
export function attachmentsOf(actions: Actions, channel: Channel, req: Req, existing: Attachment[] = []): Attachment[] | undefined {
  const limit = channel.guildId === null ? DM_UPLOAD_LIMIT : actions.state.guild(channel.guildId).uploadLimit;
  for (const f of req.files) if (f.bytes.length > limit) throw new ApiError(413, 40005, "Request entity too large");
  const listed = req.body.attachments;
  if (listed !== undefined && !Array.isArray(listed)) throw fieldError("attachments", "BASE_TYPE_BAD_VALUE", "Must be an array.");
  const meta = new Map<string, { filename?: unknown }>();
  for (const a of (listed ?? []) as { id?: unknown; filename?: unknown }[]) if (a && a.id !== undefined) meta.set(String(a.id), a);
  const kept = listed === undefined ? existing : existing.filter((a) => meta.has(a.id));
  const uploads = req.files.map((f) => {
    const index = /^files\[(\d+)\]$/.exec(f.field)?.[1] ?? f.field.replace(/^file/, "");
    const m = meta.get(index);
    const filename = typeof m?.filename === "string" && m.filename ? m.filename : f.filename;
    return actions.storeUpload(channel.id, filename, f.bytes, f.contentType);
  });
  if (listed === undefined && !uploads.length) return undefined;
  if (kept.length + uploads.length > 10) throw fieldError("attachments", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.");
  return [...kept, ...uploads];
}

export function refuseEmpty(content: string | undefined, embeds: unknown[] | undefined, attachments: Attachment[] | undefined, stickers = 0): void {
  if (!content && !embeds?.length && !attachments?.length && !stickers) throw new ApiError(400, 50006, "Cannot send an empty message");
}

/** Discord's rules for a webhook's name (on create) and for an execute's `username`. */
export function checkWebhookName(field: string, raw: unknown): string {
  if (typeof raw !== "string") throw fieldError(field, "BASE_TYPE_BAD_VALUE", `Could not interpret "${String(raw)}" as string.`);
  const name = raw.trim();
  const length = [...name].length;
  if (length < 1 || length > 80) throw fieldError(field, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 80 in length.");
  for (const word of ["discord", "clyde"]) {
    if (name.toLowerCase().includes(word)) throw fieldError(field, "USERNAME_INVALID_CONTAINS", `Username cannot contain "${word}"`);
  }
  if (["everyone", "here"].includes(name.toLowerCase())) throw fieldError(field, "USERNAME_INVALID", "Username is invalid");
  return name;
}

