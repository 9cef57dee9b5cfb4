// The input-scaling option of each loader (the normalization returned, and the model inputs a
// batch gather makes from it), its separation in the dataset cache, and validation hold-outs of 0.
import { ReferenceKernels, type Dataset, type DataSplit } from '@hypersweep/nn';
import { describe, expect, it } from 'vitest';
import { DatasetCache } from './cache.ts';
import { parseCsv, type CsvOptions, type CsvScaling } from './csv.ts';
import { DatasetError } from './errors.ts';
import { encodeIdx } from './idx.ts';
import { buildMnistDataset, type MnistFiles, type MnistScaling } from './mnist.ts';
import { placeSplit } from './placement.ts';
import { loadDataset } from './registry.ts';
import { twoSpirals } from './spirals.ts';
import { affineNormalization } from './split.ts';

/** Synthetic MNIST files: image i has pixel j = (7i + j) mod 256 (so every image differs), label i mod 10. */
function syntheticFiles(trainCount: number, testCount: number): MnistFiles {
  const images = (n: number, base: number): Uint8Array => {
    const data = new Uint8Array(n * 784);
    for (let i = 0; i < n; i++) for (let j = 0; j < 784; j++) data[i * 784 + j] = (7 * (base + i) + j) % 256;
    return encodeIdx([n, 28, 28], data);
  };
  const labels = (n: number): Uint8Array => encodeIdx([n], Uint8Array.from({ length: n }, (_, i) => i % 10));
  return { trainImages: images(trainCount, 0), trainLabels: labels(trainCount), testImages: images(testCount, 1000), testLabels: labels(testCount) };
}

/** What the training step's gather makes of a uint8 split: every row through nn's gatherU8 (u8·scale + shift in f32). */
function gathered(split: DataSplit, rowLen: number, normalization: Dataset['normalization']): Float32Array {
  if (normalization.kind !== 'affine') throw new Error('expected an affine normalization');
  const featureBytes = split.count * rowLen;
  const bytes = 64 + featureBytes + 8 + split.count * 4 + featureBytes * 4 + 64;
  const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / 65536) });
  const placed = placeSplit(memory.buffer, 64, split);
  const indicesPtr = 64 + placed.byteLength;
  new Int32Array(memory.buffer, indicesPtr, split.count).set(Int32Array.from({ length: split.count }, (_, i) => i));
  const dst = indicesPtr + split.count * 4;
  new ReferenceKernels(memory).gatherU8(placed.featuresPtr, rowLen, indicesPtr, split.count, dst, normalization.scale, normalization.shift);
  return new Float32Array(memory.buffer, dst, featureBytes).slice();
}

/** [min, max] of a large array (no spread: too many arguments). */
function extent(values: ArrayLike<number>): [number, number] {
  let low = Infinity;
  let high = -Infinity;
  for (let i = 0; i < values.length; i++) {
    low = Math.min(low, values[i]!);
    high = Math.max(high, values[i]!);
  }
  return [low, high];
}

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    return error instanceof DatasetError ? `${error.code}: ${error.message}` : String(error);
  }
  return 'no error';
};

describe('MNIST scaling', () => {
  const files = syntheticFiles(200, 40);
  const build = (scaling?: MnistScaling) => buildMnistDataset(files, { seed: 2, ...(scaling ? { scaling } : {}) });

  it("standardizes by default with the training split's statistics, so gathered training pixels have mean 0 and std 1", () => {
    const d = build();
    expect(d.normalization).toEqual(affineNormalization(d.train.features as Uint8Array));
    expect(build('standardize').normalization).toEqual(d.normalization);
    const x = gathered(d.train, 784, d.normalization);
    const mean = x.reduce((a, b) => a + b, 0) / x.length;
    const std = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length);
    expect(Math.abs(mean)).toBeLessThan(1e-4);
    expect(Math.abs(std - 1)).toBeLessThan(1e-4);
  });

  it("'unit' is pixel / 255 and 'none' the raw bytes, in every split", () => {
    const unit = build('unit');
    const none = build('none');
    expect(unit.normalization).toEqual({ kind: 'affine', scale: 1 / 255, shift: 0 });
    expect(none.normalization).toEqual({ kind: 'affine', scale: 1, shift: 0 });
    for (const which of ['train', 'validation', 'test'] as const) {
      const bytes = unit[which].features as Uint8Array;
      const u = gathered(unit[which], 784, unit.normalization);
      const r = gathered(none[which], 784, none.normalization);
      expect(Array.from(r)).toEqual(Array.from(none[which].features));
      let worst = 0;
      for (let i = 0; i < u.length; i++) worst = Math.max(worst, Math.abs(u[i]! - bytes[i]! / 255));
      expect(worst).toBeLessThan(1e-7);
      expect(extent(u)).toEqual([0, Math.fround(1)]);
    }
  });

  it('changes nothing but the normalization: the same rows in every split', () => {
    const [a, b, c] = [build('standardize'), build('unit'), build('none')];
    for (const which of ['train', 'validation', 'test'] as const) {
      expect(b[which]).toEqual(a[which]);
      expect(c[which]).toEqual(a[which]);
    }
  });

  it('refuses an unknown scaling, naming the option', () => {
    expect(code(() => buildMnistDataset(files, { scaling: 'zscore' as MnistScaling }))).toMatch(/^INVALID_OPTION: scaling "zscore" .*'standardize', 'unit', 'none'/);
  });

  it('is threaded through loadDataset', async () => {
    const d = await loadDataset('mnist', { limitTrain: 200, limitTest: 20, scaling: 'unit' });
    expect(d.normalization).toEqual({ kind: 'affine', scale: 1 / 255, shift: 0 });
    const [low, high] = extent(gathered(d.train, 784, d.normalization));
    expect(low).toBe(0);
    expect(high).toBeCloseTo(1, 6);
  });

  it.each([{ validationFraction: 0 }, { validationCount: 0 }])('%j keeps every training row in train', (holdout) => {
    const d = buildMnistDataset(files, { seed: 2, ...holdout });
    expect(d.validation.count).toBe(0);
    expect(d.validation.features.length).toBe(0);
    expect(d.train.count).toBe(200);
    // Pixel 0 of image i is 7i mod 256 (183 = 7⁻¹ mod 256): each image of the training file appears once.
    const images = Array.from({ length: 200 }, (_, r) => (d.train.features[r * 784]! * 183) % 256).sort((a, b) => a - b);
    expect(images).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(d.normalization).toEqual(affineNormalization(d.train.features as Uint8Array));
  });
});

/** Rows `i, 10·i + 0.5, class` for i = 0…n−1: feature 0 identifies the row. */
function table(n: number): string {
  return ['id,x,label', ...Array.from({ length: n }, (_, i) => `${i},${10 * i + 0.5},${i % 3 === 0 ? 'a' : 'b'}`)].join('\n');
}
const classification: CsvOptions = { labelColumn: 'label', task: 'classification', seed: 4 };

describe('CSV scaling', () => {
  it("'none' keeps the values as given, with identity statistics; the split is the standardised one's", () => {
    const standard = parseCsv(table(60), classification);
    const raw = parseCsv(table(60), { ...classification, scaling: 'none' });
    expect(raw.normalization).toEqual({ kind: 'standardized', mean: [0, 0], std: [1, 1] });
    expect(standard.normalization).not.toEqual(raw.normalization);
    for (const which of ['train', 'validation', 'test'] as const) {
      const f = raw[which].features;
      expect(f).toBeInstanceOf(Float32Array);
      for (let r = 0; r < raw[which].count; r++) {
        expect(Number.isInteger(f[2 * r])).toBe(true);
        expect(f[2 * r + 1]).toBe(Math.fround(10 * f[2 * r]! + 0.5));
      }
      expect(raw[which].labels).toEqual(standard[which].labels);
      // Un-standardising the default gives back the raw values.
      if (standard.normalization.kind !== 'standardized') throw new Error('expected standardized');
      const { mean, std } = standard.normalization;
      const back = Array.from(standard[which].features, (z, i) => z * std[i % 2]! + mean[i % 2]!);
      back.forEach((v, i) => expect(v).toBeCloseTo(f[i]!, 3));
    }
  });

  it("refuses 'unit' (and anything else) with INVALID_OPTION naming the option", () => {
    expect(code(() => parseCsv(table(30), { ...classification, scaling: 'unit' as CsvScaling }))).toMatch(/^INVALID_OPTION: scaling "unit" is not available for a CSV dataset; it accepts 'standardize', 'none'/);
    expect(code(() => parseCsv(table(30), { ...classification, scaling: 'minmax' as CsvScaling }))).toMatch(/^INVALID_OPTION: scaling "minmax"/);
  });

  it.each(['classification', 'regression'] as const)('validationFraction 0 keeps every non-test row in train (%s)', (task) => {
    const text = task === 'classification' ? table(50) : ['id,y', ...Array.from({ length: 50 }, (_, i) => `${i},${2 * i + 1}`)].join('\n');
    const d = parseCsv(text, { labelColumn: task === 'classification' ? 'label' : 'y', task, seed: 1, validationFraction: 0, scaling: 'none' });
    expect(d.validation.count).toBe(0);
    expect(d.train.count + d.test.count).toBe(50);
    const ids = (split: DataSplit, dim: number) => Array.from({ length: split.count }, (_, r) => split.features[r * dim]!);
    const dim = d.featureShape[0]!;
    expect([...ids(d.train, dim), ...ids(d.test, dim)].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

describe('spirals scaling', () => {
  it("'none' gives the coordinates as drawn, the default's un-standardised", () => {
    const standard = twoSpirals({ count: 100, seed: 3 });
    const raw = twoSpirals({ count: 100, seed: 3, scaling: 'none' });
    expect(raw.normalization).toEqual({ kind: 'standardized', mean: [0, 0], std: [1, 1] });
    if (standard.normalization.kind !== 'standardized') throw new Error('expected standardized');
    const { mean, std } = standard.normalization;
    Array.from(standard.train.features, (z, i) => z * std[i % 2]! + mean[i % 2]!).forEach((v, i) => expect(v).toBeCloseTo(raw.train.features[i]!, 5));
    expect(Math.max(...extent(raw.train.features).map(Math.abs))).toBeLessThan(1.5);
    expect(code(() => twoSpirals({ scaling: 'unit' as 'none' }))).toMatch(/^INVALID_OPTION: scaling "unit"/);
  });
});

describe('DatasetCache and scaling', () => {
  it('never shares a dataset between references that differ in scaling', async () => {
    let fetches = 0;
    const cache = new DatasetCache(async () => {
      fetches++;
      return { text: table(30), options: classification };
    });
    const standard = await cache.get({ type: 'csv', id: 'd1' });
    const raw = await cache.get({ type: 'csv', id: 'd1', scaling: 'none' });
    expect(raw).not.toBe(standard);
    expect(raw.normalization).toEqual({ kind: 'standardized', mean: [0, 0], std: [1, 1] });
    expect(standard.normalization).not.toEqual(raw.normalization);
    expect(await cache.get({ scaling: 'none', id: 'd1', type: 'csv' })).toBe(raw);
    expect(fetches).toBe(2);
    await expect(cache.get({ type: 'csv', id: 'd1', scaling: 'unit' })).rejects.toMatchObject({ code: 'INVALID_OPTION' });

    const spirals = await cache.get({ type: 'spirals', count: 50, seed: 1 });
    const rawSpirals = await cache.get({ type: 'spirals', count: 50, seed: 1, scaling: 'none' });
    expect(rawSpirals).not.toBe(spirals);
    expect(rawSpirals.normalization).not.toEqual(spirals.normalization);
    const unit = await cache.get({ type: 'mnist', limitTrain: 100, limitTest: 10, scaling: 'unit' });
    const none = await cache.get({ type: 'mnist', limitTrain: 100, limitTest: 10, scaling: 'none' });
    expect([unit.normalization, none.normalization]).toEqual([
      { kind: 'affine', scale: 1 / 255, shift: 0 },
      { kind: 'affine', scale: 1, shift: 0 },
    ]);
    expect(await cache.get({ type: 'mnist', limitTrain: 100, limitTest: 10, scaling: 'unit' })).toBe(unit);
  });
});
