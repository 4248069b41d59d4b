/**
 * XEP-0050 ad-hoc commands on the component's domain JID: the admin commands (core/admin.ts) for
 * XMPP clients. Who asks is the `from` the XMPP server stamps on the component stream, as a bare
 * JID; the desk decides whether that is an admin and logs every command and refusal. Commands
 * that need a link ask for it in a form (XEP-0004, a list-single of the link names) and finish
 * when it is submitted; a session lives ten minutes and belongs to the full JID that opened it.
 */
import { randomBytes } from "node:crypto";
import xml from "@xmpp/xml";
import type { Element } from "@xmpp/xml";
import type { Action, Actor, AdminDesk, Answer, Done } from "../../core/admin.ts";
import { pauseText, pausedText, reloadText, retryText, roomLines } from "../../core/admin-text.ts";
import { error } from "./iq.ts";
import { NS, bareJid } from "./stanza.ts";

export const COMMANDS_NS = "http://jabber.org/protocol/commands";

/** The commands, in the order clients list them. */
const COMMANDS: readonly { node: Action; name: string; needsLink: boolean }[] = [
  { node: "links", name: "List links", needsLink: false },
  { node: "status", name: "Link status", needsLink: true },
  { node: "retry", name: "Retry a link's failed deliveries", needsLink: true },
  { node: "pause", name: "Pause a link", needsLink: true },
  { node: "resume", name: "Resume a link", needsLink: true },
  { node: "reload", name: "Reload the config", needsLink: false },
];

const SESSION_TTL_MS = 10 * 60_000;
const MAX_SESSIONS = 100;

interface Session { readonly node: Action; readonly requester: string; readonly expires: number }

export class AdHocCommands {
  readonly #component: string;
  readonly #desk: AdminDesk;
  readonly #sessions = new Map<string, Session>();

  constructor(component: string, desk: AdminDesk) {
    this.#component = component.toLowerCase();
    this.#desk = desk;
  }

  /** Whether this IQ is ours to answer: a command list, a command's info, or a command. */
  handles(iq: Element): boolean {
    if ((iq.attrs.to ?? "").toLowerCase() !== this.#component || !iq.attrs.from || iq.attrs.id === undefined) return false;
    const [query] = iq.getChildElements();
    if (!query) return false;
    if (iq.attrs.type === "get" && (query.is("query", NS.discoItems) || query.is("query", NS.discoInfo))) {
      const node = query.attrs.node;
      return node === COMMANDS_NS || COMMANDS.some((c) => c.node === node);
    }
    return iq.attrs.type === "set" && query.is("command", COMMANDS_NS);
  }

  async answer(iq: Element): Promise<Element> {
    const from = iq.attrs.from!;
    const actor: Actor = { network: "xmpp", id: bareJid(from).toLowerCase(), via: `ad-hoc command to ${this.#component}` };
    const query = iq.getChildElements()[0]!;
    if (query.is("query", NS.discoItems)) return result(iq, this.#list(query.attrs.node, actor));
    if (query.is("query", NS.discoInfo)) return result(iq, commandInfo(query.attrs.node));
    return this.#command(iq, query, actor, from);
  }

  /** Admins see every command; anyone else an empty list (XEP-0050 §2.2 allows hiding them). */
  #list(node: string | undefined, actor: Actor): Element {
    const q = xml("query", { xmlns: NS.discoItems, node });
    if (node !== COMMANDS_NS || !this.#desk.isAdmin(actor)) return q;
    for (const c of COMMANDS) q.append(xml("item", { jid: this.#component, node: c.node, name: c.name }));
    return q;
  }

  async #command(iq: Element, cmd: Element, actor: Actor, requester: string): Promise<Element> {
    const spec = COMMANDS.find((c) => c.node === cmd.attrs.node);
    if (!spec) return error(iq, "cancel", "item-not-found", `there is no command "${cmd.attrs.node ?? ""}"`);
    const action = cmd.attrs.action ?? "execute";
    this.#expire();
    const sessionId = cmd.attrs.sessionid;
    if (sessionId !== undefined) {
      const s = this.#sessions.get(sessionId);
      if (!s || s.requester !== requester || s.node !== spec.node) return badSession(iq, "this command session is over or was never opened: run the command again");
      if (action === "cancel") {
        this.#sessions.delete(sessionId);
        return result(iq, xml("command", { xmlns: COMMANDS_NS, node: spec.node, sessionid: sessionId, status: "canceled" }));
      }
    } else if (action === "cancel") {
      return result(iq, xml("command", { xmlns: COMMANDS_NS, node: spec.node, status: "canceled" }));
    }
    if (!["execute", "complete", "next"].includes(action)) return error(iq, "modify", "bad-request", `action "${action}" is not one this command has`);
    const link = submittedLink(cmd);
    if (!this.#desk.isAdmin(actor) || !spec.needsLink || link !== undefined) {
      if (sessionId !== undefined) this.#sessions.delete(sessionId);
      return this.#finish(iq, spec.node, await this.#desk.run(actor, spec.node, link), sessionId);
    }
    // An admin, a command that needs a link, none given yet: ask for it.
    const id = sessionId ?? randomBytes(8).toString("hex");
    if (this.#sessions.size >= MAX_SESSIONS) this.#sessions.delete(this.#sessions.keys().next().value!);
    this.#sessions.set(id, { node: spec.node, requester, expires: Date.now() + SESSION_TTL_MS });
    return result(iq, xml("command", { xmlns: COMMANDS_NS, node: spec.node, sessionid: id, status: "executing" },
      xml("actions", { execute: "complete" }, xml("complete")),
      linkForm(spec.name, this.#desk.linkNames())));
  }

  #finish(iq: Element, node: Action, answer: Answer<Action>, sessionId: string | undefined): Element {
    if (!answer.ok && "refused" in answer) return error(iq, "auth", "forbidden", answer.refused);
    const done = (...children: Element[]) =>
      result(iq, xml("command", { xmlns: COMMANDS_NS, node, sessionid: sessionId ?? randomBytes(8).toString("hex"), status: "completed" }, ...children));
    if (!answer.ok) return done(note("error", answer.error));
    return done(...resultOf({ action: node, value: answer.value } as Done));
  }

  #expire(): void {
    const now = Date.now();
    for (const [id, s] of this.#sessions) if (s.expires <= now) this.#sessions.delete(id);
  }
}

/** The result form (and a note where words say it best) of a command that ran. */
function resultOf(done: Done): Element[] {
  switch (done.action) {
    case "links":
      return [xml("x", { xmlns: NS.dataForms, type: "result" },
        xml("title", {}, "Links"),
        xml("reported", {}, ...["link", "state", "rooms", "queued", "failed"].map((f) => xml("field", { var: f, label: f[0]!.toUpperCase() + f.slice(1) }))),
        ...done.value.map((l) => xml("item", {},
          field("link", l.name), field("state", l.paused ? "paused" : "active"),
          field("rooms", l.rooms.map((r) => `${r.network} ${r.room}`).join(", ")),
          field("queued", String(l.queued)), field("failed", String(l.failed)))))];
    case "status": {
      const l = done.value.links[0]!;
      return [xml("x", { xmlns: NS.dataForms, type: "result" },
        xml("title", {}, `Link ${l.name}`),
        field("link", l.name, "Link"), field("state", pausedText(l), "State"),
        field("queued", String(l.queued), "Queued"), field("failed", String(l.failed), "Failed"),
        field("rooms", roomLines(l), "Rooms", "text-multi"))];
    }
    case "retry":
      return [note("info", retryText(done.value)), form(field("link", done.value.link, "Link"), field("requeued", String(done.value.requeued), "Put back"))];
    case "pause": case "resume": {
      const p = done.value;
      return [note("info", pauseText(p)), form(field("link", p.link, "Link"), field("state", p.paused ? "paused" : "active", "State"), field("queued", String(p.queued), "Queued"))];
    }
    case "reload":
      return [note(done.value.applied ? "info" : "warn", reloadText(done.value)), form(field("applied", done.value.applied ? "yes" : "no", "Applied"))];
    case "help":
      return [];
  }
}

function commandInfo(node: string | undefined): Element {
  const q = xml("query", { xmlns: NS.discoInfo, node });
  const spec = COMMANDS.find((c) => c.node === node);
  if (spec) {
    q.append(xml("identity", { category: "automation", type: "command-node", name: spec.name }));
    q.append(xml("feature", { var: COMMANDS_NS }));
    q.append(xml("feature", { var: NS.dataForms }));
  } else {
    q.append(xml("identity", { category: "automation", type: "command-list", name: "Junction admin commands" }));
  }
  return q;
}

function linkForm(title: string, links: readonly string[]): Element {
  return xml("x", { xmlns: NS.dataForms, type: "form" },
    xml("title", {}, title),
    xml("instructions", {}, "Choose a link."),
    xml("field", { var: "link", type: "list-single", label: "Link" },
      xml("required"),
      ...links.map((name) => xml("option", { label: name }, xml("value", {}, name)))));
}

/** The link a submitted form names, if the command carries one. */
function submittedLink(cmd: Element): string | undefined {
  const x = cmd.getChild("x", NS.dataForms);
  if (!x || (x.attrs.type !== "submit" && x.attrs.type !== undefined)) return undefined;
  const value = x.getChildren("field").find((f) => f.attrs.var === "link")?.getChildText("value")?.trim();
  return value === undefined || value === "" ? undefined : value;
}

function field(name: string, value: string | readonly string[], label?: string, type?: string): Element {
  const values = typeof value === "string" ? [value] : value;
  return xml("field", { var: name, ...(label ? { label } : {}), ...(type ? { type } : {}) }, ...values.map((v) => xml("value", {}, v)));
}

function form(...fields: Element[]): Element {
  return xml("x", { xmlns: NS.dataForms, type: "result" }, ...fields);
}

function note(type: "info" | "warn" | "error", text: string): Element {
  return xml("note", { type }, text);
}

function badSession(iq: Element, text: string): Element {
  return xml("iq", { type: "error", id: iq.attrs.id, from: iq.attrs.to, to: iq.attrs.from },
    xml("error", { type: "modify" },
      xml("bad-request", { xmlns: NS.stanzas }),
      xml("bad-sessionid", { xmlns: COMMANDS_NS }),
      xml("text", { xmlns: NS.stanzas }, text)));
}

function result(iq: Element, child: Element): Element {
  return xml("iq", { type: "result", id: iq.attrs.id, from: iq.attrs.to, to: iq.attrs.from }, child);
}
