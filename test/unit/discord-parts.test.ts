import { DiscordAPIError, HTTPError } from "discord.js";
import { describe, expect, it } from "vitest";
import type { MappedMessage } from "../../core/adapter.ts";
import { NotReadyError, PermanentDeliveryError } from "../../core/errors.ts";
import { remoteId } from "../../core/events.ts";
import { deliveryErrorOf, DiscordCode } from "../../bridges/discord/errors.ts";
import { MAX_PARTS, planEdit, planMessage } from "../../bridges/discord/parts.ts";

const apiError = (status: number, code: number, message = "refused") =>
  new DiscordAPIError({ code, message }, code, status, "POST", "https://discord.test/api/v10/webhooks/1/t", { body: undefined, files: undefined });

describe("Discord errors as delivery failures", () => {
  it.each([
    [403, DiscordCode.MissingPermissions, "permanent", /lacks a permission/],
    [404, DiscordCode.UnknownChannel, "permanent", /channel is gone/],
    [404, DiscordCode.UnknownMessage, "permanent", /message is gone/],
    [400, DiscordCode.InvalidFormBody, "permanent", /refused what the bridge sent/],
    [413, DiscordCode.TooLarge, "permanent", /upload limit/],
    [429, 0, "transient", /HTTP 429/],
    [401, 0, "transient", /bot token/],
    [500, 0, "transient", /HTTP 500/],
    [502, 0, "transient", /HTTP 502/],
  ] as const)("HTTP %i code %i is %s", (status, code, failure, reason) => {
    const e = deliveryErrorOf(apiError(status, code), "123");
    expect(e.failure).toBe(failure);
    expect(e.message).toMatch(reason);
    expect(e.message).toContain("discord channel 123");
  });

  it("a bare HTTP error (no JSON body) is classified by its status", () => {
    const bare = (status: number) => new HTTPError(status, "x", "POST", "https://discord.test/x", { body: undefined, files: undefined });
    expect(deliveryErrorOf(bare(503), "1").failure).toBe("transient");
    expect(deliveryErrorOf(bare(404), "1").failure).toBe("permanent");
  });

  it("timeouts and network failures are transient; classified errors pass unchanged", () => {
    const abort = Object.assign(new Error("This operation was aborted"), { name: "AbortError" });
    expect(deliveryErrorOf(abort, "1").failure).toBe("transient");
    expect(deliveryErrorOf(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }), "1").failure).toBe("transient");
    const notReady = new NotReadyError("down");
    expect(deliveryErrorOf(notReady, "1")).toBe(notReady);
    const permanent = new PermanentDeliveryError("gone");
    expect(deliveryErrorOf(permanent, "1")).toBe(permanent);
  });
});

const words = (n: number, p = "w") => Array.from({ length: n }, (_, i) => `${p}${String(i).padStart(3, "0")}`).join(" ");
const part = (n: number, role: "text" | "file" = "text"): MappedMessage =>
  ({ remoteId: remoteId(`10000000000000000${n}`), postedAs: "hook", authorName: "bob", excerpt: "", part: n, role });

describe("a message as Discord parts", () => {
  it("a short text is one text part; text and files one part with role file", () => {
    expect(planMessage("hi", false)).toEqual([{ part: 0, role: "text", content: "hi", files: false }]);
    expect(planMessage("hi", true)).toEqual([{ part: 0, role: "file", content: "hi", files: true }]);
    expect(planMessage("", true)).toEqual([{ part: 0, role: "file", content: "", files: true }]);
    expect(planMessage("", false)).toEqual([]);
  });

  it("a 4,500-character text is three parts; the files ride on the last", () => {
    const plan = planMessage(words(900), true);
    expect(plan.map((p) => [p.part, p.role, p.files])).toEqual([[0, "text", false], [1, "text", false], [2, "file", true]]);
    expect(plan.map((p) => p.content).join(" ")).toBe(words(900));
    expect(plan.every((p) => p.content.length <= 2000)).toBe(true);
  });

  it("plans the same parts on every try", () => {
    expect(planMessage(words(900), false)).toEqual(planMessage(words(900), false));
  });

  it(`refuses for good a text that needs more than ${MAX_PARTS} messages`, () => {
    expect(() => planMessage(words(4000), false)).toThrow(PermanentDeliveryError);
  });
});

describe("an edit over a message's parts", () => {
  it("the same number of parts: each part gets its piece", () => {
    const steps = planEdit([part(0), part(1), part(2)], words(900, "v"));
    expect(steps.map((s) => s.op)).toEqual(["patch", "patch", "patch"]);
    expect(steps.map((s) => (s.op === "patch" ? s.content : "")).join(" ")).toBe(words(900, "v"));
  });

  it("a shorter text deletes the parts it no longer needs", () => {
    const steps = planEdit([part(0), part(1), part(2)], "short");
    expect(steps).toEqual([
      { op: "patch", target: part(0), content: "short" }, { op: "delete", target: part(1) }, { op: "delete", target: part(2) },
    ]);
  });

  it("keeps a part with files, emptying its text", () => {
    const steps = planEdit([part(0), part(1, "file")], "short");
    expect(steps).toEqual([{ op: "patch", target: part(0), content: "short" }, { op: "patch", target: part(1, "file"), content: "" }]);
  });

  it("a longer text adds parts after the last, whatever the order given", () => {
    const steps = planEdit([part(1), part(0)], words(900, "v"));
    expect(steps.map((s) => [s.op, s.op === "add" ? s.part : s.target.part])).toEqual([["patch", 0], ["patch", 1], ["add", 2]]);
    expect(steps.map((s) => (s.op === "delete" ? "" : s.content)).join(" ")).toBe(words(900, "v"));
  });

  it("an empty text keeps one part, shown as …", () => {
    expect(planEdit([part(0), part(1)], "  ")).toEqual([{ op: "patch", target: part(0), content: "…" }, { op: "delete", target: part(1) }]);
  });
});
