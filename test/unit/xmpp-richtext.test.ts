import xml from "@xmpp/xml";
import parseXml from "@xmpp/xml/lib/parse.js";
import { describe, expect, it } from "vitest";
import { actorId } from "../../core/events.ts";
import { plainText } from "../../core/richtext/plain.ts";
import { MAX_DEPTH, para, text, type Doc, type Inline } from "../../core/richtext/tree.ts";
import { bodyFromStanza, styledBody } from "../../bridges/xmpp/rich.ts";
import { NS } from "../../bridges/xmpp/stanza.ts";
import { docFromStyling, walkStyling } from "../../bridges/xmpp/styling-in.ts";
import { prng } from "../harness/prng.ts";
import { styled } from "../../bridges/xmpp/styling-out.ts";

const m = (t: "bold" | "italic" | "underline" | "strike" | "spoiler", ...children: Inline[]): Inline => ({ t, children });
const br: Inline = { t: "br" };

describe("XEP-0393 styling → tree", () => {
  it.each<[string, string, Doc]>([
    ["plain", "hello", [para(text("hello"))]],
    ["strong", "*a*", [para(m("bold", text("a")))]],
    ["emphasis", "_a_", [para(m("italic", text("a")))]],
    ["strike", "~a~", [para(m("strike", text("a")))]],
    ["pre span", "`a`", [para({ t: "code", text: "a" })]],
    ["inside a sentence", "this is *very* nice", [para(text("this is "), m("bold", text("very")), text(" nice"))]],
    ["several words", "*two words*", [para(m("bold", text("two words")))]],
    ["nested", "*_a_*", [para(m("bold", m("italic", text("a"))))]],
    ["nested the other way", "_*a*_", [para(m("italic", m("bold", text("a"))))]],
    ["no styling inside pre span", "`*a*`", [para({ t: "code", text: "*a*" })]],
    ["mid-word opener is text", "2*3*4", [para(text("2*3*4"))]],
    ["opener before whitespace is text", "* a*", [para(text("* a*"))]],
    ["closer after whitespace is text", "*a *", [para(text("*a *"))]],
    ["first valid closer wins", "*a *b* c*", [para(m("bold", text("a *b")), text(" c*"))]],
    ["empty span is text", "**", [para(text("**"))]],
    ["triple is a span of one star", "***", [para(m("bold", text("*")))]],
    ["unbalanced", "*a", [para(text("*a"))]],
    ["spans never cross lines", "*a\nb*", [para(text("*a"), br, text("b*"))]],
    ["snake_case_name", "a snake_case_name", [para(text("a snake_case_name"))]],
    ["file names with underscores", "_init_.py", [para(m("italic", text("init")), text(".py"))]],
    ["lines", "a\nb", [para(text("a"), br, text("b"))]],
    ["blank lines kept", "a\n\nb", [para(text("a"), br, br, text("b"))]],
    ["quote", "> q\nafter", [{ t: "quote", children: [para(text("q"))] }, para(text("after"))]],
    ["quote without space", ">q", [{ t: "quote", children: [para(text("q"))] }]],
    ["quote of two lines", "> a\n> b", [{ t: "quote", children: [para(text("a"), br, text("b"))] }]],
    ["nested quote", ">> deep\n> less", [{ t: "quote", children: [{ t: "quote", children: [para(text("deep"))] }, para(text("less"))] }]],
    ["styling in a quote", "> *a*", [{ t: "quote", children: [para(m("bold", text("a")))] }]],
    ["code block", "```\nx\n```", [{ t: "codeblock", text: "x" }]],
    ["code block with hint", "```python\nx = 1\n```\nafter", [{ t: "codeblock", lang: "python", text: "x = 1" }, para(text("after"))]],
    ["code block not styled", "```\n*a*\n> b\n```", [{ t: "codeblock", text: "*a*\n> b" }]],
    ["unclosed code block runs to the end", "```\na\nb", [{ t: "codeblock", text: "a\nb" }]],
    ["code block in a quote ends with the quote", "> ```\n> a\nb", [{ t: "quote", children: [{ t: "codeblock", text: "a" }] }, para(text("b"))]],
    ["hostile hint is not a language", "```x\" onclick=\"y\nc\n```", [{ t: "codeblock", text: "c" }]],
    ["markup is just text", "<script>alert(1)</script>", [para(text("<script>alert(1)</script>"))]],
    ["zero-width inside a span", "*a\u200bb*", [para(m("bold", text("a\u200bb")))]],
    ["RTL override stays text", "\u202e*a*", [para(text("\u202e*a*"))]],
    ["emoji", "*🎉*", [para(m("bold", text("🎉")))]],
  ])("%s", (_name, body, want) => {
    expect(docFromStyling(body)).toEqual(want);
  });

  it("text without a directive character comes out as the whole parse makes it (the shortcut agrees)", () => {
    const rnd = prng(393);
    const alphabet = ["a", "b", " ", "\n", "\n\n", "\t", "\u00a0", "é", "🎉", "\u200b", "\r", "-", "#", "<", "&", "'"];
    for (let n = 0; n < 2000; n++) {
      let body = "";
      const len = Math.floor(rnd() * 24);
      for (let i = 0; i < len; i++) body += alphabet[Math.floor(rnd() * alphabet.length)];
      expect(docFromStyling(body), JSON.stringify(body)).toEqual(walkStyling(body));
    }
    // And a directive character anywhere takes the whole parse.
    expect(docFromStyling("a\n> b")).toEqual([para(text("a")), { t: "quote", children: [para(text("b"))] }]);
  });

  it("deep quotes are bounded and keep their text", () => {
    const doc = docFromStyling(">".repeat(1000) + " deep");
    expect(plainText(doc)).toContain("deep");
    expect(JSON.stringify(doc).split('"quote"').length - 1).toBeLessThanOrEqual(MAX_DEPTH);
  });

  it("a 100 KB line of would-be directives parses quickly", () => {
    const body = "*a ".repeat(34_000);
    const started = Date.now();
    const doc = docFromStyling(body);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(plainText(doc)).toBe(body);
  });

  it.each(["a *b* c", "_x_ and ~y~ and `z`", "> q\n> *r*\ns", "```js\nlet a;\n```"])("plain text of %j keeps every word", (body) => {
    const words = body.replace(/[*_~`>]/g, " ").split(/\s+/).filter((w) => w && !w.startsWith("js"));
    const plain = plainText(docFromStyling(body));
    for (const w of words) expect(plain).toContain(w);
  });
});

describe("tree → XEP-0393 styling", () => {
  it.each<[string, Doc, string]>([
    ["plain", [para(text("a"))], "a"],
    ["strong", [para(m("bold", text("a")))], "*a*"],
    ["emphasis", [para(text("x "), m("italic", text("a")))], "x _a_"],
    ["strike", [para(m("strike", text("gone")))], "~gone~"],
    ["code", [para({ t: "code", text: "x()" })], "`x()`"],
    ["nested", [para(m("bold", m("italic", text("a"))))], "*_a_*"],
    ["mid-word bold loses its directive, not its text", [para(text("un"), m("bold", text("believ")), text("able"))], "unbelievable"],
    ["span with space at the edge is words", [para(m("bold", text("a ")), text("b"))], "a b"],
    ["span holding its directive is words", [para(m("bold", text("2*3")))], "2*3"],
    ["underline is its text", [para(m("underline", text("u")))], "u"],
    ["spoiler keeps its markers", [para(m("spoiler", text("s")))], "||s||"],
    ["link", [para({ t: "link", href: "https://a.example/", children: [text("site")] })], "site (https://a.example/)"],
    ["bare link", [para({ t: "link", href: "https://a.example/", children: [text("https://a.example/")] })], "https://a.example/"],
    ["mention is the nick", [para({ t: "mention", id: actorId("x"), name: "Bob" }, text(": hi"))], "Bob: hi"],
    ["custom emoji", [para({ t: "emoji", name: "blob", url: "mxc://a/b" })], ":blob:"],
    ["heading as a strong line", [{ t: "heading", level: 1, children: [text("Title")] }], "*Title*"],
    ["code block", [{ t: "codeblock", lang: "ts", text: "a\nb" }], "```ts\na\nb\n```"],
    ["code block holding a fence", [{ t: "codeblock", text: "a\n```\nb" }], "```\na\n``` \nb\n```"],
    ["quote", [{ t: "quote", children: [para(text("a"), br, m("bold", text("b")))] }, para(text("c"))], "> a\n> *b*\nc"],
    ["nested quote", [{ t: "quote", children: [{ t: "quote", children: [para(text("a"))] }] }], "> > a"],
    ["list", [{ t: "list", ordered: false, items: [[para(m("bold", text("a")))], [para(text("b"))]] }], "- *a*\n- b"],
    ["ordered list", [{ t: "list", ordered: true, items: [[para(text("a"))], [para(text("b"))]] }], "1. a\n2. b"],
    ["paragraphs", [para(text("a")), para(text("b"))], "a\n\nb"],
  ])("%s", (_name, doc, want) => {
    expect(styled(doc)).toBe(want);
  });

  it.each<[string, Doc]>([
    ["marks", [para(m("bold", text("a")), text(" "), m("italic", text("b")), text(" "), m("strike", text("c")), text(" "), { t: "code", text: "d" })]],
    ["quote with styling", [{ t: "quote", children: [para(m("bold", text("q")))] }, para(text("after"))]],
    ["code block", [{ t: "codeblock", lang: "py", text: "x = 1\ny = 2" }]],
  ])("round trip keeps meaning: %s", (_name, doc) => {
    expect(docFromStyling(styled(doc))).toEqual(doc);
  });

  it("plain words that would read as styling are sent unstyled", () => {
    expect(styledBody({ text: "a *b* c" }).hint?.toString()).toBe(`<unstyled xmlns="${NS.styling}"/>`);
    expect(styledBody({ text: "> not a quote" }).hint).toBeDefined();
    expect(styledBody({ text: "2*3*4 is fine" }).hint).toBeUndefined();
    expect(styledBody({ text: "x", rich: [para(m("bold", text("x")))] })).toEqual({ text: "*x*", mentions: [] });
  });
});

describe("XMPP message → body", () => {
  const msg = (...children: ReturnType<typeof xml>[]) => xml("message", { type: "groupchat" }, ...children);
  const xhtml = (inner: string) => parseXml(`<html xmlns="${NS.xhtmlIm}"><body xmlns="${NS.xhtml}">${inner}</body></html>`) as ReturnType<typeof xml>;

  it("styling when there is no XHTML-IM", () => {
    expect(bodyFromStanza(msg(xml("body", {}, "*hi*")), "*hi*", true)).toEqual({ text: "hi", rich: [para(m("bold", text("hi")))] });
  });

  it("unstyled hint keeps the words as sent", () => {
    expect(bodyFromStanza(msg(xml("body", {}, "*hi*"), xml("unstyled", { xmlns: NS.styling })), "*hi*", true)).toEqual({ text: "*hi*" });
  });

  it.each<[string, string, Doc]>([
    ["bold", "<strong>a</strong>", [para(m("bold", text("a")))]],
    ["span font-weight is bold", `<span style="font-weight:bold">a</span>`, [para(m("bold", text("a")))]],
    ["span font-style is italic", `<span style="font-style: italic;">a</span>`, [para(m("italic", text("a")))]],
    ["span underline and line-through", `<span style="text-decoration: underline line-through">a</span>`, [para(m("underline", m("strike", text("a"))))]],
    ["span colour is content", `<span style="color: red">a</span>`, [para(text("a"))]],
    ["a CSS expression is nothing", `<span style="background:url(javascript:alert(1));font-weight:bold">a</span>`, [para(m("bold", text("a")))]],
    ["heading", `<h2>Title</h2><p>x</p>`, [{ t: "heading", level: 2, children: [text("Title")] }, para(text("x"))]],
    ["list", `<ul><li>a</li><li><strong>b</strong></li></ul>`, [{ t: "list", ordered: false, items: [[para(text("a"))], [para(m("bold", text("b")))]] }]],
    ["ordered list with start", `<ol start="3"><li>a</li></ol>`, [{ t: "list", ordered: true, start: 3, items: [[para(text("a"))]] }]],
    ["code block with language", `<pre><code class="language-js">let x</code></pre>`, [{ t: "codeblock", lang: "js", text: "let x" }]],
    ["iframe goes with its content", `<iframe src="https://evil.example/">x</iframe>a`, [para(text("a"))]],
    ["zero-width and RTL override stay text", `<em>\u200ba\u202e</em>`, [para(m("italic", text("\u200ba\u202e")))]],
    ["link", `<a href="https://a.example/">x</a>`, [para({ t: "link", href: "https://a.example/", children: [text("x")] })]],
    ["javascript: link is its text", `<a href="javascript:alert(1)">x</a>`, [para(text("x"))]],
    ["data: link is its text", `<a href="data:text/html,x">x</a>`, [para(text("x"))]],
    ["handler attribute is ignored", `<em onmouseover="x()">a</em>`, [para(m("italic", text("a")))]],
    ["script goes with its content", `<script>alert(1)</script>a`, [para(text("a"))]],
    ["style goes with its content", `<style>p{}</style>a`, [para(text("a"))]],
    ["image is its alt", `<img src="https://evil.example/t.png" alt="pic"/>`, [para(text("pic"))]],
    ["quote", `<blockquote>q</blockquote>`, [{ t: "quote", children: [para(text("q"))] }]],
  ])("XHTML-IM: %s", (_name, inner, want) => {
    const stanza = msg(xml("body", {}, "fallback"), xhtml(inner));
    const body = bodyFromStanza(stanza, "fallback", true);
    expect(body.rich ?? [para(text(body.text))]).toEqual(want);
  });

  it("XHTML-IM nested a thousand deep costs no stack and keeps its words", () => {
    const deep = "<blockquote><ul><li>".repeat(1000) + "deep" + "</li></ul></blockquote>".repeat(1000);
    const body = bodyFromStanza(msg(xml("body", {}, "deep"), xhtml(deep)), "deep", true);
    expect(body).toEqual({ text: "deep" });
    const shallow = "<blockquote>".repeat(40) + "q" + "</blockquote>".repeat(40);
    expect(bodyFromStanza(msg(xml("body", {}, "q"), xhtml(shallow)), "q", true).text).toContain("q");
  });

  it("a 100 KB styled body reads in one piece", () => {
    const big = "*a* _b_ ~c~ `d` ".repeat(6400);
    expect(big.length).toBeGreaterThan(100_000);
    const doc = docFromStyling(big);
    expect(plainText(doc) === big.replace(/[*_~]/g, "")).toBe(true);
  });

  it("XEP-0382: a spoiler message is hidden as a whole, its code too", () => {
    const body = bodyFromStanza(msg(xml("body", {}, "*a*\n```\nx\n```"), xml("spoiler", { xmlns: NS.spoiler }, "hint")), "*a*\n```\nx\n```", true);
    expect(body.rich).toEqual([para(m("spoiler", m("bold", text("a")))), para(m("spoiler", { t: "code", text: "x" }))]);
  });

  it("a body with a spoiler goes out with ||markers|| and XEP-0382's element", () => {
    const out = styledBody({ text: "x", rich: [para(text("see "), m("spoiler", text("secret")))] });
    expect(out.text).toBe("see ||secret||");
    expect(out.hint?.toString()).toBe(`<spoiler xmlns="urn:xmpp:spoiler:0"/>`);
    expect(styledBody({ text: "x", rich: [para(m("bold", text("x")))] }).hint).toBeUndefined();
  });

  it("XHTML-IM is not read when the plain body was cut (a reply fallback)", () => {
    const stanza = msg(xml("body", {}, "plain"), xhtml("<strong>rich</strong>"));
    expect(bodyFromStanza(stanza, "plain", false)).toEqual({ text: "plain" });
  });
});
