/** Bundles `entry` (a .ts file) into `outfile`: one plain-JS ESM file for Node 20. */
export function bundleThread(entry: string, outfile: string): Promise<unknown>;
