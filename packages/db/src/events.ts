// The sweep event log behind the SSE stream. Each event is written in the transaction of the change
// it reports, so a committed change always has its event and a rolled-back one never does.
import { inTransaction, isUuid, type DbClient } from './client.ts';
import { DbError, mapDbErrors } from './errors.ts';
import type { Prisma, Trial } from './generated/prisma/client.ts';
import { sweepSnapshotIn } from './snapshot.ts';

/** Postgres NOTIFY channel; the payload is `<sweepId>:<eventId>`. */
export const SWEEP_EVENTS_CHANNEL = 'hypersweep_sweep_events';

export type SweepEventType =
  | 'sweep.updated'
  | 'trial.created'
  | 'trial.started'
  | 'trial.queued'
  | 'trial.epoch'
  | 'trial.completed'
  | 'trial.stopped'
  | 'trial.failed'
  | 'sweep.control';

export interface StoredSweepEvent {
  /** Per sweep, strictly increasing from 1, in commit order. */
  id: number;
  type: SweepEventType;
  sweepId: string;
  at: Date;
  data: Prisma.JsonValue;
}

/** Why a user's stop is recorded as the trial's reason; `trial.stopped` reports it as `byUser`. */
export const USER_STOP_REASON = 'stopped by user';
export const SWEEP_CANCELLED_REASON = 'sweep cancelled';

/**
 * Appends one event. Bumping `sweeps.event_seq` row-locks the sweep until commit, so ids are
 * assigned in commit order: a reader that saw id n can never later find a committed id below n.
 */
export async function appendSweepEvent(
  tx: Prisma.TransactionClient,
  sweepId: string,
  type: SweepEventType,
  data: Prisma.InputJsonValue,
  /** The claim's attempt when a claim holder's (fenced) write appends it; stored, not sent. */
  attempt: number | null = null,
): Promise<number> {
  const rows = await tx.$queryRaw<{ event_seq: number }[]>`
    UPDATE sweeps SET event_seq = event_seq + 1 WHERE id = ${sweepId}::uuid RETURNING event_seq`;
  const seq = rows[0]?.event_seq;
  if (seq === undefined) throw new DbError('not_found', `no sweep ${sweepId}`);
  await tx.$executeRaw`
    INSERT INTO sweep_events (sweep_id, seq, type, data, attempt) VALUES (${sweepId}::uuid, ${seq}::int, ${type}, ${JSON.stringify(data)}::jsonb, ${attempt}::int)`;
  await tx.$queryRaw`SELECT pg_notify(${SWEEP_EVENTS_CHANNEL}, ${`${sweepId}:${seq}`})::text AS sent`;
  return seq;
}

/** Emits `sweep.updated` with the sweep's current status, counts, progress and best trial. */
export async function appendSweepUpdated(tx: Prisma.TransactionClient, sweepId: string, attempt: number | null = null): Promise<number> {
  const snapshot = await sweepSnapshotIn(tx, sweepId);
  return appendSweepEvent(
    tx,
    sweepId,
    'sweep.updated',
    {
      status: snapshot.status,
      counts: { ...snapshot.counts },
      progress: { ...snapshot.progress },
      best: snapshot.best ? { ...snapshot.best, params: snapshot.best.params as Prisma.InputJsonValue } : null,
    },
    attempt,
  );
}

/** The event of a trial's status change, without `sweep.updated` (a bulk change appends that once). */
export async function appendTrialEvent(tx: Prisma.TransactionClient, trial: Trial, attempt: number | null = null): Promise<void> {
  const ref = { trialId: trial.id, number: trial.number };
  switch (trial.status) {
    case 'running': {
      const resumed = await tx.checkpoint.aggregate({ where: { trialId: trial.id }, _max: { epoch: true } });
      await appendSweepEvent(tx, trial.sweepId, 'trial.started', {
        ...ref,
        attempt: trial.attempt,
        workerId: trial.workerId ?? '',
        resumedFromEpoch: resumed._max.epoch ?? 0,
      }, attempt);
      break;
    }
    case 'completed':
      await appendSweepEvent(tx, trial.sweepId, 'trial.completed', {
        ...ref,
        epochsDone: trial.epochsDone,
        finalValue: trial.finalValue,
        bestValue: trial.bestValue,
      }, attempt);
      break;
    case 'stopped':
    case 'cancelled': {
      const reason = trial.reason ?? (trial.status === 'stopped' ? 'scheduler' : 'cancelled');
      await appendSweepEvent(tx, trial.sweepId, 'trial.stopped', {
        ...ref,
        epochsDone: trial.epochsDone,
        reason,
        byUser: trial.status === 'cancelled' || reason === USER_STOP_REASON,
      }, attempt);
      break;
    }
    case 'failed':
      await appendSweepEvent(tx, trial.sweepId, 'trial.failed', { ...ref, attempt: trial.attempt, error: trial.error ?? 'unknown error' }, attempt);
      break;
    case 'queued':
      // Only a release or a retry lands here: creation appends its own `trial.created`.
      await appendSweepEvent(tx, trial.sweepId, 'trial.queued', { ...ref, attempt: trial.attempt, epochsDone: trial.epochsDone }, attempt);
      break;
  }
}

/** The events of one trial's status change: its own, then `sweep.updated`. */
export async function appendTrialTransition(tx: Prisma.TransactionClient, trial: Trial, attempt: number | null = null): Promise<void> {
  await appendTrialEvent(tx, trial, attempt);
  await appendSweepUpdated(tx, trial.sweepId, attempt);
}

/** Events with id > `afterId`, oldest first; at most `limit`. */
export async function sweepEventsAfter(db: DbClient, sweepId: string, afterId: number, limit = 1000): Promise<StoredSweepEvent[]> {
  if (!isUuid(sweepId)) return [];
  if (!Number.isInteger(afterId) || afterId < 0) throw new DbError('invalid_argument', `event id must be a non-negative integer, got ${afterId}`);
  const rows = await mapDbErrors(() =>
    db.sweepEventRow.findMany({ where: { sweepId, seq: { gt: afterId } }, orderBy: { seq: 'asc' }, take: Math.min(Math.max(limit, 1), 10_000) }),
  );
  return rows.map((row) => ({ id: row.seq, type: row.type as SweepEventType, sweepId: row.sweepId, at: row.createdAt, data: row.data }));
}

/** Runs `fn` in a transaction that holds the sweep's row lock first (the lock order of every event writer). */
export async function withSweepRowLock<T>(db: DbClient, sweepId: string, fn: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
  return inTransaction(db, async (tx) => {
    const rows = await tx.$queryRaw<{ id: string }[]>`SELECT id::text AS id FROM sweeps WHERE id = ${sweepId}::uuid FOR NO KEY UPDATE`;
    if (rows.length === 0) throw new DbError('not_found', `no sweep ${sweepId}`);
    return fn(tx);
  });
}
