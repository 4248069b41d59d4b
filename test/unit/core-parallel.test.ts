import { describe, expect, it } from "vitest";
import { inParallel } from "../../core/parallel.ts";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("inParallel", () => {
  it("runs at most `limit` at once and answers in the items' order", async () => {
    let now = 0;
    let most = 0;
    const out = await inParallel([5, 1, 4, 2, 3, 0], 3, async (x, i) => {
      most = Math.max(most, ++now);
      await tick(x);
      now--;
      return `${i}:${x}`;
    });
    expect(out).toEqual(["0:5", "1:1", "2:4", "3:2", "4:3", "5:0"]);
    expect(most).toBe(3);
  });

  it("rejects with the first failure and starts nothing after it", async () => {
    const started: number[] = [];
    await expect(inParallel([0, 1, 2, 3, 4, 5], 2, async (x) => {
      started.push(x);
      await tick(1);
      if (x === 1) throw new Error("homeserver gone");
      return x;
    })).rejects.toThrow("homeserver gone");
    await tick(10);
    expect(started.length).toBeLessThanOrEqual(3);
  });
});
