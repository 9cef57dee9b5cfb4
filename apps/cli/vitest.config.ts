import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Workspace packages as their TypeScript source (the client's "@hypersweep/source" export), as
  // the bundle is built: tests see the client as it is, not its last dist/ build.
  ssr: { resolve: { conditions: ['@hypersweep/source', ...defaultServerConditions] } },
  test: {
    // A test without an assertion cannot fail: refuse it.
    expect: { requireAssertions: true },
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
  },
});
