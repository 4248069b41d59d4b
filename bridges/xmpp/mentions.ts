/**
 * Mentions on XMPP, which has no mention markup: a message that starts with an occupant's nick
 * followed by ':' or ',' (how XMPP clients address someone) mentions that occupant. Going out, a
 * mention is the nick the room shows for that person (nickIn); references.ts adds XEP-0372.
 */
import { NETWORKS, type ActorId, type Body, type Network } from "../../core/events.ts";
import { docOf, richBody } from "../../core/richtext/body.ts";
import { mentionsIn, text, type Inline, type MentionNode } from "../../core/richtext/tree.ts";
import { puppetJid } from "./jid-escape.ts";
import type { RoomState } from "./rooms.ts";
import { resourceOf } from "./stanza.ts";

/** Nicks longer than this are not looked for at the start of a message. */
const MAX_NICK_CHARS = 128;

/** The person a nick in this room stands for: a native occupant, or the remote person of our puppet. */
export type Mentionable = (nick: string) => { readonly id: ActorId; readonly network: Network } | undefined;

export function addressee(body: string, mentionable: Mentionable): { nick: string; id: ActorId; network: Network } | undefined {
  const end = Math.min(body.length, MAX_NICK_CHARS + 1);
  for (let i = 1; i < end; i++) {
    const c = body[i];
    if (c !== ":" && c !== ",") continue;
    const nick = body.slice(0, i);
    const who = mentionable(nick);
    if (who) return { nick, ...who };
  }
  return undefined;
}

/** The body with its addressee as a mention, and everyone it mentions. */
export function withAddressee(body: Body, mentionable: Mentionable): { body: Body; mentions: ActorId[] } {
  const doc = docOf(body);
  const first = doc[0];
  const lead = first?.t === "para" ? first.children[0] : undefined;
  if (first?.t === "para" && lead?.t === "text") {
    const to = addressee(lead.text, mentionable);
    if (to) {
      const children: Inline[] = [{ t: "mention", id: to.id, name: to.nick, network: to.network }, text(lead.text.slice(to.nick.length)), ...first.children.slice(1)];
      const rich = richBody([{ t: "para", children }, ...doc.slice(1)]);
      return { body: rich, mentions: mentionsIn(rich.rich ?? []) };
    }
  }
  return { body, mentions: body.rich ? mentionsIn(body.rich) : [] };
}

/**
 * The nick `state`'s room shows now for a mentioned person: a native occupant's own nick, or the
 * nick of our puppet (in `component`) for someone from another network. Undefined when they are
 * not in the room.
 */
export function nickIn(state: RoomState, m: Pick<MentionNode, "id" | "network">, component: string): string | undefined {
  if (m.network === "xmpp" || m.network === undefined) {
    const nick = resourceOf(state.occupantJidOf(m.id) ?? "");
    const o = nick ? state.occupants.get(nick) : undefined;
    if (nick && o && !o.ours) return nick;
    if (m.network === "xmpp") return undefined;
  }
  for (const n of m.network ? [m.network] : NETWORKS.filter((x) => x !== "xmpp")) {
    const p = state.puppets.get(puppetJid(n, m.id, component).toLowerCase());
    if (p?.nick && (p.joined || p.lingering)) return p.nick;
  }
  return undefined;
}
