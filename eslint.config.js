// Lint for the whole monorepo; pure packages get an import restriction that keeps them free of I/O.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const ioModules = [
  'fs', 'fs/promises', 'path', 'os', 'net', 'http', 'https', 'http2', 'child_process', 'cluster', 'dgram', 'dns', 'tls',
  'worker_threads', 'process', 'v8', 'vm', 'readline', 'zlib', 'stream',
];
const ioPackages = ['ioredis', 'bullmq', 'express', '@prisma/client', 'pg', 'undici', 'node-fetch'];
// Every random draw, in every package, app, benchmark and test, comes from @hypersweep/nn's seeded Rng.
const mathRandom = { object: 'Math', property: 'random', message: "use @hypersweep/nn's seeded Rng: every draw must be reproducible" };
const pureRestrictions = {
  'no-restricted-imports': [
    'error',
    {
      paths: [...ioModules, ...ioModules.map((m) => `node:${m}`), ...ioPackages].map((name) => ({
        name,
        message: 'packages/nn, packages/search and the shared SSE parser are pure: no I/O, no Node-only modules (they also run in the browser).',
      })),
      patterns: [{ group: ['node:*'], message: 'pure packages import no Node built-ins' }],
    },
  ],
  'no-restricted-globals': [
    'error',
    { name: 'process', message: 'pure packages take options; they never read process or process.env' },
    { name: 'require', message: 'pure packages use ES imports only' },
  ],
  'no-restricted-properties': ['error', mathRandom],
};

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '**/src/generated/**', '**/.turbo/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        console: 'readonly', process: 'readonly', performance: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly',
        setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly',
        atob: 'readonly', btoa: 'readonly', WebAssembly: 'readonly', SharedArrayBuffer: 'readonly', Atomics: 'readonly',
        AbortController: 'readonly', AbortSignal: 'readonly', Buffer: 'readonly', structuredClone: 'readonly', queueMicrotask: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
      'no-restricted-properties': ['error', mathRandom],
    },
  },
  {
    // The trainer's control block and protocol are pure too; pool, replica host and thread entry are wiring.
    // The SSE parser of @hypersweep/schemas/sse runs in the dashboard as well as in the CLI.
    files: ['packages/nn/src/**/*.ts', 'packages/search/src/**/*.ts', 'packages/trainer/src/{control,protocol}.ts', 'packages/schemas/src/sse.ts'],
    ignores: ['**/*.test.ts'],
    rules: pureRestrictions,
  },
  {
    // @hypersweep/client's main entry runs in browsers (the dashboard) as well as in Node: no Node
    // built-ins, no process. Only its trainable subpath is the Node side of a trainable process.
    files: ['packages/client/src/**/*.ts'],
    ignores: ['**/*.test.ts', 'packages/client/src/trainable.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:*', ...ioModules], message: "@hypersweep/client's main entry is browser-safe: no Node built-ins" }] }],
      'no-restricted-globals': ['error', { name: 'process', message: 'the client takes options; it never reads process or process.env' }],
    },
  },
);
