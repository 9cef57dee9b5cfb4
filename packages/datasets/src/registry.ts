// The registry of built-in datasets: what the API and dashboard can list, and one entry
// point that loads any of them by id.
import type { Dataset } from '@hypersweep/nn';
import { DatasetError } from './errors.ts';
import { loadMnist, MNIST_CLASSES, MNIST_IMAGE_SHAPE, MNIST_TEST_SIZE, MNIST_TRAIN_SIZE, type MnistOptions } from './mnist.ts';
import { twoSpirals, type TwoSpiralsOptions } from './spirals.ts';

export type BuiltinDatasetId = 'mnist' | 'spirals';

export interface BuiltinDatasetInfo {
  readonly id: BuiltinDatasetId;
  readonly description: string;
  readonly featureShape: readonly number[];
  readonly numClasses: number;
  /** Examples with default options: `train` before the validation hold-out, and the test set. */
  readonly sizes: { readonly train: number; readonly test: number };
}

/** Options accepted by each built-in dataset. */
export interface BuiltinDatasetOptions {
  mnist: MnistOptions;
  spirals: TwoSpiralsOptions;
}

export const builtinDatasets: readonly BuiltinDatasetInfo[] = [
  {
    id: 'mnist',
    description: 'MNIST handwritten digits: 28×28 grayscale uint8 images, 10 classes (official 60k/10k split)',
    featureShape: [...MNIST_IMAGE_SHAPE],
    numClasses: MNIST_CLASSES,
    sizes: { train: MNIST_TRAIN_SIZE, test: MNIST_TEST_SIZE },
  },
  {
    id: 'spirals',
    description: 'Two interleaved noisy spirals: synthetic 2-feature, 2-class float data for fast tests',
    featureShape: [2],
    numClasses: 2,
    sizes: { train: 1000, test: 200 },
  },
];

/**
 * Option names each loader understands; anything else is refused rather than silently
 * ignored. Records over `keyof` make the compiler keep these lists complete.
 */
const MNIST_OPTION_KEYS: Record<keyof MnistOptions, true> = {
  validationFraction: true,
  validationCount: true,
  seed: true,
  limitTrain: true,
  limitTest: true,
  dataDir: true,
  scaling: true,
};
const SPIRALS_OPTION_KEYS: Record<keyof TwoSpiralsOptions, true> = {
  count: true,
  testCount: true,
  noise: true,
  turns: true,
  seed: true,
  validationFraction: true,
  validationCount: true,
  scaling: true,
};
const OPTION_KEYS: Readonly<Record<BuiltinDatasetId, readonly string[]>> = {
  mnist: Object.keys(MNIST_OPTION_KEYS),
  spirals: Object.keys(SPIRALS_OPTION_KEYS),
};

function checkOptionKeys(id: BuiltinDatasetId, options: object): void {
  const unknown = Object.keys(options).filter((k) => !OPTION_KEYS[id].includes(k));
  if (unknown.length > 0) {
    throw new DatasetError(
      'INVALID_OPTION',
      `dataset "${id}" has no option ${unknown.map((k) => `"${k}"`).join(', ')}; it accepts ${OPTION_KEYS[id].join(', ')}`,
    );
  }
}

export function isBuiltinDatasetId(id: string): id is BuiltinDatasetId {
  return builtinDatasets.some((d) => d.id === id);
}

/**
 * Loads a built-in dataset. Ids arriving as plain strings (e.g. from an API payload) are
 * checked; an unknown one throws DatasetError UNKNOWN_DATASET. Each loader validates its
 * options and throws INVALID_OPTION for bad ones.
 */
export function loadDataset<Id extends BuiltinDatasetId>(id: Id, options?: BuiltinDatasetOptions[Id]): Promise<Dataset>;
export function loadDataset(id: string, options?: BuiltinDatasetOptions[BuiltinDatasetId]): Promise<Dataset>;
export async function loadDataset(id: string, options: BuiltinDatasetOptions[BuiltinDatasetId] = {}): Promise<Dataset> {
  if (isBuiltinDatasetId(id)) checkOptionKeys(id, options);
  // The casts are safe after checkOptionKeys: every option of both loaders is optional and
  // each loader checks the values it reads.
  switch (id) {
    case 'mnist':
      return loadMnist(options as MnistOptions);
    case 'spirals':
      return twoSpirals(options as TwoSpiralsOptions);
    default:
      throw new DatasetError(
        'UNKNOWN_DATASET',
        `unknown dataset "${id}"; built-in datasets are ${builtinDatasets.map((d) => `"${d.id}"`).join(', ')}`,
      );
  }
}
