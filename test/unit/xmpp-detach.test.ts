import { describe, expect, it } from "vitest";
import xmlModule from "@xmpp/xml";
import type { Element } from "@xmpp/xml";
import { detach, detachStanza } from "../../bridges/xmpp/detach.ts";

/** The parser the component connection reads the socket with (ltx underneath). */
const { Parser } = xmlModule as unknown as { Parser: new () => { on(ev: "element", fn: (el: Element) => void): void; write(s: string): void } };

function parse(xml: string): Element {
  const p = new Parser();
  let el: Element | undefined;
  p.on("element", (e) => { el = e; });
  p.write(`<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams'>${xml}`);
  return el!;
}

describe("received stanzas' strings are copied out of the socket chunk", () => {
  it("keeps every attribute and text as it was", () => {
    const xml = `<presence from='room@muc.example.org/A long nickname here' to='bot@bridge.example.org/junction'><x xmlns='vcard-temp:x:update'><photo>0123456789abcdef0123456789abcdef01234567</photo></x><status>short</status><occupant-id xmlns='urn:xmpp:occupant-id:0' id='a-long-occupant-id-1234'/></presence>`;
    const el = parse(xml);
    const before = el.toString();
    expect(detachStanza(el)).toBe(el);
    expect(el.toString()).toBe(before);
    expect(el.getChild("x")?.getChildText("photo")).toBe("0123456789abcdef0123456789abcdef01234567");
    expect(el.getChild("occupant-id")?.attrs.id).toBe("a-long-occupant-id-1234");
  });

  it("copies a string to an equal one, short or long", () => {
    const chunk = `${"x".repeat(1000)}room@muc.example.org/someone${"y".repeat(1000)}`;
    const slice = chunk.slice(1000, 1028);
    expect(detach(slice)).toBe(slice);
    expect(detach("short")).toBe("short");
    expect(detach("")).toBe("");
  });
});
