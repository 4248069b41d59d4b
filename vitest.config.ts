import { defineConfig } from "vitest/config";

// Two tiers run in one `npm test`: pure and core tests in parallel, end-to-end tests (which start
// real Prosody and Synapse servers) one file at a time so that two cores are not oversubscribed.
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
    ],
  },
});
