// Data-parallel scaling: MLP 784-512-512-10 on MNIST, global batch 256 in 2 microbatches,
// 1 thread against 2 threads in the same run (the microbatch count is fixed, so both compute
// exactly the same weights).
import { loadDataset } from '@hypersweep/datasets';
import { ReplicaPool, type ParallelEpochMetrics } from '@hypersweep/trainer';
import { MNIST_MLP } from './lib/models.ts';


/** Trains whole epochs until `seconds` of training are measured after one warm-up epoch. */
async function measure(threads: number, seconds: number, ds: Awaited<ReturnType<typeof loadDataset>>) {
  const pool = await ReplicaPool.create({ threads });
  try {
    const epochs: ParallelEpochMetrics[] = [];
    let time = 0;
    await pool.train({
      model: MNIST_MLP,
      optimizer: { type: 'adam', learningRate: 1e-3 },
      dataset: ds,
      epochs: 1000,
      batchSize: 256,
      microbatches: 2,
      seed: 1,
      onEpoch: (m) => {
        if (m.epoch === 1) return undefined; // warm-up: WASM tier-up
        epochs.push(m);
        time += m.seconds;
        return time >= seconds ? 'stop' : undefined;
      },
    });
    const samples = epochs.length * ds.train.count;
    const mean = (k: 'computeMs' | 'reduceMs' | 'waitMs') => epochs.reduce((a, m) => a + m.stepTiming[k], 0) / epochs.length;
    return { samplesPerSec: samples / time, computeMs: mean('computeMs'), reduceMs: mean('reduceMs'), waitMs: mean('waitMs') };
  } finally {
    await pool.close();
  }
}

export async function run(args: string[]) {
  const seconds = Number(args[0] ?? 15);
  const ds = await loadDataset('mnist', { seed: 1, limitTrain: 20500, validationCount: 500 });
  const t1 = await measure(1, seconds, ds);
  const t2 = await measure(2, seconds, ds);
  return {
    metrics: {
      samples_per_sec_t1: t1.samplesPerSec,
      samples_per_sec_t2: t2.samplesPerSec,
      speedup_t2: t2.samplesPerSec / t1.samplesPerSec,
      step_compute_ms_t1: t1.computeMs,
      step_reduce_ms_t1: t1.reduceMs,
      step_wait_ms_t1: t1.waitMs,
      step_compute_ms_t2: t2.computeMs,
      step_reduce_ms_t2: t2.reduceMs,
      step_wait_ms_t2: t2.waitMs,
    },
  };
}
