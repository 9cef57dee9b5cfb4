import { defineConfig } from 'vitest/config';

// Test files share one Redis; they run one after another so stall timings are not skewed by CPU contention.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
