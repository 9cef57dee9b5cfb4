// Gradient averaging of 1M parameters between 2 threads: the trainer's shared-memory
// reduce-scatter + sharded optimizer update (barrier waits included, as every training step
// measures it) against sending the vectors by postMessage and averaging them, between the same
// 2 threads.
import type { Dataset } from '@hypersweep/nn';
import { ReplicaPool, type ParallelTrainOptions } from '@hypersweep/trainer';
import { postMessageAverageMs } from './lib/postmessage-average.ts';

const INPUTS = 1000;
const UNITS = 1000; // 1,000,000 weights + 1,000 biases

function tinyDataset(examples: number): Dataset {
  const split = (count: number) => ({ count, features: new Float32Array(count * INPUTS), labels: new Float32Array(count * UNITS) });
  return {
    name: 'allreduce',
    task: 'regression',
    featureShape: [INPUTS],
    targetDim: UNITS,
    normalization: { kind: 'standardized', mean: [], std: [] },
    train: split(examples),
    validation: split(0),
    test: split(0),
  };
}

/**
 * Milliseconds per step of the reduce-scatter + sharded optimizer update, barrier waits included,
 * as the production step measures them: one epoch of two one-row microbatches per step.
 */
async function sharedMs(pool: ReplicaPool, optimizer: object, dataset: Dataset): Promise<number> {
  const options: ParallelTrainOptions = {
    model: { inputShape: [INPUTS], layers: [{ type: 'dense', units: UNITS }], loss: 'mse' },
    optimizer,
    dataset,
    epochs: 1,
    batchSize: 2,
    microbatches: 2,
    seed: 1,
  };
  const r = await pool.train(options);
  const t = r.history[0]!.stepTiming;
  return t.reduceMs + t.waitMs;
}

export async function run(args: string[]) {
  const rounds = Number(args[0] ?? 400);
  const dataset = tinyDataset(2 * rounds);
  const warmup = tinyDataset(2 * 50);
  const pool = await ReplicaPool.create({ threads: 2 });
  let shared: number;
  let sharedAdam: number;
  try {
    await sharedMs(pool, { type: 'sgd', learningRate: 0.01 }, warmup); // warm-up: tier-up
    const runs = [];
    for (let i = 0; i < 5; i++) runs.push(await sharedMs(pool, { type: 'sgd', learningRate: 0.01 }, dataset));
    shared = runs.sort((a, b) => a - b)[2]!;
    const adamRuns = [];
    for (let i = 0; i < 5; i++) adamRuns.push(await sharedMs(pool, { type: 'adam' }, dataset));
    sharedAdam = adamRuns.sort((a, b) => a - b)[2]!;
  } finally {
    await pool.close();
  }
  const params = INPUTS * UNITS + UNITS;
  const pm = [];
  for (let i = 0; i < 3; i++) pm.push(await postMessageAverageMs(params, Math.max(20, Math.round(rounds / 10))));
  const postMessage = pm.sort((a, b) => a - b)[1]!;
  return {
    metrics: {
      params,
      ms_shared: shared,
      ms_postmessage: postMessage,
      ratio: postMessage / shared,
      ms_shared_adam: sharedAdam,
      ratio_adam: postMessage / sharedAdam,
    },
  };
}
