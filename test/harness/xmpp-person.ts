/**
 * A person on XMPP for end-to-end tests: a real @xmpp/client connection to the test Prosody, not a
 * call into Junction's own code. Everything received is buffered so `waitFor` never misses a stanza.
 */
import { randomBytes } from "node:crypto";
import { client, xml } from "@xmpp/client";
import type { Element } from "@xmpp/xml";
import type { Entity } from "@xmpp/xmpp-entity";
import type { ProsodyServer } from "./prosody.ts";
import { ArrivalBuffer, type Predicate } from "./stanza-buffer.ts";

const MUC = "http://jabber.org/protocol/muc";
const MUC_USER = "http://jabber.org/protocol/muc#user";

export interface Person {
  /** The full JID once online (user@localhost/resource). */
  readonly jid: string;
  readonly bareJid: string;
  readonly xmpp: Entity;
  /** Every stanza received since connecting, oldest first. */
  readonly received: readonly Element[];
  /** Joins a MUC and resolves with the self-presence (status 110); rejects on an error presence. */
  join(roomJid: string, nick: string, opts?: { maxHistory?: number; timeoutMs?: number }): Promise<Element>;
  leave(roomJid: string): Promise<void>;
  /** Sends a groupchat message and returns its id; extra children (origin-id, reply…) are appended. */
  say(roomJid: string, text: string, extra?: Element | Element[]): Promise<string>;
  send(stanza: Element): Promise<void>;
  /** The first stanza (already received or arriving within timeoutMs) that matches. */
  waitFor(predicate: Predicate<Element>, timeoutMs?: number, what?: string): Promise<Element>;
  /** Groupchat messages with a body received from this room (history included). */
  messages(roomJid: string): Element[];
  stop(): Promise<void>;
}

export async function connectPerson(
  server: Pick<ProsodyServer, "c2sService" | "host">,
  user: string,
  password: string,
  opts: { resource?: string; reconnect?: boolean } = {},
): Promise<Person> {
  const entity = client({
    service: server.c2sService,
    domain: server.host,
    resource: opts.resource ?? "test",
    username: user,
    password,
  });
  if (!opts.reconnect) entity.reconnect.stop();
  const buffer = new ArrivalBuffer<Element>((s) => s.toString().slice(0, 300));
  const errors: Error[] = [];
  entity.on("error", (err: Error) => errors.push(err));
  entity.on("stanza", (stanza: Element) => buffer.push(stanza));

  let fullJid: string;
  try {
    fullJid = (await entity.start()).toString();
  } catch (err) {
    throw new Error(`XMPP person ${user}@${server.host} could not log in at ${server.c2sService}: ${(err as Error).message}`);
  }
  await entity.send(xml("presence"));

  const bare = (jid: string | undefined): string => (jid ?? "").split("/")[0] ?? "";
  const person: Person = {
    jid: fullJid,
    bareJid: bare(fullJid),
    xmpp: entity,
    received: buffer.items,
    async join(roomJid, nick, joinOpts = {}) {
      const from = buffer.items.length;
      const x = xml("x", { xmlns: MUC });
      if (joinOpts.maxHistory !== undefined) x.append(xml("history", { maxstanzas: String(joinOpts.maxHistory) }));
      const occupant = `${roomJid}/${nick}`;
      const reply = buffer.waitFor(
        (s) =>
          s.is("presence") &&
          s.attrs.from === occupant &&
          (s.attrs.type === "error" ||
            (s.getChild("x", MUC_USER)?.getChildren("status").some((st) => st.attrs.code === "110") ?? false)),
        joinOpts.timeoutMs ?? 5000,
        `self-presence from ${occupant}`,
        from,
      );
      await entity.send(xml("presence", { to: occupant }, x));
      const presence = await reply;
      if (presence.attrs.type === "error") {
        const condition = presence.getChild("error")?.getChildElements()[0]?.name ?? "unknown";
        throw new Error(`${fullJid} could not join ${occupant}: ${condition}`);
      }
      return presence;
    },
    async leave(roomJid) {
      const own = buffer.items.find(
        (s) => s.is("presence") && bare(s.attrs.from) === roomJid && s.getChild("x", MUC_USER)?.getChildByAttr("code", "110"),
      );
      const to = own?.attrs.from ?? `${roomJid}/${user}`;
      await entity.send(xml("presence", { to, type: "unavailable" }));
    },
    async say(roomJid, text, extra) {
      const id = `p-${randomBytes(6).toString("hex")}`;
      const extras = extra === undefined ? [] : Array.isArray(extra) ? extra : [extra];
      await entity.send(xml("message", { to: roomJid, type: "groupchat", id }, xml("body", {}, text), ...extras));
      return id;
    },
    send(stanza) {
      return entity.send(stanza);
    },
    waitFor(predicate, timeoutMs = 5000, what) {
      return buffer.waitFor(predicate, timeoutMs, what ?? `a stanza for ${fullJid}`);
    },
    messages(roomJid) {
      return buffer.items.filter(
        (s) => s.is("message") && s.attrs.type === "groupchat" && bare(s.attrs.from) === roomJid && s.getChild("body") !== undefined,
      );
    },
    async stop() {
      buffer.close(new Error(`${fullJid} was stopped`));
      try {
        await entity.stop();
      } catch {
        // already gone (server stopped first)
      }
    },
  };
  return person;
}

/** Registers user (password "<user>-pw") on the test Prosody and connects as them. */
export async function newPerson(server: ProsodyServer, user: string): Promise<Person> {
  const password = `${user}-pw`;
  await server.registerUser(user, password);
  return connectPerson(server, user, password);
}
