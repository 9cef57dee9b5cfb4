// Fencing: a worker's writes of a trial's progress hold only while it still holds the trial.
import { DbError } from './errors.ts';
import type { Prisma, Trial } from './generated/prisma/client.ts';

/**
 * What a worker holds after `claimTrial`: the trial, the attempt its claim made (the counter goes
 * up with every claim, so it names one claim for good) and the worker. Passed instead of a trial
 * id to the progress writes (`recordEpochs`, `saveCheckpoint`, `pruneCheckpoints`, `finishTrial`,
 * `releaseTrial`), it makes each of them conditional, inside its transaction, on the trial still
 * being `running` under exactly this attempt and worker; otherwise the write is refused with
 * `DbError('claim_lost')` and leaves nothing behind (no row, no event).
 */
export interface TrialClaim {
  readonly trialId: string;
  readonly attempt: number;
  readonly workerId: string;
}

/** A trial argument: its id (an unfenced write: tests, tools, users' own actions) or a claim (fenced). */
export type TrialTarget = string | TrialClaim;

/** The claim a running trial row stands for. */
export function claimOf(trial: Pick<Trial, 'id' | 'attempt' | 'workerId'>): TrialClaim {
  if (trial.workerId === null) throw new DbError('invalid_argument', `trial ${trial.id} is not held by a worker`);
  return { trialId: trial.id, attempt: trial.attempt, workerId: trial.workerId };
}

export function targetId(target: TrialTarget): string {
  return typeof target === 'string' ? target : target.trialId;
}

export function targetClaim(target: TrialTarget): TrialClaim | null {
  return typeof target === 'string' ? null : target;
}

/** The refusal of a write by a stale holder, naming who holds the trial now. */
export function claimLost(claim: TrialClaim, current: { status: string; attempt: number; workerId: string | null } | null): DbError {
  const now = current ? `${current.status}, attempt ${current.attempt}, worker ${current.workerId ?? 'none'}` : 'gone';
  return new DbError('claim_lost', `trial ${claim.trialId}: claim of attempt ${claim.attempt} by ${claim.workerId} lost (now ${now})`);
}

/**
 * In the caller's transaction: row-locks the trial (FOR NO KEY UPDATE, which every status change
 * also takes, so a takeover cannot commit between this check and the caller's commit) and throws
 * `claim_lost` unless it is running under `claim`. Callers that also lock the sweep row do so first.
 */
export async function assertClaim(tx: Prisma.TransactionClient, claim: TrialClaim): Promise<void> {
  const rows = await tx.$queryRaw<{ status: string; attempt: number; worker_id: string | null }[]>`
    SELECT status::text AS status, attempt, worker_id FROM trials WHERE id = ${claim.trialId}::uuid FOR NO KEY UPDATE`;
  const row = rows[0];
  if (!row || row.status !== 'running' || row.attempt !== claim.attempt || row.worker_id !== claim.workerId) {
    throw claimLost(claim, row ? { status: row.status, attempt: row.attempt, workerId: row.worker_id } : null);
  }
}
