// The reconciler: Postgres is the source of truth, so work Redis lost (a flush, a restart without
// persistence) is enqueued again — every queued trial without a live job (never-claimed ones within
// their sweep's concurrency, as the advance enqueues them), every running trial whose holder has
// stopped showing it trains it, and an advance of every pending or running sweep.
import { finishTrial, getSweep, listSweeps, releaseTrial, runnableTrials, type Db, type KeysetCursor, type RunnableTrial } from '@hypersweep/db';
import { storedRouteOf, type JobRoute } from './advance-sweep.ts';
import { admitUnclaimed } from './concurrency.ts';
import {
  MAX_RECONNECT_DELAY_MS,
  getHeldTrials,
  parseTrialJobId,
  readLease,
  reconcileJoblessKey,
  reconcileLockKey,
  withRedisLock,
  type HeldTrials,
  type JobQueues,
} from '@hypersweep/queue';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Logger } from '@hypersweep/log';

export interface ReconcileDeps {
  db: Db;
  /** For the cluster-wide lock, the cluster's clock and the workers' held trials. */
  redis: Redis;
  queues: Pick<JobQueues, 'prefix' | 'liveTrialJobIds' | 'trialJobState' | 'enqueueTrial' | 'enqueueSweepAdvance'>;
  logger: Logger;
  /** Shown as the lock's holder; this worker's own heartbeat tells the default `holderGraceMs`. */
  workerId: string;
  /** The lock expires after this long if its holder dies mid-run (default 60 s). */
  lockTtlMs?: number;
  /**
   * The lock is kept until this long after a run started (default 0), so that however many workers
   * try every RECONCILE_MS, the cluster reconciles about once per interval.
   */
  minIntervalMs?: number;
  /**
   * A running trial without a live job is re-enqueued only once its holder has gone this long without
   * a live heartbeat naming it, counted from when a reconciler first saw it jobless (so from the
   * wipe at the earliest: Redis lost heartbeats too, and a live holder needs the time to publish
   * again). Default: the longest heartbeat TTL among the live heartbeats read (this worker's own
   * included) plus the longest Redis reconnection delay; with none readable, such trials wait.
   */
  holderGraceMs?: number;
  /** The cluster's clock in ms (tests move it). Default: Redis' TIME, so every worker's runs agree. */
  now?: () => number;
}

export interface ReconcileSummary {
  /** Trial jobs enqueued because Redis held no live job for a runnable trial. */
  requeuedTrials: number;
  /** Running trials without a live job whose holder's live heartbeat names them: left to it. */
  leftToHolder: number;
  /** Running trials without a live job whose holder has not named them yet, within `holderGraceMs`. */
  awaitingHolder: number;
  /** Sweep advances asked for (every pending or running sweep; deduplicated by the queue). */
  advancedSweeps: number;
  /** Sweeps with ask/tell trials whose lease lapsed (queued again or failed). */
  lapsedLeaseSweeps: number;
  /**
   * Never-claimed queued trials without a job that their sweep's concurrency holds back (configurations
   * a user enqueued wait their turn): left to the sweep's advance, which enqueues them as room frees.
   */
  heldBackTrials: number;
}

export type ReconcileResult = ({ ran: true } & ReconcileSummary) | { ran: false; holder: string | null };

/** Job states in which Redis finished an attempt: its job id is spent, the next job needs a higher attempt. */
const FINISHED_JOB_STATES: ReadonlySet<string> = new Set(['completed', 'failed']);

/** An attempt is tried at most this many times past a finished one (a guard against a runaway loop). */
const MAX_ATTEMPT_BUMPS = 100;

/** The jobless-since marks disappear if no reconciler touches them for this long (the cluster stopped). */
const JOBLESS_MARKS_TTL_MS = 24 * 3600_000;

/**
 * When a reconciler first saw a running trial without a live job, under which holder and claim, on
 * which Redis server (a server restarted from an old snapshot must not bring back an old count).
 */
const JoblessMark = z.strictObject({ workerId: z.string().nullable(), attempt: z.number().int(), since: z.number(), server: z.string() });
type JoblessMark = z.infer<typeof JoblessMark>;

type HolderVerdict = { kind: 'held' } | { kind: 'awaiting'; silentMs: number } | { kind: 'requeue'; silentMs: number };

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

/**
 * Ask/tell trials whose lease lapsed (docs/ask-tell.md): queued again for the next ask, or failed
 * after the sweep's maxAttempts. Their sweeps are asked to advance. Returns how many.
 */
async function reclaimLapsedLeases(deps: ReconcileDeps, runnable: readonly RunnableTrial[], routes: ReadonlyMap<string, JobRoute>): Promise<number> {
  const touched = new Set<string>();
  for (const trial of runnable) {
    const route = routes.get(trial.sweepId);
    if (!route || route.enqueue || trial.status !== 'running' || trial.workerId === null) continue;
    if (await readLease(deps.redis, deps.queues.prefix, trial.id)) continue;
    const claim = { trialId: trial.id, attempt: trial.attempt, workerId: trial.workerId };
    const fields = { sweepId: trial.sweepId, trialId: trial.id, attempt: trial.attempt, maxAttempts: route.maxAttempts };
    try {
      if (trial.attempt >= route.maxAttempts) {
        await finishTrial(deps.db, claim, 'failed', { error: `its lease lapsed on attempt ${trial.attempt} of ${route.maxAttempts}` });
        deps.logger.warn(fields, 'ask/tell lease lapsed on the last attempt; trial failed');
      } else {
        await releaseTrial(deps.db, claim);
        deps.logger.warn(fields, 'ask/tell lease lapsed; trial queued for the next ask');
      }
      touched.add(trial.sweepId);
    } catch (error) {
      // Told or reported meanwhile (claim lost) or the database is away: the next run looks again.
      deps.logger.debug({ ...fields, err: error }, 'lapsed lease not reclaimed');
    }
  }
  for (const sweepId of touched) await deps.queues.enqueueSweepAdvance({ sweepId, reason: 'reconcile' });
  return touched.size;
}

/** The job route and concurrency limit of each sweep with runnable trials, from its stored spec and budget. */
async function routesOf(db: Db, trials: readonly RunnableTrial[]): Promise<{ routes: Map<string, JobRoute>; maxConcurrent: Map<string, number> }> {
  const routes = new Map<string, JobRoute>();
  const maxConcurrent = new Map<string, number>();
  for (const sweepId of new Set(trials.map((t) => t.sweepId))) {
    const sweep = await getSweep(db, sweepId);
    if (!sweep) continue;
    routes.set(sweepId, storedRouteOf(sweep.spec));
    const limit = (sweep.budget as { maxConcurrentTrials?: number } | null)?.maxConcurrentTrials;
    if (limit) maxConcurrent.set(sweepId, limit);
  }
  return { routes, maxConcurrent };
}

/**
 * The jobless trials that may be enqueued again: all but the never-claimed ones (attempt 0, jobless
 * by design) that their sweep's concurrency has no room for (`admitUnclaimed`, the advance's rule).
 */
function withinConcurrency(
  runnable: readonly RunnableTrial[],
  jobless: readonly RunnableTrial[],
  liveAttempts: ReadonlyMap<string, number[]>,
  maxConcurrent: ReadonlyMap<string, number>,
): { enqueue: RunnableTrial[]; heldBack: number } {
  const bySweep = new Map<string, RunnableTrial[]>();
  for (const t of runnable) {
    const list = bySweep.get(t.sweepId);
    if (list) list.push(t);
    else bySweep.set(t.sweepId, [t]);
  }
  const held = new Set<string>();
  for (const [sweepId, limit] of maxConcurrent) {
    const { heldBack } = admitUnclaimed(bySweep.get(sweepId) ?? [], limit, (t) => liveAttempts.has(t.id));
    for (const t of heldBack) held.add(t.id);
  }
  const enqueue = jobless.filter((t) => !held.has(t.id));
  return { enqueue, heldBack: jobless.length - enqueue.length };
}

async function reconcileLocked(deps: ReconcileDeps): Promise<ReconcileSummary> {
  // Redis first, then Postgres: a trial created and enqueued between the two reads is then missing
  // from the live set, and its re-enqueue repeats the same job id (a no-op). The other order would
  // see a live job that has since ended while Postgres still read `running`, and enqueue a spare job.
  // Each runnable trial's queue (the built-in engine's, a trainable's, or none: an external loop asks).
  const runnable = await runnableTrials(deps.db);
  const { routes, maxConcurrent } = await routesOf(deps.db, runnable);
  const trainables = [...routes.values()].flatMap((r) => (r.enqueue && r.trainable ? [r.trainable] : []));
  const liveAttempts = liveAttemptsByTrial(await deps.queues.liveTrialJobIds(trainables));
  const { enqueue: jobless, heldBack: heldBackTrials } = withinConcurrency(
    runnable,
    runnable.filter((trial) => !liveAttempts.has(trial.id) && routes.get(trial.sweepId)?.enqueue === true),
    liveAttempts,
    maxConcurrent,
  );
  const lapsed = await reclaimLapsedLeases(deps, runnable, routes);
  const verdicts = await holderVerdicts(deps, jobless.filter((trial) => trial.status === 'running'));

  let requeuedTrials = 0;
  let leftToHolder = 0;
  let awaitingHolder = 0;
  for (const trial of jobless) {
    const fields = { sweepId: trial.sweepId, trialId: trial.id, status: trial.status, holder: trial.workerId, claimAttempt: trial.attempt };
    // Queued trials have no holder: re-enqueued at once. A running one only once its holder is gone.
    const verdict = verdicts.get(trial.id);
    if (verdict?.kind === 'held') {
      leftToHolder += 1;
      deps.logger.debug(fields, 'running trial has no job, but its worker still trains it: left to it');
      continue;
    }
    if (verdict?.kind === 'awaiting') {
      awaitingHolder += 1;
      deps.logger.debug({ ...fields, silentMs: verdict.silentMs }, 'running trial has no job; waiting for its worker\'s heartbeat');
      continue;
    }
    try {
      const route = routes.get(trial.sweepId);
      const trainable = route?.enqueue ? route.trainable : undefined;
      const attempt = await nextJobAttempt(deps, trial, trainable);
      await deps.queues.enqueueTrial({ sweepId: trial.sweepId, trialId: trial.id, attempt, ...(trainable ? { trainable } : {}) });
      deps.logger.warn(
        { ...fields, attempt, ...(verdict ? { holderSilentMs: verdict.silentMs } : {}) },
        verdict ? 'running trial had no job and its worker no heartbeat naming it; enqueued it again' : 'trial had no live job; enqueued it again',
      );
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

  return { requeuedTrials, leftToHolder, awaitingHolder, advancedSweeps, lapsedLeaseSweeps: lapsed, heldBackTrials };
}

/**
 * Decides, for each running trial without a live job, whether its holder still trains it. Heartbeats
 * live in Redis too, so "no heartbeat" means "dead" only once the holder had the time to publish one:
 * a trial is re-enqueued after its holder went `holderGraceMs` without a live heartbeat naming it (and
 * the claim's attempt), counted from the last run that saw it named, or else the first that saw it
 * jobless — its mark in
 * `<prefix>:reconcile-jobless`, which a wipe erases with everything else. Marks of trials that are no
 * longer running without a job are dropped.
 */
async function holderVerdicts(deps: ReconcileDeps, running: readonly RunnableTrial[]): Promise<Map<string, HolderVerdict>> {
  const verdicts = new Map<string, HolderVerdict>();
  const key = reconcileJoblessKey(deps.queues.prefix);
  const holders = running.flatMap((trial) => (trial.workerId === null ? [] : [trial.workerId]));
  const [server, stored, held] = await Promise.all([
    serverClock(deps.redis),
    deps.redis.hgetall(key),
    getHeldTrials(deps.redis, deps.queues.prefix, [deps.workerId, ...holders]),
  ]);
  const now = deps.now?.() ?? server.timeMs;
  const graceMs = deps.holderGraceMs ?? learnedGraceMs(held);

  const fresh: Record<string, string> = {};
  for (const trial of running) {
    const previous = parseMark(stored[trial.id]);
    const counts = previous !== null && previous.workerId === trial.workerId && previous.attempt === trial.attempt && previous.server === server.runId;
    const mark: JoblessMark = counts ? previous : { workerId: trial.workerId, attempt: trial.attempt, since: now, server: server.runId };
    if (!counts) {
      fresh[trial.id] = JSON.stringify(mark);
      deps.logger.info(
        { sweepId: trial.sweepId, trialId: trial.id, holder: trial.workerId, claimAttempt: trial.attempt, graceMs },
        'running trial has no live job (Redis lost it?); its worker keeps it while its heartbeat names it',
      );
    }
    const named = trial.workerId !== null && (held.get(trial.workerId)?.trials ?? []).some((h) => h.trialId === trial.id && h.attempt === trial.attempt);
    const silentMs = now - mark.since;
    if (named) {
      verdicts.set(trial.id, { kind: 'held' });
      // Silence counts from the last run that saw the holder name the trial: a live worker that
      // misses one heartbeat (reconnecting to Redis) keeps the whole grace period.
      if (mark.since !== now) fresh[trial.id] = JSON.stringify({ ...mark, since: now });
    }
    else if (graceMs !== undefined && silentMs >= graceMs) verdicts.set(trial.id, { kind: 'requeue', silentMs });
    else verdicts.set(trial.id, { kind: 'awaiting', silentMs });
  }

  const stale = Object.keys(stored).filter((trialId) => !verdicts.has(trialId));
  if (Object.keys(fresh).length > 0 || stale.length > 0) {
    const tx = deps.redis.multi();
    if (Object.keys(fresh).length > 0) tx.hset(key, fresh);
    if (stale.length > 0) tx.hdel(key, ...stale);
    tx.pexpire(key, JOBLESS_MARKS_TTL_MS);
    const results = await tx.exec();
    const failed = results?.find(([error]) => error !== null)?.[0];
    if (failed) throw failed;
  }
  return verdicts;
}

/**
 * The longest heartbeat TTL among the live entries read, plus the longest reconnection delay (a holder
 * cut off from a restarted Redis publishes again only once its client reconnects); undefined when no
 * entry was readable (this worker's own heartbeat not published yet after a wipe): nothing is judged dead.
 */
function learnedGraceMs(held: ReadonlyMap<string, HeldTrials>): number | undefined {
  const ttls = [...held.values()].map((entry) => entry.ttlMs);
  return ttls.length === 0 ? undefined : Math.max(...ttls) + MAX_RECONNECT_DELAY_MS;
}

/** Redis' clock (one clock for the whole cluster) and the server's run id (new after every restart). */
async function serverClock(redis: Redis): Promise<{ timeMs: number; runId: string }> {
  const [time, info] = await Promise.all([redis.time(), redis.info('server')]);
  // TIME answers [seconds, microseconds] (as strings, whatever ioredis' types say).
  const timeMs = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
  return { timeMs, runId: /^run_id:(\S+)/m.exec(info)?.[1] ?? '' };
}

function parseMark(json: string | undefined): JoblessMark | null {
  if (json === undefined) return null;
  try {
    const parsed = JoblessMark.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
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
async function nextJobAttempt(deps: ReconcileDeps, trial: RunnableTrial, trainable: string | undefined): Promise<number> {
  let attempt = trial.attempt + 1;
  for (let bumps = 0; bumps < MAX_ATTEMPT_BUMPS; bumps += 1) {
    const state = await deps.queues.trialJobState(trial.id, attempt, trainable);
    if (!FINISHED_JOB_STATES.has(state)) return attempt;
    attempt += 1;
  }
  throw new Error(`trial ${trial.id}: attempts ${trial.attempt + 1}…${attempt - 1} all have finished jobs`);
}
