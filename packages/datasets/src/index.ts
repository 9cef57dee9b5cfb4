// Public API of @hypersweep/datasets: the dataset registry, loaders (MNIST IDX, CSV, two
// spirals), deterministic splits, training-only normalisation and shared-memory placement.
export { DatasetError, describeColumn, type ColumnRef, type DatasetErrorCode, type DatasetErrorDetails } from './errors.ts';
export { deriveSeed, streamRng } from './random.ts';
export { parseIdx, encodeIdx, type IdxDtype, type IdxData, type IdxTensor } from './idx.ts';
export {
  loadMnist,
  buildMnistDataset,
  readMnistFiles,
  mnistDataDir,
  MNIST_FILE_NAMES,
  MNIST_CLASSES,
  MNIST_IMAGE_SHAPE,
  MNIST_TRAIN_SIZE,
  MNIST_TEST_SIZE,
  MNIST_TRAIN_CLASS_COUNTS,
  mnistPoolClassCounts,
  MNIST_SCALINGS,
  type MnistOptions,
  type MnistScaling,
  type MnistFiles,
} from './mnist.ts';
export { parseCsv, parseCsvRecords, DEFAULT_CSV_VALIDATION_FRACTION, loadCsvFile, csvUploadOptions, csvUploadErrorPath, CSV_SCALINGS, type CsvOptions, type CsvDataset, type CsvRecord, type CsvScaling, type CsvUploadFields } from './csv.ts';
export { twoSpirals, spiralsPoolClassCounts, SPIRALS_SCALINGS, type TwoSpiralsOptions, type SpiralsScaling } from './spirals.ts';
export { checkScaling, type Scaling } from './scaling.ts';
export {
  stratifiedSplit,
  stratifiedSubset,
  labelsOfCounts,
  validationSplitProblem,
  stratifiedPartition,
  randomPartition,
  resolveHoldoutCount,
  gatherRows,
  affineNormalization,
  standardizationStats,
  standardize,
  type HoldoutSize,
  type Partition,
  type PartitionOptions,
  type StratifiedPartitionOptions,
  type StratifiedSplitOptions,
  type StandardizationStats,
} from './split.ts';
export {
  datasetBytes,
  placedDatasetBytes,
  placeSplit,
  placeDataset,
  splitView,
  PLACEMENT_ALIGN,
  type SplitPlacement,
  type DatasetPlacement,
  type PlacedFeatureType,
  type PlacedLabelType,
} from './placement.ts';
export {
  builtinDatasets,
  loadDataset,
  isBuiltinDatasetId,
  type BuiltinDatasetId,
  type BuiltinDatasetInfo,
  type BuiltinDatasetOptions,
} from './registry.ts';
export type { Dataset, DataSplit, FeatureNormalization } from '@hypersweep/nn';
export {
  checkIdxUpload,
  packIdxUpload,
  buildIdxDataset,
  idxPoolClassCounts,
  IDX_LIMITS,
  IDX_DEFAULT_TEST_FRACTION,
  IDX_TEST_SPLIT_SEED,
  IDX_FILE_FIELDS,
  IDX_SCALINGS,
  type IdxFileField,
  type IdxUploadFiles,
  type IdxUploadOptions,
  type IdxStoredSpec,
  type IdxByteRange,
  type IdxDatasetOptions,
  type IdxScaling,
} from './idx-images.ts';
export { DatasetCache, canonicalJson, storedCsv, storedUpload, type DatasetReference, type StoredCsv, type StoredIdx, type StoredUpload } from './cache.ts';
