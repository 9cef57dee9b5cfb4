// The Sweep and Trial state machines, and the only two statements that write a status
// (`updateSweepStatus`, `updateTrialStatuses`); every status change in this package goes through them.
import { DbError, mapDbErrors } from './errors.ts';
import { inTransaction, isUuid, type DbClient } from './client.ts';
import { appendSweepUpdated, appendTrialTransition, withSweepRowLock } from './events.ts';
import { claimLost, type TrialClaim } from './claims.ts';
import type { Prisma, Sweep, Trial } from './generated/prisma/client.ts';
import type { SweepStatus, TrialStatus } from './generated/prisma/enums.ts';

/** Legal sweep transitions, from → to. Terminal states have none. */
export const SWEEP_TRANSITIONS: Readonly<Record<SweepStatus, readonly SweepStatus[]>> = {
  pending: ['running', 'paused', 'cancelled'],
  running: ['completed', 'cancelled', 'failed', 'paused'],
  paused: ['running', 'cancelled'],
  completed: [],
  cancelled: [],
  failed: [],
};

/**
 * Legal trial transitions, from → to. running → queued is a release (graceful shutdown, or a
 * redelivered job taking over a dead worker's trial). failed → queued is deliberately absent: it
 * is legal only for an explicit retry (`{ retry: true }`, see `retryTrial`).
 */
export const TRIAL_TRANSITIONS: Readonly<Record<TrialStatus, readonly TrialStatus[]>> = {
  queued: ['running', 'cancelled'],
  running: ['completed', 'stopped', 'failed', 'cancelled', 'queued'],
  completed: [],
  stopped: [],
  failed: [],
  cancelled: [],
};

export const TERMINAL_SWEEP_STATUSES: readonly SweepStatus[] = ['completed', 'cancelled', 'failed'];
export const TERMINAL_TRIAL_STATUSES: readonly TrialStatus[] = ['completed', 'stopped', 'failed', 'cancelled'];

export interface TransitionOptions {
  /** Trial only: allows failed → queued, the one transition reserved for an explicit retry. */
  retry?: boolean;
}

type StatusOf = { sweep: SweepStatus; trial: TrialStatus };
export type Entity = keyof StatusOf;

export function canTransition<E extends Entity>(entity: E, from: StatusOf[E], to: StatusOf[E], options: TransitionOptions = {}): boolean {
  if (entity === 'sweep') return SWEEP_TRANSITIONS[from as SweepStatus]?.includes(to as SweepStatus) ?? false;
  if (options.retry === true && from === 'failed' && to === 'queued') return true;
  return TRIAL_TRANSITIONS[from as TrialStatus]?.includes(to as TrialStatus) ?? false;
}

/** Throws DbError('illegal_transition') naming the entity, from and to. */
export function assertTransition<E extends Entity>(entity: E, from: StatusOf[E], to: StatusOf[E], options: TransitionOptions = {}): void {
  if (!canTransition(entity, from, to, options)) {
    throw new DbError('illegal_transition', `illegal ${entity} transition: ${from} → ${to}`);
  }
}

/** Every status from which `to` is legal. */
export function legalSources<E extends Entity>(entity: E, to: StatusOf[E], options: TransitionOptions = {}): StatusOf[E][] {
  const table = (entity === 'sweep' ? SWEEP_TRANSITIONS : TRIAL_TRANSITIONS) as Record<StatusOf[E], readonly StatusOf[E][]>;
  return (Object.keys(table) as StatusOf[E][]).filter((from) => canTransition(entity, from, to, options));
}

/** `row` is the updated row when `changed`, otherwise the current one (null if it does not exist). */
export interface TransitionResult<Row> {
  changed: boolean;
  row: Row | null;
}

function sourcesFor<E extends Entity>(entity: E, to: StatusOf[E], from: readonly StatusOf[E][] | undefined, options: TransitionOptions) {
  if (from === undefined) return legalSources(entity, to, options);
  for (const status of from) assertTransition(entity, status, to, options);
  return [...from];
}

export interface SetSweepStatusOptions {
  /** Restricts the sources further (each must be legal); defaults to every legal source. */
  from?: readonly SweepStatus[];
  /** Other columns written in the same statement. `finishedAt` defaults to now for terminal states. */
  data?: Omit<Prisma.SweepUpdateManyMutationInput, 'status'>;
}

/**
 * The one statement that writes `Sweep.status`: a conditional UPDATE (`WHERE id AND status IN
 * sources`) in the caller's transaction. Returns the updated row, or null when the sweep is
 * missing or not in a legal source state. It appends no event: callers do, in the same
 * transaction (`setSweepStatus`, or `cancelSweep` after the sweep's trials).
 */
export async function updateSweepStatus(tx: Prisma.TransactionClient, sweepId: string, to: SweepStatus, options: SetSweepStatusOptions = {}): Promise<Sweep | null> {
  const sources = sourcesFor('sweep', to, options.from, {});
  if (!isUuid(sweepId)) return null;
  const data: Prisma.SweepUpdateManyMutationInput = { ...options.data, status: to };
  if (TERMINAL_SWEEP_STATUSES.includes(to) && data.finishedAt === undefined) data.finishedAt = new Date();
  const [row] = await tx.sweep.updateManyAndReturn({ where: { id: sweepId, status: { in: sources } }, data });
  return row ?? null;
}

/**
 * A sweep's status change with its `sweep.updated` event: of concurrent callers exactly one
 * wins, and no read-then-write race exists.
 */
export async function setSweepStatus(db: DbClient, sweepId: string, to: SweepStatus, options: SetSweepStatusOptions = {}): Promise<TransitionResult<Sweep>> {
  sourcesFor('sweep', to, options.from, {}); // an illegal `from` throws even for an id that cannot exist
  if (!isUuid(sweepId)) return { changed: false, row: null };
  return mapDbErrors(() =>
    inTransaction(db, async (tx) => {
      const row = await updateSweepStatus(tx, sweepId, to, options);
      if (!row) return { changed: false, row: await tx.sweep.findUnique({ where: { id: sweepId } }) };
      await appendSweepUpdated(tx, sweepId);
      return { changed: true, row };
    }),
  );
}

export interface SetTrialStatusOptions extends TransitionOptions {
  from?: readonly TrialStatus[];
  /** Other columns written in the same statement. `finishedAt` defaults to now for terminal states. */
  data?: Omit<Prisma.TrialUpdateManyMutationInput, 'status'>;
  /** Extra conditions, e.g. `{ workerId }` so only the holder releases its trial. */
  where?: Omit<Prisma.TrialWhereInput, 'id' | 'status'>;
  /**
   * Fences the change on a worker's claim: it happens only if the trial is `running` under this
   * attempt and worker, and is refused with `DbError('claim_lost')` otherwise. Its events record the attempt.
   */
  claim?: TrialClaim;
}

/**
 * The one statement that writes `Trial.status`: a conditional UPDATE of the trials matching
 * `where` (one trial by id, or a sweep's trials) whose status is a legal source, in the caller's
 * transaction, which holds the sweep row lock first. Returns the updated rows; appends no event
 * (callers append each row's `appendTrialEvent` and one `sweep.updated`).
 */
export async function updateTrialStatuses(
  tx: Prisma.TransactionClient,
  where: Omit<Prisma.TrialWhereInput, 'status'>,
  to: TrialStatus,
  options: Omit<SetTrialStatusOptions, 'where'> = {},
): Promise<Trial[]> {
  const sources = sourcesFor('trial', to, options.from, options);
  const data: Prisma.TrialUpdateManyMutationInput = { ...options.data, status: to };
  if (TERMINAL_TRIAL_STATUSES.includes(to) && data.finishedAt === undefined) data.finishedAt = new Date();
  return tx.trial.updateManyAndReturn({ where: { ...where, status: { in: sources } }, data });
}

/** A trial's status change with its events; same contract as `setSweepStatus`. */
export async function setTrialStatus(db: DbClient, trialId: string, to: TrialStatus, options: SetTrialStatusOptions = {}): Promise<TransitionResult<Trial>> {
  const { where, claim, ...rest } = options;
  if (claim) {
    if (claim.trialId !== trialId) throw new DbError('invalid_argument', `claim of trial ${claim.trialId} used for trial ${trialId}`);
    // A holder changes its trial only from running; `from` may narrow nothing else.
    rest.from = ['running'];
  }
  sourcesFor('trial', to, rest.from, rest); // an illegal `from` throws even for an id that cannot exist
  if (!isUuid(trialId)) {
    if (claim) throw claimLost(claim, null);
    return { changed: false, row: null };
  }
  const fence: Prisma.TrialWhereInput = claim ? { workerId: claim.workerId, attempt: claim.attempt } : {};
  return mapDbErrors(async () => {
    const head = await db.trial.findUnique({ where: { id: trialId }, select: { sweepId: true } });
    if (!head) {
      if (claim) throw claimLost(claim, null);
      return { changed: false, row: null };
    }
    // Sweep row first, then the trial: the lock order of every writer of sweep events.
    return withSweepRowLock(db, head.sweepId, async (tx) => {
      const [row] = await updateTrialStatuses(tx, { ...where, ...fence, id: trialId }, to, rest);
      if (!row) {
        const current = await tx.trial.findUnique({ where: { id: trialId } });
        if (claim) throw claimLost(claim, current);
        return { changed: false, row: current };
      }
      // A claim (→ running) and a holder's own change record the attempt they were written under.
      await appendTrialTransition(tx, row, claim ? claim.attempt : to === 'running' ? row.attempt : null);
      return { changed: true, row };
    });
  });
}
