/**
 * Catch-up from the room's archive (XEP-0313 MAM). MUC history on join is capped by the server
 * (Prosody: 20 unless asked, at most `max_history_messages`), so after a longer outage it would
 * silently miss messages; the archive has them all. The bot joins without history and pages
 * through the archive from the cursor; each archived message is turned back into the live form
 * (with its stanza-id and delay) and takes the same path as a live one, so it is deduplicated and
 * ordered the same way.
 *
 * Anyone in a room can send a message carrying a `<result>` element (the room relays it as it
 * is), so an archive result counts only when it comes from the room's bare JID, not as a
 * groupchat message, under a query id we issued and have not seen finish (receive.ts).
 */
import { randomBytes } from "node:crypto";
import xml from "@xmpp/xml";
import type { Element } from "@xmpp/xml";
import { NS } from "./stanza.ts";

export const MAM = "urn:xmpp:mam:2";
const RSM = "http://jabber.org/protocol/rsm";
const FORWARD = "urn:xmpp:forward:0";
const PAGE = 100;
/** The cursor is our clock, the archive the server's: start a little early, duplicates are dropped. */
export const CLOCK_MARGIN_MS = 60_000;

export function discoInfoIq(from: string, room: string): Element {
  return xml("iq", { type: "get", from, to: room }, xml("query", { xmlns: NS.discoInfo }));
}

export function hasMam(discoResult: Element): boolean {
  return discoResult.getChild("query", NS.discoInfo)?.getChildren("feature").some((f) => f.attrs.var === MAM) ?? false;
}

/** A page of the archive after `after` (an archive id), or from `start` (a time) when given. */
export function archiveQuery(from: string, room: string, queryId: string, start: string | undefined, after?: string): Element {
  return xml("iq", { type: "set", from, to: room },
    xml("query", { xmlns: MAM, queryid: queryId },
      xml("x", { xmlns: NS.dataForms, type: "submit" },
        xml("field", { var: "FORM_TYPE", type: "hidden" }, xml("value", {}, MAM)),
        start !== undefined ? xml("field", { var: "start" }, xml("value", {}, start)) : null),
      xml("set", { xmlns: RSM }, xml("max", {}, String(PAGE)), after ? xml("after", {}, after) : null)));
}

/** A fresh query id: unguessable, so no occupant can pass a message off as a result of ours. */
export function newQueryId(): string {
  return `mq-${randomBytes(12).toString("base64url")}`;
}

/** A request for the newest archived message (its result is noted, never bridged). */
export function lastArchivedQuery(from: string, room: string, queryId: string): Element {
  return xml("iq", { type: "set", from, to: room },
    xml("query", { xmlns: MAM, queryid: queryId },
      xml("set", { xmlns: RSM }, xml("max", {}, "1"), xml("before"))));
}

/** Where the next page starts, or undefined when the archive is exhausted. */
export function nextPage(result: Element): string | undefined {
  const fin = result.getChild("fin", MAM);
  if (!fin || fin.attrs.complete === "true") return undefined;
  return fin.getChild("set", RSM)?.getChildText("last") ?? undefined;
}

/**
 * An archived room message, as the room would have sent it live: the inner message addressed to
 * the bot, with the archive id as the room's stanza-id and the archive's timestamp as delay.
 * Undefined when the wrapper is not an archive result from `room`.
 */
export function unwrapArchived(wrapper: Element, room: string): Element | undefined {
  const result = wrapper.getChild("result", MAM);
  const forwarded = result?.getChild("forwarded", FORWARD);
  const inner = forwarded?.getChild("message");
  const id = result?.attrs.id;
  if (!inner || !id) return undefined;
  const from = inner.attrs.from ?? "";
  if (from.toLowerCase().split("/")[0] !== room.toLowerCase()) return undefined;
  const stamp = forwarded!.getChild("delay", NS.delay)?.attrs.stamp;
  // The archive's own stanza-id and date replace whatever the sender put in (a delay inside
  // the archived message was written by its sender, not by the room).
  const live = xml("message", { ...inner.attrs, to: wrapper.attrs.to ?? "", type: "groupchat" },
    ...inner.children.filter((c): c is Element => typeof c !== "string" &&
      !(c.name === "stanza-id" && c.attrs.xmlns === NS.sid) && !(c.name === "delay" && c.attrs.xmlns === NS.delay)));
  live.append(xml("stanza-id", { xmlns: NS.sid, by: room, id }));
  if (stamp) live.append(xml("delay", { xmlns: NS.delay, stamp, from: room }));
  return live;
}
