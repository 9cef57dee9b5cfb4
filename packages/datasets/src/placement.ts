// Copies dataset splits into a region of a (shared) WebAssembly.Memory buffer, so a process
// loads a dataset once and every replica thread reads the same bytes by offset.
//
// Layout of one placed split, starting at a 4-byte aligned byteOffset:
//   features (uint8 or float32, row-major) | zero padding to 4 bytes | labels (int32 or float32)
// datasetBytes() is always a multiple of 4, so splits can be placed back to back.
import type { Dataset, DataSplit } from '@hypersweep/nn';
import { DatasetError } from './errors.ts';

/** Alignment of every placed region (f32 / i32 data must be 4-byte aligned for the kernels). */
export const PLACEMENT_ALIGN = 4;

export type PlacedFeatureType = 'u8' | 'f32';
export type PlacedLabelType = 'i32' | 'f32';

export interface SplitPlacement {
  /** Byte offset of the first feature. */
  featuresPtr: number;
  /** Byte offset of the first label; 4-byte aligned. */
  labelsPtr: number;
  count: number;
  /** Bytes the placement occupies from featuresPtr, padding included (= datasetBytes(split)). */
  byteLength: number;
  featureType: PlacedFeatureType;
  /** Elements, not bytes. */
  featuresLength: number;
  labelType: PlacedLabelType;
  labelsLength: number;
}

export interface DatasetPlacement {
  train: SplitPlacement;
  validation: SplitPlacement;
  test: SplitPlacement;
  byteOffset: number;
  byteLength: number;
}

function alignUp(n: number): number {
  return Math.ceil(n / PLACEMENT_ALIGN) * PLACEMENT_ALIGN;
}

/** Bytes one split needs when placed (features, padding, labels). */
export function datasetBytes(split: DataSplit): number {
  return alignUp(split.features.byteLength) + split.labels.byteLength;
}

/** Bytes all three splits of a dataset need when placed back to back. */
export function placedDatasetBytes(dataset: Dataset): number {
  return datasetBytes(dataset.train) + datasetBytes(dataset.validation) + datasetBytes(dataset.test);
}

function asBytes(a: Uint8Array | Float32Array | Int32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Copies a split into `buffer` at `byteOffset` (a multiple of 4). uint8 features stay
 * uint8. Values are written in host byte order, which is little-endian on every platform
 * that runs WebAssembly, so kernels can read them directly.
 */
export function placeSplit(buffer: ArrayBufferLike, byteOffset: number, split: DataSplit): SplitPlacement {
  if (!Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % PLACEMENT_ALIGN !== 0) {
    throw new DatasetError('PLACEMENT_OUT_OF_BOUNDS', `byteOffset must be a non-negative multiple of ${PLACEMENT_ALIGN}, got ${byteOffset}`);
  }
  const byteLength = datasetBytes(split);
  if (byteOffset + byteLength > buffer.byteLength) {
    throw new DatasetError(
      'PLACEMENT_OUT_OF_BOUNDS',
      `a split of ${byteLength} bytes at offset ${byteOffset} does not fit in a buffer of ${buffer.byteLength} bytes`,
    );
  }
  const featuresPtr = byteOffset;
  const labelsPtr = byteOffset + alignUp(split.features.byteLength);
  const target = new Uint8Array(buffer, byteOffset, byteLength);
  target.set(asBytes(split.features), 0);
  // Zero the padding so the region's bytes are a pure function of the split.
  target.fill(0, split.features.byteLength, labelsPtr - byteOffset);
  target.set(asBytes(split.labels), labelsPtr - byteOffset);
  return {
    featuresPtr,
    labelsPtr,
    count: split.count,
    byteLength,
    featureType: split.features instanceof Uint8Array ? 'u8' : 'f32',
    featuresLength: split.features.length,
    labelType: split.labels instanceof Int32Array ? 'i32' : 'f32',
    labelsLength: split.labels.length,
  };
}

/** Places train, validation and test back to back from `byteOffset`. */
export function placeDataset(buffer: ArrayBufferLike, byteOffset: number, dataset: Dataset): DatasetPlacement {
  const needed = placedDatasetBytes(dataset);
  if (byteOffset + needed > buffer.byteLength) {
    throw new DatasetError(
      'PLACEMENT_OUT_OF_BOUNDS',
      `dataset "${dataset.name}" needs ${needed} bytes at offset ${byteOffset} but the buffer has ${buffer.byteLength}`,
    );
  }
  const train = placeSplit(buffer, byteOffset, dataset.train);
  const validation = placeSplit(buffer, byteOffset + train.byteLength, dataset.validation);
  const test = placeSplit(buffer, byteOffset + train.byteLength + validation.byteLength, dataset.test);
  return { train, validation, test, byteOffset, byteLength: needed };
}

/** Zero-copy typed views of a placed split (what a replica thread uses after receiving the memory). */
export function splitView(buffer: ArrayBufferLike, placement: SplitPlacement): DataSplit {
  const features =
    placement.featureType === 'u8'
      ? new Uint8Array(buffer, placement.featuresPtr, placement.featuresLength)
      : new Float32Array(buffer, placement.featuresPtr, placement.featuresLength);
  const labels =
    placement.labelType === 'i32'
      ? new Int32Array(buffer, placement.labelsPtr, placement.labelsLength)
      : new Float32Array(buffer, placement.labelsPtr, placement.labelsLength);
  return { count: placement.count, features, labels };
}
