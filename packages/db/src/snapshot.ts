// A sweep's live figures (counts per state, progress against its budget, best trial), computed in
// a few grouped queries for any number of sweeps: the API's sweep pages and `sweep.updated` events.
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

type SweepHead = Pick<Sweep, 'id' | 'status' | 'budget' | 'bestTrialId'>;

function emptyCounts(): TrialCounts {
  return { queued: 0, running: 0, completed: 0, stopped: 0, failed: 0, cancelled: 0, total: 0 };
}

function budgetNumber(budget: Prisma.JsonValue, key: string): number | null {
  if (budget === null || typeof budget !== 'object' || Array.isArray(budget)) return null;
  const value = (budget as Record<string, unknown>)[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** Snapshots of `sweeps`, in their order, from three queries whatever their number. */
export async function sweepSnapshots(db: DbClient, sweeps: readonly SweepHead[]): Promise<SweepSnapshot[]> {
  if (sweeps.length === 0) return [];
  const ids = sweeps.map((s) => s.id);
  const bestIds = sweeps.flatMap((s) => (s.bestTrialId ? [s.bestTrialId] : []));
  return mapDbErrors(async () => {
    const groups = await db.trial.groupBy({
      by: ['sweepId', 'status'],
      where: { sweepId: { in: ids } },
      _count: { _all: true },
      _sum: { epochsDone: true },
    });
    const bests = bestIds.length
      ? await db.trial.findMany({ where: { id: { in: bestIds } }, select: { id: true, number: true, params: true, finalValue: true, bestValue: true } })
      : [];
    const counts = new Map<string, TrialCounts>();
    const epochs = new Map<string, number>();
    for (const group of groups) {
      const c = counts.get(group.sweepId) ?? emptyCounts();
      c[group.status] += group._count._all;
      c.total += group._count._all;
      counts.set(group.sweepId, c);
      epochs.set(group.sweepId, (epochs.get(group.sweepId) ?? 0) + (group._sum.epochsDone ?? 0));
    }
    const bestById = new Map(bests.map((b) => [b.id, b]));
    return sweeps.map((sweep) => {
      const c = counts.get(sweep.id) ?? emptyCounts();
      const trialsFinished = c.completed + c.stopped + c.failed + c.cancelled;
      const maxTrials = budgetNumber(sweep.budget, 'maxTrials') ?? 0;
      const maxTotalEpochs = budgetNumber(sweep.budget, 'maxTotalEpochs');
      const epochsDone = epochs.get(sweep.id) ?? 0;
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
    db.sweep.findUnique({ where: { id: sweepId }, select: { id: true, status: true, budget: true, bestTrialId: true } }),
  );
  if (!sweep) throw new DbError('not_found', `no sweep ${sweepId}`);
  const [snapshot] = await sweepSnapshots(db, [sweep]);
  if (!snapshot) throw new DbError('not_found', `no sweep ${sweepId}`);
  return snapshot;
}
