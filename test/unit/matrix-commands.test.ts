import { describe, expect, it } from "vitest";
import { answerText, HELP, parseCommand } from "../../bridges/matrix/commands.ts";

describe("!junction commands", () => {
  it.each([
    ["!junction", { action: "help" }],
    ["!junction help", { action: "help" }],
    ["  !Junction   PAUSE lobby ", { action: "pause", link: "lobby" }],
    ["!junction status", { action: "status" }],
    ["!junction retry dev extra words", { action: "retry", link: "dev" }],
    ["!junction frobnicate", { unknown: "frobnicate" }],
    ["!junctionx links", undefined],
    ["hello !junction links", undefined],
  ])("%j", (body, want) => {
    expect(parseCommand(body)).toEqual(want);
  });

  it("words answers, refusals and errors", () => {
    expect(answerText("help", { ok: true, value: undefined })).toBe(HELP);
    expect(answerText("pause", { ok: false, refused: "@eve:hs is not one of Junction's admins" })).toBe("Refused: @eve:hs is not one of Junction's admins.");
    expect(answerText("retry", { ok: false, error: 'there is no link named "x"' })).toBe('there is no link named "x".');
    expect(answerText("retry", { ok: true, value: { link: "lobby", requeued: 1, more: false } })).toBe("1 failed delivery of lobby put back in their queues.");
    expect(answerText("reload", { ok: true, value: { applied: true, added: ["new"], removed: [], changed: ["lobby"] } })).toBe("Config reloaded: added new; changed lobby.");
  });
});
