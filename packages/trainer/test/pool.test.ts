// Reuse: one pool trains trials with different models, batch sizes and optimizers, re-planning and
// growing the shared memory without restarting its threads, and without leaking state between trials.
import { describe, expect, it } from 'vitest';
import { ReplicaPool, type ParallelTrainOptions } from '../src/index.ts';
import { bytes, mlp, quadrants } from './helpers.ts';

const dataset = quadrants({ count: 400, side: 8, seed: 2 });
const small: ParallelTrainOptions = { model: mlp(8), optimizer: { type: 'adam', learningRate: 0.01 }, dataset, epochs: 2, batchSize: 32, microbatches: 2, seed: 3 };
const large: ParallelTrainOptions = {
  model: {
    inputShape: [8, 8],
    layers: [{ type: 'flatten' }, { type: 'dense', units: 1024, activation: 'tanh' }, { type: 'dense', units: 512, activation: 'relu' }, { type: 'dense', units: 4 }],
    loss: 'softmax_cross_entropy',
  },
  optimizer: { type: 'sgd', learningRate: 0.05, momentum: 0.9, nesterov: true },
  dataset,
  epochs: 2,
  batchSize: 50,
  microbatches: 5,
  seed: 4,
  evaluateTest: true,
};

describe('replica pool reuse', () => {
  it('re-plans per trial, grows memory, places the dataset once and leaks nothing between trials', async () => {
    const pool = await ReplicaPool.create({ threads: 2 });
    const fresh = await ReplicaPool.create({ threads: 2 });
    try {
      const threadsBefore = [pool.replicaThread(0), pool.replicaThread(1)];
      const a = await pool.train(small);
      const memSmall = pool.stats.memoryBytes;
      const b = await pool.train(large);
      expect(pool.stats.memoryBytes).toBeGreaterThan(memSmall);
      const a2 = await pool.train(small);
      expect(bytes(a2.params).equals(bytes(a.params))).toBe(true);
      expect(pool.stats.datasetPlacements).toBe(1);
      expect([pool.replicaThread(0), pool.replicaThread(1)]).toEqual(threadsBefore);

      const bFresh = await fresh.train(large);
      expect(bytes(b.params).equals(bytes(bFresh.params))).toBe(true);
      expect(b.test?.count).toBe(dataset.test.count);
      expect(b.test?.accuracy).toBeGreaterThan(0.5);
      expect(b.history[1]!.stepTiming.computeMs).toBeGreaterThan(0);
    } finally {
      await pool.close();
      await fresh.close();
    }
  });
});
