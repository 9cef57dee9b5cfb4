// The only place that names Hypersweep's queues, job names, job ids and pub/sub channels in Redis.

/** BullMQ queue names. Queue names may not contain ':' (BullMQ rejects them). */
export const QUEUES = {
  trials: 'hypersweep-trials',
  sweeps: 'hypersweep-sweeps',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/**
 * The trial queue of one worker-defined trainable (docs/trainables.md): only workers that offer it
 * consume it. Trainable names (`^[a-z0-9][a-z0-9_.-]{0,63}$`) hold no ':'.
 */
export function trainableQueueName(trainable: string): string {
  return `${QUEUES.trials}.${trainable}`;
}

/** Job names inside the queues (one kind of job per queue). */
export const JOB_NAMES = {
  trial: 'trial',
  sweepAdvance: 'sweep-advance',
} as const;

/** Default key prefix; every key this package writes starts with `<prefix>:`. */
export const DEFAULT_PREFIX = 'hypersweep';

/**
 * Job id of one attempt of a trial. BullMQ ignores an `add` whose job id already exists, so
 * enqueueing the same attempt twice runs it once.
 *
 * The separator is '_' and not ':' on purpose: BullMQ 6.7 rejects custom job ids containing ':'
 * unless they happen to split into exactly three parts (a compatibility hack for legacy repeatable
 * jobs that its source marks for removal in a future major).
 */
export function trialJobId(trialId: string, attempt: number): string {
  return `trial_${trialId}_${attempt}`;
}

const trialJobIdPattern = /^trial_(.+)_(\d+)$/;

/** Inverse of {@link trialJobId}; `undefined` for ids this package did not make. */
export function parseTrialJobId(jobId: string): { trialId: string; attempt: number } | undefined {
  const match = trialJobIdPattern.exec(jobId);
  if (!match?.[1] || match[2] === undefined) return undefined;
  return { trialId: match[1], attempt: Number(match[2]) };
}

/** Pub/sub channel of cancellation signals under a prefix. */
export function cancelChannel(prefix: string): string {
  return `${prefix}:cancels`;
}

/**
 * Liveness key of one worker: its latest heartbeat (JSON) with a TTL, so it disappears on its own
 * when the worker stops publishing. Worker ids may contain ':'; the key is only ever built here.
 */
export function workerHeartbeatKey(prefix: string, workerId: string): string {
  return `${prefix}:workers:${workerId}`;
}

/** Sorted set of worker ids scored by the time (ms) of their latest heartbeat: the cluster index. */
export function workersIndexKey(prefix: string): string {
  return `${prefix}:workers`;
}

/**
 * Hash of worker id → latest heartbeat, without a TTL, so a worker whose liveness key expired can
 * still be shown (as not alive) until it is pruned from the index.
 */
export function lastHeartbeatsKey(prefix: string): string {
  return `${prefix}:worker-heartbeats`;
}

/**
 * The trials a worker holds (every delivery it is training, with the claim's attempt) and its heartbeat
 * TTL, as JSON with the same TTL as its liveness key: the reconciler's "is its holder still on it?".
 * A separate namespace from `workers:`, since worker ids may contain ':'.
 */
export function workerTrialsKey(prefix: string, workerId: string): string {
  return `${prefix}:worker-trials:${workerId}`;
}

/**
 * Hash of trial id → when the reconciler first saw that running trial without a live job (JSON): a
 * holder gets a heartbeat TTL from then to show it still trains the trial before it is re-enqueued.
 */
export function reconcileJoblessKey(prefix: string): string {
  return `${prefix}:reconcile-jobless`;
}

/** The cluster-wide reconciler lock (SET NX PX): one worker re-enqueues from Postgres at a time. */
export function reconcileLockKey(prefix: string): string {
  return `${prefix}:reconcile-lock`;
}

/**
 * The lease of an ask/tell trial (docs/ask-tell.md): JSON {leaseId, attempt, ended?} with the
 * lease's TTL; the trial's holder lost it when the key is gone or names another lease.
 */
export function leaseKey(prefix: string, trialId: string): string {
  return `${prefix}:lease:${trialId}`;
}
