// Small synthetic datasets and generated models for the tests of this package and of those built
// on it (trainer): one definition, so both train on the same data and the same shapes.
import type { DataSplit, Dataset } from './data.ts';
import { Rng } from './rng.ts';
import { parseModelSpec } from './spec.ts';

/** Tiny uint8 "images" whose class is the bright quadrant: exercises the uint8 gather path. */
export function quadrants(opts: { count: number; side: number; seed: number }): Dataset {
  const rng = Rng.fromSeed(opts.seed);
  const s = opts.side;
  const make = (count: number): DataSplit => {
    const features = new Uint8Array(count * s * s);
    const labels = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const c = rng.int(4);
      labels[i] = c;
      for (let y = 0; y < s; y++) {
        for (let x = 0; x < s; x++) {
          const q = (y < s / 2 ? 0 : 2) + (x < s / 2 ? 0 : 1);
          features[i * s * s + y * s + x] = Math.min(255, rng.int(120) + (q === c ? 100 : 0));
        }
      }
    }
    return { count, features, labels };
  };
  return {
    name: 'quadrants',
    task: 'classification',
    featureShape: [s, s],
    numClasses: 4,
    normalization: { kind: 'affine', scale: 1 / 80, shift: -1 },
    train: make(opts.count),
    validation: make(Math.ceil(opts.count / 4)),
    test: make(Math.ceil(opts.count / 4)),
  };
}

/**
 * Rows with features on very different scales (≈1e3, ≈1e-2 and ≈1) and a score that depends on
 * the first two: a model that sees them unscaled cannot learn it (export and predict tests).
 */
export function multiScaleRows(count: number, seed: number): { x: number[][]; score: number[] } {
  const rng = Rng.fromSeed(seed);
  const x: number[][] = [];
  const score: number[] = [];
  for (let i = 0; i < count; i++) {
    const f = [1000 + 200 * rng.normal(), 0.01 * rng.normal(), 5 + rng.normal()];
    x.push(f);
    score.push((f[0]! - 1000) / 200 + f[1]! / 0.01 + 0.2 * (f[2]! - 5));
  }
  return { x, score };
}

/** Gaussian blobs: `classes` clusters in `dims` dimensions, float32 features (already standardised). */
export function blobs(opts: { count: number; dims: number; classes: number; seed: number; spread?: number }): Dataset {
  const rng = Rng.fromSeed(opts.seed);
  const centers = Array.from({ length: opts.classes }, () => Array.from({ length: opts.dims }, () => rng.normal() * 2));
  const make = (count: number): DataSplit => {
    const features = new Float32Array(count * opts.dims);
    const labels = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const c = i % opts.classes;
      labels[i] = c;
      for (let j = 0; j < opts.dims; j++) features[i * opts.dims + j] = centers[c]![j]! + rng.normal() * (opts.spread ?? 1);
    }
    return { count, features, labels };
  };
  return {
    name: 'blobs',
    task: 'classification',
    featureShape: [opts.dims],
    numClasses: opts.classes,
    normalization: { kind: 'standardized', mean: new Array<number>(opts.dims).fill(0), std: new Array<number>(opts.dims).fill(1) },
    train: make(opts.count),
    validation: make(Math.ceil(opts.count / 4)),
    test: make(Math.ceil(opts.count / 4)),
  };
}

/** A regression set: y = sin(x0) + x1·x2 with noise. */
export function waves(opts: { count: number; seed: number }): Dataset {
  const rng = Rng.fromSeed(opts.seed);
  const make = (count: number): DataSplit => {
    const features = new Float32Array(count * 3);
    const labels = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      const x = [rng.normal(), rng.normal(), rng.normal()];
      features.set(x, i * 3);
      labels[i] = Math.sin(x[0]!) + x[1]! * x[2]! + rng.normal() * 0.05;
    }
    return { count, features, labels };
  };
  return {
    name: 'waves',
    task: 'regression',
    featureShape: [3],
    targetDim: 1,
    normalization: { kind: 'standardized', mean: [0, 0, 0], std: [1, 1, 1] },
    train: make(opts.count),
    validation: make(Math.ceil(opts.count / 4)),
    test: make(Math.ceil(opts.count / 4)),
  };
}

const GENERATED_ACTIVATIONS = ['relu', 'tanh', 'sigmoid', 'elu', 'gelu', 'leaky_relu', 'linear', 'softmax'] as const;
/** A layer of a generated model spec. */
export type GeneratedLayer = Record<string, unknown>;
/**
 * `train`: layers TensorFlow.js can differentiate as we do. `infer` adds what only a forward pass
 * compares: dropout (the identity at inference), dilated convolutions and same-padded average
 * pooling (tfjs 4.22 has no gradient for the first and a wrong one for the second).
 */
export type GeneratorMode = 'train' | 'infer';

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)]!;
}

/** 1 + an integer below `n`. */
const upTo = (rng: Rng, n: number) => 1 + rng.int(n);

/** An activation, with a slope of its own for leaky_relu now and then (tfjs takes elu only with alpha 1). */
function activation(rng: Rng): GeneratedLayer {
  const name = pick(rng, GENERATED_ACTIVATIONS);
  return name === 'leaky_relu' && rng.float() < 0.5 ? { activation: name, alpha: Math.round(rng.float() * 50) / 100 } : { activation: name };
}

/** Without a learnt shift or scale only at inference: tfjs 4.22's training pass reads gamma and beta regardless. */
function batchNorm(rng: Rng, mode: GeneratorMode): GeneratedLayer {
  const epsilon = pick(rng, [1e-3, 1e-5, 0.1]);
  return mode === 'train' ? { type: 'batch_norm', epsilon } : { type: 'batch_norm', epsilon, center: rng.float() < 0.7, scale: rng.float() < 0.7 };
}

function dropout(rng: Rng, mode: GeneratorMode): GeneratedLayer[] {
  return mode === 'infer' && rng.float() < 0.3 ? [{ type: 'dropout', rate: pick(rng, [0.1, 0.5]) }] : [];
}

function mlp(rng: Rng, mode: GeneratorMode): { inputShape: number[]; layers: GeneratedLayer[] } {
  const layers: GeneratedLayer[] = [];
  for (let i = upTo(rng, 3); i > 0; i--) {
    layers.push({ type: 'dense', units: upTo(rng, 70), ...activation(rng) }, ...dropout(rng, mode));
    if (rng.float() < 0.2) layers.push({ type: 'activation', ...activation(rng) });
    if (rng.float() < 0.15) layers.push(batchNorm(rng, mode));
  }
  return { inputShape: [upTo(rng, 80)], layers };
}

function cnn(rng: Rng, mode: GeneratorMode): { inputShape: number[]; layers: GeneratedLayer[] } {
  const layers: GeneratedLayer[] = [];
  let inputShape = [2 + upTo(rng, 12), 2 + upTo(rng, 12), upTo(rng, 4)];
  // Flat inputs reshaped into an image, as a CSV of pixels would be.
  if (rng.float() < 0.2) {
    layers.push({ type: 'reshape', targetShape: inputShape });
    inputShape = [inputShape.reduce((a, b) => a * b, 1)];
  }
  for (let i = upTo(rng, 3); i > 0; i--) {
    const stride = upTo(rng, 2);
    const dilated = mode === 'infer' && rng.float() < 0.3;
    layers.push({
      type: 'conv2d',
      filters: upTo(rng, 9),
      kernelSize: [upTo(rng, 4), upTo(rng, 4)],
      strides: dilated ? 1 : rng.float() < 0.3 ? [stride, upTo(rng, 2)] : stride,
      ...(dilated ? { dilation: [upTo(rng, 2), upTo(rng, 3)] } : {}),
      padding: pick(rng, ['valid', 'same']),
      ...activation(rng),
      useBias: rng.float() < 0.8,
    });
    if (rng.float() < 0.3) layers.push(batchNorm(rng, mode));
    const pool = rng.float();
    const poolPadding = mode === 'infer' ? pick(rng, ['valid', 'same']) : 'valid';
    if (pool < 0.3) layers.push({ type: 'max_pool2d', poolSize: [upTo(rng, 3), upTo(rng, 3)], strides: upTo(rng, 2), padding: pick(rng, ['valid', 'same']) });
    else if (pool < 0.5) layers.push({ type: 'avg_pool2d', poolSize: upTo(rng, 2), strides: upTo(rng, 2), padding: poolPadding });
    layers.push(...dropout(rng, mode));
  }
  layers.push(rng.float() < 0.7 ? { type: 'flatten' } : { type: 'global_avg_pool2d' });
  if (rng.float() < 0.5) layers.push({ type: 'dense', units: upTo(rng, 40), ...activation(rng) });
  return { inputShape, layers };
}

/**
 * A seeded random model spec (MLPs for even seeds, CNNs for odd ones) and a batch size, for oracle
 * and determinism tests over shapes nobody chose: shapes a conv stack shrinks to nothing are drawn
 * again.
 */
export function generatedModel(seed: number, mode: GeneratorMode = 'train'): { spec: { inputShape: number[]; layers: GeneratedLayer[]; loss: string }; rows: number } {
  const rng = Rng.fromSeed(mode === 'train' ? seed : seed + 1_000_000);
  for (;;) {
    const body = seed % 2 === 0 ? mlp(rng, mode) : cnn(rng, mode);
    const loss = rng.float() < 0.6 ? 'softmax_cross_entropy' : 'mse';
    const spec = { ...body, layers: [...body.layers, { type: 'dense', units: 2 + rng.int(11) }], loss };
    try {
      parseModelSpec(spec);
      return { spec, rows: upTo(rng, 11) };
    } catch {
      // drawn again from the same stream
    }
  }
}

/**
 * Random float32 rows for a generated model: `featureShape` inputs, labels of `outputs` classes
 * (classification) or `outputs` targets (regression), already standardised.
 */
export function randomDataset(o: { featureShape: readonly number[]; outputs: number; task: 'classification' | 'regression'; count: number; seed: number }): Dataset {
  const rng = Rng.fromSeed(o.seed);
  const size = o.featureShape.reduce((a, b) => a * b, 1);
  const make = (count: number): DataSplit => {
    const features = Float32Array.from({ length: count * size }, () => rng.normal());
    const labels = o.task === 'classification' ? Int32Array.from({ length: count }, () => rng.int(o.outputs)) : Float32Array.from({ length: count * o.outputs }, () => rng.normal());
    return { count, features, labels };
  };
  return {
    name: 'random',
    task: o.task,
    featureShape: [...o.featureShape],
    ...(o.task === 'classification' ? { numClasses: o.outputs } : { targetDim: o.outputs }),
    normalization: { kind: 'standardized', mean: new Array<number>(size).fill(0), std: new Array<number>(size).fill(1) },
    train: make(o.count),
    validation: make(Math.ceil(o.count / 4)),
    test: make(Math.ceil(o.count / 4)),
  };
}
