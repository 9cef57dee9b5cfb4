// The single-thread training loop: learning, optimizers, early stopping, cancellation, bad input.
import { describe, expect, it } from 'vitest';
import { NnError } from '../src/errors.ts';
import { fit, TrainingSession, type TrainOptions } from '../src/train.ts';
import { blobs, quadrants, waves } from './harness.ts';

const mlp = (dims: number, classes: number, extra: object[] = []) => ({
  inputShape: [dims],
  layers: [{ type: 'dense', units: 16, activation: 'relu' }, ...extra, { type: 'dense', units: classes }],
  loss: 'softmax_cross_entropy',
});

async function expectNnError(p: Promise<unknown>, code: string, text: string): Promise<NnError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, `expected ${code}`).toBeInstanceOf(NnError);
  expect((e as NnError).code).toBe(code);
  expect((e as NnError).message).toContain(text);
  return e as NnError;
}

describe('training', () => {
  it('learns separable blobs and reports per-epoch metrics', async () => {
    const ds = blobs({ count: 600, dims: 5, classes: 3, seed: 1 });
    const epochs: number[] = [];
    const r = await fit({
      model: mlp(5, 3, [{ type: 'dropout', rate: 0.1 }]),
      optimizer: { type: 'adam', learningRate: 0.01 },
      dataset: ds,
      epochs: 8,
      batchSize: 32,
      seed: 3,
      onEpoch: (m) => void epochs.push(m.epoch),
    });
    expect(epochs).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(r.history[7]!.trainLoss).toBeLessThan(r.history[0]!.trainLoss);
    expect(r.history[7]!.valAccuracy).toBeGreaterThan(0.9);
    expect(r.test.accuracy).toBeGreaterThan(0.9);
    expect(r.history[0]!.steps).toBe(Math.ceil(600 / 32));
  });

  it.each([
    ['flatten', [{ type: 'flatten' }], 0.9],
    ['global_avg_pool2d', [{ type: 'global_avg_pool2d' }], 0],
  ] as const)('trains a small CNN (conv → max pool → conv → %s → dense) on images: the loss falls', async (_head, head, accuracy) => {
    const r = await fit({
      model: {
        inputShape: [8, 8],
        layers: [
          { type: 'reshape', targetShape: [8, 8, 1] },
          { type: 'conv2d', filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' },
          { type: 'max_pool2d' },
          { type: 'conv2d', filters: 6, kernelSize: 2, activation: 'relu' },
          ...head,
          { type: 'dense', units: 4 },
        ],
        loss: 'softmax_cross_entropy',
      },
      optimizer: { type: 'adam', learningRate: 0.01 },
      dataset: quadrants({ count: 400, side: 8, seed: 5 }),
      epochs: 4,
      batchSize: 32,
      seed: 1,
    });
    const first = r.history[0]!.trainLoss;
    const last = r.history[3]!.trainLoss;
    expect(last).toBeLessThan(0.8 * first);
    expect(r.test.accuracy).toBeGreaterThanOrEqual(accuracy);
  });

  it('trains on uint8 images through the affine gather', async () => {
    const r = await fit({
      model: { inputShape: [8, 8], layers: [{ type: 'flatten' }, { type: 'dense', units: 16, activation: 'tanh' }, { type: 'dense', units: 4 }], loss: 'softmax_cross_entropy' },
      optimizer: { type: 'sgd', learningRate: 0.05, momentum: 0.9, nesterov: true },
      dataset: quadrants({ count: 800, side: 8, seed: 2 }),
      epochs: 5,
      batchSize: 50,
      seed: 1,
    });
    expect(r.test.accuracy).toBeGreaterThan(0.9);
  });

  it('fits a regression with mse', async () => {
    const r = await fit({
      model: { inputShape: [3], layers: [{ type: 'dense', units: 32, activation: 'gelu' }, { type: 'dense', units: 1 }], loss: 'mse' },
      optimizer: { type: 'adam', learningRate: 0.01 },
      dataset: waves({ count: 1000, seed: 4 }),
      epochs: 15,
      batchSize: 32,
      seed: 1,
    });
    expect(r.history[0]!.trainAccuracy).toBeNull();
    expect(r.test.loss).toBeLessThan(0.25 * r.history[0]!.valLoss!);
  });

  it.each([
    { type: 'sgd', learningRate: 0.1 },
    { type: 'sgd', learningRate: 0.05, momentum: 0.9 },
    { type: 'sgd', learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-4 },
    { type: 'adam', learningRate: 0.01, weightDecay: 1e-4 },
    { type: 'adamw', learningRate: 0.01 },
    { type: 'rmsprop', learningRate: 0.005 },
    { type: 'rmsprop', learningRate: 0.002, momentum: 0.5 },
  ])('optimizer %o lowers the loss', async (optimizer) => {
    const ds = blobs({ count: 300, dims: 4, classes: 3, seed: 5 });
    const r = await fit({ model: mlp(4, 3), optimizer, dataset: ds, epochs: 4, batchSize: 30, seed: 2, clipNorm: 5 });
    expect(r.history[3]!.trainLoss).toBeLessThan(0.8 * r.history[0]!.trainLoss);
  });

  it("batch norm's moving statistics after one full-batch step are tfjs's update with the batch's mean and biased variance", async () => {
    const ds = blobs({ count: 90, dims: 3, classes: 2, seed: 7 });
    const n = ds.train.count;
    const session = await TrainingSession.create({
      model: { inputShape: [3], layers: [{ type: 'batch_norm', momentum: 0.7 }, { type: 'dense', units: 2 }], loss: 'softmax_cross_entropy' },
      optimizer: { type: 'sgd', learningRate: 0.01 },
      dataset: ds,
      epochs: 1,
      batchSize: n,
      microbatches: 1,
      seed: 3,
    });
    await session.fit();
    const params = session.paramsView();
    const [mean, variance] = session.model.params.filter((t) => !t.trainable).map((t) => params.subarray(t.offset, t.offset + t.size));
    const x = ds.train.features as Float32Array;
    const decay = Math.fround(1 - 0.7);
    for (let c = 0; c < 3; c++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += x[i * 3 + c]!;
      const m = s / n;
      let q = 0;
      for (let i = 0; i < n; i++) q += (x[i * 3 + c]! - m) ** 2;
      // From 0 and 1: moving −= (moving − batch)·(1 − momentum).
      expect(mean![c]! / (m * decay)).toBeCloseTo(1, 5);
      expect(variance![c]!).toBeCloseTo(1 - (1 - q / n) * decay, 5);
      // Not the unbiased variance (Keras 2's fused kernel): that differs by n/(n − 1).
      expect(Math.abs(variance![c]! - (1 - (1 - q / (n - 1)) * decay))).toBeGreaterThan(1e-4);
    }
  });

  it('stops early and restores the best weights', async () => {
    const ds = blobs({ count: 200, dims: 4, classes: 2, seed: 6, spread: 3 });
    const session = await TrainingSession.create({
      model: mlp(4, 2),
      optimizer: { type: 'adam', learningRate: 0.05 },
      dataset: ds,
      epochs: 60,
      batchSize: 20,
      seed: 1,
      earlyStopping: { patience: 2, minDelta: 1e-3 },
    });
    const r = await session.fit();
    expect(r.stoppedBy).toBe('early_stopping');
    expect(r.epochsRun).toBeLessThan(60);
    const best = Math.min(...r.history.map((h) => h.valLoss!));
    expect(r.history[r.bestEpoch! - 1]!.valLoss).toBe(best);
    // The restored weights reproduce the best epoch's validation loss.
    expect(session.evaluate('validation').loss).toBeCloseTo(best, 5);
  });

  it('stops within one step when aborted', async () => {
    const ac = new AbortController();
    let steps = 0;
    const p = fit({
      model: mlp(4, 2),
      optimizer: { type: 'adam' },
      dataset: blobs({ count: 400, dims: 4, classes: 2, seed: 1 }),
      epochs: 5,
      batchSize: 10,
      seed: 1,
      stepInterval: 1,
      onStep: () => {
        steps++;
        if (steps === 3) ac.abort(new Error('cancelled by user'));
      },
      signal: ac.signal,
    });
    await expectNnError(p, 'ABORTED', 'epoch 1, step 4');
    expect(steps).toBe(3);
  });

  it('stops with an error naming the step when the loss becomes NaN/Inf', async () => {
    const ds = waves({ count: 200, seed: 1 });
    const p = fit({
      model: { inputShape: [3], layers: [{ type: 'dense', units: 8, activation: 'relu' }, { type: 'dense', units: 1 }], loss: 'mse' },
      optimizer: { type: 'sgd', learningRate: 100 },
      dataset: ds,
      epochs: 3,
      batchSize: 20,
      seed: 1,
    });
    const e = await expectNnError(p, 'NON_FINITE_LOSS', 'at epoch 1, step');
    expect((e.details as { step: number }).step).toBeGreaterThan(1);
  });

  it.each([
    [{ inputShape: [5], layers: [{ type: 'dense', units: 3 }], loss: 'softmax_cross_entropy' }, 'inputShape: the model takes [5] (5 features)'],
    [{ inputShape: [4], layers: [{ type: 'dense', units: 5 }], loss: 'softmax_cross_entropy' }, 'layers: the output layer has 5 units but dataset "blobs" has 3 classes'],
    [{ inputShape: [4], layers: [{ type: 'dense', units: 3 }], loss: 'mse' }, 'mse needs a regression dataset'],
  ])('rejects a spec that does not fit the dataset (%#)', async (model, text) => {
    const ds = blobs({ count: 30, dims: 4, classes: 3, seed: 1 });
    await expectNnError(fit({ model, optimizer: { type: 'adam' }, dataset: ds, epochs: 1, batchSize: 8, seed: 1 }), 'SHAPE_MISMATCH', text);
  });

  it.each([
    [{ epochs: 0 }, 'epochs'],
    [{ batchSize: 1.5 }, 'batchSize'],
    [{ seed: Number.NaN }, 'seed'],
    [{ clipNorm: -1 }, 'clipNorm'],
    [{ optimizer: { type: 'adam', beta1: 2 } }, 'beta1'],
  ] as [Partial<TrainOptions>, string][])('rejects bad training options (%#)', async (patch, field) => {
    const ds = blobs({ count: 30, dims: 4, classes: 3, seed: 1 });
    const base: TrainOptions = { model: mlp(4, 3), optimizer: { type: 'adam' }, dataset: ds, epochs: 1, batchSize: 8, seed: 1 };
    await expectNnError(fit({ ...base, ...patch }), 'INVALID_SPEC', field);
  });
});
