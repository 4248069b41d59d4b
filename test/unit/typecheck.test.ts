import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

// Node runs the sources by stripping types without checking them, so the type check is a test of
// its own: CI fails on a type error, not only on a failing behaviour.
it("the whole project type-checks (tsc --noEmit, strict)", () => {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  const tsc = fileURLToPath(new URL("../../node_modules/typescript/bin/tsc", import.meta.url));
  const run = spawnSync(process.execPath, [tsc, "--noEmit", "-p", "."], { cwd: root, encoding: "utf8", timeout: 120_000 });
  expect(run.stdout + run.stderr).toBe("");
  expect(run.status).toBe(0);
}, 120_000);
