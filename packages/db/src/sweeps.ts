// Sweep repository: submission (idempotent), reads, keyset listing, counts, best trial and test result.
import { inTransaction, isUuid, type DbClient } from './client.ts';
import { DbError, isUniqueViolation, mapDbErrors, toDbError } from './errors.ts';
import type { Prisma, Sweep } from './generated/prisma/client.ts';
import type { ObjectiveMode, SweepStatus, TrialStatus } from './generated/prisma/enums.ts';
import { SWEEP_CANCELLED_REASON, appendSweepUpdated, appendTrialEvent } from './events.ts';
import { setSweepStatus, updateSweepStatus, updateTrialStatuses } from './states.ts';
import { countsOf, sweepCountsSelect } from './snapshot.ts';
import { ACTIVE_SWEEP_STATUSES, DEFAULT_PROJECT_ID, QuotaExceeded, withProjectLock } from './projects.ts';

export { setSweepStatus };

/** A keyset cursor, the payload of @hypersweep/schemas' `encodeCursor`: last row's sort value and tiebreak. */
export interface KeysetCursor {
  sort: string;
  order: 'asc' | 'desc';
  value: number | string | null;
  after: number | string;
}

export interface Page<T> {
  items: T[];
  /** Null on the last page. */
  nextCursor: KeysetCursor | null;
}

export interface CreateSweepInput {
  name: string;
  spec: Prisma.InputJsonValue;
  seed: number;
  objective: { metric: string; mode: ObjectiveMode };
  budget: Prisma.InputJsonValue;
  /** The client's Idempotency-Key: a second submission with the same key (in the same project) returns the first sweep. */
  idempotencyKey?: string | null;
  /** Default: the default project. */
  projectId?: string;
}

export interface CreateSweepResult {
  sweep: Sweep;
  /** False when the idempotency key matched an existing sweep. */
  created: boolean;
}

/**
 * Creates a pending sweep. With an idempotency key, a concurrent or retried submission hits the
 * unique index and gets the existing sweep back (never an error). The stored body is not compared:
 * the key alone identifies the submission.
 */
export async function createSweep(db: DbClient, input: CreateSweepInput): Promise<CreateSweepResult> {
  const idempotencyKey = input.idempotencyKey ?? null;
  const projectId = input.projectId ?? DEFAULT_PROJECT_ID;
  // Inside the lock through `tx`: another pool connection there could wait on lock holders.
  const existing = async (client: DbClient) =>
    idempotencyKey === null ? null : mapDbErrors(() => client.sweep.findUnique({ where: { projectId_idempotencyKey: { projectId, idempotencyKey } } }));
  try {
    // Under the project's lock: concurrent submissions see each other's sweeps against the quota.
    return await withProjectLock(db, projectId, ['maxActiveSweeps'], async (tx, quotas) => {
      const found = await existing(tx);
      if (found) return { sweep: found, created: false };
      if (quotas.maxActiveSweeps !== null) {
        const active = await tx.sweep.count({ where: { projectId, status: { in: [...ACTIVE_SWEEP_STATUSES] } } });
        if (active >= quotas.maxActiveSweeps) throw new QuotaExceeded('maxActiveSweeps', quotas.maxActiveSweeps, active, `${active} sweeps are pending, running or paused`);
      }
      const sweep = await tx.sweep.create({
        data: {
          projectId,
          name: input.name,
          spec: input.spec,
          seed: input.seed,
          objectiveMetric: input.objective.metric,
          objectiveMode: input.objective.mode,
          budget: input.budget,
          idempotencyKey,
        },
      });
      return { sweep, created: true };
    });
  } catch (error) {
    if (idempotencyKey !== null && isUniqueViolation(error)) {
      const found = await existing(db);
      if (found) return { sweep: found, created: false };
    }
    if (error instanceof DbError) throw error;
    throw toDbError(error);
  }
}

export async function getSweep(db: DbClient, sweepId: string): Promise<Sweep | null> {
  if (!isUuid(sweepId)) return null;
  return mapDbErrors(() => db.sweep.findUnique({ where: { id: sweepId } }));
}

export interface ListSweepsOptions {
  limit?: number;
  cursor?: KeysetCursor | null;
  status?: readonly SweepStatus[];
  /** Only sweeps of these projects (a scoped token's); all when absent. */
  projectIds?: readonly string[];
  /** Default newest first: createdAt desc. */
  sort?: 'createdAt' | 'name';
  order?: 'asc' | 'desc';
}

/** Keyset on (sort value, id) in the same direction: stable under inserts, no offset scans. */
export async function listSweeps(db: DbClient, options: ListSweepsOptions = {}): Promise<Page<Sweep>> {
  const limit = clampLimit(options.limit);
  const sort = options.sort ?? 'createdAt';
  const order = options.order ?? 'desc';
  if (sort !== 'createdAt' && sort !== 'name') throw new DbError('invalid_argument', `cannot sort sweeps by ${String(sort)}`);
  const where: Prisma.SweepWhereInput = {};
  if (options.status && options.status.length > 0) where.status = { in: [...options.status] };
  if (options.projectIds) where.projectId = { in: [...options.projectIds] };
  const cursor = options.cursor;
  if (cursor) {
    if (cursor.sort !== sort || cursor.order !== order || typeof cursor.value !== 'string' || typeof cursor.after !== 'string') {
      throw new DbError('invalid_argument', `this cursor does not continue a sweep listing sorted by ${sort} ${order}`);
    }
    const value = sort === 'createdAt' ? new Date(cursor.value) : cursor.value;
    if ((value instanceof Date && Number.isNaN(value.getTime())) || !isUuid(cursor.after)) throw new DbError('invalid_argument', 'malformed sweep cursor');
    const beyond = order === 'asc' ? 'gt' : 'lt';
    where.OR = [{ [sort]: { [beyond]: value } }, { [sort]: value, id: { [beyond]: cursor.after } }];
  }
  const rows = await mapDbErrors(() =>
    db.sweep.findMany({ where, orderBy: [{ [sort]: order }, { id: order }], take: limit + 1 }),
  );
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  const nextCursor: KeysetCursor | null =
    rows.length > limit && last ? { sort, order, value: sort === 'createdAt' ? last.createdAt.toISOString() : last.name, after: last.id } : null;
  return { items, nextCursor };
}

export function clampLimit(limit: number | undefined): number {
  if (limit === undefined) return 50;
  if (!Number.isInteger(limit) || limit < 1) throw new DbError('invalid_argument', `limit must be a positive integer, got ${limit}`);
  return Math.min(limit, 1000);
}

export type TrialCounts = Record<TrialStatus, number> & { total: number };

/** Trials of a sweep per status (every status present, zeros included) and the total: the sweep row's trigger-kept counts. */
export async function trialCounts(db: DbClient, sweepId: string): Promise<TrialCounts> {
  const none: TrialCounts = { queued: 0, running: 0, completed: 0, stopped: 0, failed: 0, cancelled: 0, total: 0 };
  if (!isUuid(sweepId)) return none;
  const row = await mapDbErrors(() => db.sweep.findUnique({ where: { id: sweepId }, select: sweepCountsSelect }));
  return row ? countsOf(row) : none;
}

export interface SetBestResult {
  changed: boolean;
  /** The sweep's best trial after the call (an ended sweep keeps its own, possibly none). */
  bestTrialId: string | null;
}

/**
 * Makes trial number `trialNumber` the sweep's best trial, as its caller ranked the trials (the
 * worker, under the sweep lock, as soon as a trial finishes): the best so far while the sweep runs,
 * the final best just before it completes. An ended sweep is left as it is. Locks the sweep row; a
 * sweep.updated event only when it changes.
 */
export async function setBestTrial(db: DbClient, sweepId: string, trialNumber: number): Promise<SetBestResult> {
  if (!isUuid(sweepId)) throw new DbError('not_found', `no sweep ${sweepId}`);
  if (!Number.isSafeInteger(trialNumber) || trialNumber < 0) throw new DbError('invalid_argument', `trial number must be a non-negative integer, got ${trialNumber}`);
  return mapDbErrors(() =>
    inTransaction(db, async (tx) => {
      const sweep = await lockSweep(tx, sweepId);
      const trial = await tx.trial.findFirst({ where: { sweepId, number: trialNumber }, select: { id: true } });
      if (!trial) throw new DbError('not_found', `sweep ${sweepId} has no trial number ${trialNumber}`);
      // An ended sweep's best is final (a cancel may land between an advance's read and this
      // write), and its event stream has already closed.
      if (sweep.status === 'completed' || sweep.status === 'cancelled' || sweep.status === 'failed') return { changed: false, bestTrialId: sweep.bestTrialId };
      if (sweep.bestTrialId === trial.id) return { changed: false, bestTrialId: trial.id };
      await tx.sweep.update({ where: { id: sweepId }, data: { bestTrialId: trial.id } });
      await appendSweepUpdated(tx, sweepId);
      return { changed: true, bestTrialId: trial.id };
    }),
  );
}

/** Stores the best trial's test-set evaluation (any JSON, e.g. `{loss, accuracy, trialId}`). */
export async function recordTestResult(db: DbClient, sweepId: string, result: Prisma.InputJsonValue): Promise<Sweep> {
  if (!isUuid(sweepId)) throw new DbError('not_found', `no sweep ${sweepId}`);
  return mapDbErrors(() =>
    inTransaction(db, async (tx) => {
      const sweep = await tx.sweep.update({ where: { id: sweepId }, data: { testResult: result } });
      await appendSweepUpdated(tx, sweepId);
      return sweep;
    }),
  );
}

export interface CancelSweepResult {
  changed: boolean;
  sweep: Sweep | null;
  /** Queued trials cancelled with the sweep; running ones are ended by their workers. */
  cancelledTrials: number;
}

/**
 * pending|running → cancelled, and its queued trials → cancelled, in one transaction: no trial
 * can be created or claimed for the sweep afterwards (both take the sweep's row lock). With
 * `endRunning`, its running trials too (an external sweep's, held by leases, not workers).
 */
export async function cancelSweep(db: DbClient, sweepId: string, options: { endRunning?: boolean } = {}): Promise<CancelSweepResult> {
  if (!isUuid(sweepId)) return { changed: false, sweep: null, cancelledTrials: 0 };
  return mapDbErrors(() =>
    inTransaction(db, async (tx) => {
      // Both writes go through the state machine: the sweep from any legal source, its trials
      // only from queued (running ones are ended by their workers, terminal ones stay as they are).
      const sweep = await updateSweepStatus(tx, sweepId, 'cancelled');
      if (!sweep) return { changed: false, sweep: await tx.sweep.findUnique({ where: { id: sweepId } }), cancelledTrials: 0 };
      // `endRunning`: trials leased by loops outside the workers (ask/tell) have no worker to end them.
      const from: TrialStatus[] = options.endRunning ? ['queued', 'running'] : ['queued'];
      const trials = await updateTrialStatuses(tx, { sweepId }, 'cancelled', { from, data: { reason: SWEEP_CANCELLED_REASON, ...(options.endRunning ? { workerId: null } : {}) } });
      for (const trial of trials.sort((a, b) => a.number - b.number)) await appendTrialEvent(tx, trial);
      await appendSweepUpdated(tx, sweepId);
      // Read again: the row of the status write predates the trials' cancellation (its trigger-kept counts) and the events.
      return { changed: true, sweep: (await tx.sweep.findUnique({ where: { id: sweepId } })) ?? sweep, cancelledTrials: trials.length };
    }),
  );
}

interface LockedSweep {
  id: string;
  status: SweepStatus;
  objectiveMode: ObjectiveMode;
  bestTrialId: string | null;
}

/**
 * Locks the sweep row for the rest of the transaction (FOR NO KEY UPDATE: conflicts with status
 * writes and other lockers, not with inserts of trials referencing it). Throws not_found.
 */
export async function lockSweep(tx: Prisma.TransactionClient, sweepId: string): Promise<LockedSweep> {
  const rows = await tx.$queryRaw<{ id: string; status: SweepStatus; objective_mode: ObjectiveMode; best_trial_id: string | null }[]>`
    SELECT id::text AS id, status::text AS status, objective_mode::text AS objective_mode, best_trial_id::text AS best_trial_id
    FROM sweeps WHERE id = ${sweepId}::uuid FOR NO KEY UPDATE`;
  const row = rows[0];
  if (!row) throw new DbError('not_found', `no sweep ${sweepId}`);
  return { id: row.id, status: row.status, objectiveMode: row.objective_mode, bestTrialId: row.best_trial_id };
}
