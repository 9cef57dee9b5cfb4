// Single-thread training: a TrainingSession owns one WebAssembly.Memory laid out once (dataset,
// parameters, gradients, optimizer state, activations) and runs epochs of kernel calls on it.
import type { DataSplit, Dataset } from './data.ts';
import { NnError } from './errors.ts';
import { initializeParams } from './init.ts';
import type { Kernels, Ptr } from './kernels/types.ts';
import { createKernels, type KernelOptions } from './backend.ts';
import { Arena, createMemory, planActivations, planParameters, type ActivationPlan, type ParameterPlan } from './memory.ts';
import { compileModel, type CompiledModel } from './model.ts';
import { applyUpdate, clipScale, optimizerStateSlots } from './optimizer.ts';
import { Replica } from './replica.ts';
import { keyFromSeed, type RngKey } from './rng.ts';
import { dropoutKey, epochPermutation, initRng } from './streams.ts';
import { learningRateAt } from './schedule.ts';
import { parseOptimizerSpec, parseScheduleSpec, type OptimizerSpec, type ScheduleSpec } from './spec.ts';
import { checkDatasetFits } from './compat.ts';
import type { Checkpoint, CheckpointManifest, EarlyStoppingState } from './checkpoint.ts';
import { encodeTensors, decodeTensors, jsonEqual, CHECKPOINT_FORMAT, CHECKPOINT_VERSION } from './checkpoint.ts';

export interface EarlyStoppingOptions {
  /** Metric to watch (default val_loss). */
  readonly monitor?: 'val_loss' | 'val_accuracy';
  /** Epochs without improvement before stopping. */
  readonly patience: number;
  /** An improvement smaller than this does not count (default 0). */
  readonly minDelta?: number;
  /** Put back the weights of the best epoch when training ends (default true). */
  readonly restoreBestWeights?: boolean;
}

export interface EpochMetrics {
  /** 1-based epoch number. */
  readonly epoch: number;
  readonly trainLoss: number;
  readonly trainAccuracy: number | null;
  readonly valLoss: number | null;
  readonly valAccuracy: number | null;
  readonly learningRate: number;
  readonly samplesPerSec: number;
  readonly seconds: number;
  readonly steps: number;
}

export interface EvalResult {
  readonly loss: number;
  readonly accuracy: number | null;
  readonly count: number;
}

export interface TrainOptions {
  /** A model spec (ModelSpecInput), validated here: user JSON can be passed as it is. */
  readonly model: unknown;
  /** An optimizer spec (OptimizerSpecInput), validated here. */
  readonly optimizer: unknown;
  /** A schedule spec (ScheduleSpecInput), validated here; constant by default. */
  readonly schedule?: unknown;
  readonly dataset: Dataset;
  readonly epochs: number;
  readonly batchSize: number;
  readonly seed: number;
  /** Global-norm gradient clipping threshold. */
  readonly clipNorm?: number;
  readonly earlyStopping?: EarlyStoppingOptions;
  readonly kernels?: KernelOptions;
  readonly onEpoch?: (metrics: EpochMetrics) => void | Promise<void>;
  /** Called every `stepInterval` steps (default 50) with the running epoch progress. */
  readonly onStep?: (progress: { epoch: number; step: number; steps: number; loss: number }) => void;
  readonly stepInterval?: number;
  /** Stops training within one step, with NnError code ABORTED. */
  readonly signal?: AbortSignal;
  readonly resumeFrom?: Checkpoint;
}

export interface FitResult {
  readonly history: readonly EpochMetrics[];
  /** Why training ended. */
  readonly stoppedBy: 'epochs' | 'early_stopping';
  /** 1-based epoch whose weights the model holds at the end. */
  readonly bestEpoch: number | null;
  readonly epochsRun: number;
}

interface PlacedSplit {
  readonly count: number;
  readonly features: Ptr;
  readonly labels: Ptr;
  readonly u8: boolean;
}

function checkPositiveInt(name: string, v: number, max = 1e9): void {
  if (!Number.isInteger(v) || v < 1 || v > max) {
    throw new NnError('INVALID_SPEC', `${name}: must be an integer in [1, ${max}], got ${v}`, { field: name });
  }
}

export class TrainingSession {
  readonly model: CompiledModel;
  readonly optimizer: OptimizerSpec;
  readonly schedule: ScheduleSpec;
  readonly memory: WebAssembly.Memory;
  readonly kernels: Kernels;
  readonly paramPlan: ParameterPlan;
  readonly acts: ActivationPlan;
  private readonly replica: Replica;
  private readonly splits: { train: PlacedSplit; validation: PlacedSplit; test: PlacedSplit };
  private readonly root: RngKey;
  /** Completed epochs. */
  epoch = 0;
  /** Completed optimizer steps. */
  step = 0;
  history: EpochMetrics[] = [];
  early: EarlyStoppingState = { best: null, bestEpoch: null, wait: 0 };
  private bestParams: Float32Array | null = null;
  /** The batch-index region (the session's memory never grows, so the view stays valid). */
  private readonly indexView: Int32Array;

  private constructor(
    readonly options: TrainOptions,
    model: CompiledModel,
    memory: WebAssembly.Memory,
    kernels: Kernels,
    paramPlan: ParameterPlan,
    acts: ActivationPlan,
    splits: { train: PlacedSplit; validation: PlacedSplit; test: PlacedSplit },
  ) {
    this.model = model;
    this.optimizer = parseOptimizerSpec(options.optimizer);
    this.schedule = parseScheduleSpec(options.schedule ?? { type: 'constant' });
    this.memory = memory;
    this.kernels = kernels;
    this.paramPlan = paramPlan;
    this.acts = acts;
    this.splits = splits;
    this.replica = new Replica(kernels, model, acts, paramPlan.params);
    this.root = keyFromSeed(options.seed);
    this.indexView = new Int32Array(memory.buffer, acts.indices, acts.rows);
  }

  static async create(options: TrainOptions): Promise<TrainingSession> {
    const model = compileModel(options.model);
    const optimizer = parseOptimizerSpec(options.optimizer);
    parseScheduleSpec(options.schedule ?? { type: 'constant' });
    checkPositiveInt('epochs', options.epochs, 100000);
    checkPositiveInt('batchSize', options.batchSize, 65536);
    if (!Number.isSafeInteger(options.seed)) throw new NnError('INVALID_SPEC', `seed: must be a safe integer, got ${options.seed}`);
    if (options.clipNorm !== undefined && !(options.clipNorm > 0 && Number.isFinite(options.clipNorm))) {
      throw new NnError('INVALID_SPEC', `clipNorm: must be a finite number > 0, got ${options.clipNorm}`);
    }
    if (options.earlyStopping) checkPositiveInt('earlyStopping.patience', options.earlyStopping.patience, 100000);
    const ds = options.dataset;
    checkDatasetFits(model, ds);

    const arena = new Arena();
    const paramPlan = planParameters(arena, model, optimizerStateSlots(optimizer));
    const acts = planActivations(arena, model, options.batchSize);
    const layout = (s: DataSplit) => {
      const features = arena.alloc(s.features.byteLength, 64);
      const labels = arena.alloc(s.labels.byteLength, 64);
      return { s, features, labels };
    };
    const placed = { train: layout(ds.train), validation: layout(ds.validation), test: layout(ds.test) };
    const memory = createMemory(arena.size, false);
    const kernels = await createKernels(memory, options.kernels ?? {});
    const u8 = ds.train.features instanceof Uint8Array;
    const place = (p: { s: DataSplit; features: number; labels: number }): PlacedSplit => {
      new Uint8Array(memory.buffer, p.features, p.s.features.byteLength).set(
        new Uint8Array(p.s.features.buffer, p.s.features.byteOffset, p.s.features.byteLength),
      );
      new Uint8Array(memory.buffer, p.labels, p.s.labels.byteLength).set(
        new Uint8Array(p.s.labels.buffer, p.s.labels.byteOffset, p.s.labels.byteLength),
      );
      return { count: p.s.count, features: p.features, labels: p.labels, u8 };
    };
    const splits = { train: place(placed.train), validation: place(placed.validation), test: place(placed.test) };
    const session = new TrainingSession(options, model, memory, kernels, paramPlan, acts, splits);
    if (options.resumeFrom) session.restore(options.resumeFrom);
    else initializeParams(model, initRng(session.root), session.paramsView());
    return session;
  }

  /** The live parameter block (a view: copy it to keep it). */
  paramsView(): Float32Array {
    return new Float32Array(this.memory.buffer, this.paramPlan.params, this.model.paramCount);
  }

  get stepsPerEpoch(): number {
    return Math.ceil(this.splits.train.count / this.options.batchSize);
  }

  private loadBatch(split: PlacedSplit, indices: Int32Array): number {
    const rows = indices.length;
    this.indexView.set(indices);
    const k = this.kernels;
    const n = this.model.inputSize;
    const norm = this.options.dataset.normalization;
    if (split.u8) {
      const { scale, shift } = norm.kind === 'affine' ? norm : { scale: 1, shift: 0 };
      k.gatherU8(split.features, n, this.acts.indices, rows, this.acts.input, scale, shift);
    } else {
      k.gather32(split.features, n, this.acts.indices, rows, this.acts.input);
    }
    const labelWidth = this.model.spec.loss === 'mse' ? this.model.outputSize : 1;
    k.gather32(split.labels, labelWidth, this.acts.indices, rows, this.acts.targets);
    return rows;
  }

  /** Trains one epoch; returns its metrics (also appended to history). */
  async runEpoch(): Promise<EpochMetrics> {
    const o = this.options;
    const k = this.kernels;
    const train = this.splits.train;
    const B = o.batchSize;
    const steps = this.stepsPerEpoch;
    const perm = epochPermutation(this.root, this.epoch, train.count);
    const started = performance.now();
    let lossSum = 0;
    let correct = 0;
    let lr = 0;
    const interval = o.stepInterval ?? 50;
    for (let s = 0; s < steps; s++) {
      if (o.signal?.aborted) {
        throw new NnError('ABORTED', `training aborted at epoch ${this.epoch + 1}, step ${s + 1}`, undefined, { cause: o.signal.reason });
      }
      const rows = this.loadBatch(train, perm.subarray(s * B, Math.min((s + 1) * B, train.count)));
      // One microbatch per step: the key a data-parallel run with M = 1 derives for the same rows.
      this.replica.forward(rows, { training: true, dropoutKey: dropoutKey(this.root, this.epoch, s, 0) });
      const r = this.replica.loss(1 / rows);
      if (!Number.isFinite(r.lossSum)) {
        throw new NnError(
          'NON_FINITE_LOSS',
          `loss became ${r.lossSum} at epoch ${this.epoch + 1}, step ${s + 1} (global step ${this.step + 1}); try a lower learning rate or gradient clipping`,
          { epoch: this.epoch + 1, step: s + 1, globalStep: this.step + 1 },
        );
      }
      lossSum += r.lossSum;
      correct += r.correct;
      this.replica.backward(this.paramPlan.grads, false);
      const gradScale = clipScale(k, this.paramPlan.grads, this.model.paramCount, 1, o.clipNorm);
      lr = learningRateAt(this.schedule, this.optimizer.learningRate, this.step, steps, o.epochs);
      this.step++;
      applyUpdate(k, this.model, this.optimizer, {
        params: this.paramPlan.params,
        grads: this.paramPlan.grads,
        state: this.paramPlan.state,
        t: this.step,
        learningRate: lr,
        gradScale,
      });
      if (o.onStep && (s + 1) % interval === 0) {
        o.onStep({ epoch: this.epoch + 1, step: s + 1, steps, loss: lossSum / Math.min((s + 1) * B, train.count) });
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const classification = this.model.spec.loss === 'softmax_cross_entropy';
    const val = this.splits.validation.count > 0 ? this.evaluate('validation') : null;
    this.epoch++;
    const metrics: EpochMetrics = {
      epoch: this.epoch,
      trainLoss: lossSum / train.count,
      trainAccuracy: classification ? correct / train.count : null,
      valLoss: val ? val.loss : null,
      valAccuracy: val ? val.accuracy : null,
      learningRate: lr,
      samplesPerSec: train.count / seconds,
      seconds,
      steps,
    };
    this.history.push(metrics);
    return metrics;
  }

  /** Loss and accuracy on a split, in inference mode (no dropout), batch by batch. */
  evaluate(which: 'train' | 'validation' | 'test'): EvalResult {
    const split = this.splits[which];
    const rowsMax = this.acts.rows;
    let lossSum = 0;
    let correct = 0;
    const idx = new Int32Array(rowsMax);
    for (let start = 0; start < split.count; start += rowsMax) {
      const rows = Math.min(rowsMax, split.count - start);
      for (let i = 0; i < rows; i++) idx[i] = start + i;
      this.loadBatch(split, idx.subarray(0, rows));
      this.replica.forward(rows, { training: false });
      const r = this.replica.loss(1, false);
      lossSum += r.lossSum;
      correct += r.correct;
    }
    const n = Math.max(split.count, 1);
    return {
      loss: lossSum / n,
      accuracy: this.model.spec.loss === 'softmax_cross_entropy' ? correct / n : null,
      count: split.count,
    };
  }

  /** Updates the early-stopping state after an epoch; true when training should stop. */
  private earlyStop(m: EpochMetrics): boolean {
    const es = this.options.earlyStopping;
    if (!es) return false;
    const monitor = es.monitor ?? 'val_loss';
    const value = monitor === 'val_loss' ? m.valLoss : m.valAccuracy;
    if (value === null) throw new NnError('INVALID_SPEC', `earlyStopping.monitor: ${monitor} needs a validation split`);
    const sign = monitor === 'val_loss' ? 1 : -1;
    const minDelta = es.minDelta ?? 0;
    if (this.early.best === null || sign * (this.early.best - value) > minDelta) {
      this.early = { best: value, bestEpoch: m.epoch, wait: 0 };
      if (es.restoreBestWeights ?? true) this.bestParams = this.paramsView().slice();
      return false;
    }
    this.early = { ...this.early, wait: this.early.wait + 1 };
    return this.early.wait >= es.patience;
  }

  /** Trains up to options.epochs (continuing a resumed session), with early stopping. */
  async fit(): Promise<FitResult> {
    const o = this.options;
    let stoppedBy: FitResult['stoppedBy'] = 'epochs';
    while (this.epoch < o.epochs) {
      const m = await this.runEpoch();
      const stop = this.earlyStop(m);
      await o.onEpoch?.(m);
      if (stop) {
        stoppedBy = 'early_stopping';
        break;
      }
    }
    let bestEpoch: number | null = this.epoch;
    if (o.earlyStopping && (o.earlyStopping.restoreBestWeights ?? true) && this.bestParams) {
      this.paramsView().set(this.bestParams);
      bestEpoch = this.early.bestEpoch;
    }
    return { history: this.history, stoppedBy, bestEpoch, epochsRun: this.epoch };
  }

  /** Everything needed to continue bit-for-bit: parameters, optimizer state, RNG key, counters. */
  checkpoint(): Checkpoint {
    const view = (ptr: Ptr) => new Float32Array(this.memory.buffer, ptr, this.model.paramCount);
    const tensors: { name: string; data: Float32Array }[] = [{ name: 'params', data: view(this.paramPlan.params) }];
    this.paramPlan.state.forEach((ptr, i) => tensors.push({ name: `optimizer/${i}`, data: view(ptr) }));
    if (this.bestParams) tensors.push({ name: 'best/params', data: this.bestParams });
    const { index, data } = encodeTensors(tensors);
    const ds = this.options.dataset;
    const manifest: CheckpointManifest = {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      model: this.model.spec,
      optimizer: this.optimizer,
      schedule: this.schedule,
      training: {
        epochs: this.options.epochs,
        batchSize: this.options.batchSize,
        seed: this.options.seed,
        clipNorm: this.options.clipNorm ?? null,
        microbatches: 1,
      },
      dataset: { name: ds.name, trainCount: ds.train.count, normalization: ds.normalization, classNames: ds.classNames ? [...ds.classNames] : null },
      epoch: this.epoch,
      step: this.step,
      rng: { key: [this.root[0], this.root[1]] },
      earlyStopping: this.early,
      history: this.history,
      params: this.model.params.map((p) => ({ name: p.name, offset: p.offset, shape: [...p.shape] })),
      paramCount: this.model.paramCount,
      tensors: index,
      byteOrder: 'little',
    };
    return { manifest, data };
  }

  private restore(ckpt: Checkpoint): void {
    const m = ckpt.manifest;
    const o = this.options;
    const mismatch = (what: string, a: unknown, b: unknown) => {
      throw new NnError('INVALID_CHECKPOINT', `checkpoint ${what} is ${JSON.stringify(a)} but this run has ${JSON.stringify(b)}`);
    };
    if (!jsonEqual(m.model, this.model.spec)) mismatch('model', m.model, this.model.spec);
    if (!jsonEqual(m.optimizer, this.optimizer)) mismatch('optimizer', m.optimizer, this.optimizer);
    if (m.training.batchSize !== o.batchSize) mismatch('batchSize', m.training.batchSize, o.batchSize);
    if (m.training.seed !== o.seed) mismatch('seed', m.training.seed, o.seed);
    if (m.training.microbatches !== 1) mismatch('microbatches', m.training.microbatches, 1);
    if (m.dataset.trainCount !== o.dataset.train.count) mismatch('training-set size', m.dataset.trainCount, o.dataset.train.count);
    if (m.paramCount !== this.model.paramCount) mismatch('paramCount', m.paramCount, this.model.paramCount);
    const tensors = decodeTensors(ckpt);
    const get = (name: string) => {
      const t = tensors.get(name);
      if (!t || t.length !== this.model.paramCount) throw new NnError('INVALID_CHECKPOINT', `checkpoint tensor ${name} is missing or has the wrong size`);
      return t;
    };
    this.paramsView().set(get('params'));
    this.paramPlan.state.forEach((ptr, i) => new Float32Array(this.memory.buffer, ptr, this.model.paramCount).set(get(`optimizer/${i}`)));
    this.bestParams = tensors.has('best/params') ? get('best/params').slice() : null;
    this.epoch = m.epoch;
    this.step = m.step;
    this.early = { ...m.earlyStopping };
    this.history = m.history.map((h) => ({ ...h }));
  }
}

/** Trains a model from scratch (or from options.resumeFrom) and evaluates it on the test set. */
export async function fit(options: TrainOptions): Promise<FitResult & { test: EvalResult; session: TrainingSession }> {
  const session = await TrainingSession.create(options);
  const result = await session.fit();
  return { ...result, test: session.evaluate('test'), session };
}

