import { defineConfig } from 'vitest/config';

// Whole-stack tests: processes, Postgres and Redis on two cores; one file at a time.
export default defineConfig({
  test: {
    expect: { requireAssertions: true },
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
