import parse from "@xmpp/xml/lib/parse.js";
import { describe, expect, it } from "vitest";
import { answerIq, photoOfVcard, type IqContext } from "../../bridges/xmpp/iq.ts";

const PUPPET = "matrix_\\40bob\\3aexample.org@bridge.example.org";
const ctx: IqContext = {
  component: "bridge.example.org",
  bot: "junction@bridge.example.org",
  version: "0.1.0",
  gatewayTypes: ["matrix"],
  puppet: (b) => (b === PUPPET.toLowerCase() ? { name: "Bob", avatar: { data: new Uint8Array([1, 2, 3]), mime: "image/png" } } : undefined),
};
const iq = (to: string, inner: string, type = "get") =>
  parse(`<iq type="${type}" id="q1" from="alice@example.org/phone" to="${to}">${inner}</iq>`);

describe("IQ answers", () => {
  it("disco#info of the component names a gateway and its features", () => {
    const r = answerIq(iq("bridge.example.org", `<query xmlns="http://jabber.org/protocol/disco#info"/>`), ctx).reply!;
    expect(r.attrs).toMatchObject({ type: "result", id: "q1", to: "alice@example.org/phone", from: "bridge.example.org" });
    const q = r.getChild("query")!;
    expect(q.getChild("identity")?.attrs).toMatchObject({ category: "gateway", type: "matrix" });
    const features = q.getChildren("feature").map((f) => f.attrs.var);
    for (const f of ["http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/muc", "vcard-temp", "urn:xmpp:ping", "jabber:iq:version", "urn:xmpp:reactions:0"]) {
      expect(features).toContain(f);
    }
  });
  it("disco#info of a puppet (addressed by its full JID) names a client", () => {
    const r = answerIq(iq(`${PUPPET}/junction`, `<query xmlns="http://jabber.org/protocol/disco#info"/>`), ctx).reply!;
    expect(r.getChild("query")?.getChild("identity")?.attrs).toMatchObject({ category: "client", type: "pc", name: "Bob" });
  });
  it("a puppet's vCard has its nickname and photo", () => {
    const r = answerIq(iq(PUPPET, `<vCard xmlns="vcard-temp"/>`), ctx).reply!;
    expect(r.getChild("vCard", "vcard-temp")?.getChildText("NICKNAME")).toBe("Bob");
    expect(photoOfVcard(r)).toEqual({ data: new Uint8Array([1, 2, 3]), mime: "image/png" });
  });
  it.each<[string, string, string, string]>([
    ["ping", "bridge.example.org", `<ping xmlns="urn:xmpp:ping"/>`, `<iq type="result" id="q1" from="bridge.example.org" to="alice@example.org/phone"/>`],
    ["version", "junction@bridge.example.org/x", `<query xmlns="jabber:iq:version"/>`,
      `<iq type="result" id="q1" from="junction@bridge.example.org/x" to="alice@example.org/phone"><query xmlns="jabber:iq:version"><name>Junction</name><version>0.1.0</version></query></iq>`],
    ["items", "bridge.example.org", `<query xmlns="http://jabber.org/protocol/disco#items"/>`,
      `<iq type="result" id="q1" from="bridge.example.org" to="alice@example.org/phone"><query xmlns="http://jabber.org/protocol/disco#items"/></iq>`],
  ])("%s", (_n, to, inner, want) => {
    expect(answerIq(iq(to, inner), ctx).reply?.toString()).toBe(want);
  });
  it.each<[string, string, string, string, string]>([
    ["unknown payload", "bridge.example.org", `<query xmlns="jabber:iq:roster"/>`, "get", "service-unavailable"],
    ["unknown puppet", "matrix_nobody@bridge.example.org", `<ping xmlns="urn:xmpp:ping"/>`, "get", "service-unavailable"],
    ["vCard set", PUPPET, `<vCard xmlns="vcard-temp"/>`, "set", "forbidden"],
    ["two payloads", "bridge.example.org", `<ping xmlns="urn:xmpp:ping"/><ping xmlns="urn:xmpp:ping"/>`, "get", "bad-request"],
    ["no payload", "bridge.example.org", ``, "get", "bad-request"],
    ["a node we do not have", "bridge.example.org", `<query xmlns="http://jabber.org/protocol/disco#info" node="x"/>`, "get", "service-unavailable"],
  ])("%s → %s", (_n, to, inner, type, condition) => {
    const r = answerIq(iq(to, inner, type), ctx).reply!;
    expect(r.attrs.type).toBe("error");
    expect(r.getChild("error")?.getChild(condition, "urn:ietf:params:xml:ns:xmpp-stanzas")).toBeTruthy();
  });
  it.each(["result", "error"])("never answers an iq of type %s", (type) => {
    expect(answerIq(iq("bridge.example.org", `<ping xmlns="urn:xmpp:ping"/>`, type), ctx).reply).toBeUndefined();
  });
  it("never answers an iq without id or from", () => {
    expect(answerIq(parse(`<iq type="get" to="bridge.example.org"><ping xmlns="urn:xmpp:ping"/></iq>`), ctx).reply).toBeUndefined();
  });
});
