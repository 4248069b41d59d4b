import parse from "@xmpp/xml/lib/parse.js";
import { describe, expect, it } from "vitest";
import { CatchUp } from "../../bridges/xmpp/catchup.ts";
import { removalReason } from "../../bridges/xmpp/presence.ts";

const ROOM = "lobby@conference.localhost";
const msg = (sid: string | undefined, body: string) =>
  parse(`<message from="${ROOM}/alice" type="groupchat"><body>${body}</body>${sid ? `<stanza-id xmlns="urn:xmpp:sid:0" by="${ROOM}" id="${sid}"/>` : ""}</message>`);

describe("catch-up", () => {
  it("keeps the newest archived messages up to its cap and counts the rest", () => {
    const c = new CatchUp(2);
    for (const i of [1, 2, 3, 4, 5]) c.archived(msg(`a${i}`, `old ${i}`));
    expect(c.skipped).toBe(3);
    expect(c.drain(ROOM).map((x) => x.el.getChildText("body"))).toEqual(["old 4", "old 5"]);
  });
  it("emits held live messages after the archive, without those the archive already gave", () => {
    const c = new CatchUp(10);
    c.hold(msg("a2", "two (live)"));
    c.archived(msg("a1", "one"));
    c.archived(msg("a2", "two"));
    c.hold(msg("a3", "three"));
    c.hold(msg(undefined, "not archived"));
    expect(c.drain(ROOM).map((x) => `${x.archived ? "archive" : "live"}: ${x.el.getChildText("body")}`))
      .toEqual(["archive: one", "archive: two", "live: three", "live: not archived"]);
  });
  it("knows only the query ids it issued and has not seen finish", () => {
    const c = new CatchUp(10);
    const q = c.query();
    expect(q).toMatch(/^mq-[A-Za-z0-9_-]{16}$/);
    expect(c.issued(q)).toBe(true);
    expect(c.issued("mq-0")).toBe(false);
    c.finished(q);
    expect(c.issued(q)).toBe(false);
  });
});

describe("why the bot was removed", () => {
  const presence = (inner: string) => parse(`<presence type="unavailable"><x xmlns="http://jabber.org/protocol/muc#user">${inner}</x></presence>`);
  it.each([
    [`<status code="307"/><status code="110"/>`, ["307", "110"], "kicked"],
    [`<status code="301"/>`, ["301"], "banned"],
    [`<status code="332"/>`, ["332"], "removed because the service is shutting down"],
    [`<destroy><reason>moved</reason></destroy>`, [], "the room was destroyed: moved"],
  ])("%s", (inner, codes, want) => {
    expect(removalReason(presence(inner), codes)).toBe(want);
  });
});
