// One training run, driven two ways. TrainingRun holds what does not depend on how replicas run:
// the plan, parameter initialisation and resume, the epoch loop and its metrics, validation, early
// stopping with best-weight restore, evaluation (with a confusion matrix) and the checkpoint
// manifest. A RunHost runs the replicas: in the caller's thread (TrainingSession) or on worker
// threads over a shared memory (the trainer's ReplicaPool).
import {
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
  decodeTensors,
  encodeTensors,
  jsonEqual,
  type Checkpoint,
  type CheckpointManifest,
  type EarlyStoppingState,
} from '../checkpoint.ts';
import type { Dataset } from '../data.ts';
import { NnError } from '../errors.ts';
import { initializeParams } from '../init.ts';
import type { CompiledModel } from '../model.ts';
import { learningRateAt } from '../schedule.ts';
import { parseModelSpec, parseOptimizerSpec } from '../spec.ts';
import { epochPermutation, initRng } from '../streams.ts';
import { epochMetricValues, type EpochMetrics, type EvalResult, type RunEpochMetrics } from './metrics.ts';
import { resolveRun, type ResolvedRun, type RunOptions } from './options.ts';
import { STAT, STAT_FIELDS, evalRows, planRun, type PlacedDataset, type RunPlan, type SplitName } from './plan.ts';
import { reportsTopK } from './scoring.ts';

/** Where and how a run's replicas execute. */
export interface RunHost {
  readonly threads: number;
  /** Spin iterations of a barrier before it sleeps (plan data for the replicas). */
  readonly spin: number;
  /** Longest a replica may wait at a barrier (plan data for the replicas). */
  readonly stepTimeoutMs: number;
  /**
   * Places the dataset in the memory (once per memory and dataset), lays the run out after it with
   * `plan`, and makes the memory hold the plan. Returns the memory to read and write.
   */
  layout(dataset: Dataset, plan: (placed: PlacedDataset) => RunPlan): { memory: WebAssembly.Memory; plan: RunPlan };
  /** Hands the plan to the replicas (parameters and optimizer state are in the memory already). */
  begin(plan: RunPlan, signal?: AbortSignal): Promise<void>;
  /** Trains one epoch (steps of the permutation at plan.perm). */
  epoch(epoch: number, stepBase: number, steps: number, signal?: AbortSignal): Promise<void>;
  /** Runs one evaluation pass of a split into plan.evalStats and plan.predictions. */
  evaluate(split: SplitName, signal?: AbortSignal): Promise<void>;
}

export type StopReason = 'epochs' | 'early_stopping' | 'callback';

export interface FitResult {
  readonly history: readonly RunEpochMetrics[];
  /** Why training ended. */
  readonly stoppedBy: StopReason;
  /** 1-based epoch whose weights the model holds at the end (the best one after a restore). */
  readonly bestEpoch: number | null;
  readonly epochsRun: number;
}

const NO_TIMING = { computeMs: 0, reduceMs: 0, waitMs: 0 } as const;

export class TrainingRun {
  /** Completed epochs. */
  epoch = 0;
  /** Completed optimizer steps. */
  step = 0;
  history: RunEpochMetrics[] = [];
  early: EarlyStoppingState = { best: null, bestEpoch: null, wait: 0 };
  private bestParams: Float32Array | null = null;

  private constructor(
    readonly options: RunOptions,
    readonly run: ResolvedRun,
    readonly plan: RunPlan,
    readonly memory: WebAssembly.Memory,
    private readonly host: RunHost,
  ) {}

  /** Validates the options, lays the run out, initialises or restores its state and starts the replicas. */
  static async start(options: RunOptions, host: RunHost): Promise<TrainingRun> {
    const run = resolveRun(options);
    const { memory, plan } = host.layout(run.dataset, (placed) =>
      planRun(run, { threads: host.threads, dataset: placed, spin: host.spin, stepTimeoutMs: host.stepTimeoutMs }),
    );
    const r = new TrainingRun(options, run, plan, memory, host);
    // The padding between tensors is never written by the layers, and a pool's memory holds what
    // its earlier runs left: zeroed here, so none of it reaches the gradient norm, an update or a
    // checkpoint, and a run gives the same bytes on any worker whatever it trained before.
    r.view(plan.params).fill(0);
    for (const g of plan.gradSlots) r.view(g).fill(0);
    for (const s of plan.state) r.view(s).fill(0);
    if (options.resumeFrom) r.restore(options.resumeFrom);
    else initializeParams(run.model, initRng(run.root), r.paramsView());
    await host.begin(plan, options.signal);
    return r;
  }

  get model(): CompiledModel {
    return this.run.model;
  }

  get stepsPerEpoch(): number {
    return Math.ceil(this.plan.dataset.train.count / this.run.batchSize);
  }

  private view(ptr: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, this.plan.paramCount);
  }

  /** The live parameter block (a view: copy it to keep it). */
  paramsView(): Float32Array {
    return this.view(this.plan.params);
  }

  private checkAborted(): void {
    const signal = this.options.signal;
    if (signal?.aborted) throw new NnError('ABORTED', `training aborted after epoch ${this.epoch}`, undefined, { cause: signal.reason });
  }

  /** Trains one epoch and validates it; updates early stopping. `stop` says whether it says to stop. */
  async runEpoch(): Promise<{ metrics: RunEpochMetrics; stop: boolean }> {
    this.checkAborted();
    const { plan, run } = this;
    const N = plan.dataset.train.count;
    const steps = this.stepsPerEpoch;
    new Int32Array(this.memory.buffer, plan.perm, N).set(epochPermutation(run.root, this.epoch, N));
    new Float64Array(this.memory.buffer, plan.timing, 3 * plan.threads).fill(0);
    const started = performance.now();
    await this.host.epoch(this.epoch, this.step, steps, this.options.signal);
    const seconds = (performance.now() - started) / 1000;
    const f = new Float64Array(this.memory.buffer);
    const sums = f.slice(plan.epochStats / 8, plan.epochStats / 8 + STAT_FIELDS);
    const train = scoresOf(plan, sums, N);
    const mean = (k: number) => {
      let s = 0;
      for (let r = 0; r < plan.threads; r++) s += f[plan.timing / 8 + r * 3 + k]!;
      return s / plan.threads / steps;
    };
    const val = plan.dataset.validation.count > 0 ? await this.evaluate('validation') : null;
    const metrics: RunEpochMetrics = {
      epoch: this.epoch + 1,
      trainLoss: train.loss,
      trainAccuracy: train.accuracy,
      trainTop3Accuracy: train.top3Accuracy,
      trainTop5Accuracy: train.top5Accuracy,
      trainMae: train.mae,
      trainRmse: train.rmse,
      valLoss: val ? val.loss : null,
      valAccuracy: val ? val.accuracy : null,
      valTop3Accuracy: val ? val.top3Accuracy : null,
      valTop5Accuracy: val ? val.top5Accuracy : null,
      valMae: val ? val.mae : null,
      valRmse: val ? val.rmse : null,
      learningRate: learningRateAt(run.schedule, run.optimizer.learningRate, this.step + steps - 1, steps, run.epochs),
      samplesPerSec: N / seconds,
      seconds,
      steps,
      threads: plan.threads,
      stepTiming: { computeMs: mean(0), reduceMs: mean(1), waitMs: mean(2) },
    };
    this.epoch++;
    this.step += steps;
    this.history.push(metrics);
    return { metrics, stop: this.observe(metrics) };
  }

  /** Early stopping after an epoch: keeps the best weights; true when patience has run out. */
  private observe(m: EpochMetrics): boolean {
    const es = this.run.earlyStopping;
    if (!es) return false;
    const value = epochMetricValues(m)[es.monitor] ?? null;
    if (value === null) return false;
    const sign = es.mode === 'min' ? 1 : -1;
    if (this.early.best === null || sign * (this.early.best - value) > es.minDelta) {
      this.early = { best: value, bestEpoch: m.epoch, wait: 0 };
      if (es.restoreBestWeights) this.bestParams = this.paramsView().slice();
      return false;
    }
    this.early = { ...this.early, wait: this.early.wait + 1 };
    return this.early.wait >= es.patience;
  }

  /** Trains up to `epochs` (continuing a resumed run), with early stopping and the onEpoch callback. */
  async fit(): Promise<FitResult> {
    let stoppedBy: StopReason = 'epochs';
    // A run resumed after early stopping ended it stays ended (a crash between its last checkpoint
    // and the end of the run must not train on).
    const es = this.run.earlyStopping;
    if (es && this.history.length > 0 && this.early.wait >= es.patience) stoppedBy = 'early_stopping';
    while (stoppedBy === 'epochs' && this.epoch < this.run.epochs) {
      const { metrics, stop } = await this.runEpoch();
      if ((await this.options.onEpoch?.(metrics)) === 'stop') {
        stoppedBy = 'callback';
        break;
      }
      if (stop) {
        stoppedBy = 'early_stopping';
        break;
      }
    }
    let bestEpoch: number | null = this.epoch;
    if (this.run.earlyStopping?.restoreBestWeights && this.bestParams) {
      this.paramsView().set(this.bestParams);
      bestEpoch = this.early.bestEpoch;
    }
    return { history: this.history, stoppedBy, bestEpoch, epochsRun: this.epoch };
  }

  /** Loss and accuracy of the current weights on a split (inference mode), and optionally the confusion matrix. */
  async evaluate(split: SplitName, options: { confusionMatrix?: boolean } = {}): Promise<EvalResult> {
    await this.host.evaluate(split, this.options.signal);
    return collectEvaluation(this.plan, this.memory, split, options.confusionMatrix === true);
  }

  /** Everything needed to continue bit for bit: parameters, optimizer state, RNG key, counters, early stopping. */
  checkpoint(): Checkpoint {
    const { plan, run } = this;
    const tensors = [{ name: 'params', data: this.paramsView() }, ...plan.state.map((ptr, i) => ({ name: `optimizer/${i}`, data: this.view(ptr) }))];
    if (this.bestParams) tensors.push({ name: 'best/params', data: this.bestParams });
    const { index, data } = encodeTensors(tensors);
    const ds = run.dataset;
    const manifest: CheckpointManifest = {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      model: run.model.spec,
      optimizer: run.optimizer,
      schedule: run.schedule,
      training: { epochs: run.epochs, batchSize: run.batchSize, seed: run.seed, clipNorm: run.clipNorm, microbatches: run.microbatches },
      dataset: { name: ds.name, trainCount: ds.train.count, normalization: ds.normalization, classNames: ds.classNames ? [...ds.classNames] : null },
      epoch: this.epoch,
      step: this.step,
      rng: { key: [run.root[0], run.root[1]] },
      earlyStopping: { ...this.early },
      history: this.history.map(persisted),
      params: run.model.params.map((p) => ({ name: p.name, offset: p.offset, shape: [...p.shape] })),
      paramCount: plan.paramCount,
      tensors: index,
      byteOrder: 'little',
    };
    return { manifest, data };
  }

  private restore(ckpt: Checkpoint): void {
    const m = ckpt.manifest;
    const run = this.run;
    const mismatch = (what: string, a: unknown, b: unknown): never => {
      throw new NnError('INVALID_CHECKPOINT', `checkpoint ${what} is ${JSON.stringify(a)} but this run has ${JSON.stringify(b)}`);
    };
    // Compared as parsed, defaults filled in: a manifest written before a field existed (e.g.
    // decayBiases) still matches the run that continues it.
    if (!jsonEqual(parsedOr(parseModelSpec, m.model), run.model.spec)) mismatch('model', m.model, run.model.spec);
    if (!jsonEqual(parsedOr(parseOptimizerSpec, m.optimizer), run.optimizer)) mismatch('optimizer', m.optimizer, run.optimizer);
    if (m.training.batchSize !== run.batchSize) mismatch('batchSize', m.training.batchSize, run.batchSize);
    if (m.training.microbatches !== run.microbatches) mismatch('microbatches', m.training.microbatches, run.microbatches);
    if (m.training.seed !== run.seed) mismatch('seed', m.training.seed, run.seed);
    if (m.dataset.trainCount !== run.dataset.train.count) mismatch('training-set size', m.dataset.trainCount, run.dataset.train.count);
    if (m.paramCount !== this.plan.paramCount) mismatch('paramCount', m.paramCount, this.plan.paramCount);
    const tensors = decodeTensors(ckpt);
    const get = (name: string) => {
      const t = tensors.get(name);
      if (!t || t.length !== this.plan.paramCount) throw new NnError('INVALID_CHECKPOINT', `checkpoint tensor ${name} is missing or has the wrong size`);
      return t;
    };
    this.paramsView().set(get('params'));
    this.plan.state.forEach((ptr, i) => this.view(ptr).set(get(`optimizer/${i}`)));
    this.bestParams = tensors.has('best/params') ? get('best/params') : null;
    // Checkpoints written before runs zeroed their memory can hold leftovers between tensors.
    zeroPadding(this.run.model, this.paramsView());
    for (const ptr of this.plan.state) zeroPadding(this.run.model, this.view(ptr));
    if (this.bestParams) zeroPadding(this.run.model, this.bestParams);
    this.epoch = m.epoch;
    this.step = m.step;
    this.early = { ...m.earlyStopping };
    this.history = m.history.map((h) => ({ ...h, threads: this.plan.threads, stepTiming: NO_TIMING }));
  }
}

/** Zeroes what lies between and after the model's tensors in a parameter-sized block. */
function zeroPadding(model: CompiledModel, block: Float32Array): void {
  let end = 0;
  for (const t of [...model.params].sort((a, b) => a.offset - b.offset)) {
    if (t.offset > end) block.fill(0, end, t.offset);
    end = Math.max(end, t.offset + t.size);
  }
  block.fill(0, end);
}

/** `parse(value)`, or `value` itself when it does not parse (it then fails the comparison). */
function parsedOr<T>(parse: (v: unknown) => T, value: unknown): unknown {
  try {
    return parse(value);
  } catch {
    return value;
  }
}

function persisted(m: RunEpochMetrics): EpochMetrics {
  const { threads: _threads, stepTiming: _timing, ...rest } = m;
  return rest;
}

/** Reads an evaluation pass of a split back from the memory: blocks summed in block order. */
export function collectEvaluation(plan: RunPlan, memory: WebAssembly.Memory, which: SplitName, confusion: boolean): EvalResult {
  const split = plan.dataset[which];
  const blocks = Math.ceil(split.count / evalRows(plan));
  const f = new Float64Array(memory.buffer);
  const sums = new Float64Array(STAT_FIELDS);
  for (let b = 0; b < blocks; b++) {
    for (let k = 0; k < STAT_FIELDS; k++) sums[k]! += f[plan.evalStats / 8 + b * STAT_FIELDS + k]!;
  }
  const classification = plan.model.spec.loss === 'softmax_cross_entropy';
  const result: EvalResult = { ...scoresOf(plan, sums, Math.max(split.count, 1)), count: split.count };
  if (!confusion || !classification) return result;
  const k = plan.model.outputSize;
  const matrix = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const labels = new Int32Array(memory.buffer, split.labels, split.count);
  const predicted = new Int32Array(memory.buffer, plan.predictions, split.count);
  for (let i = 0; i < split.count; i++) {
    const row = matrix[labels[i]!];
    // A label outside the classes has no row (its loss is NaN already).
    if (row) row[predicted[i]!]!++;
  }
  return { ...result, confusionMatrix: matrix };
}

/**
 * The metrics of a statistics record summed over `n` examples: means per example, and null for
 * those the model does not report (see metrics.ts).
 */
function scoresOf(plan: RunPlan, sums: Float64Array, n: number): Omit<EvalResult, 'count' | 'confusionMatrix'> {
  const classes = plan.model.outputSize;
  const classification = plan.model.spec.loss === 'softmax_cross_entropy';
  const loss = sums[STAT.loss]! / n;
  return {
    loss,
    accuracy: classification ? sums[STAT.correct]! / n : null,
    top3Accuracy: classification && reportsTopK(classes, 3) ? sums[STAT.top3]! / n : null,
    top5Accuracy: classification && reportsTopK(classes, 5) ? sums[STAT.top5]! / n : null,
    mae: classification ? null : sums[STAT.absError]! / n,
    // The loss of an mse model is the mean squared error over every output of every example.
    rmse: classification ? null : Math.sqrt(loss),
  };
}

/**
 * The parameters a checkpoint holds for `model`, whatever the run settings that made it (an
 * evaluation-only restore: the microbatches, optimizer and dataset size may differ).
 */
export function checkpointWeights(ckpt: Checkpoint, model: CompiledModel): Float32Array {
  if (!jsonEqual(ckpt.manifest.model, model.spec)) {
    throw new NnError('INVALID_CHECKPOINT', `checkpoint model is ${JSON.stringify(ckpt.manifest.model)} but this model is ${JSON.stringify(model.spec)}`);
  }
  const params = decodeTensors(ckpt).get('params');
  if (!params || params.length !== model.paramCount) throw new NnError('INVALID_CHECKPOINT', 'checkpoint tensor params is missing or has the wrong size');
  return params;
}
