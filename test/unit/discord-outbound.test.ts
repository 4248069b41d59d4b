import { describe, expect, it } from "vitest";
import { remoteId } from "../../core/events.ts";
import { ChannelNames, webhookUsername } from "../../bridges/discord/ids.ts";
import {
  allowedMentions, fileLine, reactionRoute, replyLine, splitContent, withMentions,
} from "../../bridges/discord/outbound.ts";
import { escapeMarkdown } from "../../bridges/discord/markdown-out.ts";
import { docFromMarkdown } from "../../bridges/discord/markdown-in.ts";
import { plainText } from "../../core/richtext/plain.ts";

describe("webhook usernames (Discord's rules)", () => {
  it.each([
    ["Alice", "Alice"],
    ["  spaced \n out\t", "spaced out"],
    ["e\u0301cole", "\u00e9cole"], // NFC
    ["", "someone"],
    ["\u200b", "someone"],
  ])("%j → %j", (name, want) => {
    expect(webhookUsername(name)).toBe(want);
  });

  it("never contains discord or clyde, in any case", () => {
    for (const n of ["discord", "My Discord Bot", "CLYDE", "clydefan", "xDiScOrDx"]) {
      const u = webhookUsername(n);
      expect(u.toLowerCase()).not.toContain("discord");
      expect(u.toLowerCase()).not.toContain("clyde");
      expect(u.length).toBe(n.length); // a look-alike letter, not a removal
    }
  });

  it("is never everyone or here", () => {
    expect(webhookUsername("everyone")).toBe("everyone (bridged)");
    expect(webhookUsername("HERE")).toBe("HERE (bridged)");
    expect(webhookUsername("everyone else")).toBe("everyone else");
  });

  it("is at most 80 characters, with the suffix kept", () => {
    const long = "x".repeat(200);
    expect([...webhookUsername(long)]).toHaveLength(80);
    const suffixed = webhookUsername(long, "(xmpp)");
    expect([...suffixed]).toHaveLength(80);
    expect(suffixed.endsWith("… (xmpp)")).toBe(true);
    expect([...webhookUsername("😀".repeat(100))]).toHaveLength(80); // code points, no broken pairs
  });

  it("two people who would show the same name get a distinguishing suffix, stable per person", () => {
    const names = new ChannelNames();
    expect(names.claim("xmpp\0a", "xmpp", "Sam")).toBe("Sam");
    expect(names.claim("matrix\0b", "matrix", "Sam")).toBe("Sam (matrix)");
    expect(names.claim("matrix\0c", "matrix", "sam")).toBe("sam (matrix 2)");
    expect(names.claim("xmpp\0a", "xmpp", "Sam")).toBe("Sam");
    expect(names.claim("matrix\0b", "matrix", "Sam")).toBe("Sam (matrix)");
    // A rename frees the old name.
    expect(names.claim("xmpp\0a", "xmpp", "Samuel")).toBe("Samuel");
    expect(names.claim("matrix\0c", "matrix", "Sam")).toBe("Sam");
  });
});

describe("splitting messages at 2,000 characters", () => {
  it("keeps a short message whole", () => {
    expect(splitContent("hello")).toEqual(["hello"]);
  });

  it("splits at spaces, never inside a word, and loses nothing", () => {
    const words = Array.from({ length: 900 }, (_, i) => `w${String(i).padStart(3, "0")}`).join(" ");
    const parts = splitContent(words);
    expect(parts).toHaveLength(3);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(2000);
      expect(p).toMatch(/^w\d{3}( w\d{3})*$/);
    }
    expect(parts.join(" ")).toBe(words);
  });

  it("prefers a paragraph, then a line", () => {
    const a = "a".repeat(1500);
    const b = "b".repeat(1500);
    expect(splitContent(`${a}\n\n${b}`)).toEqual([a, b]);
    expect(splitContent(`${a}\n${b}`)).toEqual([a, b]);
  });

  it("closes a code block at the end of a part and reopens it with its language", () => {
    const code = Array.from({ length: 200 }, (_, i) => `let x${i} = ${i};`).join("\n");
    const parts = splitContent(`look:\n\`\`\`ts\n${code}\n\`\`\`\ndone`);
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(2000);
      expect((p.match(/```/g) ?? []).length % 2).toBe(0); // every part's fences are balanced
    }
    expect(parts[1]!.startsWith("```ts\n")).toBe(true);
    expect(parts.at(-1)!.endsWith("done")).toBe(true);
  });

  it("continues a quote that had to be cut in its middle as a quote", () => {
    const quote = `> ${"word ".repeat(500)}`.trim();
    const parts = splitContent(quote);
    expect(parts.length).toBe(2);
    expect(parts[0]!.startsWith("> ")).toBe(true);
    expect(parts[1]!.startsWith("> ")).toBe(true);
  });

  it("cuts a word with no space in it hard, without splitting a surrogate pair", () => {
    const parts = splitContent("😀".repeat(1500));
    expect(parts.every((p) => p.length <= 2000 && !/[\ud800-\udbff]$/.test(p))).toBe(true);
    expect(parts.join("")).toBe("😀".repeat(1500));
  });
});

describe("allowed_mentions", () => {
  it("pings only the mapped Discord people, never @everyone, @here or roles", () => {
    expect(allowedMentions(["123456789012345678", "not-a-snowflake", "123456789012345678"])).toEqual({
      parse: [], users: ["123456789012345678"], roles: [], replied_user: false,
    });
  });

  it("lets @everyone ping only where config allows it", () => {
    expect(allowedMentions([], true).parse).toEqual(["everyone"]);
  });

  it("puts native mentions where the name was", () => {
    const id = "123456789012345678";
    expect(withMentions("hi Alice, look", [{ id, names: ["Alice"] }])).toBe(`hi <@${id}>, look`);
    expect(withMentions("@alice look", [{ id, names: ["Alice"] }])).toBe(`<@${id}> look`);
    expect(withMentions("Malice look", [{ id, names: ["Alice"] }])).toBe(`<@${id}> Malice look`);
    expect(withMentions(`<@${id}> already`, [{ id, names: ["Alice"] }])).toBe(`<@${id}> already`);
  });
});

describe("reply quote line", () => {
  const target = { remoteId: remoteId("222222222222222222"), authorName: "Bob", excerpt: "what time is it?" };
  it("is one line with the author, the start of the text and a jump link", () => {
    expect(replyLine(target, "https://discord.com/channels/1/2/3")).toBe("> **Bob**: what time is it? [↩](<https://discord.com/channels/1/2/3>)");
  });
  it("is short, and the quoted text cannot ping, link or format", () => {
    const line = replyLine({ ...target, excerpt: `@everyone <@80351110224678912> [x](https://evil) **b** ${"long ".repeat(40)}` }, undefined);
    expect(line).not.toContain("\n");
    expect([...line].length).toBeLessThan(150);
    // Read back as Discord reads it: the quoted words are words (allowed_mentions keeps @everyone from pinging).
    const doc = docFromMarkdown(line, { cdn: "", userName: () => undefined, channelName: () => undefined, roleName: () => undefined });
    const quote = doc[0]!;
    expect(quote.t).toBe("quote");
    const inner = quote.t === "quote" ? quote.children[0]! : quote;
    expect(inner.t === "para" && inner.children.map((c) => c.t)).toEqual(["bold", "text", "link", "text"]);
    expect(plainText(doc)).toContain("<@80351110224678912> [x](https://evil) **b**");
  });
  it("is escaped by markdown-out's one escape", () => {
    expect(escapeMarkdown("*a* _b_ `c` <@1>")).toBe("\\*a\\* \\_b\\_ \\`c\\` \\<@1>");
  });
});

describe("reactions and files", () => {
  it("unicode emoji are reactions; custom emoji and words become text", () => {
    expect(reactionRoute("👍", undefined)).toEqual({ emoji: "👍" });
    expect(reactionRoute("🇫🇷", undefined)).toEqual({ emoji: "🇫🇷" });
    expect(reactionRoute(":blobcat:", { name: "blobcat" })).toEqual({ text: ":blobcat:" });
    expect(reactionRoute("+1", undefined)).toEqual({ text: "+1" });
  });
  it("names a file with its size, linked when there is a link", () => {
    expect(fileLine("big.iso", 50 * 1024 * 1024, "https://j.example/media/x")).toBe("📎 [big.iso (50.0 MiB)](<https://j.example/media/x>)");
    expect(fileLine("big.iso", 2048, undefined)).toBe("📎 big.iso (2.0 KiB) (too large to bridge)");
  });
});
