/**
 * Every construct of the tree through every network's converter pair (out, then in again): the
 * networks that can show it give the same tree back; the others the same readable plain text.
 */
import { describe, expect, it } from "vitest";
import { actorId } from "../../core/events.ts";
import { plainText } from "../../core/richtext/plain.ts";
import { para, text, type Doc, type Inline } from "../../core/richtext/tree.ts";
import { docFromMarkdown } from "../../bridges/discord/markdown-in.ts";
import { markdown } from "../../bridges/discord/markdown-out.ts";
import { docFromHtml } from "../../bridges/matrix/html-in.ts";
import { htmlOf } from "../../bridges/matrix/html-out.ts";
import { docFromStyling } from "../../bridges/xmpp/styling-in.ts";
import { styled } from "../../bridges/xmpp/styling-out.ts";

type Net = "xmpp" | "matrix" | "discord";
const BOB = "80351110224678912";
const m = (t: "bold" | "italic" | "underline" | "strike" | "spoiler", ...children: Inline[]): Inline => ({ t, children });

const through: Record<Net, (d: Doc) => Doc> = {
  xmpp: (d) => docFromStyling(styled(d)),
  matrix: (d) => docFromHtml(htmlOf(d, { mxidOf: (id) => (id.startsWith("@") ? id : undefined) }), { mentioned: (x) => actorId(x) }),
  discord: (d) => docFromMarkdown(markdown(d, { isDiscordUser: (id) => /^\d{17,20}$/.test(id) }), {
    cdn: "https://cdn.example", userName: (id) => (id === BOB ? "Bob" : undefined), channelName: () => undefined, roleName: () => undefined,
  }),
};

const ALL: Net[] = ["xmpp", "matrix", "discord"];
const CASES: [string, Doc, Net[]][] = [
  ["text", [para(text("hello world"))], ALL],
  ["bold", [para(text("a "), m("bold", text("b")))], ALL],
  ["italic", [para(text("a "), m("italic", text("b")))], ALL],
  ["underline", [para(text("a "), m("underline", text("b")))], ["matrix", "discord"]],
  ["strike", [para(text("a "), m("strike", text("b")))], ALL],
  ["inline code", [para(text("run "), { t: "code", text: "ls -l" })], ALL],
  ["code block with language", [{ t: "codeblock", lang: "ts", text: "let a = 1;\nlet b = 2;" }], ALL],
  ["quote", [{ t: "quote", children: [para(text("q"))] }, para(text("after"))], ALL],
  ["link", [para({ t: "link", href: "https://example.org/x", children: [text("site")] })], ["matrix", "discord"]],
  ["spoiler", [para(text("a "), m("spoiler", text("secret")))], ["matrix", "discord"]],
  ["Matrix mention", [para(text("hi "), { t: "mention", id: actorId("@bob:hs"), name: "Bob", network: "matrix" })], ["matrix"]],
  ["Discord mention", [para(text("hi "), { t: "mention", id: actorId(BOB), name: "Bob", network: "discord" })], ["discord"]],
  ["custom emoji", [para(text("nice "), { t: "emoji", name: "blob" })], []],
  ["line break", [para(text("a"), { t: "br" }, text("b"))], ALL],
  ["list", [{ t: "list", ordered: false, items: [[para(text("a"))], [para(text("b"))]] }], ["matrix", "discord"]],
  ["ordered list from 3", [{ t: "list", ordered: true, start: 3, items: [[para(text("a"))], [para(text("b"))]] }], ["matrix", "discord"]],
  ["heading", [{ t: "heading", level: 2, children: [text("Title")] }], ["matrix", "discord"]],
  ["marks nested", [para(m("bold", text("a "), m("italic", text("b"))))], ["matrix", "discord"]],
];

describe.each(ALL)("the tree through %s and back", (net) => {
  it.each(CASES)("%s", (_name, doc, keeps) => {
    const back = through[net](doc);
    if (keeps.includes(net)) expect(back).toEqual(doc);
    // (XMPP writes a mention as the bare name, as clients highlight a nick without an "@".)
    else expect(plainText(back).replace(/@/g, "")).toBe(plainText(doc).replace(/@/g, ""));
  });
});
