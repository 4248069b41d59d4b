import { describe, expect, it } from "vitest";
import { actorId, type ActorId } from "../../core/events.ts";
import { plainText } from "../../core/richtext/plain.ts";
import { MAX_DEPTH, para, text, type Doc, type Inline } from "../../core/richtext/tree.ts";
import { docFromHtml } from "../../bridges/matrix/html-in.ts";
import { htmlOf } from "../../bridges/matrix/html-out.ts";

const inCtx = {
  mentioned: (mxid: string) => actorId(mxid === "@_junction_discord_42:hs" ? "42" : mxid),
  networkOf: (mxid: string) => (mxid === "@_junction_discord_42:hs" ? "discord" as const : "matrix" as const),
};
const outCtx = { mxidOf: (id: ActorId) => (id.startsWith("@") ? id : id === "42" ? "@_junction_discord_42:hs" : undefined) };
const m = (t: "bold" | "italic" | "underline" | "strike" | "spoiler", ...children: Inline[]): Inline => ({ t, children });
const read = (html: string) => docFromHtml(html, inCtx);

describe("matrix html → tree", () => {
  it.each<[string, string, Doc]>([
    ["plain", "hello", [para(text("hello"))]],
    ["strong", "<strong>a</strong>", [para(m("bold", text("a")))]],
    ["b", "<b>a</b>", [para(m("bold", text("a")))]],
    ["em", "<em>a</em>", [para(m("italic", text("a")))]],
    ["i", "<i>a</i>", [para(m("italic", text("a")))]],
    ["u", "<u>a</u>", [para(m("underline", text("a")))]],
    ["del", "<del>a</del>", [para(m("strike", text("a")))]],
    ["s", "<s>a</s>", [para(m("strike", text("a")))]],
    ["strike", "<strike>a</strike>", [para(m("strike", text("a")))]],
    ["spoiler", "<span data-mx-spoiler>a</span>", [para(m("spoiler", text("a")))]],
    ["spoiler with reason", `<span data-mx-spoiler="why">a</span>`, [para(m("spoiler", text("a")))]],
    ["nested marks", "<b><i>a</i></b>", [para(m("bold", m("italic", text("a"))))]],
    ["inline code keeps markup as text", "<code>&lt;b&gt;x</code>", [para({ t: "code", text: "<b>x" })]],
    ["br", "a<br>b", [para(text("a"), { t: "br" }, text("b"))]],
    ["br self-closed", "a<br/>b", [para(text("a"), { t: "br" }, text("b"))]],
    ["whitespace collapses", "a \n\t b", [para(text("a b"))]],
    ["paragraphs", "<p>a</p>\n<p>b</p>", [para(text("a")), para(text("b"))]],
    ["div", "<div>a</div>", [para(text("a"))]],
    ["code block with language", `<pre><code class="language-rust">fn x() {}\n</code></pre>`, [{ t: "codeblock", lang: "rust", text: "fn x() {}" }]],
    ["code block keeps spaces", "<pre><code>  a\n    b\n</code></pre>", [{ t: "codeblock", text: "  a\n    b" }]],
    ["code block keeps only the language class", `<pre><code class="language-x evil">c</code></pre>`, [{ t: "codeblock", lang: "x", text: "c" }]],
    ["quote", "<blockquote>q</blockquote>after", [{ t: "quote", children: [para(text("q"))] }, para(text("after"))]],
    ["quote of paragraphs", "<blockquote><p>a</p><p>b</p></blockquote>", [{ t: "quote", children: [para(text("a")), para(text("b"))] }]],
    ["list", "<ul><li>a</li><li>b</li></ul>", [{ t: "list", ordered: false, items: [[para(text("a"))], [para(text("b"))]] }]],
    ["ordered list start", `<ol start="5"><li>a</li></ol>`, [{ t: "list", ordered: true, start: 5, items: [[para(text("a"))]] }]],
    ["ordered list silly start", `<ol start="-3e99"><li>a</li></ol>`, [{ t: "list", ordered: true, items: [[para(text("a"))]] }]],
    ["heading", "<h2>T</h2>", [{ t: "heading", level: 2, children: [text("T")] }]],
    ["link", `<a href="https://a.example/x">site</a>`, [para({ t: "link", href: "https://a.example/x", children: [text("site")] })]],
    ["pill", `<a href="https://matrix.to/#/@bob:hs">Bob</a>: hi`, [para({ t: "mention", id: actorId("@bob:hs"), name: "Bob", network: "matrix" }, text(": hi"))]],
    ["pill of a ghost is its remote person", `<a href="https://matrix.to/#/%40_junction_discord_42%3Ahs">D</a>`, [para({ t: "mention", id: actorId("42"), name: "D", network: "discord" })]],
    ["room link is a link", `<a href="https://matrix.to/#/#room:hs">#room</a>`, [para({ t: "link", href: "https://matrix.to/#/#room:hs", children: [text("#room")] })]],
    ["custom emoji", `<img data-mx-emoticon src="mxc://hs/e" alt=":blob:" height="32">`, [para({ t: "emoji", name: "blob", url: "mxc://hs/e" })]],
    ["inline image keeps its alt", `<img src="mxc://hs/p" alt="a cat">`, [para(text("a cat"))]],
    ["hr", "a<hr>b", [para(text("a")), para(text("———")), para(text("b"))]],
    ["table row", "<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>", [para(text("a | b")), para(text("1 | 2"))]],
    ["font colour is content", `<font color="#ff0000">red</font>`, [para(text("red"))]],
    ["entities decode", "a &amp; b &lt;c&gt;", [para(text("a & b <c>"))]],
    // hostile
    ["script goes with its content", "<script>alert(1)</script>x", [para(text("x"))]],
    ["style goes with its content", "<style>body{}</style>x", [para(text("x"))]],
    ["event handler attribute", `<b onclick="steal()">x</b>`, [para(m("bold", text("x")))]],
    ["javascript: link is its text", `<a href="javascript:alert(1)">y</a>`, [para(text("y"))]],
    ["JaVaScRiPt with entities", `<a href="jav&#x61;script:alert(1)">y</a>`, [para(text("y"))]],
    ["data: link is its text", `<a href="data:text/html;base64,PHNjcmlwdD4=">y</a>`, [para(text("y"))]],
    ["relative link is its text", `<a href="/etc/passwd">y</a>`, [para(text("y"))]],
    ["tracking pixel goes", `<img src="https://evil.example/t.png">x`, [para(text("x"))]],
    ["iframe goes", `<iframe src="https://evil.example/"></iframe>x`, [para(text("x"))]],
    ["unclosed tags", "<b>a<i>b", [para(m("bold", text("a"), m("italic", text("b"))))]],
    ["stray closers", "a</b></i>b", [para(text("ab"))]],
    ["reply fallback is not content", "<mx-reply><blockquote>old</blockquote></mx-reply>new", [para(text("new"))]],
    ["zero-width and RTL characters stay text", "a\u200bb\u202ec", [para(text("a\u200bb\u202ec"))]],
    ["comment goes", "a<!-- x -->b", [para(text("ab"))]],
    ["pill to a non-user is a link", `<a href="https://matrix.to/#/@bad">x</a>`, [para({ t: "link", href: "https://matrix.to/#/@bad", children: [text("x")] })]],
  ])("%s", (_name, html, want) => {
    expect(read(html)).toEqual(want);
  });

  it("deep nesting is bounded and keeps its text", () => {
    const html = "<blockquote>".repeat(500) + "deep" + "</blockquote>".repeat(500);
    const doc = read(html);
    expect(plainText(doc)).toContain("deep");
    let depth = 0;
    let b = doc[0];
    while (b?.t === "quote") { depth++; b = b.children[0]; }
    expect(depth).toBeLessThanOrEqual(MAX_DEPTH + 1);
  });

  it("deeply nested lists and marks are bounded", () => {
    expect(plainText(read("<ul><li>".repeat(300) + "x" + "</li></ul>".repeat(300)))).toContain("x");
    expect(plainText(read("<b><i>".repeat(300) + "y"))).toBe("y");
  });

  it("a 100 KB body is read whole", () => {
    const big = "<b>" + "word ".repeat(20_000) + "</b>";
    const doc = read(big);
    expect(plainText(doc).length).toBe(100_000);
  });
});

describe("tree → matrix html", () => {
  it.each<[string, Doc, string]>([
    ["plain single line", [para(text("a"))], "a"],
    ["escapes markup in text", [para(text(`<script>alert("x")</script> & '`))], `&lt;script&gt;alert("x")&lt;/script&gt; &amp; '`],
    ["marks", [para(m("bold", text("a")), m("italic", text("b")), m("underline", text("c")), m("strike", text("d")))], "<strong>a</strong><em>b</em><u>c</u><del>d</del>"],
    ["spoiler", [para(m("spoiler", text("s")))], "<span data-mx-spoiler>s</span>"],
    ["code", [para({ t: "code", text: "<x>" })], "<code>&lt;x&gt;</code>"],
    ["code block", [{ t: "codeblock", lang: "ts", text: "a<b" }], `<pre><code class="language-ts">a&lt;b\n</code></pre>`],
    ["code block hostile language", [{ t: "codeblock", lang: `x" onclick="y`, text: "c" }], "<pre><code>c\n</code></pre>"],
    ["paragraphs", [para(text("a")), para(text("b"))], "<p>a</p><p>b</p>"],
    ["quote", [{ t: "quote", children: [para(text("q"))] }, para(text("a"))], "<blockquote>q</blockquote><p>a</p>"],
    ["list", [{ t: "list", ordered: true, start: 2, items: [[para(text("a"))]] }], `<ol start="2"><li>a</li></ol>`],
    ["heading", [{ t: "heading", level: 9, children: [text("T")] }], "<h6>T</h6>"],
    ["link", [para({ t: "link", href: "https://a.example/?q=1&r=2", children: [text("x")] })], `<a href="https://a.example/?q=1&amp;r=2">x</a>`],
    ["javascript: link becomes text", [para({ t: "link", href: "javascript:alert(1)", children: [text("x")] })], "x (javascript:alert(1))"],
    ["data: link becomes text", [para({ t: "link", href: "data:text/html,hi", children: [text("x")] })], "x (data:text/html,hi)"],
    ["pill for a Matrix user", [para({ t: "mention", id: actorId("@bob:hs"), name: "Bob" })], `<a href="https://matrix.to/#/@bob:hs">Bob</a>`],
    ["pill for a ghost", [para({ t: "mention", id: actorId("42"), name: "Dee" })], `<a href="https://matrix.to/#/@_junction_discord_42:hs">Dee</a>`],
    ["unknown person stays a name", [para({ t: "mention", id: actorId("x@y"), name: "X" })], "@X"],
    ["mxc emoji is inline", [para({ t: "emoji", name: "blob", url: "mxc://hs/e" })], `<img data-mx-emoticon src="mxc://hs/e" alt=":blob:" title=":blob:" height="32" />`],
    ["foreign emoji image is its name", [para({ t: "emoji", name: "blob", url: "https://cdn.example/e.png" })], ":blob:"],
    ["hostile emoji name", [para({ t: "emoji", name: `"><script>`, url: "mxc://hs/e" })], `<img data-mx-emoticon src="mxc://hs/e" alt=":&quot;&gt;&lt;script&gt;:" title=":&quot;&gt;&lt;script&gt;:" height="32" />`],
  ])("%s", (_name, doc, want) => {
    expect(htmlOf(doc, outCtx)).toBe(want);
  });

  it.each<[string, string]>([
    ["marks", "<strong>a</strong> <em>b</em> <u>c</u> <del>d</del> <span data-mx-spoiler>e</span>"],
    ["blocks", "<blockquote>q</blockquote><ul><li>a</li><li>b</li></ul><pre><code class=\"language-py\">x = 1\n</code></pre>"],
    ["link and pill", `<a href="https://a.example/">a</a> <a href="https://matrix.to/#/@bob:hs">Bob</a>`],
    ["nested", "<blockquote><blockquote><strong><em>deep</em></strong></blockquote></blockquote>"],
  ])("round trip keeps meaning: %s", (_name, html) => {
    const once = read(html);
    expect(read(htmlOf(once, outCtx))).toEqual(once);
  });
});
