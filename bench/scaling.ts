// Data-parallel scaling: MLP 784-512-512-10 on MNIST, 1 thread against 2 threads in the same run
// (the microbatch count is fixed, so both compute exactly the same weights): at global batch 256
// in 2 microbatches, and with the default spec — batch 128, microbatches not given — which is what
// a sweep or a CLI run that sets nothing trains, each as the median of interleaved rounds. The
// default's weights are compared for T = 1…4.
import { loadDataset } from '@hypersweep/datasets';
import { defaultMicrobatches } from '@hypersweep/nn';
import { ReplicaPool, type ParallelEpochMetrics } from '@hypersweep/trainer';
import { median } from './lib/measure.ts';
import { MNIST_MLP } from './lib/models.ts';


/** Trains whole epochs until `seconds` of training are measured after one warm-up epoch. */
async function measure(threads: number, seconds: number, ds: Awaited<ReturnType<typeof loadDataset>>, batch: { batchSize: number; microbatches?: number }) {
  const pool = await ReplicaPool.create({ threads });
  try {
    const epochs: ParallelEpochMetrics[] = [];
    let time = 0;
    await pool.train({
      model: MNIST_MLP,
      optimizer: { type: 'adam', learningRate: 1e-3 },
      dataset: ds,
      epochs: 1000,
      ...batch,
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

/** The default spec's weights after 2 epochs on T = 1, 2, 3, 4 threads: 1 when all are the same bytes. */
async function defaultIdentical(ds: Awaited<ReturnType<typeof loadDataset>>): Promise<number> {
  const params: Buffer[] = [];
  for (const threads of [1, 2, 3, 4]) {
    const pool = await ReplicaPool.create({ threads });
    try {
      const r = await pool.train({ model: MNIST_MLP, optimizer: { type: 'adam', learningRate: 1e-3 }, dataset: ds, epochs: 2, batchSize: 128, seed: 7 });
      params.push(Buffer.from(r.params.buffer, r.params.byteOffset, r.params.byteLength));
    } finally {
      await pool.close();
    }
  }
  return params.every((p) => p.equals(params[0]!)) ? 1 : 0;
}

type Measured = Awaited<ReturnType<typeof measure>>;

/**
 * T = 1 against T = 2 in `rounds` interleaved rounds: a machine that slows down for a while (a
 * neighbour on the host) slows one round of both, not one side of the ratio. The speedup is the
 * median of the rounds' ratios; samples/s and step times are the rounds' medians.
 */
async function compare(rounds: number, seconds: number, ds: Awaited<ReturnType<typeof loadDataset>>, batch: { batchSize: number; microbatches?: number }) {
  const t1: Measured[] = [];
  const t2: Measured[] = [];
  for (let r = 0; r < rounds; r++) {
    t1.push(await measure(1, seconds, ds, batch));
    t2.push(await measure(2, seconds, ds, batch));
  }
  const med = (runs: Measured[], k: keyof Measured) => median(runs.map((m) => m[k]));
  return {
    t1: { samplesPerSec: med(t1, 'samplesPerSec'), computeMs: med(t1, 'computeMs'), reduceMs: med(t1, 'reduceMs'), waitMs: med(t1, 'waitMs') },
    t2: { samplesPerSec: med(t2, 'samplesPerSec'), computeMs: med(t2, 'computeMs'), reduceMs: med(t2, 'reduceMs'), waitMs: med(t2, 'waitMs') },
    speedups: t1.map((m, i) => t2[i]!.samplesPerSec / m.samplesPerSec),
  };
}

export async function run(args: string[]) {
  const seconds = Number(args[0] ?? 8);
  const rounds = Number(args[1] ?? 3);
  const ds = await loadDataset('mnist', { seed: 1, limitTrain: 20500, validationCount: 500 });
  const big = await compare(rounds, seconds, ds, { batchSize: 256, microbatches: 2 });
  const dflt = await compare(rounds, seconds, ds, { batchSize: 128 });
  const small = await loadDataset('mnist', { seed: 1, limitTrain: 2000, validationCount: 200 });
  return {
    metrics: {
      rounds,
      seconds_per_measure: seconds,
      default_microbatches: defaultMicrobatches(128),
      default_samples_per_sec_t1: dflt.t1.samplesPerSec,
      default_samples_per_sec_t2: dflt.t2.samplesPerSec,
      default_speedup_t2: median(dflt.speedups),
      default_speedup_t2_min: Math.min(...dflt.speedups),
      default_speedup_t2_max: Math.max(...dflt.speedups),
      default_weights_identical_t1_to_t4: await defaultIdentical(small),
      samples_per_sec_t1: big.t1.samplesPerSec,
      samples_per_sec_t2: big.t2.samplesPerSec,
      speedup_t2: median(big.speedups),
      speedup_t2_min: Math.min(...big.speedups),
      speedup_t2_max: Math.max(...big.speedups),
      step_compute_ms_t1: big.t1.computeMs,
      step_reduce_ms_t1: big.t1.reduceMs,
      step_wait_ms_t1: big.t1.waitMs,
      step_compute_ms_t2: big.t2.computeMs,
      step_reduce_ms_t2: big.t2.reduceMs,
      step_wait_ms_t2: big.t2.waitMs,
    },
  };
}
