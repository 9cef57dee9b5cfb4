// Bundles the CSV parse thread's entry into one plain-JS file, so the thread starts without a
// TypeScript loader, in the API's image as in a checkout.
import { fileURLToPath } from 'node:url';
import { bundleThread } from '../../../scripts/bundle-thread.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
await bundleThread(`${root}/src/csv-check-thread.ts`, `${root}/dist/csv-check-thread.mjs`);
