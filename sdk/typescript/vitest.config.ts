import { defineConfig } from "vitest/config";

// The suite runs against a live platform (tests/sdk/ts/test_typescript_sdk.py starts one
// and sets SDK_TEST_BASE_URL): provisioning and backups take real time, and the files run
// one after the other so they do not compete for the platform's worker.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    fileParallelism: false,
  },
});
