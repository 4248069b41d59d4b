import { describe, expect, it } from "vitest";
import { actorId } from "../../core/events.ts";
import { addressee, withAddressee } from "../../bridges/xmpp/mentions.ts";

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
