// The memory plan of a run: where the dataset, the parameters, one gradient slot per microbatch,
// the optimizer state and each replica's activations live in one WebAssembly.Memory. Plain data:
// the pool posts it to its replica threads once per run.
import { featureSize, type DataSplit, type Dataset } from '../data.ts';
import { NnError } from '../errors.ts';
import { Arena, planActivations, type ActivationPlan } from '../memory.ts';
import { compileModel, type CompiledModel } from '../model.ts';
import type { Ptr } from '../kernels/types.ts';
import { optimizerStateSlots } from '../optimizer.ts';
import { keyFromSeed, type RngKey } from '../rng.ts';
import { parseOptimizerSpec, parseScheduleSpec, type OptimizerSpec, type ScheduleSpec } from '../spec.ts';
import { MAX_BATCH_SIZE, MAX_MICROBATCHES, defaultMicrobatches, type ResolvedRun } from './options.ts';

/**
 * Elements per reduction chunk: shards and norm partial sums are cut at chunk boundaries, so every
 * summation order is a function of the model alone, never of the number of threads.
 */
export const CHUNK = 4096;

/**
 * The float64 fields of a statistics record, sums over the record's examples: one record per
 * microbatch of a step (stepStats), one for the epoch (epochStats), one per evaluation block
 * (evalStats). Fields a model does not report stay 0.
 */
export const STAT = {
  /** Σ per-example loss. */
  loss: 0,
  /** Rows whose first-maximum argmax is the label (classification). */
  correct: 1,
  /** Rows whose label is among the 3 largest logits (classification, more than 3 classes). */
  top3: 2,
  /** Rows whose label is among the 5 largest logits (classification, more than 5 classes). */
  top5: 3,
  /** Σ per-example mean |prediction − target| over the outputs (regression). */
  absError: 4,
} as const;
/** float64 values per statistics record. */
export const STAT_FIELDS = 5;

export type SplitName = 'train' | 'validation' | 'test';

export interface PlacedSplit {
  readonly count: number;
  readonly features: Ptr;
  readonly labels: Ptr;
}

/** A dataset's bytes in the memory: placed once, read in place by every replica. */
export interface PlacedDataset {
  readonly u8: boolean;
  /** Affine normalisation applied when uint8 features are gathered. */
  readonly scale: number;
  readonly shift: number;
  readonly train: PlacedSplit;
  readonly validation: PlacedSplit;
  readonly test: PlacedSplit;
  /** int32 0..maxCount−1, the index list of evaluation batches. */
  readonly identity: Ptr;
  /** First byte after the dataset: runs are laid out from here. */
  readonly end: number;
}

/** What layoutDataset reads of a split: its count and the byte lengths of its arrays. */
export interface SplitLayoutInput {
  readonly count: number;
  readonly features: Pick<DataSplit['features'], 'byteLength'>;
  readonly labels: Pick<DataSplit['labels'], 'byteLength'>;
}

/** What layoutDataset reads of a dataset (a Dataset is one; planBytes passes sizes alone). */
export interface DatasetLayoutInput {
  readonly normalization: Dataset['normalization'];
  readonly train: SplitLayoutInput;
  readonly validation: SplitLayoutInput;
  readonly test: SplitLayoutInput;
}

/** Lays a dataset out from `base` (nothing is written; see writeDataset). */
export function layoutDataset(dataset: DatasetLayoutInput, base: number): PlacedDataset {
  const arena = new Arena(base);
  const split = (s: SplitLayoutInput): PlacedSplit => ({ count: s.count, features: arena.alloc(s.features.byteLength), labels: arena.alloc(s.labels.byteLength) });
  const train = split(dataset.train);
  const validation = split(dataset.validation);
  const test = split(dataset.test);
  const identity = arena.alloc(4 * Math.max(dataset.train.count, dataset.validation.count, dataset.test.count));
  const norm = dataset.normalization;
  return {
    u8: dataset.train.features instanceof Uint8Array,
    scale: norm.kind === 'affine' ? norm.scale : 1,
    shift: norm.kind === 'affine' ? norm.shift : 0,
    train,
    validation,
    test,
    identity,
    end: arena.size,
  };
}

/** Copies a dataset's bytes to where layoutDataset put them (the memory must hold `placed.end` bytes). */
export function writeDataset(buffer: ArrayBufferLike, placed: PlacedDataset, dataset: Dataset): void {
  const copy = (p: PlacedSplit, s: DataSplit) => {
    new Uint8Array(buffer, p.features, s.features.byteLength).set(new Uint8Array(s.features.buffer, s.features.byteOffset, s.features.byteLength));
    new Uint8Array(buffer, p.labels, s.labels.byteLength).set(new Uint8Array(s.labels.buffer, s.labels.byteOffset, s.labels.byteLength));
  };
  copy(placed.train, dataset.train);
  copy(placed.validation, dataset.validation);
  copy(placed.test, dataset.test);
  const n = Math.max(dataset.train.count, dataset.validation.count, dataset.test.count);
  const ids = new Int32Array(buffer, placed.identity, n);
  for (let i = 0; i < n; i++) ids[i] = i;
}

export interface RunPlan {
  readonly threads: number;
  readonly microbatches: number;
  readonly batchSize: number;
  /** The compiled model: replicas use it as it is, without the spec parser. */
  readonly model: CompiledModel;
  readonly optimizer: OptimizerSpec;
  readonly schedule: ScheduleSpec;
  readonly epochs: number;
  readonly clipNorm: number | null;
  readonly root: RngKey;
  readonly dataset: PlacedDataset;
  readonly paramCount: number;
  readonly params: Ptr;
  /** One gradient block per microbatch, `slotStride` bytes apart; slot 0 may receive the reduced sum. */
  readonly gradSlots: readonly Ptr[];
  readonly slotStride: number;
  readonly state: readonly Ptr[];
  /** One activation plan per replica, for up to evalRows(plan) rows. */
  readonly acts: readonly ActivationPlan[];
  /** int32 × train.count: this epoch's permutation of the training set. */
  readonly perm: Ptr;
  /** A statistics record (STAT) per microbatch of the current step. */
  readonly stepStats: Ptr;
  /** f64 × chunks: squared norm of each gradient chunk (for clipping). */
  readonly chunkNorms: Ptr;
  /** A statistics record (STAT) of the epoch, accumulated in microbatch order by replica 0. */
  readonly epochStats: Ptr;
  /** f64 × 3 per replica: milliseconds in compute, reduce + update, and barrier waits. */
  readonly timing: Ptr;
  /** A statistics record (STAT) per evaluation block. */
  readonly evalStats: Ptr;
  /** int32 per evaluated example: the predicted class (classification). */
  readonly predictions: Ptr;
  readonly chunks: number;
  /** Spin iterations before a barrier sleeps (0 when threads outnumber cores). */
  readonly spin: number;
  readonly stepTimeoutMs: number;
  /** Bytes the plan needs from offset 0. */
  readonly bytes: number;
}

/** Rows of a microbatch at most, and of an evaluation block. */
export function evalRows(plan: Pick<RunPlan, 'batchSize' | 'microbatches'>): number {
  return Math.ceil(plan.batchSize / plan.microbatches);
}

/** What planRun reads of a resolved run. */
export type PlannedRun = Pick<ResolvedRun, 'model' | 'optimizer' | 'schedule' | 'epochs' | 'batchSize' | 'microbatches' | 'clipNorm' | 'root'>;

/** Lays a run out after its dataset. */
export function planRun(run: PlannedRun, o: { threads: number; dataset: PlacedDataset; spin: number; stepTimeoutMs: number }): RunPlan {
  const arena = new Arena(o.dataset.end);
  const P = run.model.paramCount;
  const params = arena.allocF32(P);
  const gradSlots = Array.from({ length: run.microbatches }, () => arena.allocF32(P));
  // The fused optimizer kernels address slot j at slot 0 + j·stride: the slots must be evenly spaced.
  const slotStride = gradSlots.length > 1 ? gradSlots[1]! - gradSlots[0]! : 0;
  gradSlots.forEach((ptr, j) => {
    if (ptr !== gradSlots[0]! + j * slotStride) throw new Error('gradient slots are not evenly spaced');
  });
  const state = Array.from({ length: optimizerStateSlots(run.optimizer) }, () => arena.allocF32(P));
  const rows = evalRows(run);
  const acts = Array.from({ length: o.threads }, () => planActivations(arena, run.model, rows));
  const perm = arena.allocF32(o.dataset.train.count);
  const stepStats = arena.alloc(8 * STAT_FIELDS * run.microbatches);
  const chunks = Math.ceil(P / CHUNK);
  const chunkNorms = arena.alloc(8 * chunks);
  const epochStats = arena.alloc(8 * STAT_FIELDS);
  const timing = arena.alloc(24 * o.threads);
  const maxEval = Math.max(o.dataset.validation.count, o.dataset.test.count, o.dataset.train.count, 1);
  const evalStats = arena.alloc(8 * STAT_FIELDS * Math.ceil(maxEval / rows));
  const predictions = arena.alloc(4 * maxEval);
  return {
    threads: o.threads,
    microbatches: run.microbatches,
    batchSize: run.batchSize,
    model: run.model,
    optimizer: run.optimizer,
    schedule: run.schedule,
    epochs: run.epochs,
    clipNorm: run.clipNorm,
    root: run.root,
    dataset: o.dataset,
    paramCount: P,
    params,
    gradSlots,
    slotStride,
    state,
    acts,
    perm,
    stepStats,
    chunkNorms,
    epochStats,
    timing,
    evalStats,
    predictions,
    chunks,
    spin: o.spin,
    stepTimeoutMs: o.stepTimeoutMs,
    bytes: arena.size,
  };
}

/** The element range [start, end) of the parameter shard replica `rank` reduces and updates. */
export function shardRange(plan: Pick<RunPlan, 'chunks' | 'threads' | 'paramCount'>, rank: number): [number, number] {
  const [first, last] = shardChunks(plan, rank);
  return [Math.min(first * CHUNK, plan.paramCount), Math.min(last * CHUNK, plan.paramCount)];
}

/** The chunks [first, last) of replica `rank`'s shard. */
export function shardChunks(plan: Pick<RunPlan, 'chunks' | 'threads'>, rank: number): [number, number] {
  return [Math.floor((rank * plan.chunks) / plan.threads), Math.floor(((rank + 1) * plan.chunks) / plan.threads)];
}

// ---------------------------------------------------------------------------------------------
// The size of a plan, before there is a dataset
// ---------------------------------------------------------------------------------------------

/** A dataset as far as the memory plan cares: its shapes and split sizes, not its values. */
export interface DatasetSizes {
  readonly featureShape: readonly number[];
  /** Bytes per stored feature value: 1 for uint8 images (MNIST), 4 for float32. */
  readonly featureBytes: 1 | 4;
  /** Label values per example (4 bytes each): 1 (a class id, or one regression target) or targetDim. */
  readonly labelValues?: number;
  readonly train: number;
  readonly validation: number;
  readonly test: number;
}

export interface PlanBytesOptions {
  /** A model spec (validated here, like a run's). */
  readonly model: unknown;
  /** An optimizer spec (validated here). */
  readonly optimizer: unknown;
  readonly batchSize: number;
  /** Default defaultMicrobatches(batchSize), as a run's. */
  readonly microbatches?: number;
  /** Replica threads: each has its own activations. */
  readonly threads: number;
  readonly dataset: DatasetSizes;
}

export interface PlanBytes {
  /** Bytes of the whole plan from offset 0, as planRun lays it out; Infinity past WebAssembly's 4 GiB. */
  readonly bytes: number;
  /** The parts (alignment aside): the dataset's splits, */
  readonly dataset: number;
  /** the parameters with one gradient slot per microbatch and the optimizer's state, */
  readonly parameters: number;
  /** and every replica's activations for one microbatch (Infinity when one replica's pass out-grows 4 GiB). */
  readonly activations: number;
}

/**
 * The bytes a run's memory plan needs, from sizes alone: planRun and layoutDataset on a synthetic
 * dataset of the same shape (nothing is allocated), so it is the layout the run will use. Pure:
 * a server can refuse a run that no worker could hold before any worker tries. Throws NnError
 * INVALID_SPEC for an invalid model, optimizer, batch size, microbatches or thread count.
 */
export function planBytes(o: PlanBytesOptions): PlanBytes {
  const model = compileModel(o.model);
  const optimizer = parseOptimizerSpec(o.optimizer);
  const microbatches = o.microbatches ?? defaultMicrobatches(o.batchSize);
  const check = (field: string, v: number, min: number, max: number) => {
    if (Number.isInteger(v) && v >= min && v <= max) return;
    const message = `must be an integer in [${min}, ${max}], got ${v}`;
    throw new NnError('INVALID_SPEC', `${field}: ${message}`, { field, issues: [{ path: field, message }] });
  };
  check('batchSize', o.batchSize, 1, MAX_BATCH_SIZE);
  check('microbatches', microbatches, 1, Math.min(MAX_MICROBATCHES, o.batchSize));
  check('threads', o.threads, 1, 1024);
  const ds = o.dataset;
  const perExample = featureSize(ds.featureShape) * ds.featureBytes;
  const labelBytes = 4 * (ds.labelValues ?? 1);
  const split = (name: string, n: number): SplitLayoutInput => {
    check(`dataset.${name}`, n, 0, 1e9);
    return { count: n, features: { byteLength: n * perExample }, labels: { byteLength: n * labelBytes } };
  };
  const synthetic: DatasetLayoutInput = { normalization: { kind: 'affine', scale: 1, shift: 0 }, train: split('train', ds.train), validation: split('validation', ds.validation), test: split('test', ds.test) };
  const dataset = (ds.train + ds.validation + ds.test) * (perExample + labelBytes);
  const parameters = 4 * model.paramCount * (1 + microbatches + optimizerStateSlots(optimizer));
  const rows = evalRows({ batchSize: o.batchSize, microbatches });
  let activations = Number.POSITIVE_INFINITY;
  let bytes = Number.POSITIVE_INFINITY;
  try {
    const one = new Arena(0);
    planActivations(one, model, rows);
    activations = o.threads * one.size;
    const run: PlannedRun = { model, optimizer, schedule: parseScheduleSpec({ type: 'constant' }), epochs: 1, batchSize: o.batchSize, microbatches, clipNorm: null, root: keyFromSeed(0) };
    bytes = planRun(run, { threads: o.threads, dataset: layoutDataset(synthetic, 64), spin: 0, stepTimeoutMs: 1 }).bytes;
  } catch (error) {
    // The Arena refuses a layout past memory32's 4 GiB: no worker can hold that plan at all.
    if (!(error instanceof NnError && error.code === 'OUT_OF_MEMORY')) throw error;
  }
  return { bytes, dataset, parameters, activations };
}
