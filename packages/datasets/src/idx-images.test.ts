// Uploaded IDX image datasets: every malformed file refused with its file, byte offset and header
// field; the packed blob rebuilt into a Dataset like MNIST (splits, scalings, the upload's test set).
import { Rng } from '@hypersweep/nn';
import { describe, expect, it } from 'vitest';
import { DatasetCache, storedUpload } from './cache.ts';
import { DatasetError } from './errors.ts';
import { encodeIdx } from './idx.ts';
import { buildIdxDataset, checkIdxUpload, idxPoolClassCounts, packIdxUpload, type IdxUploadFiles, type IdxUploadOptions } from './idx-images.ts';
import { validationSplitProblem } from './split.ts';
import { syntheticIdxImages } from './testing.ts';

function refusal(files: IdxUploadFiles, options: IdxUploadOptions = {}): DatasetError {
  try {
    checkIdxUpload(files, options);
  } catch (error) {
    expect(error).toBeInstanceOf(DatasetError);
    return error as DatasetError;
  }
  throw new Error('expected the upload to be refused');
}

const train = syntheticIdxImages({ count: 40, height: 4, width: 5, numClasses: 4, seed: 1 });
const test = syntheticIdxImages({ count: 12, height: 4, width: 5, numClasses: 4, seed: 2 });
const pair = { trainImages: train.images, trainLabels: train.labels };

function withByte(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice();
  copy[at] = value;
  return copy;
}

describe('checkIdxUpload', () => {
  it('takes a rank-3 training pair with a test pair, and a rank-4 RGB pair with a hold-out', () => {
    const spec = checkIdxUpload({ ...pair, testImages: test.images, testLabels: test.labels });
    expect(spec).toMatchObject({ featureShape: [4, 5], numClasses: 4, sizes: { train: 40, test: 12 }, test: { source: 'files' }, classCounts: [10, 10, 10, 10] });
    expect(spec.files.testLabels).toEqual({ offset: train.images.length + train.labels.length + test.images.length, length: test.labels.length });

    const rgb = syntheticIdxImages({ count: 50, height: 3, width: 3, channels: 3, numClasses: 5 });
    const held = checkIdxUpload({ trainImages: rgb.images, trainLabels: rgb.labels }, { testFraction: 0.2 });
    expect(held).toMatchObject({ featureShape: [3, 3, 3], numClasses: 5, sizes: { train: 40, test: 10 }, test: { source: 'holdout', fraction: 0.2, seed: 0 } });
    const gray = syntheticIdxImages({ count: 20, height: 3, width: 3, channels: 1, numClasses: 2 });
    expect(checkIdxUpload({ trainImages: gray.images, trainLabels: gray.labels }).featureShape).toEqual([3, 3, 1]);
  });

  it('counts classes as the largest label + 1 (absent classes allowed), or takes them declared', () => {
    const letters = syntheticIdxImages({ count: 30, height: 2, width: 2, numClasses: 3, firstLabel: 1 });
    const spec = checkIdxUpload({ trainImages: letters.images, trainLabels: letters.labels });
    expect(spec.numClasses).toBe(4);
    expect(spec.classCounts).toEqual([0, 10, 10, 10]);
    expect(checkIdxUpload(pair, { numClasses: 10 }).numClasses).toBe(10);
  });

  it.each([
    ['wrong magic', { ...pair, trainImages: withByte(train.images, 0, 0x1f) }, 'IDX_BAD_MAGIC', 'trainImages', 0, 'magic'],
    ['a non-ubyte type', { ...pair, trainLabels: withByte(train.labels, 2, 0x0d) }, 'IDX_BAD_MAGIC', 'trainLabels', 2, 'magic'],
    ['labels with the images magic', { ...pair, trainLabels: train.images }, 'IDX_BAD_MAGIC', 'trainLabels', 3, 'magic'],
    ['a rank-2 image file', { ...pair, trainImages: encodeIdx([40, 20], train.pixels.slice(0, 800)) }, 'IDX_BAD_MAGIC', 'trainImages', 3, 'magic'],
    ['2 channels', { ...pair, trainImages: encodeIdx([40, 2, 5, 2], train.pixels.slice(0, 800)) }, 'IDX_BAD_SHAPE', 'trainImages', 16, 'dims[3]'],
    ['an image side over the limit', { ...pair, trainImages: encodeIdx([1, 1025, 1], new Uint8Array(1025)) }, 'IDX_BAD_SHAPE', 'trainImages', 8, 'dims[1]'],
    ['too few images', { trainImages: encodeIdx([2, 1, 1], new Uint8Array(2)), trainLabels: encodeIdx([2], new Uint8Array(2)) }, 'IDX_BAD_SHAPE', 'trainImages', 4, 'dims[0]'],
    ['a header cut short', { ...pair, trainImages: train.images.subarray(0, 10) }, 'IDX_TRUNCATED', 'trainImages', 10, 'dims[1]'],
    ['a magic cut short', { ...pair, trainLabels: train.labels.subarray(0, 3) }, 'IDX_TRUNCATED', 'trainLabels', 3, 'magic'],
    ['truncated pixels', { ...pair, trainImages: train.images.subarray(0, train.images.length - 7) }, 'IDX_TRUNCATED', 'trainImages', train.images.length - 7, undefined],
    ['dims that do not match the length', { ...pair, trainImages: withByte(train.images, 7, 39) }, 'IDX_SIZE_MISMATCH', 'trainImages', 16 + 39 * 20, undefined],
    ['label count ≠ image count', { ...pair, trainLabels: encodeIdx([39], train.classes.slice(0, 39)) }, 'IDX_COUNT_MISMATCH', 'trainLabels', 4, 'dims[0]'],
    ['test images of another shape', { ...pair, testImages: encodeIdx([2, 5, 4], new Uint8Array(40)), testLabels: encodeIdx([2], new Uint8Array(2)) }, 'IDX_BAD_SHAPE', 'testImages', 8, 'dims[1]'],
    ['test images of another rank', { ...pair, testImages: encodeIdx([2, 4, 5, 1], new Uint8Array(40)), testLabels: encodeIdx([2], new Uint8Array(2)) }, 'IDX_BAD_SHAPE', 'testImages', 3, 'magic'],
    ['a test label outside the training classes', { ...pair, testImages: test.images, testLabels: withByte(test.labels, 8 + 5, 4) }, 'IDX_LABEL_RANGE', 'testLabels', 13, undefined],
  ] as const)('refuses %s, naming the file, offset and header field', (_name, files, code, file, offset, header) => {
    const e = refusal(files as IdxUploadFiles);
    expect(e.code).toBe(code);
    expect(e.file).toBe(file);
    expect(e.offset).toBe(offset);
    expect(e.header).toBe(header);
    expect(e.message).toMatch(new RegExp(`^${file}: byte ${offset}${header ? ` \\(${header.replace(/[[\]]/g, '\\$&')}\\)` : ''}: `));
  });

  it('refuses labels at or above a declared numClasses, and an impossible test hold-out', () => {
    const e = refusal(pair, { numClasses: 3 });
    expect([e.code, e.file, e.offset]).toEqual(['IDX_LABEL_RANGE', 'trainLabels', 8 + 3]);
    expect(e.message).toMatch(/label 3 of example 3 is not a class id below 3/);
    expect(refusal(pair, { numClasses: 257 }).code).toBe('INVALID_OPTION');
    expect(refusal({ ...pair, testImages: test.images }).message).toMatch(/testImages and testLabels together/);
    // One image of class 1: it cannot be in both the training set and the test hold-out.
    const lonely = encodeIdx([12], Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]));
    expect(refusal({ trainImages: encodeIdx([12, 1, 1], new Uint8Array(12)), trainLabels: lonely }).code).toBe('CLASS_TOO_SMALL');
  });
});

describe('buildIdxDataset', () => {
  const files = { ...pair, testImages: test.images, testLabels: test.labels };
  const spec = checkIdxUpload(files);
  const blob = packIdxUpload(files);

  it('keeps uint8 pixels, splits with the seed, and tests on the uploaded test files', () => {
    const ds = buildIdxDataset('tiny', blob, spec, { validationCount: 8, seed: 3 });
    expect(ds).toMatchObject({ name: 'tiny', task: 'classification', featureShape: [4, 5], numClasses: 4 });
    expect([ds.train.count, ds.validation.count, ds.test.count]).toEqual([32, 8, 12]);
    expect(ds.train.features).toBeInstanceOf(Uint8Array);
    expect(Array.from(ds.test.features)).toEqual(Array.from(test.pixels));
    expect(Array.from(ds.test.labels)).toEqual(Array.from(test.classes));
    // Every training row is a row of the file with its own label, and no row is in two splits.
    const rows = new Set<string>();
    for (const split of [ds.train, ds.validation]) {
      for (let r = 0; r < split.count; r++) {
        const row = Array.from(split.features.subarray(r * 20, (r + 1) * 20)).join(',');
        const i = Array.from({ length: 40 }, (_, k) => k).find((k) => Array.from(train.pixels.subarray(k * 20, (k + 1) * 20)).join(',') === row);
        expect(i).toBeDefined();
        expect(split.labels[r]).toBe(train.classes[i!]);
        rows.add(row);
      }
    }
    expect(rows.size).toBe(40);
    expect(new Set(Array.from(ds.validation.labels)).size).toBe(4);
    expect(buildIdxDataset('tiny', blob, spec, { validationCount: 8, seed: 3 }).validation.features).toEqual(ds.validation.features);
    expect(buildIdxDataset('tiny', blob, spec, { validationCount: 8, seed: 4 }).validation.features).not.toEqual(ds.validation.features);
  });

  it('scales standardize (training split statistics), unit (/255) and none (raw)', () => {
    const standard = buildIdxDataset('tiny', blob, spec, { seed: 1 });
    if (standard.normalization.kind !== 'affine') throw new Error('expected affine');
    const { scale, shift } = standard.normalization;
    const x = Array.from(standard.train.features, (u) => u * scale + shift);
    const mean = x.reduce((a, b) => a + b, 0) / x.length;
    const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length;
    expect(mean).toBeCloseTo(0, 9);
    expect(variance).toBeCloseTo(1, 9);
    expect(buildIdxDataset('tiny', blob, spec, { scaling: 'unit' }).normalization).toEqual({ kind: 'affine', scale: 1 / 255, shift: 0 });
    expect(buildIdxDataset('tiny', blob, spec, { scaling: 'none' }).normalization).toEqual({ kind: 'affine', scale: 1, shift: 0 });
    expect(() => buildIdxDataset('tiny', blob, spec, { scaling: 'minmax' as 'none' })).toThrow(/scaling "minmax"/);
    expect(() => buildIdxDataset('tiny', blob, spec, { limitTrain: 3 } as object)).toThrow(/no option "limitTrain"/);
  });

  it('holds out the same stratified test set for every seed when no test files came', () => {
    const rgb = syntheticIdxImages({ count: 50, height: 3, width: 3, channels: 3, numClasses: 5 });
    const only = { trainImages: rgb.images, trainLabels: rgb.labels };
    const heldSpec = checkIdxUpload(only);
    const a = buildIdxDataset('rgb', packIdxUpload(only), heldSpec, { seed: 1 });
    const b = buildIdxDataset('rgb', packIdxUpload(only), heldSpec, { seed: 2 });
    expect(a.featureShape).toEqual([3, 3, 3]);
    expect([a.train.count + a.validation.count, a.test.count]).toEqual([45, 5]);
    expect(a.test.features).toEqual(b.test.features);
    expect(Array.from(a.test.labels).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(a.validation.features).not.toEqual(b.validation.features);
  });

  it('is what DatasetCache builds from a stored row, which refuses a CSV reference to it', async () => {
    const row = { kind: 'idx', name: 'tiny', data: blob, spec: JSON.parse(JSON.stringify(spec)) as unknown };
    const cache = new DatasetCache(async (id) => storedUpload(id, row));
    const ds = await cache.get({ type: 'idx', id: 'x', scaling: 'unit', validationCount: 8, seed: 3 });
    expect(ds.validation.features).toEqual(buildIdxDataset('tiny', blob, spec, { validationCount: 8, seed: 3 }).validation.features);
    await expect(cache.get({ type: 'csv', id: 'x' })).rejects.toMatchObject({ code: 'UNKNOWN_DATASET' });
    expect(() => storedUpload('y', { ...row, data: null })).toThrow(/no idx dataset y/);
  });
});

describe('checkIdxUpload on mutated uploads', () => {
  /** Random damage as uploads arrive broken: bytes flipped (headers above all), cut short, grown, files swapped or dropped. */
  function mutated(seed: number): { files: IdxUploadFiles; options: IdxUploadOptions } {
    const rng = Rng.fromSeed(seed);
    const base = syntheticIdxImages({ count: 20 + rng.int(40), height: 1 + rng.int(6), width: 1 + rng.int(6), numClasses: 2 + rng.int(5), seed });
    const testSet = syntheticIdxImages({ count: 5 + rng.int(20), height: 1 + rng.int(6), width: 1 + rng.int(6), numClasses: 2 + rng.int(5), seed: seed + 1 });
    const parts: (Uint8Array | undefined)[] = [base.images, base.labels, ...(rng.float() < 0.5 ? [testSet.images, testSet.labels] : [undefined, undefined])];
    for (let k = rng.int(4); k > 0; k--) {
      const i = rng.int(4);
      const part = parts[i];
      if (part === undefined) continue;
      const copy = part.slice();
      const r = rng.float();
      if (r < 0.5) copy[rng.float() < 0.7 ? rng.int(Math.min(copy.length, 16)) : rng.int(copy.length)] = rng.int(256);
      else if (r < 0.7) parts[i] = copy.subarray(0, rng.int(copy.length));
      else if (r < 0.8) parts[i] = Uint8Array.from([...copy, ...Array.from({ length: 1 + rng.int(8) }, () => rng.int(256))]);
      else if (r < 0.9) parts[i] = parts[(i + 1) % 4] ?? copy;
      else parts[i] = undefined;
      if (r < 0.5) parts[i] = copy;
    }
    const files = { trainImages: parts[0] ?? new Uint8Array(0), trainLabels: parts[1] ?? new Uint8Array(0), ...(parts[2] ? { testImages: parts[2] } : {}), ...(parts[3] ? { testLabels: parts[3] } : {}) };
    const options = { ...(rng.float() < 0.3 ? { numClasses: rng.int(10) } : {}), ...(rng.float() < 0.3 ? { testFraction: [0.05, 0.5, 0.99, 1, 0][rng.int(5)]! } : {}) };
    return { files, options };
  }

  it('accepts an upload that builds a dataset, or refuses it with a DatasetError naming a file or option; never anything else', () => {
    let accepted = 0;
    let refused = 0;
    for (let seed = 1; seed <= 600; seed++) {
      const { files, options } = mutated(seed);
      let spec;
      try {
        spec = checkIdxUpload(files, options);
      } catch (error) {
        expect(error, `seed ${seed}: ${String(error)}`).toBeInstanceOf(DatasetError);
        // The API names the file a refusal has, else the option (a split too small: testFraction).
        const e = error as DatasetError;
        expect(e.file !== undefined || ['CLASS_TOO_SMALL', 'SPLIT_TOO_SMALL', 'INVALID_OPTION'].includes(e.code), `seed ${seed}: ${e.code} ${e.message}`).toBe(true);
        refused++;
        continue;
      }
      accepted++;
      // What was accepted is stored: it builds unless its validation split cannot be drawn, which
      // submission tells from the stored class counts alone, in the same words.
      const problem = validationSplitProblem(idxPoolClassCounts(spec), {});
      const build = () => buildIdxDataset('fuzz', packIdxUpload(files), spec);
      if (problem !== null) {
        expect(build).toThrow(problem);
        continue;
      }
      const dataset = build();
      expect(dataset.train.count + dataset.validation.count + dataset.test.count).toBeGreaterThan(0);
      for (const split of [dataset.train, dataset.validation, dataset.test]) for (const l of split.labels) expect(l).toBeLessThan(spec.numClasses);
    }
    expect(accepted).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(50);
  });
});

