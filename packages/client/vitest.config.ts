import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // A test without an assertion cannot fail: refuse it.
    expect: { requireAssertions: true },
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
  },
});
