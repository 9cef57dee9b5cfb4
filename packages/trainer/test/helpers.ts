// Shared fixtures: a small uint8 image dataset and an MLP with dropout.
import { Rng, type Dataset, type DataSplit } from '@hypersweep/nn';

/** Tiny uint8 "images" whose class is the bright quadrant. */
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

export const mlp = (side: number) => ({
  inputShape: [side, side],
  layers: [
    { type: 'flatten' },
    { type: 'dense', units: 48, activation: 'relu' },
    { type: 'dropout', rate: 0.25 },
    { type: 'dense', units: 40, activation: 'gelu' },
    { type: 'dropout', rate: 0.1 },
    { type: 'dense', units: 4 },
  ],
  loss: 'softmax_cross_entropy',
});

export function bytes(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}
