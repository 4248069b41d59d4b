/**
 * A person in one room for the XMPP bridge's end-to-end tests: a real @xmpp/client connection to
 * the harness Prosody (test/harness/prosody.ts), recording everything it hears.
 */
import { client, xml } from "@xmpp/client";
import type { Entity } from "@xmpp/xmpp-entity";
import type { Element } from "@xmpp/xml";
import type { ProsodyServer } from "../harness/prosody.ts";

/** The older shape some tests still pass (a layout with the c2s port); prefer a ProsodyServer. */
export interface TestProsody {
  readonly layout: { readonly c2sPort: number; readonly host: string };
}
type Server = Pick<ProsodyServer, "c2sService" | "host"> | TestProsody;

/** A real XMPP client in one room, recording what it hears. */
export class Person {
  readonly xmpp: Entity;
  readonly nick: string;
  readonly room: string;
  readonly heard: Element[] = [];
  #listeners: ((el: Element) => void)[] = [];

  /** Logs in as `user` with password "pw". */
  constructor(p: Server, user: string, room: string, nick = user) {
    this.nick = nick;
    this.room = room;
    const { service, domain } = "layout" in p
      ? { service: `xmpp://127.0.0.1:${p.layout.c2sPort}`, domain: p.layout.host }
      : { service: p.c2sService, domain: p.host };
    this.xmpp = client({ service, domain, username: user, password: "pw", resource: "test" });
    this.xmpp.reconnect.stop();
    this.xmpp.on("error", () => undefined);
    this.xmpp.on("stanza", (el: Element) => {
      this.heard.push(el);
      for (const l of this.#listeners) l(el);
    });
  }

  async join(): Promise<void> {
    await this.xmpp.start();
    const joined = this.waitFor((el) => el.is("presence") && el.attrs.from === `${this.room}/${this.nick}`);
    await this.xmpp.send(xml("presence", { to: `${this.room}/${this.nick}` }, xml("x", { xmlns: "http://jabber.org/protocol/muc" }, xml("history", { maxchars: 0 }))));
    await joined;
  }

  async say(body: string, ...extra: Element[]): Promise<string> {
    const id = `p-${Math.random().toString(36).slice(2)}`;
    await this.xmpp.send(xml("message", { type: "groupchat", to: this.room, id }, xml("body", {}, body), ...extra));
    return id;
  }

  async send(...children: Element[]): Promise<string> {
    const id = `p-${Math.random().toString(36).slice(2)}`;
    await this.xmpp.send(xml("message", { type: "groupchat", to: this.room, id }, ...children));
    return id;
  }

  /** Resolves with the first stanza (already heard or yet to come) that matches. */
  waitFor(match: (el: Element) => boolean, timeoutMs = 10_000, from = 0): Promise<Element> {
    const seen = this.heard.slice(from).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners = this.#listeners.filter((l) => l !== listener);
        reject(new Error(`${this.nick} did not hear the expected stanza within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (el: Element) => {
        if (!match(el)) return;
        clearTimeout(timer);
        this.#listeners = this.#listeners.filter((l) => l !== listener);
        resolve(el);
      };
      this.#listeners.push(listener);
    });
  }

  messages(): Element[] {
    return this.heard.filter((el) => el.is("message") && el.attrs.type === "groupchat" && el.getChild("body"));
  }

  async stop(): Promise<void> {
    await this.xmpp.stop().catch(() => undefined);
  }
}
