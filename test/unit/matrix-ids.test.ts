import { describe, expect, it } from "vitest";
import {
  botUserId, escapeLocalpart, ghostUserId, inOurNamespace, parseGhost, unescapeLocalpart,
} from "../../bridges/matrix/ids.ts";
import { isMxid, mxidOfLink, pillHref } from "../../bridges/matrix/pills.ts";
import { actorId } from "../../core/events.ts";

const naming = { prefix: "_junction_", domain: "example.org" };

describe("matrix ghost ids", () => {
  it.each<[string, string]>([
    ["alice", "alice"],
    ["Alice", "_alice"],
    ["snake_case", "snake__case"],
    ["a=b", "a=3db"],
    ["room@conference.example.org/Nick", "room=40conference.example.org/_nick"],
    ["#chan", "=23chan"],
    ["á", "=c3=a1"],
    ["😀", "=f0=9f=98=80"],
    ["a b", "a=20b"],
    ["123456789012345678", "123456789012345678"],
    ["x+y-z.w/v", "x+y-z.w/v"],
  ])("escapes %j as %j and back", (raw, escaped) => {
    expect(escapeLocalpart(raw)).toBe(escaped);
    expect(unescapeLocalpart(escaped)).toBe(raw);
    expect(escaped).toMatch(/^[a-z0-9._=\-/+]+$/);
  });

  it.each(["_A", "_", "=zz", "=4", "A", "a:b", "=ff"])("refuses %j as an escaped localpart", (s) => {
    expect(unescapeLocalpart(s)).toBeUndefined();
  });

  it("builds and parses ghost mxids", () => {
    const id = ghostUserId(naming, "xmpp", actorId("lobby@muc.example/Bob_B"));
    expect(id).toBe("@_junction_xmpp_lobby=40muc.example/_bob___b:example.org");
    expect(parseGhost(naming, id)).toEqual({ network: "xmpp", actor: "lobby@muc.example/Bob_B" });
    expect(parseGhost(naming, "@_junction_xmpp_a:other.org")).toBeUndefined();
    expect(parseGhost(naming, "@_junction_irc_a:example.org")).toBeUndefined();
    expect(parseGhost(naming, "@alice:example.org")).toBeUndefined();
    expect(parseGhost(naming, botUserId(naming))).toBeUndefined();
  });

  // Prosody's occupant-ids are base64 of a hash salted per room: about every other room gives a
  // person one with a '/', which a pill of their ghost must survive (the localpart may hold '/').
  it.each(["rich@conference.localhost#eKN2uFPqfrkVSzwNYwkZW/20q+Bv3vFfHcYMkQZEMWw=", "lobby@muc.example/Bob"])(
    "a pill of the ghost of %j points back at that person", (actor) => {
      const ghost = ghostUserId(naming, "xmpp", actorId(actor));
      expect(isMxid(ghost)).toBe(true);
      for (const href of [`https://matrix.to/#/${ghost}`, pillHref(ghost), `https://matrix.to/#/${encodeURIComponent(ghost)}`]) {
        expect(mxidOfLink(href)).toBe(ghost);
      }
      expect(parseGhost(naming, mxidOfLink(pillHref(ghost))!)).toEqual({ network: "xmpp", actor });
    });

  it.each(["https://matrix.to/#/@a:hs/$event", "https://matrix.to/#/@:hs", "https://matrix.to/#/@a b:hs", "https://matrix.to/#/!room:hs"])(
    "%s is no user's pill", (href) => {
      expect(mxidOfLink(href)).toBeUndefined();
    });

  it("a very long actor still makes a legal, unique user id of at most 255 bytes", () => {
    const a = ghostUserId(naming, "xmpp", "x".repeat(300) + "@example.org");
    const b = ghostUserId(naming, "xmpp", "x".repeat(300) + "@example.net");
    expect(a.length).toBeLessThanOrEqual(255);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^@[a-z0-9._=\-/+]+:example\.org$/);
    expect(parseGhost(naming, a)).toBeUndefined();
    expect(inOurNamespace(naming, a)).toBe(true);
    const c = ghostUserId(naming, "xmpp", "é".repeat(200));
    expect(c.length).toBeLessThanOrEqual(255);
    expect(c).toMatch(/[a-z0-9/]==[0-9a-f]{32}:/);
  });

  it("knows its bot and ghosts from everyone else", () => {
    expect(botUserId(naming)).toBe("@_junction_bot:example.org");
    expect(inOurNamespace(naming, "@_junction_bot:example.org")).toBe(true);
    expect(inOurNamespace(naming, "@_junction_discord_1234:example.org")).toBe(true);
    expect(inOurNamespace(naming, "@_junction_discord_1234:evil.org")).toBe(false);
    expect(inOurNamespace(naming, "@alice:example.org")).toBe(false);
    expect(inOurNamespace(naming, "not an mxid")).toBe(false);
    expect(inOurNamespace({ prefix: "br_", domain: "localhost:8448" }, "@br_xmpp_a:localhost:8448")).toBe(true);
  });
});
