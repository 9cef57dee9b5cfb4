// One thread entry bundled into one plain-JS file (Node 20, ESM), so a worker thread starts without
// a TypeScript loader: the trainer's replica threads, the datasets' CSV parse thread.
import { build } from 'esbuild';

/** Bundles `entry` (a .ts file) into `outfile`. */
export function bundleThread(entry, outfile) {
  return build({ entryPoints: [entry], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20', sourcemap: false, logLevel: 'warning' });
}
