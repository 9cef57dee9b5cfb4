// Public API of @hypersweep/trainer: data-parallel training of one trial on replica threads.
export { ReplicaPool, train } from './pool.ts';
export type { ParallelEpochMetrics, ParallelTrainOptions, ParallelTrainResult, PoolOptions, StepTiming } from './pool.ts';
export { TrainerError, type TrainerErrorCode } from './errors.ts';
export { CHUNK, shardRange } from './plan.ts';
