// The shared-memory plan of a trial: where the dataset, parameters, per-microbatch gradients,
// optimizer state and each replica's activations live. Plain data, posted once per trial.
import {
  Arena,
  optimizerStateSlots,
  planActivations,
  type ActivationPlan,
  type CompiledModel,
  type OptimizerSpec,
  type Ptr,
  type RngKey,
  type ScheduleSpec,
} from '@hypersweep/nn';

/** Elements per reduction chunk: shards and norm partial sums are cut at chunk boundaries, so
 * every summation order is a function of the model alone, never of the number of threads. */
export const CHUNK = 4096;

export interface PlacedSplit {
  readonly count: number;
  readonly features: Ptr;
  readonly labels: Ptr;
}

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
  /** First byte after the dataset: trials are laid out from here. */
  readonly end: number;
}

export interface TrialPlan {
  readonly threads: number;
  readonly microbatches: number;
  readonly batchSize: number;
  /** The compiled model: threads use it as it is, without the spec parser. */
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
  /** One activation plan per replica, for up to ceil(batchSize / microbatches) rows. */
  readonly acts: readonly ActivationPlan[];
  /** int32 × train.count: this epoch's permutation of the training set. */
  readonly perm: Ptr;
  /** f64 × 2 per microbatch: loss sum and correct count of the current step. */
  readonly stepStats: Ptr;
  /** f64 × chunks: squared norm of each gradient chunk (for clipping). */
  readonly chunkNorms: Ptr;
  /** f64 × 2: the epoch's loss sum and correct count, accumulated in microbatch order by replica 0. */
  readonly epochStats: Ptr;
  /** f64 × 3 per replica: milliseconds in compute, reduce + update, and barrier waits. */
  readonly timing: Ptr;
  /** f64 × 2 per evaluation block. */
  readonly evalStats: Ptr;
  readonly chunks: number;
  /** Spin iterations before a barrier sleeps (0 when threads outnumber cores). */
  readonly spin: number;
  readonly stepTimeoutMs: number;
  /** Bytes the plan needs from offset 0. */
  readonly bytes: number;
}

export function evalRows(plan: Pick<TrialPlan, 'batchSize' | 'microbatches'>): number {
  return Math.ceil(plan.batchSize / plan.microbatches);
}

export function planTrial(args: {
  model: CompiledModel;
  optimizer: OptimizerSpec;
  schedule: ScheduleSpec;
  threads: number;
  microbatches: number;
  batchSize: number;
  epochs: number;
  clipNorm: number | null;
  root: RngKey;
  dataset: PlacedDataset;
  spin: number;
  stepTimeoutMs: number;
}): { plan: TrialPlan; compiled: CompiledModel } {
  const compiled = args.model;
  const arena = new Arena(args.dataset.end);
  const P = compiled.paramCount;
  const params = arena.allocF32(P);
  const gradSlots = Array.from({ length: args.microbatches }, () => arena.allocF32(P));
  // The fused optimizer kernels address slot j at slot 0 + j·stride: the slots must be evenly spaced.
  const slotStride = gradSlots.length > 1 ? gradSlots[1]! - gradSlots[0]! : 0;
  gradSlots.forEach((ptr, j) => {
    if (ptr !== gradSlots[0]! + j * slotStride) throw new Error('gradient slots are not evenly spaced');
  });
  const state = Array.from({ length: optimizerStateSlots(args.optimizer) }, () => arena.allocF32(P));
  const rows = evalRows(args);
  const acts = Array.from({ length: args.threads }, () => planActivations(arena, compiled, rows));
  const perm = arena.allocF32(args.dataset.train.count);
  const stepStats = arena.alloc(16 * args.microbatches);
  const chunks = Math.ceil(P / CHUNK);
  const chunkNorms = arena.alloc(8 * chunks);
  const epochStats = arena.alloc(16);
  const timing = arena.alloc(24 * args.threads);
  const maxEval = Math.max(args.dataset.validation.count, args.dataset.test.count, 1);
  const evalStats = arena.alloc(16 * Math.ceil(maxEval / rows));
  return {
    compiled,
    plan: {
      threads: args.threads,
      microbatches: args.microbatches,
      batchSize: args.batchSize,
      model: compiled,
      optimizer: args.optimizer,
      schedule: args.schedule,
      epochs: args.epochs,
      clipNorm: args.clipNorm,
      root: args.root,
      dataset: args.dataset,
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
      chunks,
      spin: args.spin,
      stepTimeoutMs: args.stepTimeoutMs,
      bytes: arena.size,
    },
  };
}

/** The element range [start, end) of the parameter shard replica `rank` reduces and updates. */
export function shardRange(plan: Pick<TrialPlan, 'chunks' | 'threads' | 'paramCount'>, rank: number): [number, number] {
  const first = Math.floor((rank * plan.chunks) / plan.threads);
  const last = Math.floor(((rank + 1) * plan.chunks) / plan.threads);
  return [Math.min(first * CHUNK, plan.paramCount), Math.min(last * CHUNK, plan.paramCount)];
}
