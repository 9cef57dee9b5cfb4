// The reconciler: Postgres is the source of truth, so work Redis lost (a flush, a restart without
// persistence) is enqueued again — every queued or running trial without a live job, and an advance
// of every pending or running sweep.
import { listSweeps, runnableTrials, type Db, type KeysetCursor, type RunnableTrial } from '@hypersweep/db';
import { parseTrialJobId, reconcileLockKey, withRedisLock, type JobQueues } from '@hypersweep/queue';
import type { Redis } from 'ioredis';
import type { Logger } from '@hypersweep/log';

export interface ReconcileDeps {
  db: Db;
  /** For the cluster-wide lock. */
  redis: Redis;
  queues: Pick<JobQueues, 'prefix' | 'liveTrialJobIds' | 'trialJobState' | 'enqueueTrial' | 'enqueueSweepAdvance'>;
  logger: Logger;
  /** Shown as the lock's holder. */
  workerId: string;
  /** The lock expires after this long if its holder dies mid-run (default 60 s). */
  lockTtlMs?: number;
  /**
   * The lock is kept until this long after a run started (default 0), so that however many workers
   * try every RECONCILE_MS, the cluster reconciles about once per interval.
   */
  minIntervalMs?: number;
}

export interface ReconcileSummary {
  /** Trial jobs enqueued because Redis held no live job for a runnable trial. */
  requeuedTrials: number;
  /** Sweep advances asked for (every pending or running sweep; deduplicated by the queue). */
  advancedSweeps: number;
}

export type ReconcileResult = ({ ran: true } & ReconcileSummary) | { ran: false; holder: string | null };

/** Job states in which Redis finished an attempt: its job id is spent, the next job needs a higher attempt. */
const FINISHED_JOB_STATES: ReadonlySet<string> = new Set(['completed', 'failed']);

/** An attempt is tried at most this many times past a finished one (a guard against a runaway loop). */
const MAX_ATTEMPT_BUMPS = 100;

/**
 * Runs one reconciliation under the cluster-wide lock, or returns `{ ran: false }` at once when
 * another worker holds it. Safe to run at any time: re-enqueueing is idempotent by job id, and a
 * trial with any live job (waiting, active, delayed, prioritized — whatever its attempt) is left alone.
 */
export async function reconcile(deps: ReconcileDeps): Promise<ReconcileResult> {
  const locked = await withRedisLock(
    deps.redis,
    reconcileLockKey(deps.queues.prefix),
    { owner: deps.workerId, ttlMs: deps.lockTtlMs ?? 60_000, holdForMs: deps.minIntervalMs ?? 0 },
    () => reconcileLocked(deps),
  );
  if (!locked.acquired) {
    deps.logger.debug({ holder: locked.holder }, 'reconcile skipped: another worker holds the lock');
    return { ran: false, holder: locked.holder };
  }
  const summary = locked.value;
  // Every run asks for advances of the active sweeps; only re-enqueued trials are news.
  if (summary.requeuedTrials > 0) deps.logger.info({ ...summary }, 'reconciled: re-enqueued trials Redis had lost');
  else deps.logger.debug({ ...summary }, 'reconciled');
  return { ran: true, ...summary };
}

async function reconcileLocked(deps: ReconcileDeps): Promise<ReconcileSummary> {
  // Redis first, then Postgres: a trial created and enqueued between the two reads is then missing
  // from the live set, and its re-enqueue repeats the same job id (a no-op). The other order would
  // see a live job that has since ended while Postgres still read `running`, and enqueue a spare job.
  const liveAttempts = liveAttemptsByTrial(await deps.queues.liveTrialJobIds());
  const trials = await runnableTrials(deps.db);

  let requeuedTrials = 0;
  for (const trial of trials) {
    if (liveAttempts.has(trial.id)) continue;
    const fields = { sweepId: trial.sweepId, trialId: trial.id, status: trial.status, holder: trial.workerId };
    try {
      const attempt = await nextJobAttempt(deps, trial);
      await deps.queues.enqueueTrial({ sweepId: trial.sweepId, trialId: trial.id, attempt });
      deps.logger.warn({ ...fields, attempt }, 'trial had no live job; enqueued it again');
      requeuedTrials += 1;
    } catch (error) {
      // One trial's trouble must not keep the others from being re-enqueued; the next run retries it.
      deps.logger.error({ ...fields, err: error }, 'could not re-enqueue a trial');
    }
  }

  let advancedSweeps = 0;
  let cursor: KeysetCursor | null = null;
  do {
    const page = await listSweeps(deps.db, { status: ['pending', 'running'], limit: 100, cursor });
    for (const sweep of page.items) {
      await deps.queues.enqueueSweepAdvance({ sweepId: sweep.id, reason: 'reconcile' });
      advancedSweeps += 1;
    }
    cursor = page.nextCursor;
  } while (cursor);

  return { requeuedTrials, advancedSweeps };
}

/** trialId → attempts of its live jobs. */
function liveAttemptsByTrial(jobIds: Iterable<string>): Map<string, number[]> {
  const byTrial = new Map<string, number[]>();
  for (const jobId of jobIds) {
    const parsed = parseTrialJobId(jobId);
    if (!parsed) continue;
    byTrial.set(parsed.trialId, [...(byTrial.get(parsed.trialId) ?? []), parsed.attempt]);
  }
  return byTrial;
}

/**
 * The job attempt for a trial Redis holds no live job for: one past the claims Postgres counted
 * (`attempt` 0, never claimed → 1, the id `advanceSweep` uses, so the two never make two jobs),
 * moved past any attempt whose job Redis already finished and still retains (enqueueing a spent
 * id would be a no-op). A job that went live since the live set was read keeps its attempt: the
 * enqueue then repeats its id and does nothing.
 */
async function nextJobAttempt(deps: ReconcileDeps, trial: RunnableTrial): Promise<number> {
  let attempt = trial.attempt + 1;
  for (let bumps = 0; bumps < MAX_ATTEMPT_BUMPS; bumps += 1) {
    const state = await deps.queues.trialJobState(trial.id, attempt);
    if (!FINISHED_JOB_STATES.has(state)) return attempt;
    attempt += 1;
  }
  throw new Error(`trial ${trial.id}: attempts ${trial.attempt + 1}…${attempt - 1} all have finished jobs`);
}
