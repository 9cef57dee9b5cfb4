// Determinism on generated runs: seeded random MLPs and CNNs (dropout, dilation, batch norm with
// its options, pooling, reshape), batch sizes, microbatch counts, optimizers, schedules and
// clipping nobody chose, with early stopping now and then, trained on 1 and on 3 threads of pools
// reused from run to run, as a worker's is: the weights, the optimizer state, the moving
// statistics, every metric and the test-set pass must be the same bytes.
import { compileModel, epochMetricValues, parseCheckpoint, serializeCheckpoint } from '@hypersweep/nn';
import { generatedModel, randomDataset } from '@hypersweep/nn/testing';
import { Rng } from '@hypersweep/nn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplicaPool, type ParallelTrainOptions } from '../src/index.ts';
import { bytes } from './helpers.ts';

const OPTIMIZERS = [
  { type: 'sgd', learningRate: 0.05, momentum: 0.9, nesterov: true },
  { type: 'adam', learningRate: 0.01 },
  { type: 'adamw', learningRate: 0.01, weightDecay: 0.05 },
  { type: 'rmsprop', learningRate: 0.005, centered: true, momentum: 0.5 },
] as const;

const SCHEDULES = [
  { type: 'constant', warmupEpochs: 1 },
  { type: 'step', stepEpochs: 1, gamma: 0.5 },
  { type: 'exponential', gamma: 0.7 },
  { type: 'cosine', minLearningRate: 0.001, warmupEpochs: 0.5 },
] as const;

/** A generated run: model, data, batch size, microbatches, optimizer, schedule and clipping from one seed. */
function generatedRun(seed: number): ParallelTrainOptions {
  const { spec } = generatedModel(seed, 'infer');
  const rng = Rng.fromSeed(seed + 7);
  const outputs = compileModel(spec).outputSize;
  const batchSize = 3 + rng.int(30);
  return {
    model: spec,
    optimizer: OPTIMIZERS[rng.int(OPTIMIZERS.length)],
    dataset: randomDataset({ featureShape: spec.inputShape, outputs, task: spec.loss === 'mse' ? 'regression' : 'classification', count: 40 + rng.int(60), seed }),
    epochs: 2,
    batchSize,
    microbatches: 1 + rng.int(Math.min(batchSize, 6)),
    schedule: SCHEDULES[rng.int(SCHEDULES.length)],
    seed,
    evaluateTest: true,
    // Early stopping on the validation loss now and then (patience 1 over 2 epochs can stop a run).
    ...(rng.float() < 0.3 ? { earlyStopping: { patience: 1 } } : {}),
    ...(rng.float() < 0.5 ? { clipNorm: 0.5 } : {}),
  };
}

const SEEDS = Array.from({ length: 32 }, (_, i) => 2000 + i);
const pools: ReplicaPool[] = [];

beforeAll(async () => {
  pools.push(await ReplicaPool.create({ threads: 1 }), await ReplicaPool.create({ threads: 3 }));
});

afterAll(async () => {
  for (const pool of pools) await pool.close();
});

describe('generated runs on 1 and 3 threads', () => {
  it.each(SEEDS)('run %i: the same bytes of weights, state and metrics', async (seed) => {
    const o = generatedRun(seed);
    const [one, three] = [await pools[0]!.train(o), await pools[1]!.train(o)];
    const what = JSON.stringify({ model: o.model, batchSize: o.batchSize, microbatches: o.microbatches, optimizer: o.optimizer });
    expect(one.params.every(Number.isFinite), what).toBe(true);
    expect(bytes(three.params).equals(bytes(one.params)), what).toBe(true);
    expect(Buffer.from(three.checkpoint.data).equals(Buffer.from(one.checkpoint.data)), what).toBe(true);
    expect(three.history.map(epochMetricValues)).toEqual(one.history.map(epochMetricValues));
    // The test-set pass (loss, scores and confusion matrix) too.
    expect(three.test).toEqual(one.test);
    expect(one.test).not.toBeNull();
  });

  it('a pool that trained other runs gives a run the bytes of a fresh pool (clipping reads whole gradient blocks)', async () => {
    const reused = await ReplicaPool.create({ threads: 2 });
    try {
      for (const seed of SEEDS.filter((s) => generatedRun(s).clipNorm !== undefined).slice(0, 3)) {
        // Another run first, so this pool's memory holds what it left.
        await reused.train(generatedRun(seed + 1000));
        const o = generatedRun(seed);
        const fresh = await ReplicaPool.create({ threads: 2 });
        try {
          const [clean, dirty] = [await fresh.train(o), await reused.train(o)];
          expect(Buffer.from(dirty.checkpoint.data).equals(Buffer.from(clean.checkpoint.data))).toBe(true);
        } finally {
          await fresh.close();
        }
      }
    } finally {
      await reused.close();
    }
  });

  it('a checkpoint with leftovers between its tensors (as runs before the zeroing wrote) resumes to the straight bytes', async () => {
    const seed = SEEDS.find((s) => {
      const model = compileModel(generatedRun(s).model);
      return generatedRun(s).clipNorm !== undefined && model.params.some((t, i, all) => i > 0 && t.offset > all[i - 1]!.offset + all[i - 1]!.size);
    })!;
    expect(seed).toBeDefined();
    const o = { ...generatedRun(seed), epochs: 2, earlyStopping: undefined };
    const straight = await pools[0]!.train(o);
    const first = await pools[1]!.train({ ...o, onEpoch: (m) => (m.epoch === 1 ? 'stop' : undefined) });
    const { manifestJson, data } = serializeCheckpoint(first.checkpoint);
    const ckpt = parseCheckpoint(manifestJson, data.slice());
    const model = compileModel(o.model);
    const dv = new DataView(ckpt.data.buffer, ckpt.data.byteOffset, ckpt.data.byteLength);
    let dirtied = 0;
    for (const t of ckpt.manifest.tensors.filter((x) => x.name === 'params' || x.name.startsWith('optimizer/'))) {
      for (let i = 0; i < t.length; i++) {
        if (model.params.some((p) => i >= p.offset && i < p.offset + p.size)) continue;
        dv.setFloat32(t.byteOffset + i * 4, Number.NaN, true);
        dirtied++;
      }
    }
    expect(dirtied).toBeGreaterThan(0);
    const resumed = await pools[0]!.train({ ...o, resumeFrom: ckpt });
    expect(Buffer.from(resumed.checkpoint.data).equals(Buffer.from(straight.checkpoint.data))).toBe(true);
  });

  it.each(SEEDS.slice(0, 12))('run %i stopped after epoch 1 on 3 threads and resumed from its serialised checkpoint on 1 gives the straight bytes', async (seed) => {
    const o = { ...generatedRun(seed), epochs: 3 };
    const straight = await pools[0]!.train(o);
    const first = await pools[1]!.train({ ...o, onEpoch: (m) => (m.epoch === 1 ? 'stop' : undefined) });
    expect(first.epochsRun).toBe(1);
    const { manifestJson, data } = serializeCheckpoint(first.checkpoint);
    const resumed = await pools[0]!.train({ ...o, resumeFrom: parseCheckpoint(manifestJson, data.slice()) });
    expect(resumed.epochsRun).toBe(straight.epochsRun);
    expect(Buffer.from(resumed.checkpoint.data).equals(Buffer.from(straight.checkpoint.data)), JSON.stringify(o.model)).toBe(true);
    expect(resumed.history.map(epochMetricValues)).toEqual(straight.history.map(epochMetricValues));
  });

  it('draws runs that differ: models, microbatch counts and optimizers', () => {
    const runs = SEEDS.map(generatedRun);
    expect(new Set(runs.map((r) => r.microbatches)).size).toBeGreaterThan(3);
    expect(new Set(runs.map((r) => (r.optimizer as { type: string }).type)).size).toBe(OPTIMIZERS.length);
    expect(new Set(runs.map((r) => (r.schedule as { type: string }).type)).size).toBe(SCHEDULES.length);
    expect(runs.some((r) => JSON.stringify(r.model).includes('batch_norm'))).toBe(true);
    expect(runs.some((r) => JSON.stringify(r.model).includes('dropout'))).toBe(true);
    expect(runs.filter((r) => r.clipNorm !== undefined).length).toBeGreaterThanOrEqual(3);
    expect(runs.slice(0, 12).filter((r) => r.earlyStopping !== undefined).length).toBeGreaterThanOrEqual(2);
  });
});
