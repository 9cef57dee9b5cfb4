import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // A test without an assertion cannot fail: refuse it.
    expect: { requireAssertions: true },
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
    // Each test file starts its own replica threads; running files one at a time keeps the
    // 2-core machine from timing out barriers under load.
    fileParallelism: false,
  },
});
