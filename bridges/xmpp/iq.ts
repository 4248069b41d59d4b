/**
 * Answers to IQ requests addressed to the component, its bot and its puppets: disco#info/items
 * (XEP-0030), vcard-temp (XEP-0054), ping (XEP-0199), version (XEP-0092). Pure. Every get/set
 * gets an answer (`service-unavailable` for what we do not serve, RFC 6120 §8.4); results and
 * errors are never answered, so two entities can never loop.
 */
import xml from "@xmpp/xml";
import type { Element } from "@xmpp/xml";
import { NS, bareJid } from "./stanza.ts";

export interface IqContext {
  /** The component's domain. */
  readonly component: string;
  /** The bot's bare JID (in the component's domain). */
  readonly bot: string;
  readonly version: string;
  /** The other networks we bridge to, as XEP-0030 gateway identity types. */
  readonly gatewayTypes: readonly string[];
  /** A puppet's profile by bare JID (case-insensitive), or undefined if no such puppet. */
  puppet(bare: string): PuppetProfile | undefined;
}

export interface PuppetProfile {
  readonly name: string;
  readonly avatar?: { readonly data: Uint8Array; readonly mime: string };
}

/** XEPs a puppet's client "supports", as far as Junction bridges them. */
export const MESSAGE_FEATURES = [
  NS.chatStates, NS.correct, NS.retract, NS.reactions, NS.reply, NS.fallback, NS.sid, NS.oob,
  "urn:xmpp:hints",
] as const;

export const COMPONENT_FEATURES = [
  NS.discoInfo, NS.discoItems, "http://jabber.org/protocol/commands", NS.muc, NS.vcard, NS.ping, NS.version, ...MESSAGE_FEATURES,
] as const;

export const PUPPET_FEATURES = [NS.discoInfo, NS.vcard, NS.ping, NS.version, ...MESSAGE_FEATURES] as const;

export interface IqAnswer {
  readonly reply?: Element;
  readonly reason?: string;
}

export function answerIq(iq: Element, ctx: IqContext): IqAnswer {
  try {
    return answer(iq, ctx);
  } catch (err) {
    return { reason: `iq handler failed: ${(err as Error).message}` };
  }
}

function answer(iq: Element, ctx: IqContext): IqAnswer {
  const { type, id, from, to } = iq.attrs;
  if (type === "result" || type === "error") return { reason: `iq ${type} is never answered` };
  if (!from || !to || id === undefined) return { reason: "iq without from, to or id" };
  if (type !== "get" && type !== "set") return { reply: error(iq, "modify", "bad-request"), reason: `iq of type ${type}` };
  const children = iq.getChildElements();
  const query = children[0];
  if (children.length !== 1 || !query) return { reply: error(iq, "modify", "bad-request"), reason: "iq without exactly one payload" };

  const target = bareJid(to).toLowerCase();
  const entity: "component" | "bot" | PuppetProfile | undefined =
    target === ctx.component.toLowerCase() ? "component"
    : target === ctx.bot.toLowerCase() ? "bot"
    : ctx.puppet(target);
  if (!entity) return { reply: error(iq, "cancel", "service-unavailable"), reason: `iq to ${to}, which is nobody of ours` };

  const ns = query.attrs.xmlns;
  if (type === "get" && query.is("query", NS.discoInfo) && !query.attrs.node) {
    return { reply: result(iq, discoInfo(entity, ctx)) };
  }
  if (type === "get" && query.is("query", NS.discoItems) && !query.attrs.node) {
    return { reply: result(iq, xml("query", { xmlns: NS.discoItems })) };
  }
  if (type === "get" && query.is("ping", NS.ping)) return { reply: result(iq) };
  if (type === "get" && query.is("query", NS.version)) {
    return { reply: result(iq, xml("query", { xmlns: NS.version }, xml("name", {}, "Junction"), xml("version", {}, ctx.version))) };
  }
  if (query.is("vCard", NS.vcard)) {
    if (type === "set") return { reply: error(iq, "auth", "forbidden"), reason: "vCard set refused" };
    return { reply: result(iq, vcard(entity)) };
  }
  return { reply: error(iq, "cancel", "service-unavailable"), reason: `unsupported iq ${type} ${query.name} ${ns ?? ""}` };
}

function discoInfo(entity: "component" | "bot" | PuppetProfile, ctx: IqContext): Element {
  const q = xml("query", { xmlns: NS.discoInfo });
  if (entity === "component") {
    const types = ctx.gatewayTypes.length > 0 ? ctx.gatewayTypes : ["xmpp"];
    for (const t of types) q.append(xml("identity", { category: "gateway", type: t, name: "Junction" }));
  } else if (entity === "bot") {
    q.append(xml("identity", { category: "client", type: "bot", name: "Junction" }));
  } else {
    // A puppet stands for a person using some other chat network's client.
    q.append(xml("identity", { category: "client", type: "pc", name: entity.name }));
  }
  const features = entity === "component" ? COMPONENT_FEATURES : PUPPET_FEATURES;
  for (const f of features) q.append(xml("feature", { var: f }));
  return q;
}

function vcard(entity: "component" | "bot" | PuppetProfile): Element {
  const name = typeof entity === "string" ? "Junction" : entity.name;
  const card = xml("vCard", { xmlns: NS.vcard }, xml("FN", {}, name), xml("NICKNAME", {}, name));
  if (typeof entity !== "string" && entity.avatar) {
    card.append(xml("PHOTO", {},
      xml("TYPE", {}, entity.avatar.mime),
      xml("BINVAL", {}, Buffer.from(entity.avatar.data).toString("base64"))));
  }
  return card;
}

function result(iq: Element, child?: Element): Element {
  return xml("iq", { type: "result", id: iq.attrs.id, from: iq.attrs.to, to: iq.attrs.from }, child ?? null);
}

export function error(iq: Element, type: string, condition: string, text?: string): Element {
  return xml("iq", { type: "error", id: iq.attrs.id, from: iq.attrs.to, to: iq.attrs.from },
    xml("error", { type },
      xml(condition, { xmlns: NS.stanzas }),
      text ? xml("text", { xmlns: NS.stanzas }, text) : null));
}

/** A vCard result → its PHOTO bytes and type, for fetchMedia("xmpp-vcard:…"). */
export function photoOfVcard(iqResult: Element): { data: Uint8Array; mime: string } | undefined {
  const photo = iqResult.getChild("vCard", NS.vcard)?.getChild("PHOTO");
  const b64 = photo?.getChildText("BINVAL")?.replace(/\s+/g, "");
  if (!b64) return undefined;
  return { data: new Uint8Array(Buffer.from(b64, "base64")), mime: photo?.getChildText("TYPE")?.trim() || "image/png" };
}
