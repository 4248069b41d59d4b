/**
 * How one message becomes Discord messages (parts), and how an edit maps its new text onto the
 * parts a message has. Pure: the delivery does the calls.
 *
 * A message's text is split into pieces of at most 2,000 characters; piece i is part i. Files go
 * with the last piece (one Discord message, as a Discord person would post them): that part has
 * role "file", the others role "text". A message of files only is one part 0, role "file". The
 * ordinals depend only on the text, so a retry plans the same parts and skips those delivered.
 */
import type { MappedMessage, PartRole } from "../../core/adapter.ts";
import { PermanentDeliveryError } from "../../core/errors.ts";
import { splitContent } from "./outbound.ts";

/** The most Discord messages one bridged message may become (a 256 KiB XMPP body would be 130). */
export const MAX_PARTS = 10;

export interface PlannedPart {
  readonly part: number;
  readonly role: PartRole;
  readonly content: string;
  /** This part carries the message's files. */
  readonly files: boolean;
}

/** No retry makes the text shorter. */
export class TooManyParts extends PermanentDeliveryError {}

export function planMessage(text: string, hasFiles: boolean): PlannedPart[] {
  const pieces = splitContent(text);
  if (pieces.length > MAX_PARTS) throw new TooManyParts(`the text would take ${pieces.length} Discord messages, over the ${MAX_PARTS} the bridge sends for one message`);
  if (pieces.length === 0) return hasFiles ? [{ part: 0, role: "file", content: "", files: true }] : [];
  return pieces.map((content, part) => {
    const files = hasFiles && part === pieces.length - 1;
    return { part, role: files ? "file" : "text", content, files };
  });
}

export type EditStep =
  | { readonly op: "patch"; readonly target: MappedMessage; readonly content: string }
  | { readonly op: "delete"; readonly target: MappedMessage }
  | { readonly op: "add"; readonly part: number; readonly content: string };

/**
 * An edit of a message with `targets` (its parts in this channel, in part order): the new text
 * is split again and its pieces go to the parts in order. A longer text adds parts after the
 * last (new Discord messages, which Discord shows at the bottom of the channel); a shorter one
 * deletes the parts it no longer needs, except one with files, whose text is emptied instead (its
 * files stay). The message keeps at least one part.
 */
export function planEdit(targets: readonly MappedMessage[], text: string): EditStep[] {
  let pieces = splitContent(text);
  if (pieces.length > MAX_PARTS) throw new TooManyParts(`the edited text would take ${pieces.length} Discord messages, over the ${MAX_PARTS} the bridge sends for one message`);
  const parts = [...targets].sort((a, b) => (a.part ?? 0) - (b.part ?? 0));
  const hasFiles = parts.some((p) => p.role === "file");
  if (pieces.length === 0 && !hasFiles) pieces = ["…"]; // a message without files cannot be empty
  const steps: EditStep[] = [];
  for (const [i, target] of parts.entries()) {
    const content = pieces[i];
    if (content !== undefined) steps.push({ op: "patch", target, content });
    else if (target.role === "file") steps.push({ op: "patch", target, content: "" });
    else steps.push({ op: "delete", target });
  }
  let next = Math.max(-1, ...parts.map((p) => p.part ?? 0)) + 1;
  for (const content of pieces.slice(parts.length)) steps.push({ op: "add", part: next++, content });
  return steps;
}
