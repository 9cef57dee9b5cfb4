// Small synthetic datasets for the tests of this package and of those built on it (trainer):
// one definition, so both train on the same data.
import type { DataSplit, Dataset } from './data.ts';
import { Rng } from './rng.ts';

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
