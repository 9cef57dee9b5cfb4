#!/usr/bin/env node
// The `hypersweep` command runs the bundle `npm run build` makes (dist/hypersweep.js) in this very
// process. This stub always exists, so npm links the command even in a checkout that is not built
// yet, and then says how to build it instead of failing on a missing module.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/hypersweep.js', import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write('hypersweep is not built in this checkout: run `npm run build` (or `npx tsx apps/cli/src/main.ts …` from source)\n');
  process.exit(1);
}
await import(bundle.href);
