// Pools whose replica threads fail on purpose: the production thread wrapped by fault-thread.ts,
// bundled here once per test process (replica threads run plain JS, no TypeScript loader).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { ReplicaPool, type PoolOptions } from '../src/index.ts';

export type ReplicaFault = { rank: number; step: number } & ({ kind: 'throw'; message: string } | { kind: 'stall'; ms: number });

export interface FaultThreadData {
  readonly faults: readonly ReplicaFault[];
  /** One int32 per fault: 1 until it fires. */
  readonly armed: SharedArrayBuffer;
}

let entry: Promise<string> | undefined;

function faultEntry(): Promise<string> {
  entry ??= (async () => {
    const outfile = join(mkdtempSync(join(tmpdir(), 'hs-fault-thread-')), 'fault-thread.mjs');
    await build({
      entryPoints: [fileURLToPath(new URL('./fault-thread.ts', import.meta.url))],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      logLevel: 'warning',
    });
    return outfile;
  })();
  return entry;
}

/** A pool whose replicas throw or stall at the given steps (each fault once). */
export async function faultyPool(options: PoolOptions, faults: readonly ReplicaFault[]): Promise<ReplicaPool> {
  const armed = new SharedArrayBuffer(4 * Math.max(1, faults.length));
  new Int32Array(armed).fill(1);
  const workerData: FaultThreadData = { faults, armed };
  return ReplicaPool.create({ ...options, threadEntry: await faultEntry(), workerData });
}
