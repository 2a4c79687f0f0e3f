import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // @ovotech/avro-ts (codegen) uses TypeScript factory calls that TypeScript reports as deprecated.
    onConsoleLog: (log) => !log.includes("DeprecationWarning: 'create"),
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts", "services/**/*.test.ts", "shared/**/*.test.ts", "schemas/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["test/support/one-run.ts", "test/support/stack-check.ts", "test/support/build.ts"],
          environment: "node",
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Files run one at a time: they share one broker, registry and database on a 2-core machine.
          fileParallelism: false,
        },
      },
      {
        // Fault tests on the real stack, minutes each: npm test runs them after the integration tests; npm run test:fault alone.
        test: {
          name: "fault",
          include: ["test/fault/**/*.test.ts"],
          globalSetup: ["test/support/one-run.ts", "test/support/stack-check.ts", "test/support/build.ts"],
          environment: "node",
          testTimeout: 600_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
