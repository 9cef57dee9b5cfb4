// The options of one training run and their checks, in one place for both drivers (the
// single-thread TrainingSession and the data-parallel ReplicaPool): what a run may be asked to do.
import { checkDatasetFits } from '../compat.ts';
import type { Dataset } from '../data.ts';
import { NnError } from '../errors.ts';
import type { Checkpoint } from '../checkpoint.ts';
import { compileModel, type CompiledModel } from '../model.ts';
import { keyFromSeed, type RngKey } from '../rng.ts';
import { parseOptimizerSpec, parseScheduleSpec, type OptimizerSpec, type ScheduleSpec } from '../spec.ts';
import { reportedMetricNames, type RunEpochMetrics } from './metrics.ts';

export interface EarlyStoppingOptions {
  /**
   * Metric to watch (default val_loss): any the run reports (`reportedMetricNames`), e.g.
   * val_top5_accuracy or val_mae. Accuracies must go up, losses and errors down.
   */
  readonly monitor?: string;
  /** Epochs without improvement before stopping. */
  readonly patience: number;
  /** An improvement smaller than this does not count (default 0). */
  readonly minDelta?: number;
  /** Put back the weights of the best epoch when training ends (default true). */
  readonly restoreBestWeights?: boolean;
}

export interface RunOptions {
  /** A model spec (ModelSpecInput), validated here: user JSON can be passed as it is. */
  readonly model: unknown;
  /** An optimizer spec (OptimizerSpecInput), validated here. */
  readonly optimizer: unknown;
  /** A schedule spec (ScheduleSpecInput), validated here; constant by default. */
  readonly schedule?: unknown;
  readonly dataset: Dataset;
  readonly epochs: number;
  readonly batchSize: number;
  /**
   * Microbatches per step: part of the arithmetic, fixed for the run and independent of the thread
   * count, so any number of threads computes the same weights. Default `defaultMicrobatches(batchSize)`.
   */
  readonly microbatches?: number;
  readonly seed: number;
  /** Global-norm gradient clipping threshold. */
  readonly clipNorm?: number;
  readonly earlyStopping?: EarlyStoppingOptions;
  /** Called after every epoch; 'stop' ends training there (e.g. a scheduler said so). */
  readonly onEpoch?: (metrics: RunEpochMetrics) => void | 'stop' | Promise<void | 'stop'>;
  /** Stops training within one step, with an ABORTED error. */
  readonly signal?: AbortSignal;
  readonly resumeFrom?: Checkpoint;
}

export interface ResolvedEarlyStopping {
  readonly monitor: string;
  /** Whether the monitored metric improves by going up (accuracies) or down. */
  readonly mode: 'min' | 'max';
  readonly patience: number;
  readonly minDelta: number;
  readonly restoreBestWeights: boolean;
}

/** A run's options after every check: what the plan, the replicas and the checkpoint use. */
export interface ResolvedRun {
  readonly model: CompiledModel;
  readonly optimizer: OptimizerSpec;
  readonly schedule: ScheduleSpec;
  readonly dataset: Dataset;
  readonly epochs: number;
  readonly batchSize: number;
  readonly microbatches: number;
  readonly seed: number;
  readonly root: RngKey;
  readonly clipNorm: number | null;
  readonly earlyStopping: ResolvedEarlyStopping | null;
}

export const MAX_EPOCHS = 100_000;
export const MAX_BATCH_SIZE = 65_536;
/** The most microbatches a run may use (gradient slots cost one parameter block each). */
export const MAX_MICROBATCHES = 64;

/**
 * Microbatches when none are asked for: 4 for batches of 64 or more, 2 from 32, else 1 — the
 * largest of 1, 2, 4 that keeps every microbatch at 16 rows or more. A function of the batch size
 * alone, never of the machine, so a trial trains the same weights on any worker. Powers of two
 * keep 1, 2 or 4 threads evenly busy (3 take 2 + 1 + 1); below 16 rows a microbatch's GEMMs turn
 * memory-bound and its own gradient block costs more than the thread saves (measured on the MNIST
 * MLP: batch 32 trains at 12.4k samples/s on 2 threads in 2 microbatches, 10.5k in 4).
 */
export function defaultMicrobatches(batchSize: number): number {
  if (batchSize >= 64) return 4;
  return batchSize >= 32 ? 2 : 1;
}

function fail(field: string, message: string): never {
  throw new NnError('INVALID_SPEC', `${field}: ${message}`, { field, issues: [{ path: field, message }] });
}

function checkInt(field: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) fail(field, `must be an integer in [${min}, ${max}], got ${v}`);
}

/** The options of a run that depend on neither its model nor its dataset. */
export type RunSettings = Pick<RunOptions, 'optimizer' | 'schedule' | 'epochs' | 'batchSize' | 'microbatches' | 'seed' | 'clipNorm' | 'earlyStopping'>;

/**
 * Checks the options that need neither the model nor the dataset, so a tool can refuse them before
 * it loads anything; throws NnError INVALID_SPEC naming the field, as resolveRun does.
 */
export function resolveRunSettings(o: RunSettings): Pick<ResolvedRun, 'optimizer' | 'schedule' | 'epochs' | 'batchSize' | 'microbatches' | 'seed' | 'root' | 'clipNorm'> {
  const optimizer = parseOptimizerSpec(o.optimizer);
  const schedule = parseScheduleSpec(o.schedule ?? { type: 'constant' });
  checkInt('epochs', o.epochs, 1, MAX_EPOCHS);
  checkInt('batchSize', o.batchSize, 1, MAX_BATCH_SIZE);
  const microbatches = o.microbatches ?? defaultMicrobatches(o.batchSize);
  checkInt('microbatches', microbatches, 1, Math.min(MAX_MICROBATCHES, o.batchSize));
  if (!Number.isSafeInteger(o.seed)) fail('seed', `must be a safe integer, got ${o.seed}`);
  if (o.clipNorm !== undefined && !(Number.isFinite(o.clipNorm) && o.clipNorm >= 1e-6 && o.clipNorm <= 1e9)) {
    fail('clipNorm', `must be a number in [1e-6, 1e9], got ${o.clipNorm}`);
  }
  if (o.earlyStopping) {
    checkInt('earlyStopping.patience', o.earlyStopping.patience, 1, MAX_EPOCHS);
    const minDelta = o.earlyStopping.minDelta ?? 0;
    if (!Number.isFinite(minDelta) || minDelta < 0 || minDelta > 1e6) fail('earlyStopping.minDelta', `must be a number in [0, 1e6], got ${minDelta}`);
  }
  return { optimizer, schedule, epochs: o.epochs, batchSize: o.batchSize, microbatches, seed: o.seed, root: keyFromSeed(o.seed), clipNorm: o.clipNorm ?? null };
}

/** Validates every option of a run; throws NnError INVALID_SPEC / SHAPE_MISMATCH naming the field. */
export function resolveRun(o: RunOptions): ResolvedRun {
  const model = compileModel(o.model);
  const settings = resolveRunSettings(o);
  checkDatasetFits(model, o.dataset);
  let earlyStopping: ResolvedEarlyStopping | null = null;
  if (o.earlyStopping) {
    const es = o.earlyStopping;
    const monitor = es.monitor ?? 'val_loss';
    const reported = reportedMetricNames({ loss: model.spec.loss, outputs: model.outputSize, validation: true });
    if (typeof monitor !== 'string' || !reported.includes(monitor)) {
      fail('earlyStopping.monitor', `must be a metric this model reports (${reported.join(', ')}), got ${String(monitor)}`);
    }
    if (monitor.startsWith('val_') && o.dataset.validation.count === 0) fail('earlyStopping.monitor', `${monitor} needs a validation split, and dataset "${o.dataset.name}" has none`);
    earlyStopping = { monitor, mode: monitor.endsWith('accuracy') ? 'max' : 'min', patience: es.patience, minDelta: es.minDelta ?? 0, restoreBestWeights: es.restoreBestWeights ?? true };
  }
  return { model, dataset: o.dataset, ...settings, earlyStopping };
}
