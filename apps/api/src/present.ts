// Database rows → the response shapes of @hypersweep/schemas (the only place that knows both).
import { listProjects, sweepSnapshots, type Db, type Sweep as SweepRow, type SweepSnapshot, type Trial as TrialRow } from '@hypersweep/db';
import type { Sweep, SweepRequest, SweepSummary, Trial } from '@hypersweep/schemas';

type TrialParams = Trial['params'];

function testResultOf(row: SweepRow): Sweep['testResult'] {
  const stored = row.testResult as Record<string, unknown> | null;
  if (!stored || typeof stored !== 'object' || typeof stored.trialId !== 'string' || 'error' in stored) return null;
  const metrics: Record<string, number> = {};
  const put = (name: string, value: unknown) => {
    if (typeof value === 'number' && Number.isFinite(value)) metrics[name] = value;
  };
  put('test_loss', stored.loss);
  put('test_accuracy', stored.accuracy);
  put('test_top3_accuracy', stored.top3Accuracy);
  put('test_top5_accuracy', stored.top5Accuracy);
  put('test_mae', stored.mae);
  put('test_rmse', stored.rmse);
  const matrix = stored.confusionMatrix;
  const names = stored.classNames;
  const isMatrix = Array.isArray(matrix) && matrix.every((r) => Array.isArray(r) && r.every((v) => Number.isInteger(v) && (v as number) >= 0));
  return {
    trialId: stored.trialId,
    metrics,
    ...(isMatrix ? { confusionMatrix: matrix as number[][] } : {}),
    ...(isMatrix && Array.isArray(names) && names.every((n) => typeof n === 'string') ? { classNames: names as string[] } : {}),
    evaluatedAt: (row.finishedAt ?? row.updatedAt).toISOString(),
  };
}

/** A failed test evaluation is reported as the sweep's error when the sweep has none of its own. */
function errorOf(row: SweepRow): string | null {
  if (row.error) return row.error;
  const stored = row.testResult as Record<string, unknown> | null;
  if (stored && typeof stored === 'object' && typeof stored.error === 'string') return `test evaluation failed: ${stored.error}`;
  return null;
}

export function presentSummary(row: SweepRow, snapshot: SweepSnapshot, project?: string): SweepSummary {
  const spec = row.spec as unknown as SweepRequest;
  return {
    id: row.id,
    name: row.name,
    ...(project !== undefined ? { project } : {}),
    description: spec.description ?? null,
    status: row.status,
    objective: { metric: spec.objective.metric, mode: spec.objective.mode },
    seed: row.seed,
    counts: snapshot.counts,
    progress: snapshot.progress,
    best: snapshot.best ? { ...snapshot.best, params: snapshot.best.params as TrialParams } : null,
    testResult: testResultOf(row),
    error: errorOf(row),
    lastEventId: row.eventSeq,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    finishedAt: row.finishedAt?.toISOString() ?? null,
  };
}

export function presentSweep(row: SweepRow, snapshot: SweepSnapshot, project?: string): Sweep {
  // The budget in force: a PATCH changes the sweep's budget, not the submitted spec (an idempotent retry still matches it).
  const spec = row.spec as unknown as Sweep['spec'];
  const search = { ...spec.search, budget: { ...spec.search.budget, ...(row.budget as object) } };
  return { ...presentSummary(row, snapshot, project), spec: { ...spec, search } as Sweep['spec'] };
}

/** Project id → name, for the rows' projects (one query; a project's name never changes). */
async function projectNames(db: Db, rows: readonly SweepRow[]): Promise<Map<string, string>> {
  const ids = [...new Set(rows.map((row) => row.projectId))];
  return new Map((await listProjects(db, ids)).map((p) => [p.id, p.name]));
}

export async function presentSweeps(db: Db, rows: readonly SweepRow[]): Promise<SweepSummary[]> {
  const [snapshots, names] = await Promise.all([sweepSnapshots(db, rows), projectNames(db, rows)]);
  return rows.map((row, i) => presentSummary(row, snapshots[i]!, names.get(row.projectId)));
}

export async function presentSweepFull(db: Db, row: SweepRow): Promise<Sweep> {
  const [[snapshot], names] = await Promise.all([sweepSnapshots(db, [row]), projectNames(db, [row])]);
  return presentSweep(row, snapshot!, names.get(row.projectId));
}

export function presentTrials(rows: readonly TrialRow[]): Trial[] {
  return rows.map((row) => ({
    id: row.id,
    sweepId: row.sweepId,
    number: row.number,
    params: row.params as TrialParams,
    status: row.status,
    attempt: row.attempt,
    workerId: row.workerId,
    epochsDone: row.epochsDone,
    bestValue: row.bestValue,
    finalValue: row.finalValue,
    // Kept by recordEpochs on the trial row: a page of trials is one query.
    lastMetrics: row.lastMetrics as Record<string, number>,
    reason: row.reason,
    error: row.error,
    createdAt: row.createdAt.toISOString(),
    startedAt: row.startedAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
  }));
}
