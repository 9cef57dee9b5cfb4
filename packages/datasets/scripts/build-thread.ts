// Bundles the CSV parse thread's entry into one plain-JS file, so the thread starts without a
// TypeScript loader, in the API's image as in a checkout.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
await build({
  entryPoints: [`${root}/src/csv-check-thread.ts`],
  outfile: `${root}/dist/csv-check-thread.mjs`,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: false,
  logLevel: 'warning',
});
