import xml from "@xmpp/xml";
import { describe, expect, it } from "vitest";
import { actorId, roomRef } from "../../core/events.ts";
import { isValidNick, looksAlike, nickCandidates, plainNick, safeNick } from "../../bridges/xmpp/nick.ts";
import { RoomState } from "../../bridges/xmpp/rooms.ts";
import { Unconfirmed } from "../../bridges/xmpp/unconfirmed.ts";
import { sanitizeStanza, xmlSafe } from "../../bridges/xmpp/xml-safe.ts";

describe("puppet nicks", () => {
  it.each([
    ["alice", "alice"],
    ["ali\u202ece", "alice"], // a right-to-left override: prohibited
    ["ali\ufffece", "alice"], // not even XML
    ["a\u0001b", "ab"],
    ["alice 🎉", "alice"], // unassigned in Unicode 3.2: Prosody's strict resourceprep refuses it
    ["שלום alice", "alice"], // mixed directions: the longer part is kept
    ["שלום 2", "שלום"], // a right-to-left name must end in a right-to-left letter
    ["ﬁx", "fix"], // NFKC, as resourceprep does
    ["Bob \t Smith", "Bob Smith"],
    ["\u202e\u0001", "@bob:example.org"], // nothing left: the fallback
    ["李小龍", "李小龍"],
  ])("%j becomes %j, which a room takes", (name, want) => {
    const nick = safeNick(name, "@bob:example.org");
    expect(nick).toBe(want);
    expect(isValidNick(nick)).toBe(true);
  });
  it("finds a Cyrillic look-alike, and not a different name", () => {
    expect(looksAlike("\u0430lice", "alice")).toBe(true);
    expect(looksAlike("bob", "alice")).toBe(false);
    expect(looksAlike("alice", "alice")).toBe(false);
  });
  it("marks a puppet whose name would look like a native occupant's with its network", () => {
    const s = new RoomState(roomRef("r@muc"));
    s.occupants.set("alice", { nick: "alice", state: "online" });
    s.occupants.set("\u0430lice", { nick: "\u0430lice", state: "online", ours: true }); // our own: no matter
    const c = nickCandidates(s, "\u0430lice", "alice2", "matrix");
    expect(c[0]).toBe("\u0430lice (matrix)");
    expect(c).not.toContain("\u0430lice");
  });
  it("skips a suffix a server would refuse, and ends with plain ASCII nicks", () => {
    const s = new RoomState(roomRef("r@muc"));
    const c = nickCandidates(s, "שלום", plainNick("matrix", "@dana:example.org"), "matrix");
    expect(c[0]).toBe("שלום");
    expect(c).toContain("dana");
    expect(c).toContain("dana (matrix)");
    expect(c.every(isValidNick)).toBe(true);
  });
  it("makes a plain nick from an id", () => {
    expect(plainNick("matrix", "@bob:example.org")).toBe("bob");
    expect(plainNick("discord", "שלום")).toBe("discord person");
  });
});

describe("the XML sanitising point", () => {
  it("replaces what XML forbids in text and attributes, and keeps what it allows", () => {
    expect(xmlSafe("a\u0000b\u0001c\tok\n\r\ufffe\uffff")).toBe("a\ufffdb\ufffdc\tok\n\r\ufffd\ufffd");
    expect(xmlSafe("lone \ud800 and \udc00, pair 😀")).toBe("lone \ufffd and \ufffd, pair 😀");
    const el = sanitizeStanza(xml("message", { to: "r@muc/a\u0001" }, xml("body", {}, "x\ufffe"), xml("reaction", {}, "\u0002👍")));
    expect(el.toString()).toBe(`<message to="r@muc/a\ufffd"><body>x\ufffd</body><reaction>\ufffd👍</reaction></message>`);
  });
  it("sends an unconfirmed delivery again a bounded number of times", () => {
    const u = new Unconfirmed<string>();
    u.add(["a"], "A", 100, 1);
    u.add(["b"], "B", 100, 3);
    const { resend, givenUp } = u.takeForResend(1000, 3, 200);
    expect(resend.map((e) => e.value)).toEqual(["A"]);
    expect(givenUp.map((e) => e.value)).toEqual(["B"]);
    expect(u.size).toBe(0);
  });
});

describe("a room that refuses a puppet's nick", () => {
  it("gets the plain nick next, never a dropped person", async () => {
    const { Puppets } = await import("../../bridges/xmpp/puppets.ts");
    const { pino } = await import("pino");
    const tried: string[] = [];
    let puppets: InstanceType<typeof Puppets>;
    const state = new RoomState(roomRef("r@muc"));
    const conn = {
      async send(p: { attrs: { to: string; from: string } }) {
        const nick = p.attrs.to.split("/")[1]!;
        tried.push(nick);
        // Like a room whose server refuses any non-ASCII nick.
        queueMicrotask(() => puppets.onPuppetPresence(state, p.attrs.from, nick,
          /^[\x20-\x7e]+$/.test(nick) ? { self: true, unavailable: false } : { error: "jid-malformed", unavailable: false }));
      },
    };
    puppets = new Puppets(conn as never, "bridge.localhost", pino({ level: "silent" }));
    const records: unknown[] = [];
    puppets.attach({ puppets: { all: () => [], put: (r: unknown) => records.push(r) } } as never);
    const ctx = { deliveryId: "1", attempt: 0, fetchMedia: async () => { throw new Error("no"); } };
    const joined = await puppets.ensureJoined(state, "matrix", { id: actorId("@zoe:example.org"), name: "Zoë", isBot: false }, ctx as never);
    expect(joined.nick).toBe("zoe");
    expect(tried).toEqual(["Zoë", "zoe"]);
  });
});
