// The trials of a sweep as samplers and schedulers see them, kept in memory and brought up to date
// from the sweep's event log. A scheduler is asked after every epoch of every trial: rebuilding the
// whole sweep each time (`trialsForSearch`) reads O(trials × epochs) rows per epoch, which grows with
// the sweep and made a worker's heap churn grow with it.
//
// Why the delta is exact: every write to a sweep's trials or metrics appends an event in its
// transaction and bumps `sweeps.event_seq` (see events.ts). Events that concern one trial carry its
// id; the only writes that do not (a release, a retry) leave the trial queued, and queued or running
// trials are re-read at every refresh anyway. Each refresh reads one REPEATABLE READ snapshot, so the
// sequence number and the rows agree.
import { isUuid, transactionOptions, type Db } from './client.ts';
import { DbError, mapDbErrors } from './errors.ts';
import { Prisma } from './generated/prisma/client.ts';
import type { TrialStatus } from './generated/prisma/enums.ts';
import { frozenTrial, type FrozenTrialRecord, type SearchTrialRow } from './trials.ts';

const PENDING: readonly TrialStatus[] = ['queued', 'running'];

interface SweepEntry {
  /** The sweep's event_seq the records reflect; -1 before the first load. */
  seq: number;
  /** Trial id → its record. */
  records: Map<string, FrozenTrialRecord>;
  /** Ids of the records that were queued or running when read: re-read at every refresh. */
  pending: Set<string>;
  /** The records in trial-number order, as last handed out (rebuilt when something changed). */
  ordered: FrozenTrialRecord[];
  /** Refreshes of one sweep run one after another. */
  chain: Promise<unknown>;
}

export interface SearchTrialsCacheOptions {
  /** Sweeps kept in memory, least recently used dropped first (default 16). */
  maxSweeps?: number;
}

/** Counters for tests and diagnostics. */
export interface SearchTrialsCacheStats {
  /** Refreshes that found the sweep unchanged. */
  unchanged: number;
  /** Refreshes that re-read only some trials. */
  partial: number;
  /** Whole-sweep loads (first use, or after the sweep was dropped from the cache). */
  full: number;
  /** Trial rows read in all. */
  trialsRead: number;
}

/**
 * Per-process cache of `trialsForSearch`: `trials(sweepId)` returns what `trialsForSearch` would
 * return at the moment of the call, reading only the trials that changed since the last call.
 */
export class SearchTrialsCache {
  private readonly sweeps = new Map<string, SweepEntry>();
  private readonly maxSweeps: number;
  readonly stats: SearchTrialsCacheStats = { unchanged: 0, partial: 0, full: 0, trialsRead: 0 };

  constructor(
    private readonly db: Db,
    options: SearchTrialsCacheOptions = {},
  ) {
    this.maxSweeps = Math.max(1, options.maxSweeps ?? 16);
  }

  /** The sweep's trials in number order (a fresh array; the records are shared and must not be changed). */
  trials(sweepId: string): Promise<FrozenTrialRecord[]> {
    if (!isUuid(sweepId)) return Promise.resolve([]);
    let entry = this.sweeps.get(sweepId);
    if (entry) this.sweeps.delete(sweepId);
    else entry = { seq: -1, records: new Map(), pending: new Set(), ordered: [], chain: Promise.resolve() };
    // Map order is recency: the first key is the least recently used.
    this.sweeps.set(sweepId, entry);
    if (this.sweeps.size > this.maxSweeps) this.sweeps.delete(this.sweeps.keys().next().value!);
    const target = entry;
    const run = target.chain.then(() => this.refresh(sweepId, target));
    target.chain = run.catch(() => undefined);
    return run.then((ordered) => ordered.slice());
  }

  /** Drops a sweep's records (e.g. once it has finished). */
  forget(sweepId: string): void {
    this.sweeps.delete(sweepId);
  }

  private async refresh(sweepId: string, entry: SweepEntry): Promise<FrozenTrialRecord[]> {
    const update = await mapDbErrors(() =>
      this.db.$transaction((tx) => this.read(tx, sweepId, entry), { ...transactionOptions, isolationLevel: Prisma.TransactionIsolationLevel.RepeatableRead }),
    );
    if (update === null) {
      this.stats.unchanged++;
      return entry.ordered;
    }
    // Applied only after the snapshot was read in full: a failed read leaves the entry as it was.
    if (update.full) {
      entry.records.clear();
      entry.pending.clear();
    }
    for (const id of update.dropped) {
      entry.pending.delete(id);
      entry.records.delete(id);
    }
    for (const { id, record } of update.rows) {
      entry.records.set(id, record);
      if (PENDING.includes(record.state)) entry.pending.add(id);
      else entry.pending.delete(id);
    }
    entry.seq = update.seq;
    entry.ordered = [...entry.records.values()].sort((a, b) => a.number - b.number);
    if (update.full) this.stats.full++;
    else this.stats.partial++;
    this.stats.trialsRead += update.rows.length;
    return entry.ordered;
  }

  /** Reads what changed since `entry.seq` in the transaction's snapshot; null when nothing did. */
  private async read(
    tx: Prisma.TransactionClient,
    sweepId: string,
    entry: SweepEntry,
  ): Promise<{ full: boolean; seq: number; rows: { id: string; record: FrozenTrialRecord }[]; dropped: string[] } | null> {
    const sweep = await tx.sweep.findUnique({ where: { id: sweepId }, select: { eventSeq: true, objectiveMetric: true } });
    if (!sweep) throw new DbError('not_found', `no sweep ${sweepId}`);
    if (entry.seq === sweep.eventSeq) return null;
    const full = entry.seq < 0;
    let where: Prisma.TrialWhereInput = { sweepId };
    if (!full) {
      const touched = await tx.$queryRaw<{ id: string }[]>`
        SELECT DISTINCT data->>'trialId' AS id FROM sweep_events
        WHERE sweep_id = ${sweepId}::uuid AND seq > ${entry.seq}::int AND data ? 'trialId'`;
      const ids = [...new Set([...touched.map((t) => t.id).filter(isUuid), ...entry.pending])];
      where = { sweepId, OR: [{ status: { in: [...PENDING] } }, { id: { in: ids } }] };
    }
    const select = { id: true, number: true, params: true, status: true, finalValue: true, cellKey: true } as const;
    const trials: (SearchTrialRow & { id: string })[] = await tx.trial.findMany({ where, select });
    const reportsByTrial = new Map<string, { step: number; value: number }[]>();
    if (trials.length > 0) {
      const metrics = await tx.metric.findMany({
        where: full ? { name: sweep.objectiveMetric, trial: { sweepId } } : { name: sweep.objectiveMetric, trialId: { in: trials.map((t) => t.id) } },
        select: { trialId: true, step: true, value: true },
        orderBy: [{ trialId: 'asc' }, { step: 'asc' }],
      });
      for (const m of metrics) {
        let reports = reportsByTrial.get(m.trialId);
        if (!reports) reportsByTrial.set(m.trialId, (reports = []));
        reports.push({ step: m.step, value: m.value });
      }
    }
    const read = new Set(trials.map((t) => t.id));
    return {
      full,
      seq: sweep.eventSeq,
      rows: trials.map((t) => ({ id: t.id, record: frozenTrial(t, reportsByTrial.get(t.id) ?? []) })),
      // A formerly pending trial that was not read again no longer exists (trials are never deleted alone today).
      dropped: [...entry.pending].filter((id) => !read.has(id)),
    };
  }
}
