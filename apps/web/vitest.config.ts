import { defineConfig } from 'vitest/config';

// Unit tests of the dashboard's pure modules (parsers, maths, mappings): plain Node, no DOM.
export default defineConfig({
  test: {
    // A test without an assertion cannot fail: refuse it.
    expect: { requireAssertions: true },
    include: ['src/**/*.test.ts'],
    environment: 'node',
    testTimeout: 30_000,
  },
});
