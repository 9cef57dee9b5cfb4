// Public API of @hypersweep/trainer: data-parallel training of one run on replica threads.
export { MAX_THREADS, ReplicaPool, train } from './pool.ts';
export type { ParallelEpochMetrics, ParallelTrainOptions, ParallelTrainResult, PoolOptions } from './pool.ts';
export { serveReplica, type ReplicaHooks } from './replica-host.ts';
export { TrainerError, type TrainerErrorCode } from './errors.ts';
