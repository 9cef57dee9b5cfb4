// Tests of the two-spirals generator: determinism, balance, standardisation and learnable structure.
import { describe, expect, it } from 'vitest';
import type { DataSplit } from '@hypersweep/nn';
import { DatasetError } from './errors.ts';
import { spiralsPoolClassCounts, twoSpirals } from './spirals.ts';
import { validationSplitProblem } from './split.ts';

/** Accuracy of a 1-nearest-neighbour classifier fitted on `train`, evaluated on `test`. */
function nearestNeighbourAccuracy(train: DataSplit, test: DataSplit): number {
  let correct = 0;
  for (let i = 0; i < test.count; i++) {
    let best = Infinity;
    let bestLabel = -1;
    for (let j = 0; j < train.count; j++) {
      const dx = test.features[2 * i]! - train.features[2 * j]!;
      const dy = test.features[2 * i + 1]! - train.features[2 * j + 1]!;
      const d = dx * dx + dy * dy;
      if (d < best) {
        best = d;
        bestLabel = train.labels[j]!;
      }
    }
    if (bestLabel === test.labels[i]) correct++;
  }
  return correct / test.count;
}

describe('twoSpirals', () => {
  it('has the default sizes, 2 float features and balanced classes', () => {
    const d = twoSpirals();
    expect(d.name).toBe('spirals');
    expect(d.featureShape).toEqual([2]);
    expect(d.numClasses).toBe(2);
    expect([d.train.count, d.validation.count, d.test.count]).toEqual([900, 100, 200]);
    for (const split of [d.train, d.validation, d.test]) {
      expect(split.features).toBeInstanceOf(Float32Array);
      expect(split.features.length).toBe(2 * split.count);
      const ones = Array.from(split.labels).filter((l) => l === 1).length;
      expect(ones * 2).toBe(split.count);
    }
  });

  it('is deterministic by seed', () => {
    const a = twoSpirals({ count: 200, seed: 11 });
    const b = twoSpirals({ count: 200, seed: 11 });
    const c = twoSpirals({ count: 200, seed: 12 });
    expect(Array.from(a.train.features)).toEqual(Array.from(b.train.features));
    expect(Array.from(a.test.features)).toEqual(Array.from(b.test.features));
    expect(Array.from(a.train.features)).not.toEqual(Array.from(c.train.features));
  });

  it('standardises with training statistics', () => {
    const d = twoSpirals({ count: 400, seed: 1 });
    for (let j = 0; j < 2; j++) {
      const col = Array.from({ length: d.train.count }, (_, i) => d.train.features[2 * i + j]!);
      const m = col.reduce((a, b) => a + b, 0) / col.length;
      const v = col.reduce((a, b) => a + (b - m) ** 2, 0) / col.length;
      expect(m).toBeCloseTo(0, 5);
      expect(v).toBeCloseTo(1, 4);
    }
    expect(d.normalization.kind).toBe('standardized');
  });

  it('has learnable structure: nearest neighbour separates low-noise spirals, not pure noise', () => {
    const clean = twoSpirals({ count: 800, seed: 2, noise: 0.02 });
    expect(nearestNeighbourAccuracy(clean.train, clean.test)).toBeGreaterThan(0.95);
    const noisy = twoSpirals({ count: 800, seed: 2, noise: 2 });
    expect(nearestNeighbourAccuracy(noisy.train, noisy.test)).toBeLessThan(0.75);
  });

  it('changing the test size leaves train and validation unchanged', () => {
    const a = twoSpirals({ count: 100, testCount: 10 });
    const b = twoSpirals({ count: 100, testCount: 50 });
    expect(Array.from(a.train.features)).toEqual(Array.from(b.train.features));
    expect(b.test.count).toBe(50);
  });

  it('checks its options', () => {
    expect(() => twoSpirals({ count: 3 })).toThrow(DatasetError);
    expect(() => twoSpirals({ noise: -1 })).toThrow(/noise/);
    expect(() => twoSpirals({ turns: 0 })).toThrow(/turns/);
    expect(() => twoSpirals({ seed: 0.5 })).toThrow(/seed/);
  });
});

describe('spirals class counts without the points', () => {
  it('match the points drawn, and tell which validation splits can be drawn in the same words', () => {
    for (const count of [4, 5, 10, 11, 20, 999]) {
      for (const options of [{}, { validationCount: 2 }, { validationFraction: 0 }]) {
        const problem = validationSplitProblem(spiralsPoolClassCounts(count), options);
        const draw = () => twoSpirals({ count, ...options });
        if (problem !== null) {
          expect(draw, `count ${count}`).toThrow(problem);
          continue;
        }
        const d = draw();
        const counts = [0, 0];
        for (const split of [d.train, d.validation]) for (const l of split.labels) counts[l]!++;
        expect(counts, `count ${count}`).toEqual(spiralsPoolClassCounts(count));
      }
    }
    expect(validationSplitProblem(spiralsPoolClassCounts(10), {})).toMatch(/validation of 1 example cannot hold one of each of the 2 classes/);
  });
});

