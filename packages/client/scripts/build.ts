// Builds what the published package ships: dist/index.js (the client, with the API's schemas from
// @hypersweep/schemas bundled in: that package is not published) and dist/trainable.js, as plain
// ES modules for Node 20 and browsers; zod stays a dependency. Inside the repo the workspace
// resolves the TypeScript source instead (the "@hypersweep/source" export condition).
import { build, type BuildOptions } from 'esbuild';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
rmSync(`${root}/dist`, { recursive: true, force: true });
const common: BuildOptions = {
  bundle: true,
  format: 'esm',
  target: 'es2022',
  external: ['zod'],
  // The source condition is for the repo's TypeScript tools; the bundle reads the source directly.
  conditions: ['@hypersweep/source'],
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
};
await build({ ...common, entryPoints: [`${root}/src/index.ts`], outfile: `${root}/dist/index.js`, platform: 'neutral', mainFields: ['module', 'main'] });
await build({ ...common, entryPoints: [`${root}/src/trainable.ts`], outfile: `${root}/dist/trainable.js`, platform: 'node' });
