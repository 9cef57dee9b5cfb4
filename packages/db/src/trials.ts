// Trial repository: creation with per-sweep numbering, claim/release/finish, idempotent epoch metrics, listings.
import { inTransaction, isUuid, type DbClient } from './client.ts';
import { DbError, mapDbErrors } from './errors.ts';
import type { Prisma, Trial } from './generated/prisma/client.ts';
import type { TrialStatus } from './generated/prisma/enums.ts';
import { appendSweepEvent, appendSweepUpdated } from './events.ts';
import { setTrialStatus, type TransitionResult } from './states.ts';
import { assertClaim, claimLost, claimOf, targetClaim, targetId, type TrialClaim, type TrialTarget } from './claims.ts';
import { clampLimit, lockSweep, type KeysetCursor, type Page } from './sweeps.ts';
import { retainFinishedCheckpoints } from './checkpoints.ts';
import { QuotaExceeded, countProjectTrials, meterEpochs, startRefusal, withProjectLock, type Quotas } from './projects.ts';

export { setTrialStatus };

export interface CreateTrialInput {
  params: Prisma.InputJsonValue;
  /** Grid cell identity; a second trial with the same key in the sweep is refused (unique_violation). */
  cellKey?: string | null;
  /** The spec the trial trains (its parameters applied), kept for the trial page. */
  resolved?: Prisma.InputJsonValue | null;
}

/**
 * Creates the sweep's next trial (queued). The sweep row is locked for the transaction, so
 * concurrent creators get consecutive numbers 0, 1, 2… and a cancel (a status write on the same
 * row) cannot interleave: a trial is never created for a sweep that is no longer pending or running.
 */
export async function createTrial(db: DbClient, sweepId: string, input: CreateTrialInput): Promise<Trial> {
  if (!isUuid(sweepId)) throw new DbError('not_found', `no sweep ${sweepId}`);
  return mapDbErrors(async () => {
    const head = await db.sweep.findUnique({ where: { id: sweepId }, select: { projectId: true } });
    if (!head) throw new DbError('not_found', `no sweep ${sweepId}`);
    // The project's lock before the sweep's: the queued-trials quota holds across sweeps.
    return withProjectLock(db, head.projectId, ['maxQueuedTrials'], async (tx, quotas) => {
      const sweep = await lockSweep(tx, sweepId);
      // A paused sweep takes a user's configurations; they start when it is resumed.
      if (sweep.status !== 'pending' && sweep.status !== 'running' && sweep.status !== 'paused') {
        throw new DbError('sweep_not_active', `sweep ${sweepId} is ${sweep.status}; no new trials`);
      }
      if (quotas.maxQueuedTrials !== null) {
        const queued = await countProjectTrials(tx, head.projectId, 'queued');
        if (queued >= quotas.maxQueuedTrials) throw new QuotaExceeded('maxQueuedTrials', quotas.maxQueuedTrials, queued, `${queued} trials are queued`);
      }
      const last = await tx.trial.findFirst({ where: { sweepId }, orderBy: { number: 'desc' }, select: { number: true } });
      const trial = await tx.trial.create({
        data: {
          sweepId,
          number: (last?.number ?? -1) + 1,
          params: input.params,
          cellKey: input.cellKey ?? null,
          ...(input.resolved != null ? { resolved: input.resolved } : {}),
        },
      });
      await appendSweepEvent(tx, sweepId, 'trial.created', { trialId: trial.id, number: trial.number, params: input.params });
      await appendSweepUpdated(tx, sweepId);
      return trial;
    });
  });
}

export async function getTrial(db: DbClient, trialId: string): Promise<Trial | null> {
  if (!isUuid(trialId)) return null;
  return mapDbErrors(() => db.trial.findUnique({ where: { id: trialId } }));
}

export interface ClaimResult extends TransitionResult<Trial> {
  /** The claim this call made (when `changed`): pass it to the trial's progress writes to fence them. */
  claim: TrialClaim | null;
  /** Set when the trial may not start now: its project is at a quota (it stays queued). */
  refusal?: QuotaExceeded;
  /** The trial's project and its quotas, when it exists. */
  project?: { id: string; quotas: Quotas };
}

/**
 * queued → running for `workerId`, incrementing `attempt` (the BullMQ job id's attempt). Of
 * concurrent claimers exactly one gets `changed: true`, and with it the claim. A redelivered job
 * whose trial is still `running` (its worker died) first calls `releaseTrial(trialId)` and then claims.
 */
export async function claimTrial(db: DbClient, trialId: string, workerId: string): Promise<ClaimResult> {
  if (!isUuid(trialId)) return { changed: false, row: null, claim: null };
  return mapDbErrors(async () => {
    const head = await db.trial.findUnique({ where: { id: trialId }, select: { sweep: { select: { projectId: true } } } });
    if (!head) return { changed: false, row: null, claim: null };
    const { projectId } = head.sweep;
    // The project's lock first (then the sweep's, then the trial's): claims of one project are
    // serialised, so its running-trials quota holds across workers.
    return withProjectLock(db, projectId, ['maxRunningTrials', 'maxEpochsPerDay'], async (tx, quotas) => {
      const current = await tx.trial.findUnique({ where: { id: trialId } });
      if (current?.status === 'queued') {
        const refusal = await startRefusal(tx, projectId, quotas);
        if (refusal) return { changed: false, row: current, claim: null, refusal, project: { id: projectId, quotas } };
      }
      const result = await setTrialStatus(tx, trialId, 'running', {
        from: ['queued'],
        data: { workerId, attempt: { increment: 1 }, startedAt: new Date(), error: null },
      });
      return { ...result, claim: result.changed && result.row ? claimOf(result.row) : null, project: { id: projectId, quotas } };
    });
  });
}

/**
 * running → queued. With a claim, only while that claim holds (else `claim_lost`); with
 * `workerId`, only if that worker holds the trial (`changed: false` otherwise); with a bare id,
 * whoever holds it (a redelivery taking the trial over). `replicaFault` counts the release in
 * `replicaFaults`. A trial of a sweep that has ended is cancelled instead.
 */
export async function releaseTrial(db: DbClient, trial: TrialTarget, options: { workerId?: string; replicaFault?: boolean } = {}): Promise<TransitionResult<Trial>> {
  const claim = targetClaim(trial);
  const id = targetId(trial);
  const fenced = {
    from: ['running'] as TrialStatus[],
    ...(options.workerId !== undefined ? { where: { workerId: options.workerId } } : {}),
    ...(claim ? { claim } : {}),
  };
  // `replicaFault`: the attempt ended because a replica thread died or stalled; counted apart from claims.
  const queued = { ...fenced, data: { workerId: null, ...(options.replicaFault ? { replicaFaults: { increment: 1 } } : {}) } };
  const head = isUuid(id) ? await mapDbErrors(() => db.trial.findUnique({ where: { id }, select: { sweepId: true } })) : null;
  if (!head) return setTrialStatus(db, id, 'queued', queued);
  return mapDbErrors(() =>
    inTransaction(db, async (tx) => {
      // Under the sweep's row lock: a sweep that ended meanwhile (a cancel racing the release) gets
      // no queued trial, which nothing would ever run or end.
      const sweep = await lockSweep(tx, head.sweepId);
      if (sweep.status === 'completed' || sweep.status === 'failed' || sweep.status === 'cancelled') {
        return setTrialStatus(tx, id, 'cancelled', { ...fenced, data: { workerId: null, reason: `sweep ${sweep.status}` } });
      }
      return setTrialStatus(tx, id, 'queued', queued);
    }),
  );
}

export type FinishedTrialStatus = 'completed' | 'stopped' | 'failed' | 'cancelled';

export interface FinishTrialOptions {
  finalValue?: number | null;
  error?: string | null;
  /** Why it ended early, e.g. the scheduler's verdict or USER_STOP_REASON. */
  reason?: string | null;
  /** Only if this worker holds the trial. */
  workerId?: string;
}

/**
 * running → completed | stopped | failed | cancelled, and queued → cancelled. Given a claim, only
 * from running under that claim: a stale holder is refused with `claim_lost`.
 */
export async function finishTrial(
  db: DbClient,
  trial: TrialTarget,
  status: FinishedTrialStatus,
  options: FinishTrialOptions = {},
): Promise<TransitionResult<Trial>> {
  const trialId = targetId(trial);
  const claim = targetClaim(trial);
  if (options.finalValue !== undefined && options.finalValue !== null && !Number.isFinite(options.finalValue)) {
    throw new DbError('invalid_argument', `finalValue must be finite, got ${options.finalValue}`);
  }
  const data: Prisma.TrialUpdateManyMutationInput = {};
  if (options.finalValue !== undefined) data.finalValue = options.finalValue;
  if (options.error !== undefined) data.error = options.error;
  if (options.reason !== undefined) data.reason = options.reason;
  // The end and the checkpoint retention commit together: an ended trial keeps its latest and its
  // best checkpoint, nothing else.
  return mapDbErrors(() =>
    inTransaction(db, async (tx) => {
      const result = await setTrialStatus(tx, trialId, status, {
        data,
        ...(options.workerId !== undefined ? { where: { workerId: options.workerId } } : {}),
        ...(claim ? { claim } : {}),
      });
      if (result.changed) await retainFinishedCheckpoints(tx, trialId);
      return result;
    }),
  );
}

/** failed → queued: the one explicit retry. The attempt counter keeps counting. */
export async function retryTrial(db: DbClient, trialId: string): Promise<TransitionResult<Trial>> {
  return setTrialStatus(db, trialId, 'queued', { retry: true, from: ['failed'], data: { workerId: null, finishedAt: null } });
}

export interface EpochRecord {
  /** Epochs completed so far (1-based); the metric rows' `step`. */
  epoch: number;
  metrics: Readonly<Record<string, number>>;
}

export interface RecordEpochResult {
  epochsDone: number;
  bestValue: number | null;
}

/**
 * Upserts the metric rows of one or more epochs and updates `epochsDone = max(epochsDone, epoch)`
 * and `bestValue` (recomputed from the stored objective series, so a rewritten epoch stays
 * correct), in one transaction. Retrying the same write changes nothing.
 *
 * Given a claim, the write is fenced: it happens only while the trial is running under that
 * claim (checked under the sweep and trial row locks, so no takeover commits in between), rows
 * and events record its attempt, and a stale holder gets `claim_lost` with nothing written. An
 * epoch this claim already stored (a retry after a COMMIT whose answer was lost) is rewritten
 * without a second `trial.epoch` event.
 *
 * With `next`, the first epoch given must be the trial's next (epochsDone + 1), checked under the
 * locks: of concurrent reports of the same step, one is stored and the others get
 * `unique_violation` (a step already stored) or `invalid_argument` (a step out of order).
 */
export async function recordEpochs(db: DbClient, trial: TrialTarget, epochs: readonly EpochRecord[], options: { next?: boolean } = {}): Promise<RecordEpochResult> {
  const trialId = targetId(trial);
  const claim = targetClaim(trial);
  const names: string[] = [];
  const steps: number[] = [];
  const values: number[] = [];
  for (const { epoch, metrics } of epochs) {
    if (!Number.isInteger(epoch) || epoch < 0 || epoch > 2_147_483_647) throw new DbError('invalid_argument', `epoch must be a non-negative integer, got ${epoch}`);
    for (const [name, value] of Object.entries(metrics)) {
      if (!Number.isFinite(value)) throw new DbError('invalid_argument', `metric ${name} at epoch ${epoch} is not finite (${value})`);
      names.push(name);
      steps.push(epoch);
      values.push(value);
    }
  }
  if (epochs.length === 0) throw new DbError('invalid_argument', 'no epochs to record');
  const maxEpoch = Math.max(...epochs.map((e) => e.epoch));
  if (!isUuid(trialId)) throw new DbError('not_found', `no trial ${trialId}`);
  const attempt = claim ? claim.attempt : null;
  return mapDbErrors(() =>
    inTransaction(db, async (tx) => {
      const trial = await tx.trial.findUnique({
        where: { id: trialId },
        select: { number: true, sweepId: true, sweep: { select: { objectiveMetric: true, objectiveMode: true } } },
      });
      if (!trial) throw claim ? claimLost(claim, null) : new DbError('not_found', `no trial ${trialId}`);
      // The sweep row before the trial row: the lock order of every writer of sweep events.
      await lockSweep(tx, trial.sweepId);
      let replayed = new Set<number>();
      if (claim) {
        await assertClaim(tx, claim);
        // One index probe per epoch (its first metric): stored by this very claim already?
        const probes = epochs.flatMap(({ epoch, metrics }) => {
          const first = Object.keys(metrics)[0];
          return first === undefined ? [] : [{ epoch, name: first }];
        });
        const already = await tx.$queryRaw<{ step: number }[]>`
          SELECT m.step FROM unnest(${probes.map((p) => p.name)}::text[], ${probes.map((p) => p.epoch)}::int[]) AS p(name, step)
          JOIN metrics m ON m.trial_id = ${trialId}::uuid AND m.name = p.name AND m.step = p.step
          WHERE m.attempt = ${claim.attempt}::int`;
        replayed = new Set(already.map((r) => r.step));
      }
      if (options.next) {
        const { epochsDone } = await tx.trial.findUniqueOrThrow({ where: { id: trialId }, select: { epochsDone: true } });
        const first = epochs[0]!.epoch;
        if (first <= epochsDone) throw new DbError('unique_violation', `step ${first} of trial ${trialId} is already stored (steps 1..${epochsDone})`);
        if (first !== epochsDone + 1) throw new DbError('invalid_argument', `step ${first} is out of order: expected ${epochsDone + 1}`);
      }
      if (names.length > 0) {
        await tx.$executeRaw`
          INSERT INTO metrics (trial_id, name, step, value, attempt)
          SELECT ${trialId}::uuid, m.name, m.step, m.value, ${attempt}::int
          FROM unnest(${names}::text[], ${steps}::int[], ${values}::float8[]) AS m(name, step, value)
          ON CONFLICT (trial_id, name, step) DO UPDATE SET value = EXCLUDED.value, attempt = EXCLUDED.attempt`;
      }
      const { objectiveMetric, objectiveMode } = trial.sweep;
      const best =
        objectiveMode === 'minimize'
          ? tx.$queryRaw<{ v: number | null }[]>`SELECT min(value) AS v FROM metrics WHERE trial_id = ${trialId}::uuid AND name = ${objectiveMetric}`
          : tx.$queryRaw<{ v: number | null }[]>`SELECT max(value) AS v FROM metrics WHERE trial_id = ${trialId}::uuid AND name = ${objectiveMetric}`;
      const bestValue = (await best)[0]?.v ?? null;
      const updated = await tx.$queryRaw<{ epochs_done: number; best_value: number | null; old_epochs: number }[]>`
        UPDATE trials SET epochs_done = GREATEST(trials.epochs_done, ${maxEpoch}::int), best_value = ${bestValue}::float8, updated_at = now(),
          -- Only the names written here can have a new latest value: one index probe per name.
          last_metrics = last_metrics || COALESCE((
            SELECT jsonb_object_agg(n.name, (SELECT m.value FROM metrics m WHERE m.trial_id = ${trialId}::uuid AND m.name = n.name ORDER BY m.step DESC LIMIT 1))
            FROM unnest(${[...new Set(names)]}::text[]) AS n(name)
          ), '{}'::jsonb)
        FROM (SELECT epochs_done AS old_epochs FROM trials WHERE id = ${trialId}::uuid FOR UPDATE) AS before
        WHERE id = ${trialId}::uuid RETURNING trials.epochs_done, trials.best_value, before.old_epochs`;
      const row = updated[0];
      if (!row) throw new DbError('not_found', `no trial ${trialId}`);
      // New epochs count on the project's daily meter (a rewritten epoch does not).
      await meterEpochs(tx, trial.sweepId, row.epochs_done - row.old_epochs);
      for (const { epoch, metrics } of epochs) {
        if (replayed.has(epoch)) continue;
        await appendSweepEvent(tx, trial.sweepId, 'trial.epoch', { trialId, number: trial.number, epoch, metrics: { ...metrics } }, attempt);
      }
      return { epochsDone: row.epochs_done, bestValue: row.best_value };
    }),
  );
}

/** `recordEpochs` for one epoch. */
export async function recordEpoch(db: DbClient, trial: TrialTarget, epoch: number, metrics: Readonly<Record<string, number>>, options: { next?: boolean } = {}): Promise<RecordEpochResult> {
  return recordEpochs(db, trial, [{ epoch, metrics }], options);
}

export type TrialSort = 'number' | 'bestValue' | 'finalValue' | 'createdAt';

export interface ListTrialsOptions {
  status?: readonly TrialStatus[];
  sort?: TrialSort;
  order?: 'asc' | 'desc';
  limit?: number;
  cursor?: KeysetCursor | null;
}

const trialSorts: readonly TrialSort[] = ['number', 'bestValue', 'finalValue', 'createdAt'];

/**
 * A sweep's trials, keyset-paginated. Sorting by a value puts trials without one last and breaks
 * ties by `number` ascending, so pages neither skip nor repeat a trial.
 */
export async function listTrials(db: DbClient, sweepId: string, options: ListTrialsOptions = {}): Promise<Page<Trial>> {
  const sort = options.sort ?? 'number';
  const order = options.order ?? 'asc';
  const limit = clampLimit(options.limit);
  if (!trialSorts.includes(sort)) throw new DbError('invalid_argument', `cannot sort trials by ${String(sort)}`);
  if (!isUuid(sweepId)) return { items: [], nextCursor: null };
  const conditions: Prisma.TrialWhereInput[] = [{ sweepId }];
  if (options.status && options.status.length > 0) conditions.push({ status: { in: [...options.status] } });
  if (options.cursor) conditions.push(afterCursor(sort, order, options.cursor));
  const orderBy: Prisma.TrialOrderByWithRelationInput[] =
    sort === 'number'
      ? [{ number: order }]
      : sort === 'createdAt'
        ? [{ createdAt: order }, { number: 'asc' }]
        : [{ [sort]: { sort: order, nulls: 'last' } }, { number: 'asc' }];
  const rows = await mapDbErrors(() => db.trial.findMany({ where: { AND: conditions }, orderBy, take: limit + 1 }));
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  let nextCursor: KeysetCursor | null = null;
  if (rows.length > limit && last) {
    const value = sort === 'number' ? last.number : sort === 'createdAt' ? last.createdAt.toISOString() : last[sort];
    nextCursor = { sort, order, value, after: last.number };
  }
  return { items, nextCursor };
}

function afterCursor(sort: TrialSort, order: 'asc' | 'desc', cursor: KeysetCursor): Prisma.TrialWhereInput {
  const after = cursor.after;
  if (cursor.sort !== sort || cursor.order !== order || typeof after !== 'number' || !Number.isInteger(after)) {
    throw new DbError('invalid_argument', `this cursor does not continue a listing sorted by ${sort} ${order}`);
  }
  const beyond = order === 'asc' ? 'gt' : 'lt';
  if (sort === 'number') return { number: { [beyond]: after } };
  if (sort === 'createdAt') {
    const createdAt = typeof cursor.value === 'string' ? new Date(cursor.value) : new Date(Number.NaN);
    if (Number.isNaN(createdAt.getTime())) throw new DbError('invalid_argument', 'malformed createdAt cursor');
    return { OR: [{ createdAt: { [beyond]: createdAt } }, { createdAt, number: { gt: after } }] };
  }
  if (cursor.value === null) return { [sort]: null, number: { gt: after } };
  if (typeof cursor.value !== 'number') throw new DbError('invalid_argument', `malformed ${sort} cursor`);
  return { OR: [{ [sort]: { [beyond]: cursor.value } }, { [sort]: cursor.value, number: { gt: after } }, { [sort]: null }] };
}

/** @hypersweep/search's `FrozenTrial`, structurally (db does not depend on search). */
export interface FrozenTrialRecord {
  number: number;
  params: Record<string, number | string | boolean>;
  state: TrialStatus;
  reports: { step: number; value: number }[];
  value?: number;
  cellKey?: string;
}

/**
 * The sweep's trials as samplers and schedulers see them, rebuilt from Postgres: reports are the
 * objective metric per step; `value` is the final value of a completed trial (else its last
 * report), the last report of a stopped one (else its final value), undefined otherwise.
 */
export async function trialsForSearch(db: DbClient, sweepId: string): Promise<FrozenTrialRecord[]> {
  if (!isUuid(sweepId)) return [];
  return mapDbErrors(async () => {
    const sweep = await db.sweep.findUnique({ where: { id: sweepId }, select: { objectiveMetric: true } });
    if (!sweep) throw new DbError('not_found', `no sweep ${sweepId}`);
    const trials = await db.trial.findMany({ where: { sweepId }, orderBy: { number: 'asc' } });
    const metrics = await db.metric.findMany({
      where: { name: sweep.objectiveMetric, trial: { sweepId } },
      select: { trialId: true, step: true, value: true },
      orderBy: [{ trialId: 'asc' }, { step: 'asc' }],
    });
    const reportsByTrial = new Map<string, { step: number; value: number }[]>();
    for (const metric of metrics) {
      const reports = reportsByTrial.get(metric.trialId) ?? [];
      reports.push({ step: metric.step, value: metric.value });
      reportsByTrial.set(metric.trialId, reports);
    }
    return trials.map((trial) => frozenTrial(trial, reportsByTrial.get(trial.id) ?? []));
  });
}

/** The columns of a trial that `frozenTrial` reads. */
export type SearchTrialRow = Pick<Trial, 'number' | 'params' | 'status' | 'finalValue' | 'cellKey'>;

/** One trial as samplers and schedulers see it, from its row and its objective reports in step order. */
export function frozenTrial(trial: SearchTrialRow, reports: { step: number; value: number }[]): FrozenTrialRecord {
  const lastReport = reports.at(-1)?.value;
  let value: number | undefined;
  if (trial.status === 'completed') value = trial.finalValue ?? lastReport;
  else if (trial.status === 'stopped') value = lastReport ?? trial.finalValue ?? undefined;
  const frozen: FrozenTrialRecord = {
    number: trial.number,
    params: trial.params as FrozenTrialRecord['params'],
    state: trial.status,
    reports,
  };
  if (value !== undefined) frozen.value = value;
  if (trial.cellKey !== null) frozen.cellKey = trial.cellKey;
  return frozen;
}

export type RunnableTrial = Pick<Trial, 'id' | 'sweepId' | 'number' | 'status' | 'attempt' | 'workerId'>;

/** Trials Postgres holds as queued or running (for the reconciler), by sweep and number. */
export async function runnableTrials(db: DbClient, options: { sweepId?: string } = {}): Promise<RunnableTrial[]> {
  const where: Prisma.TrialWhereInput = { status: { in: ['queued', 'running'] } };
  if (options.sweepId !== undefined) {
    if (!isUuid(options.sweepId)) return [];
    where.sweepId = options.sweepId;
  }
  return mapDbErrors(() =>
    db.trial.findMany({
      where,
      select: { id: true, sweepId: true, number: true, status: true, attempt: true, workerId: true },
      orderBy: [{ sweepId: 'asc' }, { number: 'asc' }],
    }),
  );
}
