// Oracle on generated models: seeded random MLPs and CNNs (widths, kernel shapes, strides,
// dilations, padding, pooling, batch norm, dropout, reshape, activations and batch sizes the
// hand-written oracles do not use) run through our engine and, from our own TensorFlow.js export,
// through TensorFlow.js 4.22: in training, outputs, loss and every trainable gradient must agree;
// at inference, the outputs. A kernel wrong only at some tile edge or channel count, or a layer
// wrong only in some combination, shows up here.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FeatureNormalization } from '../src/data.ts';
import { Predictor } from '../src/inference.ts';
import { f32View } from '../src/memory.ts';
import { Rng } from '../src/rng.ts';
import { exportTfjs } from '../src/tfjs.ts';
import { generatedModel as generated, type GeneratorMode as Mode } from '../src/testing.ts';
import { harness, relError, randomFill, trainingPass } from './harness.ts';
import { loadInTfjs, tfjsPredict } from './tfjs-harness.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const TOL = 1e-4;
const SEEDS = Array.from({ length: 120 }, (_, i) => 1000 + i);
/** Every model on the WASM kernels; every third (MLPs and CNNs) on their TypeScript twins too, which are slower. */
const CASES = SEEDS.flatMap((seed) => [[seed, 'wasm'] as const, ...(seed % 3 === 0 ? [[seed, 'reference'] as const] : [])]);

describe('generated models against TensorFlow.js', () => {
  it.each(CASES)('model %i on the %s kernels: outputs, loss and every gradient within 1e-4', async (seed, backend) => {
    const { spec, rows } = generated(seed);
    const h = await harness(spec, rows, { backend }, seed);
    const rng = Rng.fromSeed(seed + 1);
    // Biases and batch norm's beta are random too, so a gradient that ignores them shows.
    for (const p of h.model.params) if (p.role === 'bias' || p.role === 'beta') randomFill(h.params().subarray(p.offset, p.offset + p.size), rng, 0.3);
    randomFill(h.input(), rng, 1.5);
    const outputs = h.model.outputSize;
    const { labels, targets, outputs: ours, lossSum, grads } = trainingPass(h, rows, spec.loss, rng);

    // Our export, loaded as a user loads it: it ends in a softmax for classifiers.
    const model = await loadInTfjs(exportTfjs(h.model, h.params().slice()));
    const x = tf.tensor(h.input().slice(), [rows, ...spec.inputShape]);
    const trainable = h.model.params.filter((p) => p.trainable);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    expect(vars.map((v) => v.size), JSON.stringify(spec)).toEqual(trainable.map((p) => p.size));
    const f = () => {
      const y = model.apply(x, { training: true }) as tf.Tensor;
      if (spec.loss === 'mse') return tf.mean(tf.square(tf.sub(y, tf.tensor2d(targets, [rows, outputs])))) as tf.Scalar;
      return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(tf.tensor1d(labels, 'int32'), outputs), tf.log(y)), 1))) as tf.Scalar;
    };
    const y = model.apply(x, { training: true }) as tf.Tensor;
    const expected = (await y.data()) as Float32Array;
    const forward = spec.loss === 'mse' ? ours : softmaxRows(ours, outputs);
    expect(relError(forward, expected), `outputs of ${JSON.stringify(spec)}`).toBeLessThan(TOL);
    const { value, grads: tg } = tf.variableGrads(f, vars);
    const tfLoss = (await value.data())[0]!;
    expect(Math.abs(lossSum / rows - tfLoss) / Math.max(Math.abs(tfLoss), 1e-6), `loss of ${JSON.stringify(spec)}`).toBeLessThan(TOL);
    const expectedGrads = await Promise.all(vars.map((v) => tg[v.name]!.data() as Promise<Float32Array>));
    // A bias or beta a batch norm follows has a gradient of exactly 0 (the norm subtracts any
    // per-channel shift): both sides give rounding noise there, so the error is measured against a
    // floor of 1% of the model's largest gradient.
    const floor = 0.01 * Math.max(...expectedGrads.map((g) => g.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
    for (let i = 0; i < trainable.length; i++) {
      const p = trainable[i]!;
      const ours = grads.subarray(p.offset, p.offset + p.size);
      const theirs = expectedGrads[i]!;
      const scale = Math.max(floor, theirs.reduce((m, v) => Math.max(m, Math.abs(v)), 0));
      const diff = ours.reduce((m, v, j) => Math.max(m, Math.abs(v - theirs[j]!)), 0);
      expect(diff / scale, `${p.name} gradient of ${JSON.stringify(spec)}`).toBeLessThan(TOL);
    }
    tf.dispose([x, y, value, ...Object.values(tg)]);
    model.dispose();
  });

  it('a standalone linear activation layer passes its input through, forward and backward', async () => {
    const layers = [{ type: 'dense', units: 7, activation: 'gelu' }, { type: 'dense', units: 3 }];
    const run = async (withLinear: boolean) => {
      const spec = { inputShape: [5], layers: withLinear ? [layers[0]!, { type: 'activation', activation: 'linear' }, layers[1]!] : layers, loss: 'softmax_cross_entropy' };
      const h = await harness(spec, 4, {}, 3);
      randomFill(h.input(), Rng.fromSeed(4), 1);
      h.labels().set([0, 1, 2, 1]);
      const out = f32View(h.memory, h.replica.forward(4, { training: true }), 12).slice();
      h.replica.loss(1 / 4);
      h.replica.backward(h.plan.grads, false);
      return { out, grads: h.grads().slice() };
    };
    const [plain, linear] = [await run(false), await run(true)];
    expect(linear.out).toEqual(plain.out);
    expect(linear.grads).toEqual(plain.grads);
    expect(plain.out.some((v) => v !== 0)).toBe(true);
  });

  it.each(CASES)('model %i on the %s kernels at inference (dropout, dilation, moving statistics): outputs within 1e-4', async (seed, backend) => {
    const { spec, rows } = generated(seed, 'infer');
    const h = await harness(spec, rows, { backend }, seed);
    const rng = Rng.fromSeed(seed + 2);
    // Moving statistics away from their 0 and 1, so inference by them differs from training.
    for (const p of h.model.params) {
      const v = h.params().subarray(p.offset, p.offset + p.size);
      if (p.role === 'bias' || p.role === 'beta' || p.role === 'moving_mean') randomFill(v, rng, 0.5);
      if (p.role === 'moving_variance') for (let i = 0; i < v.length; i++) v[i] = 0.5 + rng.float();
    }
    randomFill(h.input(), rng, 1.5);
    const outputs = h.model.outputSize;
    const ours = f32View(h.memory, h.replica.forward(rows, { training: false }), rows * outputs).slice();
    const model = await loadInTfjs(exportTfjs(h.model, h.params().slice()));
    const x = tf.tensor(h.input().slice(), [rows, ...spec.inputShape]);
    const y = model.predict(x) as tf.Tensor;
    const expected = (await y.data()) as Float32Array;
    expect(relError(spec.loss === 'mse' ? ours : softmaxRows(ours, outputs), expected), `outputs of ${JSON.stringify(spec)}`).toBeLessThan(TOL);
    tf.dispose([x, y]);
    model.dispose();
  });

  // Predictions as a user asks for them: raw rows (pixels, or CSV values on their own scales), more
  // of them than one forward pass holds, through our Predictor (as trained, and read back from the
  // export) and through tfjs on the export, whose first layer carries the scaling.
  it.each(SEEDS.slice(0, 60))('model %i: raw rows through the Predictor in chunks, its export read back and tfjs agree within 1e-4', async (seed) => {
    const { spec } = generated(seed, 'infer');
    const h = await harness(spec, 1, {}, seed);
    const rng = Rng.fromSeed(seed + 3);
    for (const p of h.model.params) {
      const v = h.params().subarray(p.offset, p.offset + p.size);
      if (p.role === 'bias' || p.role === 'beta' || p.role === 'moving_mean') randomFill(v, rng, 0.5);
      if (p.role === 'moving_variance') for (let i = 0; i < v.length; i++) v[i] = 0.5 + rng.float();
    }
    const params = h.params().slice();
    const n = h.model.inputSize;
    const chunk = 1 + rng.int(16);
    // More rows than one forward pass holds: the Predictor runs them in chunks.
    const rows = chunk + 1 + rng.int(80);
    const pixels = seed % 4 < 2;
    const normalization: FeatureNormalization = pixels
      ? { kind: 'affine', scale: 1 / 127.5, shift: -1 }
      : standardization(n, rng);
    const raw = pixels
      ? Float32Array.from({ length: rows * n }, () => rng.int(256))
      : Float32Array.from({ length: rows * n }, (_, i) => normalization.kind === 'standardized' ? normalization.mean[i % n]! + normalization.std[i % n]! * rng.normal() : 0);
    const predictor = await Predictor.create(h.model, params, { normalization, rows: chunk });
    const ours = predictor.predictRaw(raw);
    const exported = exportTfjs(h.model, params, { normalization });
    const theirs = await tfjsPredict(exported, raw, spec.inputShape);
    const what = JSON.stringify({ spec, normalization: normalization.kind, rows });
    expect(relError(ours, theirs), what).toBeLessThan(TOL);
    const back = await Predictor.fromTfjs(exported.modelJson, exported.weights, { rows: chunk });
    expect(relError(back.predictRaw(raw), theirs), what).toBeLessThan(TOL);
  });

  it('draws MLPs and CNNs with every layer type and option the generator knows', () => {
    const kinds = (mode: Mode) =>
      new Set(
        SEEDS.flatMap((s) =>
          generated(s, mode).spec.layers.map((l) => {
            if (l.type === 'batch_norm' && (l.center === false || l.scale === false)) return 'batch_norm/partial';
            if (l.type === 'conv2d') return `conv2d/${String(l.padding)}${l.dilation ? '/dilated' : ''}`;
            if (l.type === 'avg_pool2d') return `avg_pool2d/${String(l.padding)}`;
            if (l.type === 'activation' || l.type === 'dense') return `${l.type}${l.alpha !== undefined ? '/alpha' : ''}`;
            return String(l.type);
          }),
        ),
      );
    const train = ['activation', 'activation/alpha', 'avg_pool2d/valid', 'batch_norm', 'conv2d/same', 'conv2d/valid', 'dense', 'dense/alpha', 'flatten', 'global_avg_pool2d', 'max_pool2d', 'reshape'];
    expect([...kinds('train')].sort()).toEqual(train);
    expect([...kinds('infer')]).toEqual(expect.arrayContaining(['avg_pool2d/same', 'batch_norm/partial', 'conv2d/same/dilated', 'conv2d/valid/dilated', 'dense/alpha', 'dropout', 'reshape']));
  });
});

/**
 * Per-feature statistics on scales from 1e-3 to 1e3, each mean within 30 standard deviations of 0.
 * Beyond that, float32 itself is the limit: tfjs keeps the mean as a float32 weight, and an error
 * of 2^-24 |mean| is (|mean| / std) 2^-24 once standardised.
 */
function standardization(n: number, rng: Rng): FeatureNormalization {
  const std = Array.from({ length: n }, () => 10 ** (rng.float() * 6 - 3));
  return { kind: 'standardized', mean: std.map((s) => s * 30 * (rng.float() * 2 - 1)), std };
}

function softmaxRows(logits: Float32Array, cols: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let r = 0; r < logits.length / cols; r++) {
    const row = logits.subarray(r * cols, (r + 1) * cols);
    const max = Math.max(...row);
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(row[j]! - max);
    for (let j = 0; j < cols; j++) out[r * cols + j] = Math.exp(row[j]! - max) / sum;
  }
  return out;
}
