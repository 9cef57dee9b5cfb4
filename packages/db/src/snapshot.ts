// A sweep's live figures (counts per state, progress against its budget, best trial): the counts are
// columns of the sweep row, kept by triggers on `trials` (migration 20261220000000_sweep_counts), so any
// number of sweeps costs one query, for their best trials. The API's sweep pages and `sweep.updated` events.
import { isUuid, type DbClient } from './client.ts';
import { DbError, mapDbErrors } from './errors.ts';
import type { Prisma, Sweep } from './generated/prisma/client.ts';
import type { SweepStatus } from './generated/prisma/enums.ts';
import type { TrialCounts } from './sweeps.ts';

export interface SweepProgressSnapshot {
  trialsFinished: number;
  maxTrials: number;
  epochsDone: number;
  maxTotalEpochs: number | null;
  /** 0..1: the larger of the trial and epoch fractions; 1 once the sweep is finished. */
  fraction: number;
}

export interface BestTrialSnapshot {
  trialId: string;
  number: number;
  value: number;
  params: Prisma.JsonValue;
}

export interface SweepSnapshot {
  status: SweepStatus;
  counts: TrialCounts;
  progress: SweepProgressSnapshot;
  best: BestTrialSnapshot | null;
}

/** The trigger-kept count columns of a sweep row. */
export const sweepCountsSelect = {
  trialsQueued: true,
  trialsRunning: true,
  trialsCompleted: true,
  trialsStopped: true,
  trialsFailed: true,
  trialsCancelled: true,
} as const satisfies Prisma.SweepSelect;

/** The columns of a sweep row that its snapshot reads. */
export const sweepHeadSelect = {
  id: true,
  status: true,
  budget: true,
  bestTrialId: true,
  epochsDone: true,
  ...sweepCountsSelect,
} as const satisfies Prisma.SweepSelect;

export type SweepHead = Pick<Sweep, keyof typeof sweepHeadSelect>;

/** A sweep row's counts in the shape of `trialCounts`. */
export function countsOf(sweep: Pick<Sweep, keyof typeof sweepCountsSelect>): TrialCounts {
  const counts = {
    queued: sweep.trialsQueued,
    running: sweep.trialsRunning,
    completed: sweep.trialsCompleted,
    stopped: sweep.trialsStopped,
    failed: sweep.trialsFailed,
    cancelled: sweep.trialsCancelled,
  };
  return { ...counts, total: counts.queued + counts.running + counts.completed + counts.stopped + counts.failed + counts.cancelled };
}

function budgetNumber(budget: Prisma.JsonValue, key: string): number | null {
  if (budget === null || typeof budget !== 'object' || Array.isArray(budget)) return null;
  const value = (budget as Record<string, unknown>)[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** Snapshots of `sweeps`, in their order: one query (their best trials), none when no sweep has one. */
export async function sweepSnapshots(db: DbClient, sweeps: readonly SweepHead[]): Promise<SweepSnapshot[]> {
  if (sweeps.length === 0) return [];
  const bestIds = sweeps.flatMap((s) => (s.bestTrialId ? [s.bestTrialId] : []));
  return mapDbErrors(async () => {
    const bests = bestIds.length
      ? await db.trial.findMany({ where: { id: { in: bestIds } }, select: { id: true, number: true, params: true, finalValue: true, bestValue: true } })
      : [];
    const bestById = new Map(bests.map((b) => [b.id, b]));
    return sweeps.map((sweep) => {
      const c = countsOf(sweep);
      const trialsFinished = c.completed + c.stopped + c.failed + c.cancelled;
      const maxTrials = budgetNumber(sweep.budget, 'maxTrials') ?? 0;
      const maxTotalEpochs = budgetNumber(sweep.budget, 'maxTotalEpochs');
      const epochsDone = sweep.epochsDone;
      let fraction = sweep.status === 'completed' || sweep.status === 'cancelled' || sweep.status === 'failed' ? 1 : 0;
      if (fraction < 1) {
        const byTrials = maxTrials > 0 ? trialsFinished / maxTrials : 0;
        const byEpochs = maxTotalEpochs ? epochsDone / maxTotalEpochs : 0;
        fraction = Math.min(1, Math.max(byTrials, byEpochs));
      }
      const b = sweep.bestTrialId ? bestById.get(sweep.bestTrialId) : undefined;
      const value = b ? (b.finalValue ?? b.bestValue) : null;
      return {
        status: sweep.status,
        counts: c,
        progress: { trialsFinished, maxTrials, epochsDone, maxTotalEpochs, fraction },
        best: b && value !== null ? { trialId: b.id, number: b.number, value, params: b.params } : null,
      };
    });
  });
}

/** The snapshot of one sweep (inside a transaction, it sees that transaction's writes). */
export async function sweepSnapshotIn(db: DbClient, sweepId: string): Promise<SweepSnapshot> {
  if (!isUuid(sweepId)) throw new DbError('not_found', `no sweep ${sweepId}`);
  const sweep = await mapDbErrors(() =>
    db.sweep.findUnique({ where: { id: sweepId }, select: sweepHeadSelect }),
  );
  if (!sweep) throw new DbError('not_found', `no sweep ${sweepId}`);
  const [snapshot] = await sweepSnapshots(db, [sweep]);
  if (!snapshot) throw new DbError('not_found', `no sweep ${sweepId}`);
  return snapshot;
}
