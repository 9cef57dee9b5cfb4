// Acceptance: the same seed, global batch and microbatches give byte-identical weights and metrics
// for T = 1, 2, 3, 4 threads, and resuming with a different T gives the same bytes again.
import { compileModel, epochMetricValues, parseCheckpoint, serializeCheckpoint, TrainingSession, type EpochMetrics } from '@hypersweep/nn';
import { blobs, waves } from '@hypersweep/nn/testing';
import { describe, expect, it } from 'vitest';
import { ReplicaPool, type ParallelTrainOptions } from '../src/index.ts';
import { bytes, mlp, quadrants } from './helpers.ts';

const dataset = quadrants({ count: 333, side: 8, seed: 3 });
const base: ParallelTrainOptions = {
  model: mlp(8),
  optimizer: { type: 'adamw', learningRate: 0.01 },
  schedule: { type: 'cosine', warmupEpochs: 1 },
  dataset,
  epochs: 3,
  batchSize: 40,
  microbatches: 4,
  seed: 11,
  clipNorm: 1,
};
/** Every reported metric (top-k, MAE and RMSE included) and the learning rate, per epoch. */
const metricsOf = (h: readonly EpochMetrics[]) => h.map((m) => ({ ...epochMetricValues(m), learningRate: m.learningRate }));

async function run(threads: number, o: Partial<ParallelTrainOptions> = {}) {
  const pool = await ReplicaPool.create({ threads });
  try {
    return await pool.train({ ...base, ...o });
  } finally {
    await pool.close();
  }
}

describe('determinism across thread counts', () => {
  it('T = 1, 2, 3, 4 give byte-identical weights and metrics (dropout, clipping, a partial last batch)', async () => {
    const results = [];
    for (const t of [1, 2, 3, 4]) results.push(await run(t));
    const reference = bytes(results[0]!.params);
    for (const r of results) {
      expect(bytes(r.params).equals(reference)).toBe(true);
      expect(metricsOf(r.history)).toEqual(metricsOf(results[0]!.history));
      expect(Buffer.from(r.checkpoint.data).equals(Buffer.from(results[0]!.checkpoint.data))).toBe(true);
    }
    // It learned something: the final validation accuracy is far above chance.
    expect(results[0]!.history[2]!.valAccuracy).toBeGreaterThan(0.8);
    // The comparison can fail: another microbatch count or seed changes the bytes.
    expect(bytes((await run(2, { microbatches: 2 })).params).equals(reference)).toBe(false);
    expect(bytes((await run(2, { seed: 12 })).params).equals(reference)).toBe(false);
  });

  it.each([
    ['7-class classification (top-3, top-5)', { model: { inputShape: [6], layers: [{ type: 'dense', units: 24, activation: 'relu' }, { type: 'dropout', rate: 0.2 }, { type: 'dense', units: 7 }], loss: 'softmax_cross_entropy' }, dataset: blobs({ count: 301, dims: 6, classes: 7, seed: 4, spread: 2 }) }],
    ['regression (MAE, RMSE)', { model: { inputShape: [3], layers: [{ type: 'dense', units: 24, activation: 'gelu' }, { type: 'dropout', rate: 0.2 }, { type: 'dense', units: 1 }], loss: 'mse' }, dataset: waves({ count: 301, seed: 4 }) }],
  ])('%s: the new metrics are bit-identical for T = 1, 2, 3, 4', async (_name, o) => {
    const results = [];
    for (const t of [1, 2, 3, 4]) results.push(await run(t, { ...o, epochs: 2 }));
    const reported = Object.entries(metricsOf(results[0]!.history)[1]!).filter(([, v]) => v !== null).map(([k]) => k);
    expect(reported).toEqual(
      o.dataset.task === 'regression'
        ? ['train_loss', 'train_mae', 'train_rmse', 'val_loss', 'val_mae', 'val_rmse', 'learningRate']
        : ['train_loss', 'train_accuracy', 'train_top3_accuracy', 'train_top5_accuracy', 'val_loss', 'val_accuracy', 'val_top3_accuracy', 'val_top5_accuracy', 'learningRate'],
    );
    for (const r of results) {
      expect(metricsOf(r.history)).toEqual(metricsOf(results[0]!.history));
      expect(bytes(r.params).equals(bytes(results[0]!.params))).toBe(true);
    }
  });

  it('without clipping (the fused one-pass update) T = 1 and T = 3 give the same bytes', async () => {
    const a = await run(1, { clipNorm: undefined });
    const b = await run(3, { clipNorm: undefined });
    expect(bytes(b.params).equals(bytes(a.params))).toBe(true);
    expect(metricsOf(b.history)).toEqual(metricsOf(a.history));
  });

  it('a run resumed on a different thread count gives the same bytes', async () => {
    const straight = await run(1);
    // Two epochs on 2 threads, then the last one on 3 threads from the serialised checkpoint.
    const first = await run(2, { epochs: 3, onEpoch: (m) => (m.epoch === 2 ? 'stop' : undefined) });
    expect(first.epochsRun).toBe(2);
    const { manifestJson, data } = serializeCheckpoint(first.checkpoint);
    const resumed = await run(3, { resumeFrom: parseCheckpoint(manifestJson, data.slice()) });
    expect(resumed.epochsRun).toBe(3);
    expect(bytes(resumed.params).equals(bytes(straight.params))).toBe(true);
    expect(metricsOf(resumed.history)).toEqual(metricsOf(straight.history));
  });

  // conv → max pool → dropout → conv (dilated) → avg pool → flatten → dense, on the same images.
  const cnn: Partial<ParallelTrainOptions> = {
    model: {
      inputShape: [8, 8],
      layers: [
        { type: 'reshape', targetShape: [8, 8, 1] },
        { type: 'conv2d', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' },
        { type: 'max_pool2d' },
        { type: 'dropout', rate: 0.2 },
        { type: 'conv2d', filters: 5, kernelSize: 2, dilation: 2, padding: 'same', activation: 'tanh' },
        { type: 'avg_pool2d', poolSize: 3, strides: 2, padding: 'same' },
        { type: 'flatten' },
        { type: 'dense', units: 4 },
      ],
      loss: 'softmax_cross_entropy',
    },
    optimizer: { type: 'adam', learningRate: 0.01 },
  };

  it('a CNN with dropout: T = 1, 2, 3, 4 give byte-identical weights, optimizer state and metrics', async () => {
    const results = [];
    for (const t of [1, 2, 3, 4]) results.push(await run(t, cnn));
    const reference = bytes(results[0]!.params);
    for (const r of results) {
      expect(bytes(r.params).equals(reference)).toBe(true);
      expect(metricsOf(r.history)).toEqual(metricsOf(results[0]!.history));
      // The checkpoint holds the parameters and Adam's m and v.
      expect(Buffer.from(r.checkpoint.data).equals(Buffer.from(results[0]!.checkpoint.data))).toBe(true);
    }
    expect(results[0]!.history[2]!.trainLoss).toBeLessThan(results[0]!.history[0]!.trainLoss);
    expect(bytes((await run(2, { ...cnn, microbatches: 2 })).params).equals(reference)).toBe(false);
  });

  it('a CNN: two epochs on T = 2, resumed on T = 3, gives the T = 1 bytes', async () => {
    const straight = await run(1, cnn);
    const first = await run(2, { ...cnn, onEpoch: (m) => (m.epoch === 2 ? 'stop' : undefined) });
    expect(first.epochsRun).toBe(2);
    const { manifestJson, data } = serializeCheckpoint(first.checkpoint);
    const resumed = await run(3, { ...cnn, resumeFrom: parseCheckpoint(manifestJson, data.slice()) });
    expect(resumed.epochsRun).toBe(3);
    expect(bytes(resumed.params).equals(bytes(straight.params))).toBe(true);
    expect(Buffer.from(resumed.checkpoint.data).equals(Buffer.from(straight.checkpoint.data))).toBe(true);
    expect(metricsOf(resumed.history)).toEqual(metricsOf(straight.history));
  });

  // Batch norm after a conv (per channel over rows × positions) and after a dense layer, with
  // dropout between: each microbatch normalises by its own statistics (ghost batch norm), and the
  // moving statistics are folded in microbatch order, so they too cannot depend on T.
  const bnCnn: Partial<ParallelTrainOptions> = {
    model: {
      inputShape: [8, 8],
      layers: [
        { type: 'reshape', targetShape: [8, 8, 1] },
        { type: 'conv2d', filters: 4, kernelSize: 3, padding: 'same' },
        { type: 'batch_norm' },
        { type: 'activation', activation: 'relu' },
        { type: 'max_pool2d' },
        { type: 'dropout', rate: 0.2 },
        { type: 'conv2d', filters: 3, kernelSize: 2, activation: 'tanh' },
        { type: 'flatten' },
        { type: 'dense', units: 6 },
        { type: 'batch_norm', momentum: 0.9, scale: false },
        { type: 'activation', activation: 'relu' },
        { type: 'dense', units: 4 },
      ],
      loss: 'softmax_cross_entropy',
    },
    optimizer: { type: 'adam', learningRate: 0.01 },
  };
  /** The moving mean and variance of every batch norm layer, from a run's parameters. */
  const movingStatistics = (params: Float32Array) =>
    compileModel(bnCnn.model)
      .params.filter((t) => !t.trainable)
      .map((t) => Array.from(params.subarray(t.offset, t.offset + t.size)));

  it('a CNN with batch norm and dropout: T = 1, 2, 3, 4 give byte-identical weights, optimizer state and moving statistics', async () => {
    const results = [];
    for (const t of [1, 2, 3, 4]) results.push(await run(t, bnCnn));
    const reference = bytes(results[0]!.params);
    for (const r of results) {
      // The parameters hold the moving statistics; the checkpoint holds them and Adam's m and v.
      expect(bytes(r.params).equals(reference)).toBe(true);
      expect(movingStatistics(r.params)).toEqual(movingStatistics(results[0]!.params));
      expect(metricsOf(r.history)).toEqual(metricsOf(results[0]!.history));
      expect(Buffer.from(r.checkpoint.data).equals(Buffer.from(results[0]!.checkpoint.data))).toBe(true);
    }
    // The moving statistics moved away from their initial 0 and 1, and the model learned.
    const [mean, variance] = movingStatistics(results[0]!.params);
    expect(mean!.some((v) => Math.abs(v) > 1e-3)).toBe(true);
    expect(variance!.some((v) => Math.abs(v - 1) > 1e-3)).toBe(true);
    expect(results[0]!.history[2]!.trainLoss).toBeLessThan(results[0]!.history[0]!.trainLoss);
    // Another microbatch count normalises over other rows: other bytes.
    expect(bytes((await run(2, { ...bnCnn, microbatches: 2 })).params).equals(reference)).toBe(false);
  });

  it('batch norm with a last batch of 3 rows over 4 microbatches (one empty, three of one row): T = 1 and 3 agree, the statistics stay finite', async () => {
    // 333 = 6·55 + 3: microbatch 0 of the last step is empty and folds nothing; the others hold
    // one row each (the dense batch norm's variance is 0 there, its output beta).
    const o = { ...bnCnn, batchSize: 55, epochs: 2 };
    const [one, three] = [await run(1, o), await run(3, o)];
    expect(bytes(three.params).equals(bytes(one.params))).toBe(true);
    expect(Buffer.from(three.checkpoint.data).equals(Buffer.from(one.checkpoint.data))).toBe(true);
    expect(movingStatistics(one.params).flat().every(Number.isFinite)).toBe(true);
    expect(one.history.every((m) => Number.isFinite(m.trainLoss) && Number.isFinite(m.valLoss))).toBe(true);
  });

  it('a CNN with batch norm, without clipping: two epochs on T = 2, resumed on T = 3, give the T = 1 bytes', async () => {
    const o = { ...bnCnn, clipNorm: undefined };
    const straight = await run(1, o);
    const first = await run(2, { ...o, onEpoch: (m) => (m.epoch === 2 ? 'stop' : undefined) });
    expect(first.epochsRun).toBe(2);
    const { manifestJson, data } = serializeCheckpoint(first.checkpoint);
    const resumed = await run(3, { ...o, resumeFrom: parseCheckpoint(manifestJson, data.slice()) });
    expect(resumed.epochsRun).toBe(3);
    expect(bytes(resumed.params).equals(bytes(straight.params))).toBe(true);
    expect(Buffer.from(resumed.checkpoint.data).equals(Buffer.from(straight.checkpoint.data))).toBe(true);
    expect(metricsOf(resumed.history)).toEqual(metricsOf(straight.history));
  });

  it('the single-thread session is the same run: bit for bit, with clipping, dropout and 4 microbatches', async () => {
    const parallel = await run(2, { epochs: 2 });
    const session = await TrainingSession.create({ ...base, epochs: 2 });
    await session.fit();
    expect(session.microbatches).toBe(base.microbatches);
    expect(bytes(parallel.params).equals(bytes(session.paramsView()))).toBe(true);
    expect(metricsOf(parallel.history)).toEqual(metricsOf(session.history));
    // And a session resumes a pool's checkpoint (and the other way round) on the same bits.
    const half = await run(3, { epochs: 2, onEpoch: (m) => (m.epoch === 1 ? 'stop' : undefined) });
    const resumed = await TrainingSession.create({ ...base, epochs: 2, resumeFrom: half.checkpoint });
    await resumed.fit();
    expect(bytes(resumed.paramsView()).equals(bytes(parallel.params))).toBe(true);
  });
});
