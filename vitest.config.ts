import { defineConfig } from "vitest/config";

// Three tiers run in one `npm test`: pure and core tests in parallel, end-to-end tests (which start
// real Prosody and Synapse servers) one file at a time so that two cores are not oversubscribed,
// and the install test (a fresh install from the registry, mostly waiting on the network) beside them.
export default defineConfig({
  test: {
    reporters: ["default", "./test/support/summary-reporter.ts"],
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          testTimeout: 10_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: "install",
          include: ["test/install/**/*.test.ts"],
          testTimeout: 300_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
