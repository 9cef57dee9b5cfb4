// Top-k accuracy, MAE and RMSE: the scoring functions against a plain sort / sum on random data
// (ties, NaN, out-of-range labels, one row), and a run's reported values against the same
// reference computed from a separate forward pass of its weights.
import { describe, expect, it } from 'vitest';
import { parseCheckpoint, serializeCheckpoint } from '../src/checkpoint.ts';
import type { DataSplit, Dataset } from '../src/data.ts';
import { NnError } from '../src/errors.ts';
import { countCorrect } from '../src/kernels/reference.ts';
import { epochMetricValues, reportedMetricNames, type EvalResult } from '../src/run/metrics.ts';
import { absErrorSum, countTopK } from '../src/run/scoring.ts';
import { Rng } from '../src/rng.ts';
import { TrainingSession, type TrainOptions } from '../src/train.ts';
import { blobs, harness, quadrants } from './harness.ts';

/** Top-k by sorting: columns by descending logit, ties by index, NaN columns last. */
function referenceTopK(logits: ArrayLike<number>, labels: ArrayLike<number>, rows: number, cols: number, k: number): number {
  let hits = 0;
  for (let r = 0; r < rows; r++) {
    const row = Array.from({ length: cols }, (_, c) => logits[r * cols + c]!);
    const order = [...row.keys()].filter((c) => !Number.isNaN(row[c])).sort((a, b) => row[b]! - row[a]! || a - b);
    if (order.slice(0, k).includes(labels[r]!)) hits++;
  }
  return hits;
}

/** Random logits; with `ties`, drawn from 4 values (±0 among them) so rows tie often; some NaN. */
function randomScores(rng: Rng, rows: number, cols: number, o: { ties: boolean; nan: boolean }) {
  const logits = new Float32Array(rows * cols);
  const pool = [-0, 0, 1.5, -2];
  for (let i = 0; i < logits.length; i++) {
    logits[i] = o.ties ? pool[rng.int(pool.length)]! : rng.normal() * 3;
    if (o.nan && rng.int(17) === 0) logits[i] = NaN;
  }
  // Mostly valid labels, a few outside the classes.
  const outside = () => (rng.int(2) === 0 ? cols + rng.int(3) : -1 - rng.int(2));
  const labels = Int32Array.from({ length: rows }, () => (rng.int(20) === 0 ? outside() : rng.int(cols)));
  return { logits, labels };
}

describe('countTopK', () => {
  it('agrees with a sort on random rows: ties, NaN, out-of-range labels, batch 1, at offsets', () => {
    const rng = Rng.fromSeed(5);
    let checked = 0;
    for (let trial = 0; trial < 400; trial++) {
      const rows = trial % 5 === 0 ? 1 : 1 + rng.int(40);
      const cols = 2 + rng.int(11);
      const o = { ties: trial % 2 === 0, nan: trial % 3 === 0 };
      const { logits, labels } = randomScores(rng, rows, cols, o);
      // The same rows behind some offset in larger arrays (as in a memory).
      const lOff = rng.int(7);
      const labOff = rng.int(5);
      const memF = new Float32Array(lOff + logits.length + 3);
      memF.set(logits, lOff);
      const memI = new Int32Array(labOff + rows + 2);
      memI.set(labels, labOff);
      for (const k of [1, 3, 5]) {
        expect(countTopK(memF, lOff, memI, labOff, rows, cols, k), `rows ${rows} cols ${cols} k ${k}`).toBe(referenceTopK(logits, labels, rows, cols, k));
        checked++;
      }
      // Top-1 is the accuracy kernel's first-maximum argmax (NaN aside, where that kernel may pick column 0).
      if (!o.nan) expect(countTopK(logits, 0, labels, 0, rows, cols, 1)).toBe(countCorrect(logits, 0, labels, 0, rows, cols));
    }
    expect(checked).toBe(1200);
  });

  it('counts a label tied with an earlier column after it, and a label tied with a later one before it', () => {
    const logits = Float32Array.from([1, 1, 1, 1, 0, 0]);
    // Ranks 0 … 5 by index among equals: label 2 is third, label 3 fourth.
    expect(countTopK(logits, 0, Int32Array.from([2]), 0, 1, 6, 3)).toBe(1);
    expect(countTopK(logits, 0, Int32Array.from([3]), 0, 1, 6, 3)).toBe(0);
    expect(countTopK(logits, 0, Int32Array.from([4]), 0, 1, 6, 5)).toBe(1);
    expect(countTopK(logits, 0, Int32Array.from([5]), 0, 1, 6, 5)).toBe(0);
  });
});

describe('absErrorSum', () => {
  it('is the plain float64 sum of absolute differences, batch 1 and at offsets included', () => {
    const rng = Rng.fromSeed(9);
    for (let trial = 0; trial < 100; trial++) {
      const n = trial === 0 ? 1 : 1 + rng.int(300);
      const p = new Float32Array(n + 4);
      const t = new Float32Array(n + 2);
      for (let i = 0; i < p.length; i++) p[i] = rng.normal() * 10;
      for (let i = 0; i < t.length; i++) t[i] = rng.normal() * 10;
      let ref = 0;
      for (let i = 0; i < n; i++) ref += Math.abs(p[i + 3]! - t[i + 1]!);
      expect(absErrorSum(p, 3, t, 1, n)).toBe(ref);
    }
  });
});

/** Two-output regression rows (so MAE and RMSE average over outputs too). */
function twoTargets(count: number, seed: number): Dataset {
  const rng = Rng.fromSeed(seed);
  const make = (n: number): DataSplit => {
    const features = new Float32Array(n * 3);
    const labels = new Float32Array(n * 2);
    for (let i = 0; i < n; i++) {
      const x = [rng.normal(), rng.normal(), rng.normal()];
      features.set(x, i * 3);
      labels[2 * i] = Math.sin(x[0]!) + x[1]! * x[2]!;
      labels[2 * i + 1] = 3 * x[2]! - x[0]!;
    }
    return { count: n, features, labels };
  };
  return {
    name: 'two-targets',
    task: 'regression',
    featureShape: [3],
    targetDim: 2,
    normalization: { kind: 'standardized', mean: [0, 0, 0], std: [1, 1, 1] },
    train: make(count),
    validation: make(Math.ceil(count / 4)),
    test: make(Math.ceil(count / 4)),
  };
}

/** The metrics of `params` on a split from one forward pass of a separate replica, computed plainly. */
async function reference(options: TrainOptions, params: Float32Array, split: DataSplit) {
  const h = await harness(options.model, split.count);
  h.params().set(params);
  h.input().set(split.features as Float32Array);
  const out = h.replica.forward(split.count, { training: false });
  const cols = h.model.outputSize;
  const y = new Float32Array(h.memory.buffer, out, split.count * cols).slice();
  const n = split.count;
  if (h.model.spec.loss === 'softmax_cross_entropy') {
    const labels = split.labels as Int32Array;
    return { accuracy: referenceTopK(y, labels, n, cols, 1) / n, top3: referenceTopK(y, labels, n, cols, 3) / n, top5: referenceTopK(y, labels, n, cols, 5) / n };
  }
  const t = split.labels as Float32Array;
  let abs = 0;
  let sq = 0;
  for (let i = 0; i < n * cols; i++) {
    abs += Math.abs(y[i]! - t[i]!);
    sq += (y[i]! - t[i]!) ** 2;
  }
  return { mae: abs / (n * cols), rmse: Math.sqrt(sq / (n * cols)) };
}

const classifier = (classes: number): TrainOptions['model'] => ({
  inputShape: [6],
  layers: [{ type: 'dense', units: 16, activation: 'tanh' }, { type: 'dense', units: classes }],
  loss: 'softmax_cross_entropy',
});

describe("a run's metrics", () => {
  it('classification with 7 classes: top-3 / top-5 of the validation pass and of the training passes match the reference', async () => {
    // A learning rate far below float32 resolution: the weights the training passes see are the
    // initial ones throughout, so the epoch's train metrics are those of one pass over the train set.
    const options: TrainOptions = {
      model: classifier(7),
      optimizer: { type: 'sgd', learningRate: 1e-12 },
      dataset: blobs({ count: 250, dims: 6, classes: 7, seed: 2, spread: 3 }),
      epochs: 1,
      batchSize: 32,
      microbatches: 4,
      seed: 4,
    };
    const session = await TrainingSession.create(options);
    const initial = session.paramsView().slice();
    const m = await session.runEpoch();
    const train = await reference(options, initial, options.dataset.train);
    expect(m.trainAccuracy).toBe(train.accuracy);
    expect(m.trainTop3Accuracy).toBe(train.top3);
    expect(m.trainTop5Accuracy).toBe(train.top5);
    // Not trivially 0 or 1: the ranks matter.
    expect(train.top3).toBeGreaterThan(train.accuracy!);
    expect(train.top5).toBeGreaterThan(train.top3!);
    expect(train.top5).toBeLessThan(1);

    const val = await reference(options, session.paramsView().slice(), options.dataset.validation);
    expect(m.valAccuracy).toBe(val.accuracy);
    expect(m.valTop3Accuracy).toBe(val.top3);
    expect(m.valTop5Accuracy).toBe(val.top5);
    expect([m.trainMae, m.trainRmse, m.valMae, m.valRmse]).toEqual([null, null, null, null]);
    const test = session.evaluate('test');
    const testRef = await reference(options, session.paramsView().slice(), options.dataset.test);
    expect([test.accuracy, test.top3Accuracy, test.top5Accuracy]).toEqual([testRef.accuracy, testRef.top3, testRef.top5]);
  });

  it('regression with two outputs: MAE and RMSE of the training passes and of the validation pass match the reference', async () => {
    const options: TrainOptions = {
      model: { inputShape: [3], layers: [{ type: 'dense', units: 12, activation: 'gelu' }, { type: 'dense', units: 2 }], loss: 'mse' },
      optimizer: { type: 'sgd', learningRate: 1e-12 },
      dataset: twoTargets(150, 3),
      epochs: 1,
      batchSize: 20,
      microbatches: 2,
      seed: 8,
    };
    const session = await TrainingSession.create(options);
    const initial = session.paramsView().slice();
    const m = await session.runEpoch();
    const train = await reference(options, initial, options.dataset.train);
    expect(m.trainMae).toBeCloseTo(train.mae!, 6);
    expect(m.trainRmse).toBeCloseTo(train.rmse!, 6);
    expect(m.trainRmse).toBe(Math.sqrt(m.trainLoss));
    const val = await reference(options, session.paramsView().slice(), options.dataset.validation);
    expect(m.valMae).toBeCloseTo(val.mae!, 6);
    expect(m.valRmse).toBeCloseTo(val.rmse!, 6);
    expect(m.valRmse! ** 2).toBeCloseTo(m.valLoss!, 12);
    // MAE ≤ RMSE, strictly unless every error is the same.
    expect(m.valMae!).toBeLessThan(m.valRmse!);
    expect([m.trainAccuracy, m.trainTop3Accuracy, m.valTop5Accuracy]).toEqual([null, null, null]);
    const test: EvalResult = session.evaluate('test');
    const testRef = await reference(options, session.paramsView().slice(), options.dataset.test);
    expect(test.mae).toBeCloseTo(testRef.mae!, 6);
    expect(test.rmse).toBeCloseTo(testRef.rmse!, 6);
    expect([test.accuracy, test.top3Accuracy, test.top5Accuracy]).toEqual([null, null, null]);
  });

  it.each([
    [3, ['loss', 'accuracy']],
    [4, ['loss', 'accuracy', 'top3_accuracy']],
    [5, ['loss', 'accuracy', 'top3_accuracy']],
    [6, ['loss', 'accuracy', 'top3_accuracy', 'top5_accuracy']],
  ])('with %i classes top-k is reported only for k < classes, and exactly the names reportedMetricNames lists', async (classes, names) => {
    const options: TrainOptions = {
      model: classifier(classes),
      optimizer: { type: 'adam', learningRate: 0.01 },
      dataset: blobs({ count: 60, dims: 6, classes, seed: 1 }),
      epochs: 1,
      batchSize: 16,
      seed: 1,
    };
    const session = await TrainingSession.create(options);
    const m = await session.runEpoch();
    const reported = Object.entries(epochMetricValues(m)).filter(([, v]) => v !== null).map(([k]) => k);
    expect(reported.sort()).toEqual(names.flatMap((n) => [`train_${n}`, `val_${n}`]).sort());
    expect(reportedMetricNames({ loss: 'softmax_cross_entropy', outputs: classes, validation: true }).sort()).toEqual(reported.sort());
    expect(reportedMetricNames({ loss: 'softmax_cross_entropy', outputs: classes, validation: false })).toEqual(names.map((n) => `train_${n}`));
    expect(reportedMetricNames({ loss: 'mse', outputs: 2, validation: true })).toEqual(['train_loss', 'train_mae', 'train_rmse', 'val_loss', 'val_mae', 'val_rmse']);
  });

  it('a checkpoint written before top-k existed parses with those metrics null and resumes', async () => {
    const options: TrainOptions = {
      model: { inputShape: [8, 8], layers: [{ type: 'flatten' }, { type: 'dense', units: 8, activation: 'relu' }, { type: 'dense', units: 4 }], loss: 'softmax_cross_entropy' },
      optimizer: { type: 'adam', learningRate: 0.01 },
      dataset: quadrants({ count: 100, side: 8, seed: 2 }),
      epochs: 2,
      batchSize: 25,
      seed: 3,
    };
    const first = await TrainingSession.create(options);
    await first.runEpoch();
    expect(first.history[0]!.valTop3Accuracy).not.toBeNull();
    const { manifestJson, data } = serializeCheckpoint(first.checkpoint());
    const old = JSON.parse(manifestJson) as { history: Record<string, unknown>[] };
    const added = ['trainTop3Accuracy', 'trainTop5Accuracy', 'trainMae', 'trainRmse', 'valTop3Accuracy', 'valTop5Accuracy', 'valMae', 'valRmse'];
    for (const h of old.history) for (const k of added) delete h[k];
    const parsed = parseCheckpoint(JSON.stringify(old), data.slice());
    for (const k of added) expect(parsed.manifest.history[0]![k as keyof (typeof parsed.manifest.history)[0]], k).toBeNull();
    const resumed = await TrainingSession.create({ ...options, resumeFrom: parsed });
    await resumed.fit();
    expect(resumed.history[0]!.valTop3Accuracy).toBeNull();
    expect(resumed.history[1]!.valTop3Accuracy).toEqual(expect.any(Number));
  });
});

describe('early stopping on any reported metric', () => {
  it.each([
    ['val_rmse', 'min'],
    ['val_top3_accuracy', 'max'],
  ] as const)('%s: stops when it has not improved for `patience` epochs and restores its best epoch', async (monitor, mode) => {
    const regression = monitor === 'val_rmse';
    const session = await TrainingSession.create({
      model: regression
        ? { inputShape: [3], layers: [{ type: 'dense', units: 12, activation: 'gelu' }, { type: 'dense', units: 2 }], loss: 'mse' }
        : classifier(7),
      // A large rate so the watched metric wobbles and training stops early.
      optimizer: { type: 'adam', learningRate: 0.1 },
      dataset: regression ? twoTargets(200, 5) : blobs({ count: 210, dims: 6, classes: 7, seed: 3, spread: 4 }),
      epochs: 40,
      batchSize: 16,
      seed: 2,
      earlyStopping: { monitor, patience: 2 },
    });
    const r = await session.fit();
    const series = r.history.map((h) => epochMetricValues(h)[monitor]!);
    const best = mode === 'min' ? Math.min(...series) : Math.max(...series);
    // The first epoch reaching the best value, and `patience` epochs after it without a better one.
    expect(r.bestEpoch).toBe(series.indexOf(best) + 1);
    expect(r.stoppedBy).toBe('early_stopping');
    expect(r.epochsRun).toBe(r.bestEpoch! + 2);
    const restored = session.evaluate('validation');
    expect(regression ? restored.rmse : restored.top3Accuracy).toBeCloseTo(best, 5);
  });

  it.each([
    ['val_top5_accuracy', 4, 'must be a metric this model reports (train_loss, train_accuracy, train_top3_accuracy, val_loss, val_accuracy, val_top3_accuracy)'],
    ['val_mae', 7, 'must be a metric this model reports'],
    ['loss', 7, 'must be a metric this model reports'],
  ])('refuses %s for a %i-class model', async (monitor, classes, message) => {
    const p = TrainingSession.create({
      model: classifier(classes),
      optimizer: { type: 'adam' },
      dataset: blobs({ count: 40, dims: 6, classes, seed: 1 }),
      epochs: 2,
      batchSize: 8,
      seed: 1,
      earlyStopping: { monitor, patience: 1 },
    });
    const e = await p.then(() => null, (err: unknown) => err);
    expect(e).toBeInstanceOf(NnError);
    expect((e as NnError).message).toContain(`earlyStopping.monitor: ${message}`);
  });

  it('a validation metric needs a validation split; a train metric does not', async () => {
    const ds = blobs({ count: 40, dims: 6, classes: 7, seed: 1 });
    const noVal = { ...ds, validation: { count: 0, features: new Float32Array(0), labels: new Int32Array(0) } };
    const options = { model: classifier(7), optimizer: { type: 'adam' }, dataset: noVal, epochs: 2, batchSize: 8, seed: 1 };
    const e = await TrainingSession.create({ ...options, earlyStopping: { monitor: 'val_top3_accuracy', patience: 1 } }).then(() => null, (err: unknown) => err);
    expect((e as NnError).message).toContain('val_top3_accuracy needs a validation split');
    const session = await TrainingSession.create({ ...options, earlyStopping: { monitor: 'train_top3_accuracy', patience: 1 } });
    expect((await session.fit()).epochsRun).toBeGreaterThan(0);
  });
});
