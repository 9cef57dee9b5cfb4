// Public API of @hypersweep/queue: queue names, job payloads, Redis connections, queues, workers, cancel signals, heartbeats and locks.
export {
  QUEUES,
  JOB_NAMES,
  DEFAULT_PREFIX,
  trialJobId,
  trainableQueueName,
  parseTrialJobId,
  cancelChannel,
  workerHeartbeatKey,
  workersIndexKey,
  lastHeartbeatsKey,
  reconcileLockKey,
  workerTrialsKey,
  reconcileJoblessKey,
  leaseKey,
} from './names.ts';
export { takeLease, readLease, renewLease, endLease, dropLease, type Lease } from './leases.ts';
export type { QueueName } from './names.ts';
export {
  TrialJobSchema,
  SweepAdvanceJobSchema,
  SweepAdvanceReasonSchema,
  TrialJobResultSchema,
  CancelSignalSchema,
  cancelSignalMatches,
} from './payloads.ts';
export type { TrialJob, SweepAdvanceJob, SweepAdvanceReason, TrialJobResult, CancelSignal } from './payloads.ts';
export { QueueError, TrialCancelled, ReleaseTrial, DeferTrial } from './errors.ts';
export type { QueueErrorCode } from './errors.ts';
export { createRedis, parseRedisUrl, reconnectDelayMs, MAX_RECONNECT_DELAY_MS, QUEUE_COMMAND_TIMEOUT_MS } from './connection.ts';
export type { RedisRole, RedisAddress, CreateRedisOptions } from './connection.ts';
export {
  createQueues,
  JobQueues,
  LIVE_JOB_STATES,
  DEFAULT_TRIAL_JOB_OPTIONS,
  DEFAULT_SWEEP_JOB_OPTIONS,
} from './queues.ts';
export type { CreateQueuesOptions, EnqueueTrialOptions, QueueDepth, DepthState, TrialQueue, SweepQueue } from './queues.ts';
export { createTrialWorker, TrialWorker } from './trial-worker.ts';
export type { CreateTrialWorkerOptions, TrialHandler, TrialJobContext, TrialBullJob } from './trial-worker.ts';
export { createSweepWorker, SweepWorker } from './sweep-worker.ts';
export type { CreateSweepWorkerOptions, SweepAdvanceHandler, SweepAdvanceContext, SweepAdvanceBullJob } from './sweep-worker.ts';
export { publishCancel, subscribeCancels } from './cancels.ts';
export type { CancelChannelOptions, CancelSubscription, SubscribeCancelsOptions } from './cancels.ts';
export {
  publishHeartbeat,
  removeHeartbeat,
  listWorkers,
  getHeartbeat,
  getHeldTrials,
  DEFAULT_ALIVE_WITHIN_MS,
  DEFAULT_FORGET_AFTER_MS,
} from './heartbeats.ts';
export type { ListWorkersOptions, WorkerStatusView, HeldTrial, HeldTrials, PublishHeartbeatOptions } from './heartbeats.ts';
export { withRedisLock } from './locks.ts';
export type { RedisLockOptions, RedisLockResult } from './locks.ts';
export type { QueueLogger } from './logger.ts';
export { UnrecoverableError } from 'bullmq';
