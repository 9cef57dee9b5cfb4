import { defineConfig } from 'vitest/config';

// Test files share one Redis; they run one after another so stall timings are not skewed by CPU contention.
export default defineConfig({
  test: {
    // A test without an assertion cannot fail: refuse it.
    expect: { requireAssertions: true },
    include: ['src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
