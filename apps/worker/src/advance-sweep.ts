// Advances a sweep: starts it, samples new trials up to the budget, and finishes it (best trial,
// one test-set evaluation). Serialised per sweep with a Postgres advisory lock; every decision is
// derived from Postgres, so any worker may run it, after a restart, as often as it likes.
import {
  DbError,
  QuotaExceeded,
  createTrial,
  getSweep,
  latestCheckpoint,
  listTrials,
  recordTestResult,
  runnableTrials,
  setBestTrial,
  setSweepStatus,
  withSweepLock,
  type Db,
  type FrozenTrialRecord,
  type KeysetCursor,
  type Prisma,
  type SearchTrialsCache,
  type Sweep,
  type Trial,
} from '@hypersweep/db';
import { evaluateCheckpoint, parseCheckpoint } from '@hypersweep/nn';
import type { JobQueues } from '@hypersweep/queue';
import { SweepRequest, isBuiltinSweep, maxStepsOf, requestKind, resolveTrialConfig, resolvedTrialSpec, samplerConfigFor, type CreateSweepRequest } from '@hypersweep/schemas';
import { accountBudget, createBudget, createSampler, parseSpace, type BudgetOptions } from '@hypersweep/search';
import type { DatasetCache } from '@hypersweep/datasets';
import type { Logger } from '@hypersweep/log';
import { admitUnclaimed } from './concurrency.ts';

export interface AdvanceSweepDeps {
  db: Db;
  queues: Pick<JobQueues, 'enqueueTrial'>;
  datasets: DatasetCache;
  /** The sweep's trials for the sampler and the budget, read incrementally (shared by the process). */
  search: SearchTrialsCache;
  logger: Logger;
  /** How long the locked section may run, test evaluation included (default 10 min). */
  lockTimeoutMs?: number;
  /** Whole-advance retries after a refused grid cell (unique_violation) (default 5). */
  maxRetries?: number;
}

export interface AdvanceResult {
  /** The sweep's status after the advance; null when the sweep does not exist. */
  status: Sweep['status'] | null;
  /** Trials created by this advance. */
  created: number;
  /** Trial jobs handed to the queue (new trials, and queued never-claimed ones of an advance that died before enqueueing). */
  enqueued: number;
  /** Set when this advance ended the sweep. */
  finished?: 'completed' | 'failed';
}

/**
 * Where a sweep's trial jobs go: the built-in engine's queue, a trainable's, or none (ask/tell:
 * its trials wait for a lease, and a lapsed one is retried up to maxAttempts).
 */
export type JobRoute = { enqueue: false; maxAttempts: number } | { enqueue: true; trainable?: string };

export function jobRouteOf(spec: SweepRequest): JobRoute {
  if ('trainable' in spec) return { enqueue: true, trainable: spec.trainable.name };
  if ('external' in spec) return { enqueue: false, maxAttempts: spec.external.maxAttempts };
  return { enqueue: true };
}

/** The route of a stored spec, read by its kind alone (no validation). */
export function storedRouteOf(spec: unknown): JobRoute {
  const kind = requestKind(spec);
  if (kind === 'external') {
    const max = (spec as { external?: { maxAttempts?: unknown } }).external?.maxAttempts;
    return { enqueue: false, maxAttempts: typeof max === 'number' ? max : 3 };
  }
  if (kind === 'trainable') {
    const name = (spec as { trainable?: { name?: unknown } }).trainable?.name;
    return typeof name === 'string' ? { enqueue: true, trainable: name } : { enqueue: false, maxAttempts: 1 };
  }
  return { enqueue: true };
}

const TERMINAL_SWEEP: ReadonlySet<string> = new Set(['completed', 'cancelled', 'failed']);

/** Advances the sweep once; running it again right away changes nothing. */
export async function advanceSweep(deps: AdvanceSweepDeps, sweepId: string): Promise<AdvanceResult> {
  const logger = deps.logger.child({ sweepId });
  const maxRetries = deps.maxRetries ?? 5;
  // The lock's transaction is only the mutex: the work below writes through `deps.db`, each write
  // committed on its own (see README: repository calls that open a transaction, nested in the lock's, break the client).
  const { route, maxConcurrent, ...result } = await withSweepLock(deps.db, sweepId, () => advanceLocked(deps, sweepId, logger, maxRetries), {
    timeoutMs: deps.lockTimeoutMs ?? 600_000,
  });
  if (result.status === null || TERMINAL_SWEEP.has(result.status)) {
    // A finished sweep is not asked about again: free its records.
    deps.search.forget(sweepId);
    return { ...result, enqueued: 0 };
  }
  // Enqueue once the trials are committed: a job must never reach a worker before its trial exists.
  const enqueued = await enqueueUnclaimed(deps, sweepId, route, maxConcurrent ?? Number.POSITIVE_INFINITY);
  if (result.created > 0 || result.finished) logger.info({ ...result, enqueued }, 'sweep advanced');
  return { ...result, enqueued };
}

/**
 * Queued trials never claimed (attempt 0) get job attempt 1 on their queue (the built-in engine's
 * or their trainable's), within the room the sweep's concurrency leaves (`admitUnclaimed`:
 * configurations a user enqueued wait their turn); the job id makes this idempotent. An external
 * sweep's trials wait for ask.
 */
async function enqueueUnclaimed(deps: AdvanceSweepDeps, sweepId: string, route: JobRoute | undefined, maxConcurrent: number): Promise<number> {
  if (!route || !route.enqueue) return 0;
  // Never-claimed trials already enqueued are admitted again: repeating their job id is a no-op.
  const { admitted } = admitUnclaimed(await runnableTrials(deps.db, { sweepId }), maxConcurrent);
  for (const trial of admitted) {
    await deps.queues.enqueueTrial({ sweepId, trialId: trial.id, attempt: 1, ...(route.trainable ? { trainable: route.trainable } : {}) });
  }
  return admitted.length;
}

async function advanceLocked(
  deps: AdvanceSweepDeps,
  sweepId: string,
  logger: Logger,
  maxRetries: number,
): Promise<Omit<AdvanceResult, 'enqueued'> & { route?: JobRoute; maxConcurrent?: number }> {
  const { db } = deps;
  let sweep = await getSweep(db, sweepId);
  if (!sweep) return { status: null, created: 0 };
  if (TERMINAL_SWEEP.has(sweep.status)) return { status: sweep.status, created: 0 };
  // Paused: no trial is created or handed to the queue until it is resumed; the trials that
  // finish meanwhile still count for the best so far.
  if (sweep.status === 'paused') {
    await recordBestSoFar(db, sweep, await deps.search.trials(sweepId));
    return { status: 'paused', created: 0 };
  }
  if (sweep.status === 'pending') {
    const moved = await setSweepStatus(db, sweepId, 'running', { from: ['pending'] });
    if (!moved.row) return { status: null, created: 0 };
    sweep = moved.row;
    if (sweep.status !== 'running') return { status: sweep.status, created: 0 };
    logger.info({}, 'sweep started');
  }

  const parsed = SweepRequest.safeParse(sweep.spec);
  if (!parsed.success) {
    return failSweep(db, sweepId, `the stored sweep spec is invalid: ${parsed.error.message}`, logger);
  }
  const spec = parsed.data;
  const route = jobRouteOf(spec);
  const sampler = createSampler(parseSpace(spec.search.space), samplerConfigFor(spec));
  const budget = createBudget(sweep.budget as unknown as BudgetOptions);
  const account = (t: readonly FrozenTrialRecord[]) => accountBudget(budget, t, { maxEpochsPerTrial: maxStepsOf(spec) });

  let trials = await deps.search.trials(sweepId);
  let created = 0;
  let refused = 0;
  let exhausted = false;
  while (account(trials).canStart > 0) {
    const suggestion = sampler.ask(trials, trials.length);
    if (suggestion === null) {
      exhausted = true;
      break;
    }
    try {
      const trial = await createTrial(db, sweepId, { params: { ...suggestion.params }, cellKey: suggestion.cellKey ?? null, resolved: (isBuiltinSweep(spec) ? resolvedTrialSpec(spec, suggestion.params) : null) as Prisma.InputJsonValue | null });
      created++;
      logger.debug({ trialId: trial.id, number: trial.number, params: suggestion.params }, 'trial created');
    } catch (error) {
      // The project is at its queued-trials quota: the sweep waits (a claim in the project, or the
      // reconciler, advances it again).
      if (error instanceof QuotaExceeded) {
        logger.info({ quota: error.quota, limit: error.limit, used: error.used }, 'sweep waits for its project quota');
        break;
      }
      // The cell was taken by a writer outside this lock: re-read the trials and ask again.
      if (!(error instanceof DbError && error.code === 'unique_violation') || refused >= maxRetries) throw error;
      refused++;
      logger.warn({ cellKey: suggestion.cellKey, refused }, 'grid cell already taken; asking again');
    }
    trials = await deps.search.trials(sweepId);
  }

  await recordBestSoFar(db, sweep, trials);
  const state = account(trials);
  const pending = state.counts.queued + state.counts.running;
  const maxConcurrent = (sweep.budget as { maxConcurrentTrials?: number } | null)?.maxConcurrentTrials;
  if (pending > 0 || !(state.done || exhausted)) return { status: 'running', created, route, ...(maxConcurrent ? { maxConcurrent } : {}) };
  return { ...(await finishSweep(deps, db, sweep, spec, trials, logger)), created, route };
}

async function failSweep(db: Db, sweepId: string, message: string, logger: Logger): Promise<Omit<AdvanceResult, 'enqueued'>> {
  const result = await setSweepStatus(db, sweepId, 'failed', { from: ['running'], data: { error: message } });
  logger.error({ message }, 'sweep failed');
  return { status: result.row?.status ?? 'failed', created: 0, finished: 'failed' };
}

/**
 * The sweep's best trial as soon as a trial finishes (pickBest), not only when the sweep ends: the
 * dashboard, `show` and the playground follow it while the sweep runs. A cancelled sweep keeps the
 * best of the trials that had finished by its last advance.
 */
async function recordBestSoFar(db: Db, sweep: Sweep, trials: readonly FrozenTrialRecord[]): Promise<void> {
  const best = pickBest(trials, sweep.objectiveMode);
  if (best) await setBestTrial(db, sweep.id, best.number);
}

/** Best trial: completed ones by value first; stopped ones with a value only when none completed. */
export function pickBest(trials: readonly FrozenTrialRecord[], mode: 'minimize' | 'maximize'): FrozenTrialRecord | null {
  const better = (a: number, b: number) => (mode === 'minimize' ? a < b : a > b);
  for (const state of ['completed', 'stopped'] as const) {
    let best: FrozenTrialRecord | null = null;
    for (const t of trials) {
      if (t.state !== state || t.value === undefined || !Number.isFinite(t.value)) continue;
      if (best === null || better(t.value, best.value as number)) best = t;
    }
    if (best) return best;
  }
  return null;
}

async function finishSweep(
  deps: AdvanceSweepDeps,
  db: Db,
  sweep: Sweep,
  spec: SweepRequest,
  trials: readonly FrozenTrialRecord[],
  logger: Logger,
): Promise<Omit<AdvanceResult, 'enqueued' | 'created'>> {
  const best = pickBest(trials, sweep.objectiveMode);
  if (!best) {
    const failed = trials.filter((t) => t.state === 'failed').length;
    const rows = await allTrials(db, sweep.id);
    const lastError = rows.filter((t) => t.status === 'failed' && t.error).at(-1)?.error;
    const message =
      trials.length === 0
        ? 'the sweep ended without any trial'
        : `no trial produced an objective value: ${failed} of ${trials.length} trials failed${lastError ? ` (last error: ${lastError})` : ''}`;
    return failSweep(db, sweep.id, message, logger);
  }
  // recordBestSoFar made it the sweep's best trial before this call.
  const row = (await allTrials(db, sweep.id)).find((t) => t.number === best.number);
  if (!row) throw new Error(`trial number ${best.number} of sweep ${sweep.id} vanished`);
  // A previous advance that evaluated but died before completing the sweep left its result. A
  // trainable's or an external loop's model is theirs: no test set here.
  if (sweep.testResult === null && isBuiltinSweep(spec)) {
    const testResult = await evaluateOnTestSet(deps, db, spec, row, logger);
    await recordTestResult(db, sweep.id, testResult);
  }
  const done = await setSweepStatus(db, sweep.id, 'completed', { from: ['running'] });
  logger.info({ bestTrialId: row.id, bestValue: best.value }, 'sweep completed');
  return { status: done.row?.status ?? 'completed', finished: 'completed' };
}

async function allTrials(db: Db, sweepId: string): Promise<Trial[]> {
  const out: Trial[] = [];
  let cursor: KeysetCursor | null = null;
  do {
    const page: Awaited<ReturnType<typeof listTrials>> = await listTrials(db, sweepId, { sort: 'number', order: 'asc', limit: 1000, cursor });
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

/**
 * The best trial's weights (its latest checkpoint) evaluated once on the test split, in one pass
 * that gives loss, accuracy and the confusion matrix. A failed evaluation is recorded as
 * `{trialId, error}`; Postgres errors are rethrown.
 */
async function evaluateOnTestSet(
  deps: AdvanceSweepDeps,
  db: Db,
  spec: CreateSweepRequest,
  trial: Trial,
  logger: Logger,
): Promise<Prisma.InputJsonValue> {
  try {
    const stored = await latestCheckpoint(db, trial.id);
    if (!stored) throw new Error(`trial ${trial.id} has no checkpoint`);
    const checkpoint = parseCheckpoint(JSON.stringify(stored.manifest), new Uint8Array(stored.data));
    const config = resolveTrialConfig(spec, trial.params as Record<string, number | string | boolean>);
    const dataset = await deps.datasets.get(config.dataset);
    const test = await evaluateCheckpoint(checkpoint, dataset, 'test');
    logger.info({ trialId: trial.id, loss: test.loss, accuracy: test.accuracy, count: test.count }, 'best trial evaluated on the test set');
    const matrix = test.confusionMatrix;
    return {
      trialId: trial.id,
      trialNumber: trial.number,
      epoch: stored.epoch,
      loss: test.loss,
      accuracy: test.accuracy,
      top3Accuracy: test.top3Accuracy,
      top5Accuracy: test.top5Accuracy,
      mae: test.mae,
      rmse: test.rmse,
      count: test.count,
      ...(matrix ? { confusionMatrix: matrix, classNames: dataset.classNames ? [...dataset.classNames] : matrix.map((_, i) => String(i)) } : {}),
    };
  } catch (error) {
    if (error instanceof DbError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    logger.error({ err: error, trialId: trial.id }, 'test-set evaluation failed');
    return { trialId: trial.id, trialNumber: trial.number, error: message };
  }
}
