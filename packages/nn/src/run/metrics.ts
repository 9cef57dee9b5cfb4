// What a training run reports: per-epoch metrics (the persisted part goes into checkpoints) and
// evaluation results.
import { TOP_K, reportsTopK } from './scoring.ts';

/**
 * An epoch's metrics. Train ones come from the epoch's training passes (dropout active, weights
 * changing during the epoch, as Keras reports them), val ones from a pass over the validation split
 * after it; null where the run does not report them (see `reportedMetricNames`). Classification:
 * accuracy (the first maximum wins) and top-3 / top-5 accuracy (only with more than 3 / 5 classes);
 * regression (mse): MAE and RMSE over every output of every example.
 */
export interface EpochMetrics {
  /** 1-based epoch number. */
  readonly epoch: number;
  readonly trainLoss: number;
  readonly trainAccuracy: number | null;
  readonly trainTop3Accuracy: number | null;
  readonly trainTop5Accuracy: number | null;
  readonly trainMae: number | null;
  readonly trainRmse: number | null;
  readonly valLoss: number | null;
  readonly valAccuracy: number | null;
  readonly valTop3Accuracy: number | null;
  readonly valTop5Accuracy: number | null;
  readonly valMae: number | null;
  readonly valRmse: number | null;
  /** The learning rate of the epoch's last update. */
  readonly learningRate: number;
  readonly samplesPerSec: number;
  readonly seconds: number;
  readonly steps: number;
}

export interface StepTiming {
  /** Milliseconds per step, averaged over replicas: forward + backward. */
  readonly computeMs: number;
  /** Reduce-scatter of the gradients and the sharded optimizer update. */
  readonly reduceMs: number;
  /** Waiting at barriers. */
  readonly waitMs: number;
}

/** An epoch as the run reports it live: the persisted metrics plus how it ran. */
export interface RunEpochMetrics extends EpochMetrics {
  readonly threads: number;
  readonly stepTiming: StepTiming;
}

export interface EvalResult {
  readonly loss: number;
  /** Classification only. */
  readonly accuracy: number | null;
  /** Classification with more than 3 (5) classes only. */
  readonly top3Accuracy: number | null;
  readonly top5Accuracy: number | null;
  /** Regression only: mean absolute error and root mean squared error over every output. */
  readonly mae: number | null;
  readonly rmse: number | null;
  readonly count: number;
  /** Rows: true class, columns: predicted class (first maximum wins). When asked for, classification only. */
  readonly confusionMatrix?: number[][];
}

/**
 * An epoch's metrics by the names users and sweeps know them (train_loss, val_top3_accuracy,
 * val_rmse, …); null where the run does not report one.
 */
export function epochMetricValues(m: EpochMetrics): Record<string, number | null> {
  return {
    train_loss: m.trainLoss,
    train_accuracy: m.trainAccuracy,
    train_top3_accuracy: m.trainTop3Accuracy,
    train_top5_accuracy: m.trainTop5Accuracy,
    train_mae: m.trainMae,
    train_rmse: m.trainRmse,
    val_loss: m.valLoss,
    val_accuracy: m.valAccuracy,
    val_top3_accuracy: m.valTop3Accuracy,
    val_top5_accuracy: m.valTop5Accuracy,
    val_mae: m.valMae,
    val_rmse: m.valRmse,
  };
}

/**
 * The names `epochMetricValues` gives a number for, in a run of a model with this loss and number
 * of outputs, with or without a validation split. Top-k accuracy only with more than k classes.
 */
export function reportedMetricNames(o: { loss: 'softmax_cross_entropy' | 'mse'; outputs: number; validation: boolean }): string[] {
  const names =
    o.loss === 'softmax_cross_entropy'
      ? ['loss', 'accuracy', ...TOP_K.filter((k) => reportsTopK(o.outputs, k)).map((k) => `top${k}_accuracy`)]
      : ['loss', 'mae', 'rmse'];
  return [...names.map((n) => `train_${n}`), ...(o.validation ? names.map((n) => `val_${n}`) : [])];
}
