import { describe, expect, it } from "vitest";
import { actorId } from "../../core/events.ts";
import { plainText } from "../../core/richtext/plain.ts";
import { para, text, type Doc, type Inline } from "../../core/richtext/tree.ts";
import { MAX_BRACKETS, MAX_PARSED, docFromMarkdown } from "../../bridges/discord/markdown-in.ts";
import { escapeMarkdown, markdown } from "../../bridges/discord/markdown-out.ts";

const BOB = "80351110224678912";
const ctx = {
  cdn: "https://cdn.example",
  userName: (id: string) => (id === BOB ? "Bob" : undefined),
  channelName: (id: string) => (id === "111111111111111111" ? "general" : undefined),
  roleName: (id: string) => (id === "222222222222222222" ? "mods" : undefined),
};
const out = { isDiscordUser: (id: string) => /^\d{17,20}$/.test(id) };
const m = (t: "bold" | "italic" | "underline" | "strike" | "spoiler", ...children: Inline[]): Inline => ({ t, children });
const br: Inline = { t: "br" };
const read = (s: string) => docFromMarkdown(s, ctx);

describe("Discord markdown → tree", () => {
  it.each<[string, string, Doc]>([
    ["plain", "hello", [para(text("hello"))]],
    ["bold", "**a**", [para(m("bold", text("a")))]],
    ["italic *", "*a*", [para(m("italic", text("a")))]],
    ["italic _", "_a_", [para(m("italic", text("a")))]],
    ["underline", "__a__", [para(m("underline", text("a")))]],
    ["strike", "~~a~~", [para(m("strike", text("a")))]],
    ["spoiler", "||a||", [para(m("spoiler", text("a")))]],
    ["bold italic", "***a***", [para(m("italic", m("bold", text("a"))))]],
    ["underline italic", "__*a*__", [para(m("underline", m("italic", text("a"))))]],
    ["inline code", "`a*b*`", [para({ t: "code", text: "a*b*" })]],
    ["double backtick code", "`` a`b ``", [para({ t: "code", text: "a`b" })]],
    ["code block", "```js\nlet x\n```", [{ t: "codeblock", lang: "js", text: "let x" }]],
    ["code block no language", "```\nx\n```", [{ t: "codeblock", text: "x" }]],
    ["code block not styled", "```\n**a**\n```", [{ t: "codeblock", text: "**a**" }]],
    ["quote", "> q\nafter", [{ t: "quote", children: [para(text("q"))] }, para(text("after"))]],
    ["multi-line quote", ">>> a\nb", [{ t: "quote", children: [para(text("a"), br, text("b"))] }]],
    ["heading", "# Title", [{ t: "heading", level: 1, children: [text("Title")] }]],
    ["heading 3", "### T", [{ t: "heading", level: 3, children: [text("T")] }]],
    ["subtext is a line", "-# small", [para(text("small"))]],
    ["masked link", "[site](https://a.example/)", [para({ t: "link", href: "https://a.example/", children: [text("site")] })]],
    ["bare url", "https://a.example/x", [para({ t: "link", href: "https://a.example/x", children: [text("https://a.example/x")] })]],
    ["angle url", "<https://a.example/>", [para({ t: "link", href: "https://a.example/", children: [text("https://a.example/")] })]],
    ["user mention", `<@${BOB}> hi`, [para({ t: "mention", id: actorId(BOB), name: "Bob", network: "discord" }, text(" hi"))]],
    ["nick mention", `<@!${BOB}>`, [para({ t: "mention", id: actorId(BOB), name: "Bob", network: "discord" })]],
    ["channel", "<#111111111111111111>", [para(text("#general"))]],
    ["role", "<@&222222222222222222>", [para(text("@mods"))]],
    ["everyone is text", "@everyone @here", [para(text("@everyone @here"))]],
    ["custom emoji", "<:blob:333333333333333333>", [para({ t: "emoji", name: "blob", url: "https://cdn.example/emojis/333333333333333333.png" })]],
    ["animated emoji", "<a:dance:333333333333333333>", [para({ t: "emoji", name: "dance", url: "https://cdn.example/emojis/333333333333333333.gif" })]],
    ["unicode emoji", "🎉 yes", [para(text("🎉 yes"))]],
    ["escapes", "\\*not bold\\*", [para(text("*not bold*"))]],
    ["lines", "a\nb", [para(text("a"), br, text("b"))]],
    ["unbalanced", "**a", [para(text("**a"))]],
    ["html is text", "<script>alert(1)</script>", [para(text("<script>alert(1)</script>"))]],
    ["javascript link is its text and address", "[x](javascript:alert(1))", [para(text("x (javascript:alert(1))"))]],
    ["zero-width", "**a\u200bb**", [para(m("bold", text("a\u200bb")))]],
    ["RTL override", "\u202e**a**", [para(text("\u202e"), m("bold", text("a")))]],
    ["list", "- a\n- **b**", [{ t: "list", ordered: false, items: [[para(text("a"))], [para(m("bold", text("b")))]] }]],
    ["star list", "* a\n* b", [{ t: "list", ordered: false, items: [[para(text("a"))], [para(text("b"))]] }]],
    ["ordered list", "1. a\n2. b", [{ t: "list", ordered: true, items: [[para(text("a"))], [para(text("b"))]] }]],
    ["ordered list from 3", "3. a\n4. b", [{ t: "list", ordered: true, start: 3, items: [[para(text("a"))], [para(text("b"))]] }]],
    ["nested list", "- a\n  - b\n- c", [{ t: "list", ordered: false, items: [[para(text("a")), { t: "list", ordered: false, items: [[para(text("b"))]] }], [para(text("c"))]] }]],
    ["list between lines", "x\n- a\ny", [para(text("x")), { t: "list", ordered: false, items: [[para(text("a"))]] }, para(text("y"))]],
    ["bullets then numbers are two lists", "- a\n1. b", [{ t: "list", ordered: false, items: [[para(text("a"))]] }, { t: "list", ordered: true, items: [[para(text("b"))]] }]],
    ["escaped bullet is text", "\\- a", [para(text("- a"))]],
    ["a bullet in a code block is code", "```\n- a\n```", [{ t: "codeblock", text: "- a" }]],
    ["a bullet in a long quote is quoted", ">>> q\n- a", [{ t: "quote", children: [para(text("q"), br, text("- a"))] }]],
    ["subtext is no list", "-# small", [para(text("small"))]],
    ["a dash without a space is no list", "-a", [para(text("-a"))]],
    ["a list item with a mention", `- <@${BOB}>`, [{ t: "list", ordered: false, items: [[para({ t: "mention", id: actorId(BOB), name: "Bob", network: "discord" })]] }]],
    ["script tag in a list is text", "- <script>x</script>", [{ t: "list", ordered: false, items: [[para(text("<script>x</script>"))]] }]],
    ["onerror attribute is text", "<img src=x onerror=alert(1)>", [para(text("<img src=x onerror=alert(1)>"))]],
    ["data: link is its text and address", "[x](data:text/html,hi)", [para(text("x (data:text/html,hi)"))]],
    ["nested markers", "**a *b* c**", [para(m("bold", text("a "), m("italic", text("b")), text(" c")))]],
    ["unbalanced spoiler", "||a", [para(text("||a"))]],
  ])("%s", (_name, content, want) => {
    expect(read(content)).toEqual(want);
  });

  it("deep nesting stays bounded and readable", () => {
    const doc = read("||".repeat(200) + "x" + "||".repeat(200));
    expect(plainText(doc)).toContain("x");
    const deep = read("**__".repeat(100) + "y" + "__**".repeat(100));
    expect(plainText(deep)).toContain("y");
  });

  it("a list nested a thousand deep stays bounded and keeps its words", () => {
    const deep = Array.from({ length: 1000 }, (_, i) => `${" ".repeat(i)}- w${i}`).join("\n");
    const text = plainText(read(deep));
    expect(text).toContain("w0");
    expect(text).toContain("w999");
  });

  it.each([
    ["[a]((", "[a]((".repeat(800)],
    ["[[…]]]", "[".repeat(2000) + "]".repeat(2000)],
  ])("4,000 characters of %s (the link rule's worst case) are plain text, read at once", (_, hostile) => {
    const started = performance.now();
    const doc = read(hostile);
    expect(performance.now() - started).toBeLessThan(500); // over a second each before the bracket cap
    expect(plainText(doc)).toBe(hostile);
  });

  it("masked links up to the bracket cap are still links; brackets in code do not count", () => {
    const links = "[x](https://a.example) ".repeat(Math.floor(MAX_BRACKETS / 3));
    expect(JSON.stringify(read(links))).toContain('"t":"link"');
    const code = "```\n" + "[]()".repeat(MAX_BRACKETS) + "\n``` then **bold**";
    expect(JSON.stringify(read(code))).toContain('"t":"bold"');
  });

  it("content past the parse cap is plain text, whole", () => {
    const big = "**a** ".repeat(20_000);
    expect(big.length).toBeGreaterThan(MAX_PARSED);
    expect(plainText(read(big))).toBe(big);
  });
});

describe("tree → Discord markdown", () => {
  it.each<[string, Doc, string]>([
    ["plain", [para(text("hello"))], "hello"],
    ["bold", [para(m("bold", text("a")))], "**a**"],
    ["italic", [para(m("italic", text("a")))], "*a*"],
    ["underline", [para(m("underline", text("a")))], "__a__"],
    ["strike", [para(m("strike", text("a")))], "~~a~~"],
    ["spoiler", [para(m("spoiler", text("a")))], "||a||"],
    ["code", [para({ t: "code", text: "x" })], "`x`"],
    ["code with backtick", [para({ t: "code", text: "a`b" })], "`` a`b ``"],
    ["code block", [{ t: "codeblock", lang: "py", text: "x = 1" }], "```py\nx = 1\n```"],
    ["code block holding a fence", [{ t: "codeblock", text: "a\n```\nb" }], "```\na\n`\u200b``\nb\n```"],
    ["quote", [{ t: "quote", children: [para(text("q"))] }, para(text("a"))], "> q\na"],
    ["nested quote flattens", [{ t: "quote", children: [{ t: "quote", children: [para(text("q"))] }] }], "> > q"],
    ["heading", [{ t: "heading", level: 2, children: [text("T")] }], "## T"],
    ["deep heading is the smallest", [{ t: "heading", level: 6, children: [text("T")] }], "### T"],
    ["heading in a quote is bold", [{ t: "quote", children: [{ t: "heading", level: 1, children: [text("T")] }] }], "> **T**"],
    ["list", [{ t: "list", ordered: false, items: [[para(text("a"))], [para(text("b"))]] }], "- a\n- b"],
    ["masked link", [para({ t: "link", href: "https://a.example/", children: [text("site")] })], "[site](<https://a.example/>)"],
    ["bare link", [para({ t: "link", href: "https://a.example/", children: [text("https://a.example/")] })], "<https://a.example/>"],
    ["link with parens", [para({ t: "link", href: "https://a.example/(x)", children: [text("s")] })], "[s](<https://a.example/%28x%29>)"],
    ["javascript link is text", [para({ t: "link", href: "javascript:alert(1)", children: [text("x")] })], "x (javascript:alert(1))"],
    ["Discord person", [para({ t: "mention", id: actorId(BOB), name: "Bob" })], `<@${BOB}>`],
    ["anyone else is a name", [para({ t: "mention", id: actorId("@carol:hs"), name: "Carol" })], "@Carol"],
    ["custom emoji is its name", [para({ t: "emoji", name: "blob", url: "mxc://a/b" })], ":blob:"],
    ["markup-looking text stays text", [para(text("*a* _b_ ~~c~~ ||d|| `e`"))], "\\*a\\* \\_b\\_ \\~\\~c\\~\\~ \\|\\|d\\|\\| \\`e\\`"],
    ["mention-looking text stays text", [para(text(`<@${BOB}> <#1>`))], `\\<@${BOB}> \\<#1>`],
    ["line-start markers", [para(text("> no"), br, text("# no"), br, text("- no"), br, text("1. no"))], "\\> no\n\\# no\n\\- no\n1\\. no"],
    ["urls are not escaped", [para(text("see https://a.example/a_b_c *now*"))], "see https://a.example/a_b_c \\*now\\*"],
    ["paragraphs", [para(text("a")), para(text("b"))], "a\n\nb"],
  ])("%s", (_name, doc, want) => {
    expect(markdown(doc, out)).toBe(want);
  });

  it.each<[string, string]>([
    ["marks", "**a** *b* __c__ ~~d~~ ||e|| `f`"],
    ["blocks", "> q\n```js\nx\n```\n# H"],
    ["link and mention", `[site](<https://a.example/>) <@${BOB}>`],
    ["escaped text", "\\*not\\* \\_this\\_"],
    ["lists", "- a\n  - b\n- **c**\n\n1. x\n2. y"],
    ["spoiler and underline", "||__a__|| ~~b~~"],
  ])("round trip keeps meaning: %s", (_name, md) => {
    const once = read(md);
    expect(read(markdown(once, out))).toEqual(once);
  });

  it("escaped text reads back as the same text", () => {
    for (const s of ["*a*", "__b__", "||c||", "`d`", "> e", "# f", "<@123456789012345678>", "[x](https://y.example/)", "a\\b"]) {
      expect(plainText(read(escapeMarkdown(s)))).toBe(s);
    }
  });
});
