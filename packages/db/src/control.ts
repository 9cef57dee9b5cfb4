// A user's control of a sweep: pause and resume, a budget change, and delete. Each is one
// transaction under the sweep's row lock with its `sweep.control` and `sweep.updated` events, so a
// watcher sees the control in the order it happened.
import { inTransaction, isUuid, type DbClient } from './client.ts';
import { DbError, mapDbErrors } from './errors.ts';
import { appendSweepEvent, appendSweepUpdated } from './events.ts';
import type { Prisma, Sweep, Trial } from './generated/prisma/client.ts';
import type { SweepStatus } from './generated/prisma/enums.ts';
import { updateSweepStatus } from './states.ts';
import { lockSweep } from './sweeps.ts';
import { createTrial, type CreateTrialInput } from './trials.ts';

export interface ControlResult {
  /** False when the sweep was not in a state the control applies to; `sweep` is then as it stands. */
  changed: boolean;
  sweep: Sweep | null;
}

async function control(db: DbClient, sweepId: string, to: SweepStatus, from: readonly SweepStatus[], action: 'paused' | 'resumed'): Promise<ControlResult> {
  if (!isUuid(sweepId)) return { changed: false, sweep: null };
  return mapDbErrors(() =>
    inTransaction(db, async (tx) => {
      const row = await updateSweepStatus(tx, sweepId, to, { from });
      if (!row) return { changed: false, sweep: await tx.sweep.findUnique({ where: { id: sweepId } }) };
      await appendSweepEvent(tx, sweepId, 'sweep.control', { action });
      await appendSweepUpdated(tx, sweepId);
      return { changed: true, sweep: await tx.sweep.findUnique({ where: { id: sweepId } }) };
    }),
  );
}

/**
 * pending/running → paused. Nothing starts from then on; the workers of running trials see it
 * within their cancellation poll, checkpoint and release them (queued again, their epochs kept).
 */
export function pauseSweep(db: DbClient, sweepId: string): Promise<ControlResult> {
  return control(db, sweepId, 'paused', ['pending', 'running'], 'paused');
}

/** paused → running: its released trials resume from their checkpoints, the sampler goes on. */
export function resumeSweep(db: DbClient, sweepId: string): Promise<ControlResult> {
  return control(db, sweepId, 'running', ['paused'], 'resumed');
}

export interface BudgetChange {
  maxTrials?: number;
  maxConcurrentTrials?: number;
  maxTotalEpochs?: number | null;
}

/** What a budget change may not go below, named by field: the sweep's counts under its lock. */
export type BudgetRefusal = { field: string; message: string };

/**
 * Sets budget fields of an unfinished sweep, checked under its lock against what it already has
 * (maxTrials ≥ trials created, maxTotalEpochs ≥ epochs trained), then by `validate` on the sweep
 * with its new budget. Refusals come back, nothing written.
 */
export async function updateSweepBudget(
  db: DbClient,
  sweepId: string,
  change: BudgetChange,
  validate: (sweep: Sweep, budget: Record<string, unknown>) => BudgetRefusal[] = () => [],
): Promise<{ sweep: Sweep | null; refused: BudgetRefusal[]; finished: boolean }> {
  if (!isUuid(sweepId)) return { sweep: null, refused: [], finished: false };
  return mapDbErrors(() =>
    inTransaction(db, async (tx) => {
      const rows = await tx.$queryRaw<{ id: string }[]>`SELECT id::text AS id FROM sweeps WHERE id = ${sweepId}::uuid FOR NO KEY UPDATE`;
      if (rows.length === 0) return { sweep: null, refused: [], finished: false };
      const sweep = await tx.sweep.findUniqueOrThrow({ where: { id: sweepId } });
      if (sweep.status === 'completed' || sweep.status === 'failed' || sweep.status === 'cancelled') return { sweep, refused: [], finished: true };
      const created = await tx.trial.count({ where: { sweepId } });
      const [epochs] = await tx.$queryRaw<{ n: bigint | null }[]>`SELECT sum(epochs_done) AS n FROM trials WHERE sweep_id = ${sweepId}::uuid`;
      const trained = Number(epochs?.n ?? 0);
      const refused: BudgetRefusal[] = [];
      if (change.maxTrials !== undefined && change.maxTrials < created) refused.push({ field: 'maxTrials', message: `must be ≥ ${created}, the trials the sweep has already created` });
      if (change.maxTotalEpochs != null && change.maxTotalEpochs < trained) {
        refused.push({ field: 'maxTotalEpochs', message: `must be ≥ ${trained}, the epochs its trials have already trained` });
      }
      if (refused.length > 0) return { sweep, refused, finished: false };
      const budget = { ...(sweep.budget as Record<string, unknown>) };
      for (const [key, value] of Object.entries(change)) if (value !== undefined) budget[key] = value;
      const invalid = validate(sweep, budget);
      if (invalid.length > 0) return { sweep, refused: invalid, finished: false };
      await tx.sweep.update({ where: { id: sweepId }, data: { budget: budget as Prisma.InputJsonValue } });
      await appendSweepEvent(tx, sweepId, 'sweep.control', { action: 'budget', budget: change as Prisma.InputJsonValue });
      await appendSweepUpdated(tx, sweepId);
      return { sweep: await tx.sweep.findUniqueOrThrow({ where: { id: sweepId } }), refused: [], finished: false };
    }),
  );
}

/** Records that the user enqueued these trials (created with createTrial). */
export async function recordEnqueued(db: DbClient, sweepId: string, trialIds: readonly string[]): Promise<void> {
  await mapDbErrors(() =>
    inTransaction(db, async (tx) => {
      await tx.$queryRaw`SELECT 1 FROM sweeps WHERE id = ${sweepId}::uuid FOR NO KEY UPDATE`;
      await appendSweepEvent(tx, sweepId, 'sweep.control', { action: 'enqueued', trialIds: [...trialIds] });
    }),
  );
}

export type EnqueueResult = { created: Trial[]; overBudget?: undefined } | { created?: undefined; overBudget: { trials: number; maxTrials: number } };

/**
 * A user's configurations as new trials, all or none: one transaction under the project's and the
 * sweep's row locks (in createTrial's order), so concurrent enqueues cannot pass budget.maxTrials
 * together, and a cancel either comes first (sweep_not_active, nothing stored) or after.
 */
export async function enqueueTrials(db: DbClient, sweepId: string, inputs: readonly CreateTrialInput[]): Promise<EnqueueResult> {
  if (!isUuid(sweepId)) throw new DbError('not_found', `no sweep ${sweepId}`);
  return mapDbErrors(async () => {
    const head = await db.sweep.findUnique({ where: { id: sweepId }, select: { projectId: true } });
    if (!head) throw new DbError('not_found', `no sweep ${sweepId}`);
    return inTransaction(db, async (tx) => {
      // The project's row always, before the sweep's: a quota set while the batch runs makes each
      // createTrial lock it, and that must not come after the sweep's row (createTrial's order).
      await tx.$queryRaw`SELECT 1 FROM projects WHERE id = ${head.projectId}::uuid FOR NO KEY UPDATE`;
      await lockSweep(tx, sweepId);
      const { budget } = await tx.sweep.findUniqueOrThrow({ where: { id: sweepId }, select: { budget: true } });
      const maxTrials = (budget as { maxTrials?: number } | null)?.maxTrials ?? Number.POSITIVE_INFINITY;
      const trials = await tx.trial.count({ where: { sweepId } });
      if (trials + inputs.length > maxTrials) return { overBudget: { trials, maxTrials } };
      const created: Trial[] = [];
      for (const input of inputs) created.push(await createTrial(tx, sweepId, input));
      await recordEnqueued(tx, sweepId, created.map((t) => t.id));
      return { created };
    });
  });
}

/**
 * Deletes an ended sweep with its trials, metrics, checkpoints and events. A sweep not yet ended
 * is refused with DbError('illegal_transition').
 */
export async function deleteSweep(db: DbClient, sweepId: string): Promise<{ deleted: boolean; status: SweepStatus | null }> {
  if (!isUuid(sweepId)) return { deleted: false, status: null };
  return mapDbErrors(() =>
    inTransaction(db, async (tx) => {
      const rows = await tx.$queryRaw<{ status: SweepStatus }[]>`SELECT status::text AS status FROM sweeps WHERE id = ${sweepId}::uuid FOR UPDATE`;
      const status = rows[0]?.status ?? null;
      if (status === null) return { deleted: false, status: null };
      if (status !== 'completed' && status !== 'failed' && status !== 'cancelled') {
        throw new DbError('illegal_transition', `sweep ${sweepId} is ${status}; cancel it first, then delete it`);
      }
      // Trials first (metrics and checkpoints cascade with them): their count triggers update the
      // sweep row, which must not be mid-deletion in the same statement.
      await tx.trial.deleteMany({ where: { sweepId } });
      await tx.sweep.delete({ where: { id: sweepId } });
      return { deleted: true, status };
    }),
  );
}
