import parse from "@xmpp/xml/lib/parse.js";
import { describe, expect, it } from "vitest";
import { archiveQuery, hasMam, lastArchivedQuery, nextPage, unwrapArchived } from "../../bridges/xmpp/mam.ts";

const ROOM = "lobby@conference.example.org";

describe("MAM catch-up", () => {
  it("turns an archived room message back into its live form, with stanza-id and delay", () => {
    const wrapper = parse(`<message to="j@bridge/x" from="${ROOM}"><result xmlns="urn:xmpp:mam:2" queryid="q" id="arch-7"><forwarded xmlns="urn:xmpp:forward:0"><delay xmlns="urn:xmpp:delay" stamp="2026-01-02T03:04:05Z"/><message xmlns="jabber:client" type="groupchat" from="${ROOM}/alice" id="c1"><body>hi</body></message></forwarded></result></message>`);
    const live = unwrapArchived(wrapper, ROOM)!;
    expect(live.attrs).toMatchObject({ from: `${ROOM}/alice`, to: "j@bridge/x", type: "groupchat", id: "c1" });
    expect(live.getChildText("body")).toBe("hi");
    expect(live.getChild("stanza-id", "urn:xmpp:sid:0")?.attrs).toMatchObject({ by: ROOM, id: "arch-7" });
    expect(live.getChild("delay", "urn:xmpp:delay")?.attrs.stamp).toBe("2026-01-02T03:04:05Z");
  });

  it.each([
    ["another room's archive", `<message><result xmlns="urn:xmpp:mam:2" id="a"><forwarded xmlns="urn:xmpp:forward:0"><message from="other@conference.example.org/x"><body>x</body></message></forwarded></result></message>`],
    ["no id", `<message><result xmlns="urn:xmpp:mam:2"><forwarded xmlns="urn:xmpp:forward:0"><message from="${ROOM}/x"><body>x</body></message></forwarded></result></message>`],
    ["no forwarded message", `<message><result xmlns="urn:xmpp:mam:2" id="a"/></message>`],
  ])("ignores %s", (_name, stanza) => {
    expect(unwrapArchived(parse(stanza), ROOM)).toBeUndefined();
  });

  it("pages until the archive says complete", () => {
    expect(nextPage(parse(`<iq type="result"><fin xmlns="urn:xmpp:mam:2"><set xmlns="http://jabber.org/protocol/rsm"><last>p2</last></set></fin></iq>`))).toBe("p2");
    expect(nextPage(parse(`<iq type="result"><fin xmlns="urn:xmpp:mam:2" complete="true"><set xmlns="http://jabber.org/protocol/rsm"><last>p9</last></set></fin></iq>`))).toBeUndefined();
  });

  it("asks from a start time, after the last page", () => {
    const q = archiveQuery("j@bridge/x", ROOM, "q1", "2026-01-01T00:00:00.000Z", "p2");
    expect(q.toString()).toContain(`<field var="start"><value>2026-01-01T00:00:00.000Z</value></field>`);
    expect(q.toString()).toContain(`<after>p2</after>`);
  });

  it("asks by archive id alone when it has one (no time filter), and for the newest message", () => {
    const q = archiveQuery("j@bridge/x", ROOM, "q1", undefined, "sid-9").toString();
    expect(q).not.toContain(`var="start"`);
    expect(q).toContain(`<after>sid-9</after>`);
    expect(lastArchivedQuery("j@bridge/x", ROOM, "mq-1").toString()).toContain(`<set xmlns="http://jabber.org/protocol/rsm"><max>1</max><before/></set>`);
  });

  it("reads MAM support from a room's disco#info", () => {
    expect(hasMam(parse(`<iq><query xmlns="http://jabber.org/protocol/disco#info"><feature var="urn:xmpp:mam:2"/></query></iq>`))).toBe(true);
    expect(hasMam(parse(`<iq><query xmlns="http://jabber.org/protocol/disco#info"><feature var="muc_public"/></query></iq>`))).toBe(false);
  });
});
