import { describe, expect, it } from "vitest";
import { actorId, isEphemeral, remoteId, roomRef, targetOf, type BridgeEvent } from "../../core/events.ts";

const base = { origin: "xmpp", room: roomRef("a@muc.example"), ts: 1, sender: { id: actorId("a@muc.example/x"), name: "x", isBot: false } } as const;

describe("events", () => {
  it.each<[BridgeEvent, string | undefined]>([
    [{ ...base, kind: "edit", target: remoteId("t1"), body: { text: "x" } }, "t1"],
    [{ ...base, kind: "retract", target: remoteId("t2") }, "t2"],
    [{ ...base, kind: "reaction", target: remoteId("t3"), emoji: "👍", added: true }, "t3"],
    [{ ...base, kind: "message", body: { text: "hi" }, attachments: [], isAction: false, mentions: [], replyTo: remoteId("t4") }, "t4"],
    [{ ...base, kind: "typing", active: true }, undefined],
  ])("targetOf %#", (e, want) => {
    expect(targetOf(e)).toBe(want);
  });
  it("typing and presence are ephemeral, messages are not", () => {
    expect(isEphemeral({ ...base, kind: "typing", active: true })).toBe(true);
    expect(isEphemeral({ ...base, kind: "presence", state: "away" })).toBe(true);
    expect(isEphemeral({ ...base, kind: "join" })).toBe(false);
  });
});
