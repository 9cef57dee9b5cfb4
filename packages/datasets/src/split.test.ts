// Tests of deterministic stratified / random partitions and training-only normalisation statistics.
import { describe, expect, it } from 'vitest';
import { DatasetError } from './errors.ts';
import {
  affineNormalization,
  gatherRows,
  randomPartition,
  resolveHoldoutCount,
  standardizationStats,
  standardize,
  stratifiedPartition,
  stratifiedSplit,
  stratifiedSubset,
} from './split.ts';

/** Labels with `sizes[c]` examples of class c, interleaved so classes are not contiguous. */
function labelsWithSizes(sizes: number[]): Int32Array {
  const out: number[] = [];
  const left = sizes.slice();
  while (left.some((n) => n > 0)) {
    left.forEach((n, c) => {
      if (n > 0) {
        out.push(c);
        left[c] = n - 1;
      }
    });
  }
  return Int32Array.from(out);
}

function classCounts(labels: Int32Array, indices: Int32Array, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (const i of indices) counts[labels[i]!]!++;
  return counts;
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof DatasetError ? error.code : `not a DatasetError: ${String(error)}`;
  }
  return undefined;
}

describe('stratifiedSplit', () => {
  const labels = labelsWithSizes([500, 300, 150, 50]);

  it('holds out the requested share of every class', () => {
    const { train, validation } = stratifiedSplit(labels, 4, { seed: 1, validationFraction: 0.1 });
    expect(validation.length).toBe(100);
    expect(train.length).toBe(900);
    expect(classCounts(labels, validation, 4)).toEqual([50, 30, 15, 5]);
    expect(classCounts(labels, train, 4)).toEqual([450, 270, 135, 45]);
  });

  it('is a partition: disjoint, complete, ascending', () => {
    const { train, validation } = stratifiedSplit(labels, 4, { seed: 9, validationCount: 137 });
    expect(validation.length).toBe(137);
    const all = [...train, ...validation].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: labels.length }, (_, i) => i));
    for (const part of [train, validation]) {
      for (let k = 1; k < part.length; k++) expect(part[k]!).toBeGreaterThan(part[k - 1]!);
    }
  });

  it('apportions non-integer shares by largest remainder, summing exactly', () => {
    const { validation } = stratifiedSplit(labels, 4, { seed: 2, validationCount: 137 });
    // Ideal shares 68.5, 41.1, 20.55, 6.85 → floors 68, 41, 20, 6 (135), then +1 for the two largest remainders.
    expect(classCounts(labels, validation, 4)).toEqual([68, 41, 21, 7]);
  });

  it('gives the same split for the same seed and another for another seed', () => {
    const a = stratifiedSplit(labels, 4, { seed: 5 });
    const b = stratifiedSplit(labels, 4, { seed: 5 });
    const c = stratifiedSplit(labels, 4, { seed: 6 });
    expect(Array.from(a.validation)).toEqual(Array.from(b.validation));
    expect(Array.from(a.validation)).not.toEqual(Array.from(c.validation));
  });

  it('keeps at least one example of every class in both parts', () => {
    const small = labelsWithSizes([40, 2]);
    const { train, validation } = stratifiedSplit(small, 2, { seed: 0, validationFraction: 0.1 });
    expect(classCounts(small, validation, 2)).toEqual([3, 1]);
    expect(classCounts(small, train, 2)).toEqual([37, 1]);
  });

  it('refuses a class too small for the split, naming it', () => {
    const tiny = labelsWithSizes([10, 1]);
    expect(() => stratifiedSplit(tiny, 2, { seed: 0 })).toThrow(/class 1 has 1 example; .*needs at least 2/);
    expect(codeOf(() => stratifiedSplit(tiny, 2, { seed: 0 }))).toBe('CLASS_TOO_SMALL');
  });

  it('refuses a validation set smaller than the number of classes', () => {
    expect(codeOf(() => stratifiedSplit(labels, 4, { seed: 0, validationCount: 3 }))).toBe('SPLIT_TOO_SMALL');
  });

  it('checks its options', () => {
    expect(codeOf(() => stratifiedSplit(labels, 4, { seed: 0, validationFraction: 1 }))).toBe('INVALID_OPTION');
    expect(codeOf(() => stratifiedSplit(labels, 4, { seed: 0, validationFraction: 0.1, validationCount: 5 }))).toBe('INVALID_OPTION');
    expect(codeOf(() => stratifiedSplit(labels, 4, { seed: 0.5 }))).toBe('INVALID_OPTION');
    expect(codeOf(() => stratifiedSplit(labels, 3, { seed: 0 }))).toBe('INVALID_OPTION');
    expect(codeOf(() => stratifiedSplit(labels, 4, { seed: 0, validationCount: 1000 }))).toBe('SPLIT_TOO_SMALL');
  });

  it('allows an empty validation split', () => {
    const { train, validation } = stratifiedSplit(labels, 4, { seed: 0, validationFraction: 0 });
    expect(validation.length).toBe(0);
    expect(train.length).toBe(labels.length);
  });
});

describe('stratifiedPartition with two hold-outs', () => {
  it('splits into test, validation and rest, each stratified', () => {
    const labels = labelsWithSizes([60, 30, 10]);
    const p = stratifiedPartition(labels, { numClasses: 3, seed: 3, stream: 't', holdouts: [20, 10], holdoutNames: ['test', 'validation'], restName: 'train' });
    expect(classCounts(labels, p.holdouts[0]!, 3)).toEqual([12, 6, 2]);
    expect(classCounts(labels, p.holdouts[1]!, 3)).toEqual([6, 3, 1]);
    expect(classCounts(labels, p.rest, 3)).toEqual([42, 21, 7]);
  });

  it('names every split a small class must reach', () => {
    const labels = labelsWithSizes([60, 2]);
    expect(() =>
      stratifiedPartition(labels, { numClasses: 2, classNames: ['cat', 'dog'], seed: 3, stream: 't', holdouts: [20, 10], holdoutNames: ['test', 'validation'], restName: 'train' }),
    ).toThrow(/class "dog" has 2 examples; a stratified split into train, test, validation needs at least 3/);
  });

  it('streams are independent: another stream name gives another partition', () => {
    const labels = labelsWithSizes([50, 50]);
    const a = stratifiedPartition(labels, { numClasses: 2, seed: 1, stream: 'a', holdouts: [10] });
    const b = stratifiedPartition(labels, { numClasses: 2, seed: 1, stream: 'b', holdouts: [10] });
    expect(Array.from(a.holdouts[0]!)).not.toEqual(Array.from(b.holdouts[0]!));
  });
});

describe('stratifiedSubset', () => {
  it('draws a class-balanced subset of an exact size', () => {
    const labels = labelsWithSizes([100, 100, 100, 100, 100]);
    const subset = stratifiedSubset(labels, 5, 50, 7);
    expect(subset.length).toBe(50);
    expect(classCounts(labels, subset, 5)).toEqual([10, 10, 10, 10, 10]);
    expect(new Set(subset).size).toBe(50);
  });

  it('returns everything when asked for at least everything', () => {
    const labels = labelsWithSizes([3, 3]);
    expect(Array.from(stratifiedSubset(labels, 2, 10, 0))).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('refuses a subset smaller than the number of classes', () => {
    const labels = labelsWithSizes([10, 10, 10]);
    expect(codeOf(() => stratifiedSubset(labels, 3, 2, 0))).toBe('SPLIT_TOO_SMALL');
  });
});

describe('randomPartition', () => {
  it('is a deterministic partition with exact sizes', () => {
    const a = randomPartition(100, { seed: 4, stream: 'r', holdouts: [20, 10] });
    const b = randomPartition(100, { seed: 4, stream: 'r', holdouts: [20, 10] });
    expect(a.holdouts.map((h) => h.length)).toEqual([20, 10]);
    expect(a.rest.length).toBe(70);
    expect(Array.from(a.rest)).toEqual(Array.from(b.rest));
    expect([...a.rest, ...a.holdouts[0]!, ...a.holdouts[1]!].sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('refuses hold-outs larger than the data', () => {
    expect(codeOf(() => randomPartition(10, { seed: 0, stream: 'r', holdouts: [6, 5] }))).toBe('SPLIT_TOO_SMALL');
  });
});

describe('resolveHoldoutCount', () => {
  it('rounds fractions and checks counts', () => {
    expect(resolveHoldoutCount(55, { fraction: 0.1 }, 'validation')).toBe(6);
    expect(resolveHoldoutCount(55, { count: 7 }, 'validation')).toBe(7);
    expect(codeOf(() => resolveHoldoutCount(55, { count: -1 }, 'validation'))).toBe('INVALID_OPTION');
  });
});

describe('gatherRows', () => {
  it('copies rows in the given order and keeps the array type', () => {
    const data = Uint8Array.from([1, 2, 3, 4, 5, 6]);
    const out = gatherRows(data, 2, [2, 0]);
    expect(out).toBeInstanceOf(Uint8Array);
    expect(Array.from(out)).toEqual([5, 6, 1, 2]);
  });
});

describe('normalisation statistics', () => {
  it('affineNormalization standardises pixel/255', () => {
    const pixels = Uint8Array.from([0, 0, 255, 255, 51, 102]);
    const norm = affineNormalization(pixels);
    const xs = Array.from(pixels, (v) => v * norm.scale + norm.shift);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
    expect(mean).toBeCloseTo(0, 12);
    expect(variance).toBeCloseTo(1, 12);
    // The same statistics by the definition: mean and std of pixel/255.
    const u = Array.from(pixels, (v) => v / 255);
    const m = u.reduce((a, b) => a + b, 0) / u.length;
    const s = Math.sqrt(u.reduce((a, b) => a + (b - m) ** 2, 0) / u.length);
    expect(norm.scale).toBeCloseTo(1 / (255 * s), 12);
    expect(norm.shift).toBeCloseTo(-m / s, 12);
  });

  it('affineNormalization of a constant image set uses std 1', () => {
    const norm = affineNormalization(new Uint8Array(10).fill(51));
    expect(norm.scale).toBeCloseTo(1 / 255, 15);
    expect(norm.shift).toBeCloseTo(-0.2, 15);
  });

  it('standardizationStats uses only the given rows', () => {
    // Rows 0-1 are "train"; row 2 is an outlier that must not move the statistics.
    const values = Float64Array.from([1, 10, 3, 10, 1000, -1000]);
    const stats = standardizationStats(values, 2, [0, 1]);
    expect(stats.mean).toEqual([2, 10]);
    expect(stats.std).toEqual([1, 1]); // column 1 is constant on the training rows → std 1
    expect(Array.from(standardize(values, 2, stats))).toEqual([-1, 0, 1, 0, 998, -1010]);
  });

  it('keeps precision when the mean is large relative to the spread', () => {
    const values = Float64Array.from([1e9 + 1, 1e9 + 2, 1e9 + 3]);
    const stats = standardizationStats(values, 1, [0, 1, 2]);
    expect(stats.std[0]).toBeCloseTo(Math.sqrt(2 / 3), 6);
  });
});
