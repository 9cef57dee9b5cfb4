// planBytes: the size of a run's memory plan from sizes alone, equal to the plan a run lays out.
import { describe, expect, it } from 'vitest';
import type { Dataset, DataSplit } from '../src/data.ts';
import { NnError } from '../src/errors.ts';
import { convScratchFloats, windowGeometry } from '../src/geometry.ts';
import { resolveRun } from '../src/run/options.ts';
import { layoutDataset, planBytes, planRun, type DatasetSizes } from '../src/run/plan.ts';
import { TrainingSession } from '../src/train.ts';
import { blobs, waves } from './harness.ts';

const mlp = (dims: number, out: number, hidden = 32, loss = 'softmax_cross_entropy') => ({
  inputShape: [dims],
  layers: [{ type: 'dense', units: hidden, activation: 'relu' }, { type: 'dropout', rate: 0.1 }, { type: 'dense', units: out }],
  loss,
});

const sizesOf = (ds: Dataset): DatasetSizes => ({
  featureShape: ds.featureShape,
  featureBytes: ds.train.features instanceof Uint8Array ? 1 : 4,
  labelValues: ds.task === 'regression' ? (ds.targetDim ?? 1) : 1,
  train: ds.train.count,
  validation: ds.validation.count,
  test: ds.test.count,
});

/** Small uint8 "images", as MNIST stores its pixels. */
function pixels(count: number): Dataset {
  const split = (n: number): DataSplit => ({ count: n, features: new Uint8Array(n * 36).map((_, i) => i % 251), labels: new Int32Array(n).map((_, i) => i % 3) });
  return { name: 'pixels', task: 'classification', featureShape: [6, 6], numClasses: 3, normalization: { kind: 'affine', scale: 1 / 255, shift: 0 }, train: split(count), validation: split(17), test: split(23) };
}

describe('planBytes', () => {
  it("holds a conv layer's outputs and its kernel scratch (the README's formula)", () => {
    const cnn = (filters: number) => ({ inputShape: [6, 6], layers: [{ type: 'reshape', targetShape: [6, 6, 1] }, { type: 'conv2d', filters, kernelSize: 3, activation: 'relu' }, { type: 'flatten' }, { type: 'dense', units: 3 }], loss: 'softmax_cross_entropy' });
    const sized = (filters: number, threads: number) => planBytes({ model: cnn(filters), optimizer: { type: 'sgd' }, batchSize: 16, microbatches: 1, threads, dataset: sizesOf(pixels(40)) });
    const [a, b] = [sized(8, 1), sized(16, 1)];
    // Evaluation blocks of 16 rows: 8 more filters add z and y (4·rows·4·4·8 each), 8 more columns
    // of the dense kernel's input, and gradA and gradB grow to the wider conv output. The kernel
    // scratch (9 taps + 16 origins + the 6×6 example + Wᵀ of filters × 9 floats) grows by Wᵀ, in 64-byte blocks.
    const rows = 16;
    const convBytes = 2 * 4 * rows * 4 * 4 * 8;
    const gradBytes = 2 * 4 * rows * 4 * 4 * 8;
    const scratchBytes = (filters: number): number => Math.ceil((4 * (9 + 16 + 36 + filters * 9)) / 64) * 64;
    expect(scratchBytes(8)).toBe(Math.ceil((4 * convScratchFloats(windowGeometry([6, 6, 1], [3, 3], [1, 1], [1, 1], 'valid'), 8)) / 64) * 64);
    expect(b.activations - a.activations).toBe(convBytes + gradBytes + scratchBytes(16) - scratchBytes(8));
    expect(sized(8, 3).activations).toBe(3 * a.activations);
    expect(Number.isFinite(a.bytes) && b.bytes > a.bytes).toBe(true);
  });

  it("holds batch norm's output, its microbatch statistics and its four vectors (the README's formula)", () => {
    const cnn = (bn: boolean) => ({
      inputShape: [6, 6],
      layers: [{ type: 'reshape', targetShape: [6, 6, 1] }, { type: 'conv2d', filters: 8, kernelSize: 3 }, ...(bn ? [{ type: 'batch_norm' }] : []), { type: 'flatten' }, { type: 'dense', units: 3 }],
      loss: 'softmax_cross_entropy',
    });
    const sized = (bn: boolean) => planBytes({ model: cnn(bn), optimizer: { type: 'sgd' }, batchSize: 16, microbatches: 2, threads: 1, dataset: sizesOf(pixels(40)) });
    const [a, b] = [sized(false), sized(true)];
    // Blocks of 8 rows: the output 4·rows·(4·4·8) and the mean and variance 8·channels; gradA and
    // gradB are already as wide. gamma, beta, moving mean and variance (8 floats, each padded to
    // 16) are in the parameters, the 2 gradient slots (holding the microbatch statistics) and no state.
    const rows = 8;
    expect(b.activations - a.activations).toBe(4 * rows * 128 + 8 * 8);
    expect(b.parameters - a.parameters).toBe(4 * 4 * 16 * (1 + 2));
  });

  it('is the plan of a TrainingSession with the same options', async () => {
    const dataset = blobs({ count: 300, dims: 5, classes: 3, seed: 1 });
    for (const [batchSize, optimizer] of [
      [64, { type: 'adam', learningRate: 0.01 }],
      [20, { type: 'sgd', learningRate: 0.1, momentum: 0.9 }],
      [33, { type: 'rmsprop', learningRate: 0.01, centered: true }],
    ] as const) {
      const session = await TrainingSession.create({ model: mlp(5, 3), optimizer, dataset, epochs: 1, batchSize, seed: 1, kernels: { backend: 'reference' } });
      const sized = planBytes({ model: mlp(5, 3), optimizer, batchSize, threads: 1, dataset: sizesOf(dataset) });
      expect(sized.bytes, `batch ${batchSize}, ${optimizer.type}`).toBe(session.plan.bytes);
    }
  });

  it('is planRun on the real dataset for any thread count, uint8 features and regression included', () => {
    const cases: [Dataset, unknown][] = [
      [pixels(101), { inputShape: [6, 6], layers: [{ type: 'flatten' }, { type: 'dense', units: 40, activation: 'gelu' }, { type: 'dense', units: 3 }], loss: 'softmax_cross_entropy' }],
      [waves({ count: 90, seed: 2 }), mlp(3, 1, 24, 'mse')],
    ];
    for (const [dataset, model] of cases) {
      for (const threads of [1, 3, 8]) {
        const run = resolveRun({ model, optimizer: { type: 'adamw', learningRate: 0.001 }, dataset, epochs: 1, batchSize: 48, microbatches: 3, seed: 7 });
        const plan = planRun(run, { threads, dataset: layoutDataset(dataset, 64), spin: 0, stepTimeoutMs: 1000 });
        const sized = planBytes({ model, optimizer: { type: 'adamw', learningRate: 0.001 }, batchSize: 48, microbatches: 3, threads, dataset: sizesOf(dataset) });
        expect(sized.bytes, `${dataset.name} on ${threads} threads`).toBe(plan.bytes);
      }
    }
  });

  it('reports its parts: parameters grow with microbatches and optimizer state, activations with threads and rows', () => {
    const dataset: DatasetSizes = { featureShape: [28, 28], featureBytes: 1, train: 60_000, validation: 0, test: 10_000 };
    const model = { inputShape: [28, 28], layers: [{ type: 'flatten' }, { type: 'dense', units: 512, activation: 'relu' }, { type: 'dense', units: 10 }], loss: 'softmax_cross_entropy' };
    const base = planBytes({ model, optimizer: { type: 'sgd', learningRate: 0.1 }, batchSize: 128, threads: 1, dataset });
    // 784·512 + 512 + 512·10 + 10 parameters (tensors padded to 16 floats), one slot for params and each of 4 microbatches.
    expect(base.parameters).toBe(4 * (401_408 + 512 + 5_120 + 16) * (1 + 4));
    expect(base.dataset).toBe(70_000 * (784 + 4));
    const adam = planBytes({ model, optimizer: { type: 'adam', learningRate: 0.1 }, batchSize: 128, threads: 1, dataset });
    expect(adam.parameters - base.parameters).toBe(2 * 4 * (401_408 + 512 + 5_120 + 16));
    expect(adam.bytes - base.bytes).toBeGreaterThanOrEqual(adam.parameters - base.parameters);
    const eight = planBytes({ model, optimizer: { type: 'sgd', learningRate: 0.1 }, batchSize: 128, threads: 8, dataset });
    expect(eight.activations).toBe(8 * base.activations);
    expect(eight.bytes - base.bytes).toBeGreaterThanOrEqual(7 * base.activations);
    const wider = planBytes({ model, optimizer: { type: 'sgd', learningRate: 0.1 }, batchSize: 1024, threads: 8, dataset });
    expect(wider.activations).toBeGreaterThan(eight.activations);
    expect(wider.bytes).toBeGreaterThan(eight.bytes);
  });

  it('is Infinity past WebAssembly’s 4 GiB, with the parts that make it so', () => {
    const model = { inputShape: [16_384], layers: [{ type: 'dense', units: 16_384 }, { type: 'dense', units: 16_384 }, { type: 'dense', units: 10 }], loss: 'softmax_cross_entropy' };
    const huge = planBytes({ model, optimizer: { type: 'adam', learningRate: 0.001 }, batchSize: 64, threads: 2, dataset: { featureShape: [16_384], featureBytes: 4, train: 10, validation: 0, test: 0 } });
    expect(huge.bytes).toBe(Number.POSITIVE_INFINITY);
    expect(huge.parameters).toBeGreaterThan(2 ** 32);
    expect(Number.isFinite(huge.activations)).toBe(true);
  });

  it('refuses invalid options with INVALID_SPEC naming the field', () => {
    const dataset: DatasetSizes = { featureShape: [2], featureBytes: 4, train: 10, validation: 0, test: 0 };
    const call = (o: Partial<Parameters<typeof planBytes>[0]>) => () =>
      planBytes({ model: mlp(2, 2), optimizer: { type: 'adam', learningRate: 0.01 }, batchSize: 8, threads: 1, dataset, ...o });
    for (const [o, field] of [
      [{ batchSize: 0 }, 'batchSize'],
      [{ microbatches: 9 }, 'microbatches'],
      [{ threads: 0 }, 'threads'],
      [{ dataset: { ...dataset, train: -1 } }, 'dataset.train'],
      [{ model: { inputShape: [2], layers: [], loss: 'mse' } }, 'layers'],
    ] as const) {
      expect(call(o)).toThrow(NnError);
      expect(call(o)).toThrow(field);
    }
  });
});
