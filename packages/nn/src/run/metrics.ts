// What a training run reports: per-epoch metrics (the persisted part goes into checkpoints) and
// evaluation results.

export interface EpochMetrics {
  /** 1-based epoch number. */
  readonly epoch: number;
  readonly trainLoss: number;
  readonly trainAccuracy: number | null;
  readonly valLoss: number | null;
  readonly valAccuracy: number | null;
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
  readonly count: number;
  /** Rows: true class, columns: predicted class (first maximum wins). When asked for, classification only. */
  readonly confusionMatrix?: number[][];
}
