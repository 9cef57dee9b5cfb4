// The data contract between loaders (packages/datasets) and training. Pure types and checks.

/** How a stored feature value becomes a model input. */
export type FeatureNormalization =
  /** uint8 features: x = u8 · scale + shift (one scalar pair for every feature, e.g. image pixels). */
  | { kind: 'affine'; scale: number; shift: number }
  /** float32 features already standardised at load time with these training-split statistics. */
  | { kind: 'standardized'; mean: number[]; std: number[] };

export interface DataSplit {
  /** Number of examples. */
  readonly count: number;
  /** Row-major features, count × prod(featureShape): uint8 (compact images) or float32. */
  readonly features: Uint8Array | Float32Array;
  /** Classification: Int32Array(count) of class ids. Regression: Float32Array(count × targetDim). */
  readonly labels: Int32Array | Float32Array;
}

export interface Dataset {
  readonly name: string;
  readonly task: 'classification' | 'regression';
  /** Shape of one example, e.g. [28, 28] or [13]. */
  readonly featureShape: readonly number[];
  /** Classification only. */
  readonly numClasses?: number;
  readonly classNames?: readonly string[];
  /** Regression only: outputs per example (1 for a single label column). */
  readonly targetDim?: number;
  readonly normalization: FeatureNormalization;
  readonly train: DataSplit;
  /** Stratified hold-out from the training set, used for early stopping and model selection. */
  readonly validation: DataSplit;
  /** The official test set, never used during training. */
  readonly test: DataSplit;
}

export function featureSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
