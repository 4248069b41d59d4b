import { describe, expect, it } from "vitest";
import { actorId, roomRef } from "../../core/events.ts";
import { puppetJid } from "../../bridges/xmpp/jid-escape.ts";
import { addressee, nickIn, withAddressee } from "../../bridges/xmpp/mentions.ts";
import { RoomState } from "../../bridges/xmpp/rooms.ts";

const people = new Map([["carol", actorId("@carol:hs")], ["Alice A.", actorId("80351110224678912")], ["a:b", actorId("x@y")]]);
const mentionable = (nick: string) => {
  const id = people.get(nick);
  return id ? { id, network: id.startsWith("@") ? "matrix" as const : id.includes("@") ? "xmpp" as const : "discord" as const } : undefined;
};

describe("XMPP addressee mentions", () => {
  it.each<[string, string | undefined]>([
    ["carol: hi", "carol"],
    ["carol, hi", "carol"],
    ["Alice A.: look", "Alice A."],
    ["a:b: tricky nick with a colon", "a:b"],
    ["hi carol: not at the start", undefined],
    ["carolyn: another person", undefined],
    ["carol hi", undefined],
    ["Carol: nicks are exact", undefined],
    [": nothing", undefined],
    ["", undefined],
  ])("%j → %s", (body, nick) => {
    expect(addressee(body, mentionable)?.nick).toBe(nick);
  });

  it("the addressee becomes a mention node and the only person mentioned", () => {
    const r = withAddressee({ text: "carol: see @everyone" }, mentionable);
    expect(r.mentions).toEqual(["@carol:hs"]);
    expect(r.body.rich).toEqual([{ t: "para", children: [{ t: "mention", id: "@carol:hs", name: "carol", network: "matrix" }, { t: "text", text: ": see @everyone" }] }]);
    expect(r.body.text).toBe("@carol: see @everyone");
  });

  it("formatting after the addressee is kept", () => {
    const r = withAddressee({ text: "x", rich: [{ t: "para", children: [{ t: "text", text: "carol, " }, { t: "bold", children: [{ t: "text", text: "now" }] }] }] }, mentionable);
    expect(r.body.rich?.[0]).toEqual({ t: "para", children: [{ t: "mention", id: "@carol:hs", name: "carol", network: "matrix" }, { t: "text", text: ", " }, { t: "bold", children: [{ t: "text", text: "now" }] }] });
  });

  it("a message addressed to nobody known mentions nobody", () => {
    expect(withAddressee({ text: "zed: hi" }, mentionable)).toEqual({ body: { text: "zed: hi" }, mentions: [] });
  });

  it("a 100 KB body of colons costs at most the nick limit's look-ups", () => {
    let calls = 0;
    addressee(":".repeat(100_000), () => { calls++; return undefined; });
    expect(calls).toBeLessThanOrEqual(128);
  });
});

describe("the nick a room shows for a mentioned person", () => {
  const ROOM = "lobby@conference.example.org";
  const COMPONENT = "bridge.example.org";
  const state = new RoomState(roomRef(ROOM));
  state.occupants.set("alice", { nick: "alice", realJid: "alice@example.org" } as never);
  state.occupants.set("Junction", { nick: "Junction", ours: true } as never);
  const dana = "80351110224678912";
  state.puppets.set(puppetJid("discord", dana, COMPONENT).toLowerCase(), { bare: puppetJid("discord", dana, COMPONENT), nick: "Dana (discord)", joined: true });
  state.puppets.set(puppetJid("matrix", "@gone:hs", COMPONENT).toLowerCase(), { bare: puppetJid("matrix", "@gone:hs", COMPONENT), nick: "gone", joined: false });

  it.each<[string, string, "xmpp" | "matrix" | "discord" | undefined, string | undefined]>([
    ["a native occupant by real JID", "alice@example.org", "xmpp", "alice"],
    ["a native occupant by occupant JID", `${ROOM}/alice`, "xmpp", "alice"],
    ["an occupant who left", `${ROOM}/zed`, "xmpp", undefined],
    ["the bot is nobody to mention", `${ROOM}/Junction`, "xmpp", undefined],
    ["a Discord person: their puppet's nick, not their label", dana, "discord", "Dana (discord)"],
    ["a puppet that has not joined", "@gone:hs", "matrix", undefined],
    ["a person of another network who never spoke here", "@new:hs", "matrix", undefined],
    ["an id of unknown network is looked for everywhere", dana, undefined, "Dana (discord)"],
  ])("%s", (_n, id, network, nick) => {
    expect(nickIn(state, { id: actorId(id), ...(network ? { network } : {}) }, COMPONENT)).toBe(nick);
  });
});
