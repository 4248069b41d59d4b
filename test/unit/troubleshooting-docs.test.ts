/**
 * docs/operations.md's troubleshooting table quotes log lines; each quoted line's fixed parts must
 * still be in Junction's source, so a reworded message cannot leave the docs describing a line
 * nobody will ever see. (test/e2e/troubleshooting.test.ts makes the failures happen for real.)
 */
import { describe, expect, it } from "vitest";
import { fragments, pieces, sources, troubleshootingRows } from "../support/troubleshooting.ts";

const rows = troubleshootingRows();
const source = sources();

describe("the troubleshooting table follows the code", () => {
  it("has rows, each quoting a log line", () => {
    expect(rows.length).toBeGreaterThanOrEqual(20);
    for (const r of rows) expect(r.lines, r.seen).not.toEqual([]);
  });

  it.each(rows.flatMap((r) => r.lines.flatMap((l) => fragments(l).flatMap(pieces).map((p) => [p, l]))))("`%s` is in the source (from `%s`)", (piece) => {
    expect(source.includes(piece), `no longer in the source: ${piece}`).toBe(true);
  });

  it("a reworded line is caught", () => {
    expect(source.includes("the bot cannot join this room; check the room exists")).toBe(false);
  });
});
