// Image datasets users upload as IDX files (Fashion-MNIST, KMNIST, EMNIST…): checking the files with
// errors that name the file, byte offset and header field; packing them into one stored blob; and
// building a Dataset from that blob like MNIST (seeded splits, standardize / unit / none scaling).
import type { Dataset, DataSplit } from '@hypersweep/nn';
import { DatasetError } from './errors.ts';
import { assertSeed } from './random.ts';
import { checkScaling, type Scaling } from './scaling.ts';
import { affineNormalization, gatherRows, labelsOfCounts, resolveHoldoutCount, stratifiedPartition, stratifiedSplit } from './split.ts';

/** The limits of an upload that do not depend on the server's byte limit. */
export const IDX_LIMITS = {
  /** Labels are ubyte: class ids 0..255. */
  maxClasses: 256,
  /** Largest height or width of an image, in pixels. */
  maxImageSide: 1024,
  /** Channels of a rank-4 image file [N, H, W, C]. */
  channels: [1, 3] as readonly number[],
  /** Fewest training images (before any hold-out): enough for a train / validation / test split. */
  minTrainExamples: 10,
} as const;

/** Share of the training file held out as the test set when no test files are uploaded. */
export const IDX_DEFAULT_TEST_FRACTION = 0.1;
/** That hold-out is drawn once per dataset with this seed (not the sweep's), so every sweep tests on the same images. */
export const IDX_TEST_SPLIT_SEED = 0;

export const IDX_FILE_FIELDS = ['trainImages', 'trainLabels', 'testImages', 'testLabels'] as const;
export type IdxFileField = (typeof IDX_FILE_FIELDS)[number];

/** The decompressed bytes of an upload's files: a training pair, and a test pair or none. */
export interface IdxUploadFiles {
  trainImages: Uint8Array;
  trainLabels: Uint8Array;
  testImages?: Uint8Array | undefined;
  testLabels?: Uint8Array | undefined;
}

export interface IdxUploadOptions {
  /** Declared number of classes; every label must be below it. Default: the largest training label + 1. */
  numClasses?: number | undefined;
  /** Without test files: the share of the training file held out as the test set (default 0.1). */
  testFraction?: number | undefined;
}

/** Where one file lies in the stored blob. */
export interface IdxByteRange {
  offset: number;
  length: number;
}

/** What is stored next to the blob (JSON): enough to rebuild the dataset and to describe it without loading it. */
export interface IdxStoredSpec {
  format: 'idx-ubyte-v1';
  /** One example's shape as the file declares it: [H, W] for [N, H, W] files, [H, W, C] for [N, H, W, C]. */
  featureShape: number[];
  numClasses: number;
  /** Where the decompressed files lie in the blob. */
  files: { trainImages: IdxByteRange; trainLabels: IdxByteRange; testImages?: IdxByteRange; testLabels?: IdxByteRange };
  /** The test set: the uploaded test files, or a stratified hold-out of the training file. */
  test: { source: 'files' } | { source: 'holdout'; fraction: number; seed: number };
  /** Examples: train (its validation hold-out included, the test hold-out excluded) and test. */
  sizes: { train: number; test: number };
  /** Examples per class in the training file (as uploaded), for people reading the listing. */
  classCounts: number[];
}

const MAGIC_OF_RANK: Readonly<Record<number, string>> = { 1: '0x00000801', 3: '0x00000803', 4: '0x00000804' };
const hex32 = (b: Uint8Array): string => `0x${Array.from(b.subarray(0, 4), (x) => x.toString(16).padStart(2, '0')).join('')}`;
const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

function fail(code: ConstructorParameters<typeof DatasetError>[0], file: IdxFileField, offset: number, header: string | undefined, message: string): never {
  const where = `${file}: byte ${offset}${header ? ` (${header})` : ''}`;
  throw new DatasetError(code, `${where}: ${message}`, { file, offset, ...(header ? { header } : {}) });
}

interface UbyteHeader {
  dims: number[];
  /** Bytes before the elements. */
  dataOffset: number;
}

/**
 * Reads and checks one ubyte IDX header and the file's length: `kind` images take rank 3 [N, H, W] or 4
 * [N, H, W, C], labels rank 1 [N]. Errors name the file, the byte offset and the header field.
 */
function readUbyteHeader(bytes: Uint8Array, file: IdxFileField, kind: 'images' | 'labels'): UbyteHeader {
  const expected = kind === 'images' ? `${MAGIC_OF_RANK[3]} (ubyte images [N, H, W]) or ${MAGIC_OF_RANK[4]} (ubyte images [N, H, W, C])` : `${MAGIC_OF_RANK[1]} (ubyte labels [N])`;
  if (bytes.byteLength < 4) fail('IDX_TRUNCATED', file, bytes.byteLength, 'magic', `the file ends after ${plural(bytes.byteLength, 'byte')}, inside the 4-byte magic number (expected ${expected})`);
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== 0x08) {
    const at = bytes[0] !== 0 ? 0 : bytes[1] !== 0 ? 1 : 2;
    const why = at === 2 ? `type byte 0x${bytes[2]!.toString(16).padStart(2, '0')} is not 0x08 (ubyte)` : 'not an IDX file';
    fail('IDX_BAD_MAGIC', file, at, 'magic', `magic number ${hex32(bytes)}: ${why}; expected ${expected}`);
  }
  const rank = bytes[3]!;
  const ranks = kind === 'images' ? [3, 4] : [1];
  if (!ranks.includes(rank)) fail('IDX_BAD_MAGIC', file, 3, 'magic', `magic number ${hex32(bytes)} declares rank ${rank}; expected ${expected}`);
  const dataOffset = 4 + 4 * rank;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let d = 0; d < rank; d++) {
    const at = 4 + 4 * d;
    if (bytes.byteLength < at + 4) fail('IDX_TRUNCATED', file, bytes.byteLength, `dims[${d}]`, `the file ends inside the header (${dataOffset} bytes for rank ${rank})`);
    dims.push(view.getUint32(at, false));
  }
  const count = dims[0]!;
  if (kind === 'images') {
    if (count < 1) fail('IDX_BAD_SHAPE', file, 4, 'dims[0]', 'the file declares 0 images');
    for (const d of [1, 2]) {
      const side = dims[d]!;
      if (side < 1 || side > IDX_LIMITS.maxImageSide) {
        fail('IDX_BAD_SHAPE', file, 4 + 4 * d, `dims[${d}]`, `image ${d === 1 ? 'height' : 'width'} ${side} is outside 1..${IDX_LIMITS.maxImageSide}`);
      }
    }
    if (rank === 4 && !IDX_LIMITS.channels.includes(dims[3]!)) {
      fail('IDX_BAD_SHAPE', file, 16, 'dims[3]', `${dims[3]} channels; images take ${IDX_LIMITS.channels.join(' or ')} (grayscale or RGB)`);
    }
  }
  // Numbers below 2^53: at most 2^32 images of 1024·1024·3 bytes.
  const elements = dims.reduce((a, b) => a * b, 1);
  const length = dataOffset + elements;
  const shape = `[${dims.join(', ')}]`;
  if (bytes.byteLength < length) {
    const perExample = elements / count;
    const whole = Math.floor((bytes.byteLength - dataOffset) / perExample);
    fail(
      'IDX_TRUNCATED',
      file,
      bytes.byteLength,
      undefined,
      `the file is truncated: header dims ${shape} need ${length} bytes but it ends at byte ${bytes.byteLength} (${plural(whole, kind === 'images' ? 'whole image' : 'label')} of ${count})`,
    );
  }
  if (bytes.byteLength > length) {
    fail('IDX_SIZE_MISMATCH', file, length, undefined, `header dims ${shape} need ${length} bytes but the file has ${bytes.byteLength - length} more after them (${bytes.byteLength} bytes)`);
  }
  return { dims, dataOffset };
}

/** Checks a labels file against its images (count) and the classes (range); returns its labels. */
function checkLabels(bytes: Uint8Array, file: IdxFileField, imageCount: number, imagesFile: IdxFileField, numClasses: number | undefined, why: string): Uint8Array {
  const header = readUbyteHeader(bytes, file, 'labels');
  if (header.dims[0] !== imageCount) {
    fail('IDX_COUNT_MISMATCH', file, 4, 'dims[0]', `${plural(header.dims[0]!, 'label')} for ${plural(imageCount, 'image')} in ${imagesFile}`);
  }
  const labels = bytes.subarray(header.dataOffset);
  if (numClasses !== undefined) {
    for (let i = 0; i < labels.length; i++) {
      if (labels[i]! >= numClasses) fail('IDX_LABEL_RANGE', file, header.dataOffset + i, undefined, `label ${labels[i]} of example ${i} is not a class id below ${numClasses} (${why})`);
    }
  }
  return labels;
}

function checkNumClasses(value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 2 || value > IDX_LIMITS.maxClasses)) {
    throw new DatasetError('INVALID_OPTION', `numClasses must be an integer from 2 to ${IDX_LIMITS.maxClasses}, got ${String(value)}`);
  }
}

/**
 * Checks an upload's files (decompressed) and what they make: ubyte magic and rank, image sides and
 * channels, lengths against the header dims, one label per image, labels below the number of classes
 * (declared, else the largest training label + 1; a test label must be a class of the training set),
 * test images shaped like the training images, and a feasible stratified test hold-out when no test
 * files come. Returns the stored spec with the byte ranges of the packed blob (packIdxUpload's layout).
 */
export function checkIdxUpload(files: IdxUploadFiles, options: IdxUploadOptions = {}): IdxStoredSpec {
  checkNumClasses(options.numClasses);
  if ((files.testImages === undefined) !== (files.testLabels === undefined)) {
    throw new DatasetError('INVALID_OPTION', `give testImages and testLabels together, or neither (got only ${files.testImages ? 'testImages' : 'testLabels'})`);
  }
  const train = readUbyteHeader(files.trainImages, 'trainImages', 'images');
  const count = train.dims[0]!;
  if (count < IDX_LIMITS.minTrainExamples) {
    fail('IDX_BAD_SHAPE', 'trainImages', 4, 'dims[0]', `${plural(count, 'training image')}; an upload needs at least ${IDX_LIMITS.minTrainExamples}`);
  }
  const trainLabels = checkLabels(files.trainLabels, 'trainLabels', count, 'trainImages', options.numClasses, 'numClasses');
  let maxLabel = 0;
  for (const l of trainLabels) if (l > maxLabel) maxLabel = l;
  const numClasses = options.numClasses ?? maxLabel + 1;
  if (numClasses < 2) fail('IDX_LABEL_RANGE', 'trainLabels', 8, undefined, 'every label is 0: a classification dataset needs at least 2 classes');
  const classCounts = new Array<number>(numClasses).fill(0);
  for (const l of trainLabels) classCounts[l]!++;
  const featureShape = train.dims.slice(1);
  const spec: Omit<IdxStoredSpec, 'files' | 'test' | 'sizes'> = { format: 'idx-ubyte-v1', featureShape, numClasses, classCounts };
  const ranges = { trainImages: { offset: 0, length: files.trainImages.byteLength }, trainLabels: { offset: files.trainImages.byteLength, length: files.trainLabels.byteLength } };

  if (files.testImages && files.testLabels) {
    const test = readUbyteHeader(files.testImages, 'testImages', 'images');
    const shape = test.dims.slice(1);
    if (shape.join(',') !== featureShape.join(',')) {
      const message = `test images are [${shape.join(', ')}] but training images are [${featureShape.join(', ')}]`;
      if (shape.length !== featureShape.length) fail('IDX_BAD_SHAPE', 'testImages', 3, 'magic', message);
      const d = shape.findIndex((side, i) => side !== featureShape[i]) + 1;
      fail('IDX_BAD_SHAPE', 'testImages', 4 + 4 * d, `dims[${d}]`, message);
    }
    const why = options.numClasses !== undefined ? 'numClasses' : `the training labels are 0..${numClasses - 1}`;
    checkLabels(files.testLabels, 'testLabels', test.dims[0]!, 'testImages', numClasses, why);
    const at = ranges.trainLabels.offset + ranges.trainLabels.length;
    return {
      ...spec,
      files: { ...ranges, testImages: { offset: at, length: files.testImages.byteLength }, testLabels: { offset: at + files.testImages.byteLength, length: files.testLabels.byteLength } },
      test: { source: 'files' },
      sizes: { train: count, test: test.dims[0]! },
    };
  }
  const fraction = options.testFraction ?? IDX_DEFAULT_TEST_FRACTION;
  if (!Number.isFinite(fraction) || fraction <= 0 || fraction >= 1) throw new DatasetError('INVALID_OPTION', `testFraction must be in (0, 1), got ${String(fraction)}`);
  const test = { source: 'holdout' as const, fraction, seed: IDX_TEST_SPLIT_SEED };
  // Drawn here once so an infeasible hold-out (a class with one image) is refused at upload, not per trial.
  const holdout = testHoldout(trainLabels, numClasses, test);
  return { ...spec, files: ranges, test, sizes: { train: holdout.rest.length, test: holdout.test.length } };
}

/** Training images per class before the validation hold-out: the training file's, less a test hold-out drawn from it. */
export function idxPoolClassCounts(spec: Pick<IdxStoredSpec, 'classCounts' | 'numClasses' | 'test'>): number[] {
  if (spec.test.source === 'files') return [...spec.classCounts];
  const labels = labelsOfCounts(spec.classCounts);
  const counts = new Array<number>(spec.numClasses).fill(0);
  for (const i of testHoldout(labels, spec.numClasses, spec.test).rest) counts[labels[i]!]!++;
  return counts;
}

function testHoldout(labels: ArrayLike<number>, numClasses: number, test: { fraction: number; seed: number }): { rest: Int32Array; test: Int32Array } {
  const size = resolveHoldoutCount(labels.length, { fraction: test.fraction }, 'test');
  // A test fraction was asked for: one that rounds to no image would leave the test set empty.
  if (size === 0) throw new DatasetError('SPLIT_TOO_SMALL', `testFraction ${test.fraction} of ${labels.length} images holds out none; use at least ${(1 / labels.length).toPrecision(2)}`, { option: 'testFraction' });
  const p = stratifiedPartition(labels, { numClasses, seed: test.seed, stream: 'idx-test-holdout', holdouts: [size], holdoutNames: ['test'], restName: 'train' });
  return { rest: p.rest, test: p.holdouts[0]! };
}

/** The files end to end, in the order (and at the offsets) checkIdxUpload's spec names. */
export function packIdxUpload(files: IdxUploadFiles): Uint8Array {
  const parts = [files.trainImages, files.trainLabels, files.testImages, files.testLabels].filter((p): p is Uint8Array => p !== undefined);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

export interface IdxDatasetOptions {
  /** Share of the training set held out for validation (stratified). Default 0.1. */
  validationFraction?: number;
  /** Exact validation size instead of a fraction. */
  validationCount?: number;
  /** Seeds the validation split. Default 0. */
  seed?: number;
  /** 'standardize' (default: the training split's pixel mean and std), 'unit' (pixel / 255) or 'none' (raw 0–255). */
  scaling?: IdxScaling;
}

export const IDX_SCALINGS = ['standardize', 'unit', 'none'] as const satisfies readonly Scaling[];
export type IdxScaling = (typeof IDX_SCALINGS)[number];

const OPTION_KEYS: Record<keyof IdxDatasetOptions, true> = { validationFraction: true, validationCount: true, seed: true, scaling: true };

function slice(blob: Uint8Array, range: IdxByteRange | undefined, what: string): Uint8Array {
  if (!range || range.offset < 0 || range.offset + range.length > blob.byteLength) throw new DatasetError('UNKNOWN_DATASET', `stored IDX dataset: ${what} is missing from its data`);
  return blob.subarray(range.offset, range.offset + range.length);
}

/**
 * The Dataset of a stored upload (pure): pixels stay uint8 (one byte per feature, like MNIST), the
 * affine scaling comes from `scaling` (standardize: the training split's pixels only), validation is a
 * stratified hold-out of the training set drawn with `seed`, test is the uploaded test files or the
 * upload's own seeded hold-out (the same for every sweep).
 */
export function buildIdxDataset(name: string, blob: Uint8Array, spec: IdxStoredSpec, options: IdxDatasetOptions = {}): Dataset {
  const unknown = Object.keys(options).filter((k) => !Object.hasOwn(OPTION_KEYS, k));
  if (unknown.length > 0) throw new DatasetError('INVALID_OPTION', `idx datasets have no option ${unknown.map((k) => `"${k}"`).join(', ')}; they accept ${Object.keys(OPTION_KEYS).join(', ')}`);
  const seed = options.seed ?? 0;
  assertSeed(seed);
  const scaling = checkScaling(options.scaling ?? 'standardize', IDX_SCALINGS, `idx dataset "${name}"`);
  const rowSize = spec.featureShape.reduce((a, b) => a * b, 1);
  const images = (range: IdxByteRange | undefined, what: string) => {
    const bytes = slice(blob, range, what);
    return bytes.subarray(4 + 4 * (spec.featureShape.length + 1));
  };
  const labels = (range: IdxByteRange | undefined, what: string) => Int32Array.from(slice(blob, range, what).subarray(8));
  const trainPixels = images(spec.files.trainImages, 'trainImages');
  const trainLabels = labels(spec.files.trainLabels, 'trainLabels');
  const split = (pixels: Uint8Array, ls: Int32Array, rows: ArrayLike<number>): DataSplit & { features: Uint8Array } => ({
    count: rows.length,
    features: gatherRows(pixels, rowSize, rows),
    labels: gatherRows(ls, 1, rows),
  });

  let pool: Int32Array;
  let test: DataSplit;
  if (spec.test.source === 'holdout') {
    const h = testHoldout(trainLabels, spec.numClasses, spec.test);
    pool = h.rest;
    test = split(trainPixels, trainLabels, h.test);
  } else {
    const testLabels = labels(spec.files.testLabels, 'testLabels');
    test = split(images(spec.files.testImages, 'testImages'), testLabels, new Int32Array(testLabels.length).map((_, i) => i));
    pool = new Int32Array(trainLabels.length).map((_, i) => i);
  }
  const poolLabels = gatherRows(trainLabels, 1, pool);
  const v = stratifiedSplit(poolLabels, spec.numClasses, {
    seed,
    ...(options.validationCount !== undefined ? { validationCount: options.validationCount } : {}),
    ...(options.validationFraction !== undefined ? { validationFraction: options.validationFraction } : {}),
  });
  // Split indices point into the pool; map them back to rows of the training file.
  const trainSplit = split(trainPixels, trainLabels, v.train.map((i) => pool[i]!));
  const normalization =
    scaling === 'standardize' ? affineNormalization(trainSplit.features) : scaling === 'unit' ? { kind: 'affine' as const, scale: 1 / 255, shift: 0 } : { kind: 'affine' as const, scale: 1, shift: 0 };
  return {
    name,
    task: 'classification',
    featureShape: [...spec.featureShape],
    numClasses: spec.numClasses,
    classNames: Array.from({ length: spec.numClasses }, (_, c) => String(c)),
    normalization,
    train: trainSplit,
    validation: split(trainPixels, trainLabels, v.validation.map((i) => pool[i]!)),
    test,
  };
}
