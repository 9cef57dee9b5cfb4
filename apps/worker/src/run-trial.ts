// Runs one trial job: claim it, train it on the replica pool (resuming from its last checkpoint),
// record each epoch, ask the sweep's scheduler, and finish it — or release it on shutdown.
import { deriveSeed } from '@hypersweep/datasets';
import {
  claimTrial,
  dbErrorOf,
  finishTrial,
  getSweep,
  inTransaction,
  getTrial,
  latestCheckpoint,
  pruneCheckpoints,
  recordEpoch,
  listSweeps,
  releaseTrial,
  retryTransient,
  saveCheckpoint,
  type Db,
  type DbError,
  type FinishTrialOptions,
  type Prisma,
  type SearchTrialsCache,
  type Sweep,
  type Trial,
  type TrialClaim,
} from '@hypersweep/db';
import { compileModel, epochMetricValues, parseCheckpoint, reportedMetricNames, serializeCheckpoint, type Checkpoint, type EpochMetrics } from '@hypersweep/nn';
import { DeferTrial, ReleaseTrial, TrialCancelled, type JobQueues, type TrialJob } from '@hypersweep/queue';
import { CreateSweepRequest, requestKind, resolveTrialConfig, schedulerConfigFor, sweepSchedulerConfig, TrainableSweepRequest, type ObjectiveMetric } from '@hypersweep/schemas';
import { createScheduler, schedulerVerdict, type Scheduler, type Verdict } from '@hypersweep/search';
import { TrainerError, type ParallelEpochMetrics, type ReplicaPool } from '@hypersweep/trainer';
import type { DatasetCache } from '@hypersweep/datasets';
import type { Logger } from '@hypersweep/log';
import { runTrainable } from './run-trainable.ts';
import type { TrainableConfig } from './trainables.ts';

/** A deferred trial starts within this long of a slot freeing. */
const QUOTA_RETRY_MS = 1_000;
/** A trial of a paused sweep is looked at again this often: it starts this soon after a resume. */
const PAUSE_RETRY_MS = 1_000;

export interface RunTrialDeps {
  db: Db;
  /** The replica pool of the built-in engine (absent on a handler for trainables only). */
  pool?: ReplicaPool;
  /** The trainables this worker offers (docs/trainables.md). */
  trainables?: ReadonlyMap<string, TrainableConfig>;
  /** Largest trainable checkpoint directory stored (default 256 MiB). */
  maxCheckpointBytes?: number;
  /** Where trainables' per-trial directories are made (default the OS temp directory). */
  trainableWorkRoot?: string;
  datasets: DatasetCache;
  /** The sweep's trials for the scheduler after each epoch, read incrementally (shared by the process). */
  search: SearchTrialsCache;
  logger: Logger;
  now: () => number;
  workerId: string;
  /** How often Postgres is asked whether the trial or its sweep was cancelled (default 500 ms). */
  cancelPollMs?: number;
  /** Checkpoints kept per trial (default 3); older ones are pruned after each save. */
  keepCheckpoints?: number;
  /** When given, a SweepAdvance {reason: 'trial-ended'} is enqueued after a trial ends (or was found ended). */
  queues?: Pick<JobQueues, 'enqueueSweepAdvance'>;
  /** Told when the trial is claimed and after each recorded epoch (the worker's heartbeat shows it). */
  onProgress?: (progress: TrialProgress) => void;
  /**
   * Called after this delivery took over a trial still held (`running`) by a previous one, before it
   * loads the checkpoint: resolves once that holder stopped training it (it notices the takeover at
   * its next Postgres poll) or is presumed dead, so a trial never trains twice at once.
   * `previous.workerId` may be this worker's own id: another delivery in this process (CONCURRENCY
   * > 1), or an earlier process that ran under the same WORKER_ID.
   */
  awaitHandover?: (previous: { workerId: string; trialId: string }) => Promise<void>;
  /**
   * How long a transient Postgres fault (connection lost or refused, a restart, a timeout, a
   * serialization failure) is retried in place before the trial is released for a redelivery
   * (default 60 s). A database fault never fails a trial.
   */
  dbRetryMs?: number;
  /** How long a trial job deferred by its project's quota waits before it is tried again (default 1 s). */
  quotaRetryMs?: number;
}

/** Where a trial this worker holds stands: the claim's attempt, epochs done, last epoch's speed. */
export interface TrialProgress {
  sweepId: string;
  trialId: string;
  /** The claim's attempt (Postgres' counter). */
  attempt: number;
  /** Epochs done, including those resumed from a checkpoint. */
  epoch: number;
  /** Training samples per second of the last epoch this worker ran; 0 before the first. */
  samplesPerSecond: number;
}

/** What runTrial needs of the queue's job context. */
export interface RunTrialContext {
  /** Aborted when a cancel signal for this trial or its sweep arrives over Redis. */
  cancelled: AbortSignal;
  /** Aborted when the worker shuts down gracefully. */
  shutdown: AbortSignal;
}

export type TrialOutcome = 'completed' | 'stopped' | 'failed' | 'cancelled' | 'skipped';

/** cancelled: by a user or the sweep's end; shutdown: this worker stops; lost: another worker took the trial over. */
type AbortReason = 'cancelled' | 'shutdown' | 'lost' | 'paused';

const TERMINAL: ReadonlySet<string> = new Set(['completed', 'stopped', 'failed', 'cancelled']);

/**
 * Executes a trial job. Returns the outcome for a finished trial; throws TrialCancelled when the
 * trial or its sweep was cancelled, or when this delivery lost its claim (another one took the
 * trial over: it writes nothing more), and ReleaseTrial after a graceful shutdown or a database
 * outage that outlasted the retries (the job goes back to the queue and the next delivery resumes
 * from the last epoch's checkpoint). Transient Postgres faults are retried in place; other
 * Postgres errors are rethrown so the queue retries the job. Only errors of training itself or of
 * the sweep's spec fail the trial — never a database error.
 */
export async function runTrial(deps: RunTrialDeps, job: TrialJob, ctx: RunTrialContext): Promise<TrialOutcome> {
  try {
    const outcome = await executeTrial(deps, job, ctx);
    await requestAdvance(deps, job, outcome);
    return outcome;
  } catch (error) {
    if (error instanceof TrialCancelled) await requestAdvance(deps, job, 'cancelled');
    throw error;
  }
}

/**
 * Asks for the sweep to be advanced (new trials, or its end). Best effort: the trial's outcome is
 * already in Postgres, and a lost request is made good by the next advance or the reconciler.
 */
async function requestAdvance(deps: RunTrialDeps, job: TrialJob, outcome: TrialOutcome): Promise<void> {
  if (!deps.queues) return;
  try {
    await deps.queues.enqueueSweepAdvance({ sweepId: job.sweepId, reason: 'trial-ended' });
  } catch (error) {
    deps.logger.warn({ err: error, sweepId: job.sweepId, trialId: job.trialId, outcome }, 'could not request a sweep advance');
  }
}

/** What the start of a delivery found: nothing to do, or the claim it made. */
type Acquired = { kind: 'skipped' } | { kind: 'claimed'; trial: Trial; claim: TrialClaim; sweep: Sweep };

async function executeTrial(deps: RunTrialDeps, job: TrialJob, ctx: RunTrialContext): Promise<TrialOutcome> {
  const logger = deps.logger.child({ sweepId: job.sweepId, trialId: job.trialId });
  const started = deps.now();

  // Load, take the trial over from a previous holder, claim: retried as a whole through database
  // faults (a claim whose COMMIT answer was lost is found running under this worker and taken over
  // once more, at the next attempt; the stale attempt is fenced out).
  // The first holder seen: a retry may find only this worker's own lost claim.
  const handover: { from: string | null } = { from: null };
  let acquired: Acquired;
  try {
    acquired = await withDbRetry(deps, logger, 'claim', ctx.shutdown, () =>
      acquire(deps, job, logger, (holder) => {
        handover.from ??= holder;
      }),
    );
  } catch (error) {
    const dbError = dbErrorOf(error);
    if (dbError?.transient) {
      logger.warn({ err: dbError, code: dbError.code }, 'database unavailable; the trial job goes back to the queue');
      throw new ReleaseTrial(`database unavailable: ${dbError.message}`);
    }
    throw error;
  }
  if (acquired.kind === 'skipped') return 'skipped';
  const { trial: claimed, claim, sweep } = acquired;
  logger.info({ attempt: claimed.attempt, workerId: deps.workerId }, 'trial claimed');
  reportProgress(deps, claimed, claimed.epochsDone, 0, logger);
  if (handover.from !== null && deps.awaitHandover) {
    await deps.awaitHandover({ workerId: handover.from, trialId: claimed.id });
  }

  const abort = new AbortController();
  const abortWith = (reason: AbortReason) => {
    if (!abort.signal.aborted) abort.abort(reason);
  };
  const onCancelled = () => abortWith('cancelled');
  const onShutdown = () => abortWith('shutdown');
  ctx.cancelled.addEventListener('abort', onCancelled);
  ctx.shutdown.addEventListener('abort', onShutdown);
  if (ctx.cancelled.aborted) onCancelled();
  if (ctx.shutdown.aborted) onShutdown();
  const poller = pollCancellation(deps, claimed, abortWith, logger);

  try {
    const outcome =
      requestKind(sweep.spec) === 'trainable'
        ? await trainTrainable(deps, claimed, claim, sweep.spec, abort, logger)
        : await train(deps, claimed, claim, sweep.spec, sweep.seed, abort, logger);
    logger.info({ outcome: outcome.status, epochs: outcome.epochs, ms: Math.round(deps.now() - started) }, 'trial finished');
    return outcome.status;
  } catch (error) {
    if (error instanceof Aborted) return await endAborted(deps, claim, error.reason, logger);
    if (error instanceof ReleaseTrial || error instanceof TrialCancelled) throw error;
    const dbError = dbErrorOf(error);
    if (dbError) {
      if (dbError.code === 'claim_lost') throw await stopLost(deps, claim, dbError, logger);
      if (dbError.transient) throw await releaseAfterFault(deps, claim, dbError, logger);
      // Not a fault of the trial either: the queue retries the job; the trial is not failed.
      throw dbError;
    }
    // This attempt's fault among the trial's attempts lost to replica faults (not its claims:
    // shutdowns, pauses and takeovers claim it again too).
    const fault = error instanceof TrainerError && REPLICA_FAULTS.has(error.code) ? claimed.replicaFaults + 1 : 0;
    if (fault > 0 && fault < REPLICA_FAULT_ATTEMPTS) {
      // A replica thread died or stalled: the machine's fault, not the trial's. It resumes from
      // its last checkpoint at the next attempt (the pool has replaced the thread).
      throw await releaseAfterReplicaFault(deps, claim, error as TrainerError, fault, logger);
    }
    // Training itself failed (or the sweep's spec is unusable): the one way a trial fails.
    const message = fault > 0 ? `${(error as Error).message} (replica fault ${fault} of ${REPLICA_FAULT_ATTEMPTS})` : error instanceof Error ? error.message : String(error);
    logger.error({ err: error }, 'trial failed');
    await finishFenced(deps, claim, 'failed', { error: message }, logger);
    return 'failed';
  } finally {
    poller.stop();
    ctx.cancelled.removeEventListener('abort', onCancelled);
    ctx.shutdown.removeEventListener('abort', onShutdown);
  }
}

/**
 * The start of a delivery: load the trial and its sweep, release a trial still running from a
 * previous delivery (`onTakeover` names its holder), claim it.
 */
async function acquire(deps: RunTrialDeps, job: TrialJob, logger: Logger, onTakeover: (holder: string) => void): Promise<Acquired> {
  const { db, workerId } = deps;
  const trial = await getTrial(db, job.trialId);
  if (!trial) throw new TrialCancelled(`trial ${job.trialId} does not exist`);
  const sweep = await getSweep(db, trial.sweepId);
  if (!sweep) throw new TrialCancelled(`sweep ${trial.sweepId} does not exist`);
  if (TERMINAL.has(trial.status)) {
    logger.info({ status: trial.status }, 'trial already finished; nothing to do');
    return { kind: 'skipped' };
  }
  if (sweep.status === 'cancelled' || sweep.status === 'completed' || sweep.status === 'failed') {
    await finishTrial(db, trial.id, 'cancelled', { error: `sweep ${sweep.status}` });
    throw new TrialCancelled(`sweep ${sweep.id} is ${sweep.status}`);
  }

  // A redelivered job whose trial is still running: its worker died — or lives on but lost its job
  // (a Redis flush, then the reconciler's re-enqueue; a stall past its job lock). Release, then
  // claim anew: the previous holder's writes are fenced out from then on, and it stops.
  if (trial.status === 'running') {
    logger.warn({ previousWorker: trial.workerId, attempt: trial.attempt }, 'trial still running from a previous delivery; releasing it');
    if (trial.workerId !== null) onTakeover(trial.workerId);
    await releaseTrial(db, trial.id);
  }
  // Nothing starts while the sweep is paused (a trial still running from a dead delivery was
  // released above): the job waits and looks again.
  if (sweep.status === 'paused') throw new DeferTrial(`sweep ${sweep.id} is paused`, deps.quotaRetryMs ?? PAUSE_RETRY_MS);
  const claimed = await claimTrial(db, trial.id, workerId);
  if (claimed.refusal) {
    // Its project is at a quota: the job waits and is tried again; the trial stays queued.
    logger.info({ quota: claimed.refusal.quota, limit: claimed.refusal.limit, used: claimed.refusal.used }, 'trial deferred by its project quota');
    throw new DeferTrial(claimed.refusal.message, deps.quotaRetryMs ?? QUOTA_RETRY_MS);
  }
  if (!claimed.changed || !claimed.row || !claimed.claim) {
    logger.warn({ status: claimed.row?.status, holder: claimed.row?.workerId }, 'trial could not be claimed; another worker has it');
    return { kind: 'skipped' };
  }
  // A queued slot of the project freed: sweeps waiting on its queued-trials quota may go on.
  if (claimed.project?.quotas.maxQueuedTrials != null) await kickProjectSweeps(deps, claimed.project.id, sweep.id, logger);
  return { kind: 'claimed', trial: claimed.row, claim: claimed.claim, sweep };
}

/** Best effort: the reconciler advances every active sweep anyway. */
async function kickProjectSweeps(deps: RunTrialDeps, projectId: string, except: string, logger: Logger): Promise<void> {
  if (!deps.queues) return;
  try {
    const page = await listSweeps(deps.db, { projectIds: [projectId], status: ['pending', 'running'], limit: 100 });
    for (const other of page.items) {
      if (other.id !== except) await deps.queues.enqueueSweepAdvance({ sweepId: other.id, reason: 'trial-ended' });
    }
  } catch (error) {
    logger.warn({ err: error, projectId }, 'could not advance the sweeps waiting on their project quota');
  }
}

/** Training stopped because the worker or a user asked, not because it failed. */
class Aborted extends Error {
  constructor(readonly reason: AbortReason) {
    super(`trial ${reason}`);
  }
}

/** `operation` retried through transient database faults for up to `deps.dbRetryMs`, each retry logged. */
function withDbRetry<T>(deps: RunTrialDeps, logger: Logger, op: string, signal: AbortSignal | undefined, operation: () => Promise<T>, onFault?: () => void): Promise<T> {
  return retryTransient(operation, {
    budgetMs: deps.dbRetryMs ?? 60_000,
    ...(signal ? { signal } : {}),
    onRetry: (error, retry, delayMs) => {
      onFault?.();
      logger.warn({ op, code: error.code, sqlState: error.sqlState, prismaCode: error.prismaCode, err: error.message, retry, delayMs }, 'database unavailable; retrying');
    },
  });
}

/**
 * This delivery's claim is gone (another delivery took the trial over, or a user ended it): stop,
 * and write nothing more — no epoch, no status.
 */
async function stopLost(deps: RunTrialDeps, claim: TrialClaim, error: DbError, logger: Logger): Promise<TrialCancelled> {
  let current: Trial | null = null;
  try {
    current = await getTrial(deps.db, claim.trialId);
  } catch {
    // Only for the log line.
  }
  logger.warn({ attempt: claim.attempt, status: current?.status, holder: current?.workerId, holderAttempt: current?.attempt, err: error.message }, 'claim lost: trial taken over or ended elsewhere; stopped training it');
  return new TrialCancelled(`claim lost: trial ${current?.status === 'running' ? `taken over by ${current.workerId ?? 'another worker'}` : (current?.status ?? 'gone')}`);
}

/** Trainer errors of the machine rather than the trial: a replica thread that died or stalled at a barrier. */
const REPLICA_FAULTS: ReadonlySet<string> = new Set(['THREAD_DIED', 'TIMEOUT']);
/** Attempts a trial may lose to replica faults; the last one's fault fails it. */
export const REPLICA_FAULT_ATTEMPTS = 3;

async function releaseAfterReplicaFault(deps: RunTrialDeps, claim: TrialClaim, fault: TrainerError, count: number, logger: Logger): Promise<ReleaseTrial | TrialCancelled> {
  try {
    await withDbRetry(deps, logger, 'release after a replica fault', undefined, () => releaseTrial(deps.db, claim, { replicaFault: true }));
  } catch (error) {
    const dbError = dbErrorOf(error);
    if (dbError?.code === 'claim_lost') return stopLost(deps, claim, dbError, logger);
    throw error;
  }
  logger.warn({ err: fault.message, code: fault.code, fault: count, of: REPLICA_FAULT_ATTEMPTS }, 'replica fault; trial released to resume from its last checkpoint');
  return new ReleaseTrial(`replica fault ${count} of ${REPLICA_FAULT_ATTEMPTS}: ${fault.message}`);
}

/**
 * A database outage outlasted the retries mid-trial: hand the trial back (queued, while the claim
 * holds) so a redelivery resumes it from its last checkpoint. If even that cannot be written, the
 * redelivery takes the still-running trial over; the job goes back to the queue either way.
 */
async function releaseAfterFault(deps: RunTrialDeps, claim: TrialClaim, fault: DbError, logger: Logger): Promise<ReleaseTrial | TrialCancelled> {
  try {
    await retryTransient(() => releaseTrial(deps.db, claim), { budgetMs: 5_000 });
    logger.warn({ err: fault.message, code: fault.code }, 'database unavailable for too long; trial released to resume from its last checkpoint');
  } catch (error) {
    const dbError = dbErrorOf(error);
    if (dbError?.code === 'claim_lost') return stopLost(deps, claim, dbError, logger);
    logger.warn({ err: fault.message, releaseError: dbError?.message ?? String(error) }, 'database unavailable for too long; could not release the trial, the next delivery takes it over');
  }
  return new ReleaseTrial(`database unavailable: ${fault.message}`);
}

/**
 * Ends the trial under its claim, retrying through database faults. A COMMIT whose answer was lost
 * is recognised (the trial shows this very change under this claim). Throws TrialCancelled when the
 * claim is lost (someone else ended or took the trial), ReleaseTrial when the database stays away.
 */
async function finishFenced(
  deps: RunTrialDeps,
  claim: TrialClaim,
  status: 'completed' | 'stopped' | 'failed' | 'cancelled',
  options: Omit<FinishTrialOptions, 'workerId'>,
  logger: Logger,
): Promise<void> {
  let faulted = false;
  try {
    await withDbRetry(deps, logger, `finish ${status}`, undefined, () => finishTrial(deps.db, claim, status, options), () => (faulted = true));
  } catch (error) {
    const dbError = dbErrorOf(error);
    if (dbError?.code === 'claim_lost') {
      if (faulted) {
        const current = await withDbRetry(deps, logger, 'read trial', undefined, () => getTrial(deps.db, claim.trialId)).catch(() => null);
        if (current && current.status === status && current.attempt === claim.attempt && current.workerId === claim.workerId) return;
      }
      throw await stopLost(deps, claim, dbError, logger);
    }
    if (dbError?.transient) throw await releaseAfterFault(deps, claim, dbError, logger);
    throw error;
  }
}

async function endAborted(deps: RunTrialDeps, claim: TrialClaim, reason: AbortReason, logger: Logger): Promise<never> {
  if (reason === 'lost') {
    // Another delivery of this trial (e.g. re-enqueued by the reconciler after Redis lost its job)
    // released and claimed it: the trial is theirs now. Write nothing more; end this job for good.
    let current: Trial | null = null;
    try {
      current = await getTrial(deps.db, claim.trialId);
    } catch {
      // Only for the log line.
    }
    logger.warn({ status: current?.status, holder: current?.workerId }, 'trial taken over by another worker; stopped training it');
    throw new TrialCancelled(`trial taken over by ${current?.workerId ?? 'another worker'}`);
  }
  if (reason === 'shutdown' || reason === 'paused') {
    // The last completed epoch's checkpoint is already stored; the next worker resumes from it.
    try {
      await retryTransient(() => releaseTrial(deps.db, claim), { budgetMs: 5_000 });
      logger.info({}, 'trial released for another worker');
    } catch (error) {
      const dbError = dbErrorOf(error);
      if (dbError?.code === 'claim_lost') throw await stopLost(deps, claim, dbError, logger);
      if (!dbError?.transient) throw error;
      // The redelivery takes the still-running trial over.
      logger.warn({ err: dbError.message }, 'could not release the trial (database unavailable); the next delivery takes it over');
    }
    // Paused: the job waits in delayed (not failed) and starts again once the sweep is resumed.
    if (reason === 'paused') throw new DeferTrial('sweep paused', deps.quotaRetryMs ?? PAUSE_RETRY_MS);
    throw new ReleaseTrial(`worker ${deps.workerId} is shutting down`);
  }
  await finishFenced(deps, claim, 'cancelled', {}, logger);
  logger.info({ status: 'cancelled' }, 'trial cancelled');
  throw new TrialCancelled('trial or sweep cancelled');
}

interface TrainOutcome {
  status: 'completed' | 'stopped';
  epochs: number;
}

/** A trial of a worker-defined trainable: its command runs the steps (run-trainable.ts). */
async function trainTrainable(deps: RunTrialDeps, trial: Trial, claim: TrialClaim, storedSpec: Prisma.JsonValue, abort: AbortController, logger: Logger): Promise<TrainOutcome> {
  const spec = TrainableSweepRequest.parse(storedSpec);
  const config = deps.trainables?.get(spec.trainable.name);
  if (!config) throw new Error(`this worker does not offer the trainable ${spec.trainable.name}`);
  const objective = spec.objective.metric;
  const scheduler = createScheduler(sweepSchedulerConfig(spec));
  const outcome = await runTrainable({
    db: deps.db,
    trial,
    claim,
    spec,
    config,
    signal: abort.signal,
    logger,
    maxCheckpointBytes: deps.maxCheckpointBytes ?? 256 * 1024 * 1024,
    ...(deps.trainableWorkRoot ? { workRoot: deps.trainableWorkRoot } : {}),
    retried: (op, operation) => withDbRetry(deps, logger, op, abort.signal, operation),
    verdict: () => askScheduler(deps.search, scheduler, trial, objective),
    lastValue: async () => (await deps.search.trials(trial.sweepId)).find((t) => t.number === trial.number)?.reports.at(-1)?.value ?? null,
    progress: (step) => reportProgress(deps, trial, step, 0, logger),
  });
  if (outcome.status === 'aborted') throw new Aborted((abort.signal.reason as AbortReason | undefined) ?? 'cancelled');
  await finishFenced(deps, claim, outcome.status, { finalValue: outcome.finalValue, reason: outcome.reason }, logger);
  return { status: outcome.status, epochs: outcome.steps };
}

async function train(
  deps: RunTrialDeps,
  trial: Trial,
  claim: TrialClaim,
  storedSpec: Prisma.JsonValue,
  sweepSeed: number,
  abort: AbortController,
  logger: Logger,
): Promise<TrainOutcome> {
  const { db } = deps;
  const pool = deps.pool;
  if (!pool) throw new Error('this handler runs trainables only: no replica pool for the built-in engine');
  // Every Postgres call below goes through database faults (retried in place); the writes are
  // fenced on the claim, so a retry can never land after another delivery took the trial over.
  const retried = <T>(op: string, operation: () => Promise<T>) => withDbRetry(deps, logger, op, abort.signal, operation);
  const spec = CreateSweepRequest.parse(storedSpec);
  const config = resolveTrialConfig(spec, trial.params as Record<string, number | string | boolean>);
  const objective = config.objective.metric;
  const scheduler = createScheduler(schedulerConfigFor(spec));
  const dataset = await retried('dataset', () => deps.datasets.get(config.dataset));
  // Submission checks the objective against the model; the dataset's classes and hold-out are
  // known for certain only here (top-k needs more than k classes). Refused before any epoch.
  const model = compileModel(config.model);
  const reported = reportedMetricNames({ loss: model.spec.loss, outputs: model.outputSize, validation: dataset.validation.count > 0 });
  if (!reported.includes(objective)) {
    throw new Error(`the objective ${objective} is not reported for this model and dataset (${dataset.name}, ${model.outputSize} outputs); it reports ${reported.join(', ')}`);
  }
  const resumeFrom = await retried('checkpoint', () => loadCheckpoint(db, trial.id));
  if (resumeFrom) logger.info({ epoch: resumeFrom.manifest.epoch }, 'resuming from checkpoint');

  // A checkpoint written just before a crash may not have been shown to the scheduler yet.
  const resumedEpoch = resumeFrom?.manifest.epoch ?? 0;
  const verdict = resumedEpoch > 0 && resumedEpoch < config.epochs ? await retried('scheduler', () => askScheduler(deps.search, scheduler, trial, objective)) : null;
  if (verdict?.decision === 'stop') {
    const last = resumeFrom?.manifest.history.at(-1);
    await finishFenced(deps, claim, 'stopped', { finalValue: last ? objectiveOf(last, objective) : null, reason: verdict.reason }, logger);
    return { status: 'stopped', epochs: resumedEpoch };
  }

  let stoppedByScheduler = false;
  let stopReason: string | null = null;
  let lastValue: number | null = null;
  const keep = deps.keepCheckpoints ?? 3;
  const onEpoch = async (m: ParallelEpochMetrics): Promise<'stop' | void> => {
    // A worker that lost the trial writes no more epochs (the fence would refuse them anyway).
    if (abort.signal.aborted && abort.signal.reason === 'lost') return 'stop';
    const metrics = epochMetrics(m);
    const { manifestJson, data } = serializeCheckpoint(pool.checkpoint());
    const manifest = JSON.parse(manifestJson) as Prisma.InputJsonValue;
    // The epoch's metrics and its checkpoint commit together: a worker killed in between leaves
    // neither, so whoever resumes starts right after the last epoch anyone could see. The same
    // transaction is retried through faults: metric rows are upserts, the checkpoint one row per
    // epoch, and a retry after a lost COMMIT answer appends no second event.
    await retried('epoch', () =>
      inTransaction(db, async (tx) => {
        await recordEpoch(tx, claim, m.epoch, metrics);
        await saveCheckpoint(tx, claim, m.epoch, manifest, data);
      }),
    );
    await pruneQuietly(deps, claim, keep, logger);
    reportProgress(deps, trial, m.epoch, m.samplesPerSec, logger);
    lastValue = objectiveOf(m, objective);
    logger.debug({ epoch: m.epoch, ...metrics }, 'epoch');
    if (abort.signal.aborted) return 'stop';
    if (m.epoch < config.epochs) {
      const asked = await retried('scheduler', () => askScheduler(deps.search, scheduler, trial, objective));
      if (asked.decision === 'stop') {
        stoppedByScheduler = true;
        stopReason = asked.reason;
        return 'stop';
      }
    }
  };

  let result;
  try {
    result = await pool.train({
      model: config.model,
      optimizer: config.optimizer,
      schedule: config.schedule,
      dataset,
      epochs: config.epochs,
      batchSize: config.batchSize,
      // Fixed by the sweep spec, never by this worker's thread count: a resume elsewhere is bit-identical.
      microbatches: config.microbatches,
      seed: trialSeed(sweepSeed, trial.number),
      ...(config.earlyStopping ? { earlyStopping: config.earlyStopping } : {}),
      onEpoch,
      signal: abort.signal,
      ...(resumeFrom ? { resumeFrom } : {}),
    });
  } catch (error) {
    // A lost claim ends the delivery as it is, whatever else happened: nothing more is written.
    if (dbErrorOf(error)?.code === 'claim_lost') throw error;
    if (abort.signal.aborted && (!(error instanceof TrainerError) || error.code === 'ABORTED')) {
      throw new Aborted(abort.signal.reason as AbortReason);
    }
    throw error;
  }
  if (abort.signal.aborted && result.stoppedBy === 'callback' && !stoppedByScheduler) {
    throw new Aborted(abort.signal.reason as AbortReason);
  }
  const last = result.history.at(-1);
  let finalValue = lastValue ?? (last ? objectiveOf(last, objective) : null);
  const restored = config.earlyStopping?.restoreBestWeights === true && result.bestEpoch !== null && result.bestEpoch !== result.epochsRun;
  if (restored) {
    // Early stopping put the best epoch's weights back: the trial's model and value are that epoch's.
    // Its last checkpoint is rewritten with them, so the test-set evaluation and exports use them.
    const best = result.history[result.bestEpoch! - 1];
    finalValue = best ? objectiveOf(best, objective) : finalValue;
    const { manifestJson, data } = serializeCheckpoint(result.checkpoint);
    const manifest = JSON.parse(manifestJson) as Prisma.InputJsonValue;
    await retried('checkpoint', () => saveCheckpoint(db, claim, result.epochsRun, manifest, data));
    logger.info({ bestEpoch: result.bestEpoch, epochs: result.epochsRun }, 'early stopping restored the best epoch');
  }
  const status = stoppedByScheduler ? 'stopped' : 'completed';
  const reason =
    stopReason ??
    (result.stoppedBy === 'early_stopping'
      ? `early stopping after epoch ${result.epochsRun}: ${config.earlyStopping?.monitor} did not improve for ${config.earlyStopping?.patience} epochs`
      : null);
  // Someone else ended the trial meanwhile (a user stopped it): their status stands (TrialCancelled).
  await finishFenced(deps, claim, status, { finalValue, reason }, logger);
  return { status, epochs: result.epochsRun };
}

/** Keeps the newest checkpoints; a fault only postpones it to the next epoch, a lost claim stops the trial. */
async function pruneQuietly(deps: RunTrialDeps, claim: TrialClaim, keep: number, logger: Logger): Promise<void> {
  try {
    await pruneCheckpoints(deps.db, claim, keep);
  } catch (error) {
    const dbError = dbErrorOf(error);
    if (!dbError?.transient) throw error;
    logger.warn({ err: dbError.message, code: dbError.code }, 'could not prune checkpoints; trying again after the next epoch');
  }
}

/** The scheduler's verdict on the trial's latest report (read from the sweep's stored trials). */
async function askScheduler(search: SearchTrialsCache, scheduler: Scheduler, trial: Trial, objective: ObjectiveMetric): Promise<Verdict> {
  return schedulerVerdict(scheduler, await search.trials(trial.sweepId), trial.number, objective);
}

function reportProgress(deps: RunTrialDeps, trial: Trial, epoch: number, samplesPerSecond: number, logger: Logger): void {
  if (!deps.onProgress) return;
  try {
    deps.onProgress({ sweepId: trial.sweepId, trialId: trial.id, attempt: trial.attempt, epoch, samplesPerSecond });
  } catch (error) {
    logger.warn({ err: error }, 'progress callback failed');
  }
}

/** The trial's latest checkpoint, if any (the trainer compares its specs by value, not key order). */
async function loadCheckpoint(db: Db, trialId: string): Promise<Checkpoint | null> {
  const row = await latestCheckpoint(db, trialId);
  if (!row) return null;
  return parseCheckpoint(JSON.stringify(row.manifest), new Uint8Array(row.data));
}

/** The trial's training seed: a function of the sweep's seed and the trial's number only. */
export function trialSeed(sweepSeed: number, trialNumber: number): number {
  return deriveSeed(sweepSeed, `trial-${trialNumber}`);
}

/** The objective's value in an epoch's metrics, by name; null when the epoch does not report it. */
function objectiveOf(m: EpochMetrics, metric: ObjectiveMetric): number | null {
  return epochMetricValues(m)[metric] ?? null;
}

/** An epoch's metric rows: every metric the engine reported (by the names objectives use), the learning rate and timings. */
export function epochMetrics(m: ParallelEpochMetrics): Record<string, number> {
  const metrics: Record<string, number | null> = {
    ...epochMetricValues(m),
    learning_rate: m.learningRate,
    samples_per_sec: m.samplesPerSec,
    epoch_seconds: m.seconds,
    step_compute_ms: m.stepTiming.computeMs,
    step_reduce_ms: m.stepTiming.reduceMs,
    step_wait_ms: m.stepTiming.waitMs,
  };
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(metrics)) {
    if (value === null) continue;
    if (!Number.isFinite(value)) throw new Error(`epoch ${m.epoch}: ${name} is not finite (${value})`);
    out[name] = value;
  }
  return out;
}

/** Watches Postgres for a cancelled trial or sweep (Redis signals are only a fast nudge). */
function pollCancellation(
  deps: RunTrialDeps,
  trial: Trial,
  abortWith: (reason: AbortReason) => void,
  logger: Logger,
): { stop(): void } {
  let busy = false;
  const check = async () => {
    if (busy) return;
    busy = true;
    try {
      const [current, sweep] = await Promise.all([getTrial(deps.db, trial.id), getSweep(deps.db, trial.sweepId)]);
      const sweepOver = !sweep || sweep.status === 'cancelled' || sweep.status === 'failed' || sweep.status === 'completed';
      const ended = !current || TERMINAL.has(current.status);
      // Queued again, or claimed anew (another worker, or another delivery in this process: the
      // attempt moved on): a second delivery released and re-claimed it.
      const takenOver =
        !!current && !ended && (current.status !== 'running' || current.workerId !== deps.workerId || current.attempt !== trial.attempt);
      if (ended || sweepOver) {
        logger.info({ trialStatus: current?.status, sweepStatus: sweep?.status }, 'cancellation seen in Postgres');
        abortWith('cancelled');
      } else if (sweep.status === 'paused' && !takenOver) {
        logger.info({}, 'sweep paused: checkpointing and releasing the trial');
        abortWith('paused');
      } else if (takenOver) {
        logger.warn({ trialStatus: current.status, holder: current.workerId, attempt: current.attempt }, 'trial no longer held by this delivery');
        abortWith('lost');
      }
    } catch (error) {
      logger.warn({ err: error }, 'cancellation check failed; retrying');
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void check(), deps.cancelPollMs ?? 500);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
