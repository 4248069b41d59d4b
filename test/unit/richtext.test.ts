import { describe, expect, it } from "vitest";
import { actorId } from "../../core/events.ts";
import { docOf, prefixBody, quoteBefore, richBody } from "../../core/richtext/body.ts";
import { plainText } from "../../core/richtext/plain.ts";
import { fromPlain, mentionsIn, para, text, tidy, type Block, type Doc, type Inline } from "../../core/richtext/tree.ts";

const m = (t: "bold" | "italic" | "underline" | "strike" | "spoiler", ...children: Inline[]): Inline => ({ t, children });

describe("rich text: plain rendering", () => {
  it.each<[string, Doc, string]>([
    ["text", [para(text("hi"))], "hi"],
    ["marks vanish, words stay", [para(m("bold", text("a")), text(" "), m("italic", text("b")), text(" "), m("underline", text("c")), text(" "), m("strike", text("d")))], "a b c d"],
    ["spoiler keeps markers", [para(m("spoiler", text("secret")))], "||secret||"],
    ["inline code", [para({ t: "code", text: "x = 1" })], "`x = 1`"],
    ["link with label", [para({ t: "link", href: "https://a.example/", children: [text("site")] })], "site (https://a.example/)"],
    ["bare link", [para({ t: "link", href: "https://a.example/", children: [text("https://a.example/")] })], "https://a.example/"],
    ["mention", [para({ t: "mention", id: actorId("@bob:x"), name: "Bob" })], "@Bob"],
    ["mention already with @", [para({ t: "mention", id: actorId("1"), name: "@Bob" })], "@Bob"],
    ["custom emoji", [para({ t: "emoji", name: "blob", url: "mxc://x/y" })], ":blob:"],
    ["line break", [para(text("a"), { t: "br" }, text("b"))], "a\nb"],
    ["paragraphs", [para(text("a")), para(text("b"))], "a\n\nb"],
    ["code block", [{ t: "codeblock", lang: "ts", text: "let x;\nx = 1" }], "```ts\nlet x;\nx = 1\n```"],
    ["quote", [{ t: "quote", children: [para(text("a"), { t: "br" }, text("b"))] }, para(text("c"))], "> a\n> b\nc"],
    ["nested quote", [{ t: "quote", children: [{ t: "quote", children: [para(text("deep"))] }] }], "> > deep"],
    ["list", [{ t: "list", ordered: false, items: [[para(text("one"))], [para(text("two"))]] }], "- one\n- two"],
    ["ordered list from 3", [{ t: "list", ordered: true, start: 3, items: [[para(text("c"))], [para(text("d"))]] }], "3. c\n4. d"],
    ["nested list", [{ t: "list", ordered: false, items: [[para(text("a")), { t: "list", ordered: false, items: [[para(text("b"))]] }]] }], "- a\n  - b"],
    ["heading", [{ t: "heading", level: 2, children: [text("Title")] }, para(text("x"))], "Title\nx"],
  ])("%s", (_name, doc, want) => {
    expect(plainText(doc)).toBe(want);
  });

  it.each(["", "a", "a\nb", "a\n\n\nb", "\n", "trailing\n", "  spaced  "])("plain text %j round-trips exactly", (s) => {
    expect(plainText(fromPlain(s))).toBe(s);
  });
});

describe("rich text: bodies", () => {
  it("a document without formatting needs no tree", () => {
    expect(richBody([para(text("a"), text("b"))])).toEqual({ text: "ab" });
  });

  it("a formatted document keeps its tree and its plain text", () => {
    expect(richBody([para(m("bold", text("x")))])).toEqual({ text: "x", rich: [para(m("bold", text("x")))] });
  });

  it("tidy merges text and drops empty marks and blocks", () => {
    const doc: Block[] = [para(text("a"), text("b"), m("bold"), text("")), para(), { t: "quote", children: [] }];
    expect(tidy(doc)).toEqual([para(text("ab"))]);
  });

  it("docOf reads a plain body as lines", () => {
    expect(docOf({ text: "a\nb" })).toEqual([para(text("a"), { t: "br" }, text("b"))]);
  });

  it("a correction prefix goes before the first line and keeps the formatting", () => {
    expect(prefixBody({ text: "x" }, "* ")).toEqual({ text: "* x" });
    expect(prefixBody(richBody([para(m("bold", text("x")))]), "* ")).toEqual({ text: "* x", rich: [para(text("* "), m("bold", text("x")))] });
    expect(prefixBody(richBody([{ t: "codeblock", text: "c" }]), "* ").text).toBe("* \n```\nc\n```");
  });

  it("a reply's context is quoted before the formatted body", () => {
    expect(quoteBefore({ text: "x" }, "Bob: hi")).toEqual({ text: "> Bob: hi\nx" });
    expect(quoteBefore(richBody([para(m("italic", text("x")))]), "Bob: hi").text).toBe("> Bob: hi\nx");
  });

  it("mentionsIn finds each person once, however deep", () => {
    const bob = { t: "mention", id: actorId("b"), name: "Bob" } as const;
    const doc: Doc = [para(bob), { t: "quote", children: [para(m("bold", bob, { t: "mention", id: actorId("c"), name: "C" }))] }];
    expect(mentionsIn(doc)).toEqual(["b", "c"]);
  });
});
