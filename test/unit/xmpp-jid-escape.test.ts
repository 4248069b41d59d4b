import { describe, expect, it } from "vitest";
import {
  MAX_NODE_BYTES, actorFromPuppetNode, escapeNode, puppetJid, puppetNode, unescapeNode,
} from "../../bridges/xmpp/jid-escape.ts";

describe("XEP-0106 escaping", () => {
  it.each<[string, string]>([
    ["space cadet", "space\\20cadet"],
    ["call me \"ishmael\"", "call\\20me\\20\\22ishmael\\22"],
    ["at&t guy", "at\\26t\\20guy"],
    ["d'artagnan", "d\\27artagnan"],
    ["/.fanboy", "\\2f.fanboy"],
    ["::foo::", "\\3a\\3afoo\\3a\\3a"],
    ["<foo>", "\\3cfoo\\3e"],
    ["user@host", "user\\40host"],
    ["c:\\net", "c\\3a\\net"],
    ["c:\\\\net", "c\\3a\\\\net"],
    ["c:\\cool stuff", "c\\3a\\cool\\20stuff"],
    ["c:\\5commas", "c\\3a\\5c5commas"],
    ["@alice:example.org", "\\40alice\\3aexample.org"],
    ["héllo✓", "héllo✓"],
  ])("%s ⇄ %s (the XEP's table)", (raw, escaped) => {
    expect(escapeNode(raw)).toBe(escaped);
    expect(unescapeNode(escaped)).toBe(raw);
  });
});

describe("puppet JIDs", () => {
  it("builds the documented form", () => {
    expect(puppetJid("matrix", "@alice:example.org", "bridge.example.org"))
      .toBe("matrix_\\40alice\\3aexample.org@bridge.example.org");
  });
  it.each(["@alice:example.org", "123456789012345678", "a_b_c", "x\\20y", "emoji 🎉 name"])("round-trips %s", (actor) => {
    expect(actorFromPuppetNode(puppetNode("discord", actor))).toEqual({ network: "discord", actor });
  });
  it.each([
    ["a very long id", "@" + "x".repeat(5000) + ":example.org"],
    ["multibyte", "😀".repeat(600)],
    ["leading space", " alice"],
    ["control char", "al\u0001ice"],
    ["empty", ""],
    ["looks hashed", "name~h0123456789abcdef0123456789abcdef"],
  ])("hash-truncates what cannot be escaped into 1023 bytes (%s)", (_what, actor) => {
    const node = puppetNode("matrix", actor);
    expect(Buffer.byteLength(node)).toBeLessThanOrEqual(MAX_NODE_BYTES);
    expect(node).toMatch(/~h[0-9a-f]{32}$/);
    expect(node).not.toMatch(/[\u0000-\u001f ]/);
    expect(actorFromPuppetNode(node)).toBeUndefined();
    expect(puppetNode("matrix", actor)).toBe(node); // stable
  });
  it("two long ids that share a prefix get different nodes", () => {
    const a = "@" + "x".repeat(2000) + "a:example.org";
    const b = "@" + "x".repeat(2000) + "b:example.org";
    expect(puppetNode("matrix", a)).not.toBe(puppetNode("matrix", b));
  });
  it("refuses a foreign node", () => {
    expect(actorFromPuppetNode("junction")).toBeUndefined();
  });
});
