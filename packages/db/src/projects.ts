// Projects and their quotas. A quota is checked under the project's row lock, taken first by every
// writer that can exceed one, so concurrent submissions and claims (any number of API replicas and
// workers) never pass it together.
import { inTransaction, isUuid, type DbClient } from './client.ts';
import { DbError, isUniqueViolation, mapDbErrors, toDbError } from './errors.ts';
import type { Prisma, Project } from './generated/prisma/client.ts';

/**
 * Sweeps that count against maxActiveSweeps: a paused one still holds its trials. (Trial quotas
 * count trials by their own status, whatever their sweep's: a cancelled sweep's trial still runs
 * until its worker stops it.)
 */
export const ACTIVE_SWEEP_STATUSES = ['pending', 'running', 'paused'] as const;

/** The project of everything made before projects existed, and of requests that name none. */
export const DEFAULT_PROJECT_ID = '00000000-0000-4000-8000-000000000001';
export const DEFAULT_PROJECT_NAME = 'default';

export const QUOTA_NAMES = ['maxRunningTrials', 'maxQueuedTrials', 'maxActiveSweeps', 'maxEpochsPerDay', 'maxDatasetBytes'] as const;
export type QuotaName = (typeof QUOTA_NAMES)[number];
/** Null: unlimited. */
export type Quotas = Record<QuotaName, number | null>;

export interface ProjectInfo {
  id: string;
  name: string;
  createdAt: Date;
  quotas: Quotas;
}

export interface ProjectUsage {
  runningTrials: number;
  queuedTrials: number;
  activeSweeps: number;
  epochsToday: number;
  datasetBytes: number;
}

/** A quota a write would exceed; the API answers 429 (or 413 for storage) naming it. */
export class QuotaExceeded extends DbError {
  readonly quota: QuotaName;
  readonly limit: number;
  readonly used: number;

  constructor(quota: QuotaName, limit: number, used: number, what: string) {
    super('quota_exceeded', `project quota ${quota} (${limit}) reached: ${what}`, { transient: false });
    this.quota = quota;
    this.limit = limit;
    this.used = used;
  }
}

export function projectInfo(row: Project): ProjectInfo {
  return {
    id: row.id,
    name: row.name,
    createdAt: row.createdAt,
    quotas: {
      maxRunningTrials: row.maxRunningTrials,
      maxQueuedTrials: row.maxQueuedTrials,
      maxActiveSweeps: row.maxActiveSweeps,
      maxEpochsPerDay: row.maxEpochsPerDay,
      maxDatasetBytes: row.maxDatasetBytes === null ? null : Number(row.maxDatasetBytes),
    },
  };
}

function quotaData(quotas: Partial<Quotas>): Prisma.ProjectUpdateInput {
  const data: Prisma.ProjectUpdateInput = {};
  for (const name of QUOTA_NAMES) {
    const value = quotas[name];
    if (value === undefined) continue;
    if (value !== null && (!Number.isSafeInteger(value) || value < 0)) throw new DbError('invalid_argument', `${name} must be a non-negative integer or null, got ${value}`);
    if (name === 'maxDatasetBytes') data.maxDatasetBytes = value === null ? null : BigInt(value);
    else data[name] = value;
  }
  return data;
}

/** A new project; a taken name is DbError('unique_violation'). */
export async function createProject(db: DbClient, name: string, quotas: Partial<Quotas> = {}): Promise<ProjectInfo> {
  try {
    const row = await db.project.create({ data: { ...(quotaData(quotas) as Omit<Prisma.ProjectCreateInput, 'name'>), name } });
    return projectInfo(row);
  } catch (error) {
    if (isUniqueViolation(error)) throw new DbError('unique_violation', `a project named ${JSON.stringify(name)} exists`, { cause: error });
    throw toDbError(error);
  }
}

export async function getProjectByName(db: DbClient, name: string): Promise<ProjectInfo | null> {
  const row = await mapDbErrors(() => db.project.findUnique({ where: { name } }));
  return row ? projectInfo(row) : null;
}

export async function getProject(db: DbClient, id: string): Promise<ProjectInfo | null> {
  if (!isUuid(id)) return null;
  const row = await mapDbErrors(() => db.project.findUnique({ where: { id } }));
  return row ? projectInfo(row) : null;
}

/** Projects by name; `ids` narrows to those (a scoped token's). */
export async function listProjects(db: DbClient, ids?: readonly string[]): Promise<ProjectInfo[]> {
  const rows = await mapDbErrors(() => db.project.findMany({ where: ids ? { id: { in: [...ids] } } : {}, orderBy: { name: 'asc' } }));
  return rows.map(projectInfo);
}

/** Sets the given quotas (null lifts one); null when the project does not exist. */
export async function updateProjectQuotas(db: DbClient, id: string, quotas: Partial<Quotas>): Promise<ProjectInfo | null> {
  if (!isUuid(id)) return null;
  const data = quotaData(quotas);
  const { count } = await mapDbErrors(() => db.project.updateMany({ where: { id }, data: data as Prisma.ProjectUpdateManyMutationInput }));
  return count === 1 ? getProject(db, id) : null;
}

/** The UTC day an epoch counts on. */
function utcDay(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

/** What the project uses now, against its quotas. */
export async function projectUsage(db: DbClient, projectId: string, now: Date = new Date()): Promise<ProjectUsage> {
  return mapDbErrors(async () => {
    const [trials] = await db.$queryRaw<{ running: bigint; queued: bigint }[]>`
      SELECT count(*) FILTER (WHERE t.status = 'running') AS running, count(*) FILTER (WHERE t.status = 'queued') AS queued
      FROM trials t JOIN sweeps s ON s.id = t.sweep_id
      WHERE s.project_id = ${projectId}::uuid AND t.status IN ('queued', 'running')`;
    const activeSweeps = await db.sweep.count({ where: { projectId, status: { in: [...ACTIVE_SWEEP_STATUSES] } } });
    const usage = await db.projectUsage.findUnique({ where: { projectId_day: { projectId, day: utcDay(now) } } });
    const [bytes] = await db.$queryRaw<{ bytes: bigint | null }[]>`SELECT sum(octet_length(data)) AS bytes FROM datasets WHERE project_id = ${projectId}::uuid`;
    return {
      runningTrials: Number(trials?.running ?? 0),
      queuedTrials: Number(trials?.queued ?? 0),
      activeSweeps,
      epochsToday: usage?.epochs ?? 0,
      datasetBytes: Number(bytes?.bytes ?? 0),
    };
  });
}

type QuotaRow = { max_running_trials: number | null; max_queued_trials: number | null; max_active_sweeps: number | null; max_epochs_per_day: number | null; max_dataset_bytes: bigint | null };

/**
 * The project's quotas, its row locked for this transaction when `lock`: the first lock of any
 * quota-bound write. NO KEY UPDATE, so foreign-key checks of writers already holding a sweep's
 * lock (an epoch's meter row, a new sweep) do not wait on it: no lock cycle with them.
 */
async function readQuotas(tx: Prisma.TransactionClient, projectId: string, lock: boolean): Promise<Quotas> {
  const rows = lock
    ? await tx.$queryRaw<QuotaRow[]>`SELECT max_running_trials, max_queued_trials, max_active_sweeps, max_epochs_per_day, max_dataset_bytes FROM projects WHERE id = ${projectId}::uuid FOR NO KEY UPDATE`
    : await tx.$queryRaw<QuotaRow[]>`SELECT max_running_trials, max_queued_trials, max_active_sweeps, max_epochs_per_day, max_dataset_bytes FROM projects WHERE id = ${projectId}::uuid`;
  const row = rows[0];
  if (!row) throw new DbError('not_found', `no project ${projectId}`);
  return {
    maxRunningTrials: row.max_running_trials,
    maxQueuedTrials: row.max_queued_trials,
    maxActiveSweeps: row.max_active_sweeps,
    maxEpochsPerDay: row.max_epochs_per_day,
    maxDatasetBytes: row.max_dataset_bytes === null ? null : Number(row.max_dataset_bytes),
  };
}

/** Trials of the project in `status`, counted inside the caller's transaction. */
export async function countProjectTrials(tx: Prisma.TransactionClient, projectId: string, status: 'queued' | 'running'): Promise<number> {
  const [row] = await tx.$queryRaw<{ n: bigint }[]>`
    SELECT count(*) AS n FROM trials t JOIN sweeps s ON s.id = t.sweep_id
    WHERE s.project_id = ${projectId}::uuid AND t.status = ${status}::"TrialStatus"`;
  return Number(row?.n ?? 0);
}

/** Epochs the project trained today (UTC), inside the caller's transaction. */
export async function epochsToday(tx: Prisma.TransactionClient, projectId: string, now: Date = new Date()): Promise<number> {
  const row = await tx.projectUsage.findUnique({ where: { projectId_day: { projectId, day: utcDay(now) } } });
  return row?.epochs ?? 0;
}

/** Adds `epochs` to the project's meter of today (inside the caller's transaction). */
export async function meterEpochs(tx: Prisma.TransactionClient, sweepId: string, epochs: number): Promise<void> {
  if (epochs <= 0) return;
  await tx.$executeRaw`
    INSERT INTO project_usage (project_id, day, epochs)
    SELECT s.project_id, (now() AT TIME ZONE 'UTC')::date, ${epochs}::int FROM sweeps s WHERE s.id = ${sweepId}::uuid
    ON CONFLICT (project_id, day) DO UPDATE SET epochs = project_usage.epochs + EXCLUDED.epochs`;
}

/**
 * Why the project's trial `trialId` may not start now (its running-trials or daily-epochs quota),
 * or null. Called by a claim inside its transaction, holding the project's lock (withProjectLock).
 */
export async function startRefusal(tx: Prisma.TransactionClient, projectId: string, quotas: Quotas): Promise<QuotaExceeded | null> {
  if (quotas.maxRunningTrials !== null) {
    const running = await countProjectTrials(tx, projectId, 'running');
    if (running >= quotas.maxRunningTrials) return new QuotaExceeded('maxRunningTrials', quotas.maxRunningTrials, running, `${running} trials are running`);
  }
  if (quotas.maxEpochsPerDay !== null) {
    const used = await epochsToday(tx, projectId);
    if (used >= quotas.maxEpochsPerDay) return new QuotaExceeded('maxEpochsPerDay', quotas.maxEpochsPerDay, used, `${used} epochs trained today (UTC)`);
  }
  return null;
}

/** The project of a sweep, or null. */
export async function projectOfSweep(db: DbClient, sweepId: string): Promise<string | null> {
  if (!isUuid(sweepId)) return null;
  const row = await mapDbErrors(() => db.sweep.findUnique({ where: { id: sweepId }, select: { projectId: true } }));
  return row?.projectId ?? null;
}

/**
 * Runs `fn` in a transaction with the project's quotas, holding the project's row lock when one
 * of the quotas the write is `bound` by is set. A project without them (the default) does not
 * serialise its writers; a quota set meanwhile binds the next write.
 */
export async function withProjectLock<T>(
  db: DbClient,
  projectId: string,
  bound: readonly QuotaName[],
  fn: (tx: Prisma.TransactionClient, quotas: Quotas) => Promise<T>,
): Promise<T> {
  return inTransaction(db, async (tx) => {
    const quotas = await readQuotas(tx, projectId, false);
    return fn(tx, bound.some((name) => quotas[name] !== null) ? await readQuotas(tx, projectId, true) : quotas);
  });
}
