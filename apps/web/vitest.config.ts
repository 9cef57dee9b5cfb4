import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// Unit tests of the dashboard's pure modules (parsers, maths, mappings): plain Node, no DOM. Page
// tests (test/): the built dashboard in a real headless Chromium against scripts/mock-api.ts.
export default defineConfig({
  // As the dashboard's build does (vite.config.ts): workspace packages as their TypeScript source.
  ssr: { resolve: { conditions: ['@hypersweep/source', ...defaultServerConditions] } },
  test: {
    // A test without an assertion cannot fail: refuse it.
    expect: { requireAssertions: true },
    projects: [
      { extends: true, test: { name: 'unit', include: ['src/**/*.test.ts'], environment: 'node', testTimeout: 30_000 } },
      { extends: true, test: { name: 'pages', include: ['test/**/*.test.ts'], environment: 'node', testTimeout: 60_000, hookTimeout: 120_000 } },
    ],
  },
});
