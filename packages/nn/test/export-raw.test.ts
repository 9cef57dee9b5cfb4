// Acceptance of the raw-input export: a TensorFlow.js user loads the model with
// tf.loadLayersModel, feeds the features they have (MNIST pixels 0–255, CSV values as in the
// file) and gets what our Predictor gives, because the dataset's scaling is inside the model.
// Datasets come from @hypersweep/datasets (a test-only import: it depends on this package, so
// package.json cannot list it without a cycle; npm workspaces link it).
import { loadDataset, parseCsv } from '@hypersweep/datasets';
import { describe, expect, it } from 'vitest';
import type { Dataset } from '../src/data.ts';
import { Predictor } from '../src/inference.ts';
import { multiScaleRows } from '../src/testing.ts';
import { exportTfjs } from '../src/tfjs.ts';
import { TrainingSession } from '../src/train.ts';
import { tfjsPredict } from './tfjs-harness.ts';

function argmax(p: Float32Array, row: number, k: number): number {
  let best = 0;
  for (let c = 1; c < k; c++) if (p[row * k + c]! > p[row * k + best]!) best = c;
  return best;
}

/** Share of rows with the same argmax, and the largest difference of any output. */
function compare(a: Float32Array, b: Float32Array, k: number): { agreement: number; maxDiff: number } {
  expect(a.length).toBe(b.length);
  const rows = a.length / k;
  let same = 0;
  for (let r = 0; r < rows; r++) if (argmax(a, r, k) === argmax(b, r, k)) same++;
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
  return { agreement: same / rows, maxDiff };
}

function accuracy(p: Float32Array, labels: ArrayLike<number>, k: number): number {
  let right = 0;
  for (let r = 0; r < labels.length; r++) if (argmax(p, r, k) === labels[r]) right++;
  return right / labels.length;
}

async function train(dataset: Dataset, model: unknown, epochs: number, learningRate: number): Promise<TrainingSession> {
  const session = await TrainingSession.create({ model, optimizer: { type: 'adam', learningRate }, dataset, epochs, batchSize: 32, seed: 1 });
  await session.fit();
  return session;
}

const rows = multiScaleRows;

const classOf = (score: number) => (score < -0.6 ? 0 : score < 0.6 ? 1 : 2);
const CLASSES = ['low', 'mid', 'high'];

describe('raw-input export in TensorFlow.js', () => {
  it('MNIST CNN (Conv2D, MaxPooling2D, AveragePooling2D, Reshape): tfjs on raw pixels agrees with our Predictor, and the export reads back', async () => {
    const ds = await loadDataset('mnist', { limitTrain: 600, limitTest: 300, seed: 2 });
    const spec = {
      inputShape: [28, 28],
      layers: [
        { type: 'reshape', targetShape: [28, 28, 1] },
        { type: 'conv2d', filters: 6, kernelSize: 3, activation: 'relu' },
        { type: 'max_pool2d' },
        { type: 'conv2d', filters: 8, kernelSize: [3, 2], strides: 2, padding: 'same', activation: 'elu' },
        { type: 'avg_pool2d', poolSize: 3, strides: 2, padding: 'same' },
        { type: 'flatten' },
        { type: 'dropout', rate: 0.1 },
        { type: 'dense', units: 10 },
      ],
      loss: 'softmax_cross_entropy',
    };
    const session = await train(ds, spec, 2, 3e-3);
    const params = session.paramsView().slice();
    const exported = exportTfjs(session.model, params, { normalization: ds.normalization, classNames: ds.classNames ?? null });
    expect(exported.modelJson.modelTopology.config.layers.map((l) => l.class_name)).toEqual(['Rescaling', 'Reshape', 'Conv2D', 'MaxPooling2D', 'Conv2D', 'Activation', 'AveragePooling2D', 'Flatten', 'Dropout', 'Dense']);
    const u8 = ds.test.features as Uint8Array;
    const reference = await Predictor.create(session.model, params, { normalization: ds.normalization });
    const ours = reference.predictRaw(u8);
    const theirs = await tfjsPredict(exported, Float32Array.from(u8), [28, 28]);
    const { agreement, maxDiff } = compare(theirs, ours, 10);
    expect(agreement).toBeGreaterThanOrEqual(0.999);
    expect(maxDiff).toBeLessThan(1e-4);
    // It learned something (chance is 0.1), so the agreement is not that of two constant models.
    expect(accuracy(ours, ds.test.labels as Int32Array, 10)).toBeGreaterThan(0.3);
    const back = await Predictor.fromTfjs(exported.modelJson, exported.weights);
    expect(compare(back.predictRaw(u8), ours, 10).maxDiff).toBeLessThan(1e-5);
  });

  it('MNIST CNN with batch norm (BatchNormalization after Conv2D and Dense): tf.loadLayersModel on raw pixels agrees with our Predictor on ≥ 99.9% of argmaxes, probabilities within 1e-4', async () => {
    const ds = await loadDataset('mnist', { limitTrain: 600, limitTest: 300, seed: 4 });
    const spec = {
      inputShape: [28, 28],
      layers: [
        { type: 'reshape', targetShape: [28, 28, 1] },
        { type: 'conv2d', filters: 6, kernelSize: 3, useBias: false },
        { type: 'batch_norm', momentum: 0.9 },
        { type: 'activation', activation: 'relu' },
        { type: 'max_pool2d' },
        { type: 'conv2d', filters: 8, kernelSize: 3, strides: 2, activation: 'relu' },
        { type: 'batch_norm', momentum: 0.9, center: false, epsilon: 0.01 },
        { type: 'flatten' },
        { type: 'dropout', rate: 0.1 },
        { type: 'dense', units: 16 },
        { type: 'batch_norm', momentum: 0.8, scale: false },
        { type: 'activation', activation: 'relu' },
        { type: 'dense', units: 10 },
      ],
      loss: 'softmax_cross_entropy',
    };
    const session = await train(ds, spec, 2, 3e-3);
    const params = session.paramsView().slice();
    const exported = exportTfjs(session.model, params, { normalization: ds.normalization, classNames: ds.classNames ?? null });
    const layers = exported.modelJson.modelTopology.config.layers;
    expect(layers.filter((l) => l.class_name === 'BatchNormalization').map((l) => [l.config.name, l.config.center, l.config.scale, l.config.momentum, l.config.epsilon])).toEqual([
      ['batch_normalization_1', true, true, 0.9, 1e-3],
      ['batch_normalization_2', false, true, 0.9, 0.01],
      ['batch_normalization_3', true, false, 0.8, 1e-3],
    ]);
    // tfjs's names and order: gamma, beta, moving_mean, moving_variance (absent ones left out).
    const names = exported.modelJson.weightsManifest.flatMap((g) => g.weights.map((w) => w.name)).filter((n) => n.startsWith('batch'));
    expect(names).toEqual([
      'batch_normalization_1/gamma', 'batch_normalization_1/beta', 'batch_normalization_1/moving_mean', 'batch_normalization_1/moving_variance',
      'batch_normalization_2/gamma', 'batch_normalization_2/moving_mean', 'batch_normalization_2/moving_variance',
      'batch_normalization_3/beta', 'batch_normalization_3/moving_mean', 'batch_normalization_3/moving_variance',
    ]);
    const u8 = ds.test.features as Uint8Array;
    const reference = await Predictor.create(session.model, params, { normalization: ds.normalization });
    const ours = reference.predictRaw(u8);
    const theirs = await tfjsPredict(exported, Float32Array.from(u8), [28, 28]);
    const { agreement, maxDiff } = compare(theirs, ours, 10);
    expect(agreement).toBeGreaterThanOrEqual(0.999);
    expect(maxDiff).toBeLessThan(1e-4);
    // Evaluation uses the moving statistics, which learned something (chance is 0.1).
    expect(accuracy(ours, ds.test.labels as Int32Array, 10)).toBeGreaterThan(0.3);
    const back = await Predictor.fromTfjs(exported.modelJson, exported.weights);
    expect(back.model.spec.layers.filter((l) => l.type === 'batch_norm')).toHaveLength(3);
    expect(compare(back.predictRaw(u8), ours, 10).maxDiff).toBeLessThan(1e-5);
  });

  it('MNIST: tfjs on raw 0–255 pixels agrees with our Predictor on ≥ 99.9% of argmaxes, probabilities within 1e-4', async () => {
    const ds = await loadDataset('mnist', { limitTrain: 2000, limitTest: 1000, seed: 1 });
    const session = await train(ds, { inputShape: [28, 28], layers: [{ type: 'flatten' }, { type: 'dense', units: 64, activation: 'relu' }, { type: 'dropout', rate: 0.1 }, { type: 'dense', units: 10 }], loss: 'softmax_cross_entropy' }, 3, 2e-3);
    const params = session.paramsView().slice();
    const exported = exportTfjs(session.model, params, { normalization: ds.normalization, classNames: ds.classNames ?? null });
    const u8 = ds.test.features as Uint8Array;
    const pixels = Float32Array.from(u8);
    expect(pixels.reduce((a, b) => Math.max(a, b), 0)).toBe(255);

    const reference = await Predictor.create(session.model, params, { normalization: ds.normalization });
    const ours = reference.predictRaw(u8);
    const theirs = await tfjsPredict(exported, pixels, [28, 28]);
    const vsTfjs = compare(theirs, ours, 10);
    expect(vsTfjs.agreement).toBeGreaterThanOrEqual(0.999);
    expect(vsTfjs.maxDiff).toBeLessThanOrEqual(1e-4);
    // The test accuracy our evaluation reports is what the tfjs user sees.
    const evaluated = await session.evaluate('test');
    expect(Math.abs(accuracy(theirs, ds.test.labels, 10) - evaluated.accuracy!)).toBeLessThanOrEqual(0.002);
    expect(evaluated.accuracy).toBeGreaterThan(0.8);
    // Our Predictor on the export (what the API and the playground run) gives the same.
    const fromExport = await Predictor.fromTfjs(JSON.parse(JSON.stringify(exported.modelJson)), exported.weights);
    expect(compare(fromExport.predictRaw(pixels), ours, 10).maxDiff).toBeLessThanOrEqual(1e-4);

    // The issue: the model without its scaling, fed pixels/255, is not the model that was trained.
    const unfolded = exportTfjs(session.model, params);
    const naive = compare(await tfjsPredict(unfolded, pixels.map((v) => v / 255), [28, 28]), ours, 10);
    expect(naive.agreement).toBeLessThan(0.99);
    expect(naive.maxDiff).toBeGreaterThan(0.1);
  });

  it('CSV classification: tfjs on raw features (scales 1e3 and 1e-2) agrees with our Predictor on ≥ 99.9% of argmaxes, probabilities within 1e-4', async () => {
    const data = rows(900, 1);
    const csv = ['big,tiny,plain,label', ...data.x.map((f, i) => `${f.join(',')},${CLASSES[classOf(data.score[i]!)]}`)].join('\n');
    const ds = parseCsv(csv, { labelColumn: 'label', task: 'classification', seed: 1 });
    expect(ds.classNames).toEqual(['high', 'low', 'mid']);
    const session = await train(ds, { inputShape: [3], layers: [{ type: 'dense', units: 16, activation: 'tanh' }, { type: 'dense', units: 3 }], loss: 'softmax_cross_entropy' }, 40, 1e-2);
    const params = session.paramsView().slice();
    const exported = exportTfjs(session.model, params, { normalization: ds.normalization, classNames: ds.classNames ?? null });

    // New rows, raw as a user has them.
    const fresh = rows(2000, 2);
    const raw = Float32Array.from(fresh.x.flat());
    const labels = fresh.score.map((s) => ds.classNames!.indexOf(CLASSES[classOf(s)]!));
    const reference = await Predictor.create(session.model, params, { normalization: ds.normalization });
    const ours = reference.predictRaw(raw);
    const theirs = await tfjsPredict(exported, raw, [3]);
    const vsTfjs = compare(theirs, ours, 3);
    expect(vsTfjs.agreement).toBeGreaterThanOrEqual(0.999);
    expect(vsTfjs.maxDiff).toBeLessThanOrEqual(1e-4);
    expect(accuracy(theirs, labels, 3)).toBeGreaterThan(0.9);
    const fromExport = await Predictor.fromTfjs(exported.modelJson, exported.weights);
    expect(compare(fromExport.predictRaw(raw), ours, 3).maxDiff).toBeLessThanOrEqual(1e-4);
    // Raw features standardised by hand are the stored features: predictRaw is the training path.
    expect(compare(reference.predictRaw(raw), reference.predictNormalized(standardize(raw, ds)), 3).maxDiff).toBeLessThanOrEqual(1e-6);

    // Without the scaling inside, tfjs on the same raw features is wrong.
    const unfolded = compare(await tfjsPredict(exportTfjs(session.model, params), raw, [3]), ours, 3);
    expect(unfolded.agreement).toBeLessThan(0.9);
  });

  it('CSV regression: tfjs on raw features predicts our values within float32 accuracy', async () => {
    const data = rows(600, 3);
    const target = (s: number) => 10 + 4 * Math.tanh(s);
    const csv = ['big,tiny,plain,y', ...data.x.map((f, i) => `${f.join(',')},${target(data.score[i]!)}`)].join('\n');
    const ds = parseCsv(csv, { labelColumn: 'y', task: 'regression', seed: 1 });
    const session = await train(ds, { inputShape: [3], layers: [{ type: 'dense', units: 16, activation: 'tanh' }, { type: 'dense', units: 1 }], loss: 'mse' }, 60, 1e-2);
    const params = session.paramsView().slice();
    const exported = exportTfjs(session.model, params, { normalization: ds.normalization });

    const fresh = rows(1000, 4);
    const raw = Float32Array.from(fresh.x.flat());
    const reference = await Predictor.create(session.model, params, { normalization: ds.normalization });
    const ours = reference.predictRaw(raw);
    const theirs = await tfjsPredict(exported, raw, [3]);
    const { maxDiff } = compare(theirs, ours, 1);
    const scale = ours.reduce((a, b) => Math.max(a, Math.abs(b)), 0);
    expect(maxDiff / scale).toBeLessThanOrEqual(1e-5);
    const fromExport = await Predictor.fromTfjs(exported.modelJson, exported.weights);
    expect(compare(fromExport.predictRaw(raw), ours, 1).maxDiff / scale).toBeLessThanOrEqual(1e-5);
    // It learned the target from raw features: the error is well below the target's spread (±4).
    const rmse = Math.sqrt(fresh.score.reduce((a, s, i) => a + (theirs[i]! - target(s)) ** 2, 0) / fresh.score.length);
    expect(rmse).toBeLessThan(1);
    // Without the scaling inside, tfjs on the same raw features is far off.
    const unfolded = compare(await tfjsPredict(exportTfjs(session.model, params), raw, [3]), ours, 1);
    expect(unfolded.maxDiff).toBeGreaterThan(1);
  });
});

function standardize(raw: Float32Array, ds: Dataset): Float32Array {
  const norm = ds.normalization;
  if (norm.kind !== 'standardized') throw new Error('expected a standardized dataset');
  const n = norm.mean.length;
  return raw.map((v, i) => (v - norm.mean[i % n]!) / norm.std[i % n]!);
}
