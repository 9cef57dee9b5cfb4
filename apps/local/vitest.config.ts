import { defineConfig } from 'vitest/config';

// Files share one Postgres server, one Redis and two cores: run them one after another.
export default defineConfig({
  test: {
    // A test without an assertion cannot fail: refuse it.
    expect: { requireAssertions: true },
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
