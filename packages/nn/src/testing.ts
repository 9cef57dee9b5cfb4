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
