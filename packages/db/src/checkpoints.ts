// Checkpoint repository: one blob per (trial, epoch), so a redelivered trial resumes where it stopped.
import { inTransaction, isUuid, type DbClient } from './client.ts';
import { assertClaim, targetClaim, targetId, type TrialTarget } from './claims.ts';
import { DbError, mapDbErrors } from './errors.ts';
import type { Checkpoint, Prisma } from './generated/prisma/client.ts';

/**
 * Upserts the checkpoint of `epoch`: saving the same epoch again (a retried write) replaces it.
 * Given a claim, only while the trial is running under it (else `claim_lost`, nothing written);
 * the row records the claim's attempt.
 */
export async function saveCheckpoint(
  db: DbClient,
  trial: TrialTarget,
  epoch: number,
  manifest: Prisma.InputJsonValue,
  data: Uint8Array,
): Promise<Checkpoint> {
  const trialId = targetId(trial);
  const claim = targetClaim(trial);
  if (!Number.isInteger(epoch) || epoch < 0) throw new DbError('invalid_argument', `epoch must be a non-negative integer, got ${epoch}`);
  if (!isUuid(trialId)) throw new DbError('not_found', `no trial ${trialId}`);
  // Prisma's Bytes is a Uint8Array over an ArrayBuffer; copy views of shared or pooled buffers.
  const bytes = new Uint8Array(data);
  const attempt = claim ? claim.attempt : null;
  const upsert = (client: DbClient) =>
    client.checkpoint.upsert({
      where: { trialId_epoch: { trialId, epoch } },
      create: { trialId, epoch, manifest, data: bytes, attempt },
      update: { manifest, data: bytes, createdAt: new Date(), attempt },
    });
  if (!claim) return mapDbErrors(() => upsert(db));
  return mapDbErrors(() =>
    inTransaction(db, async (tx) => {
      await assertClaim(tx, claim);
      return upsert(tx);
    }),
  );
}

/** The highest-epoch checkpoint of a trial, or null. */
export async function latestCheckpoint(db: DbClient, trialId: string): Promise<Checkpoint | null> {
  if (!isUuid(trialId)) return null;
  return mapDbErrors(() => db.checkpoint.findFirst({ where: { trialId }, orderBy: { epoch: 'desc' } }));
}

/**
 * Deletes all but the `keepLast` highest-epoch checkpoints; returns how many were deleted. Given a
 * claim, only while the trial is running under it (else `claim_lost`, nothing deleted).
 */
export async function pruneCheckpoints(db: DbClient, trial: TrialTarget, keepLast: number): Promise<number> {
  const trialId = targetId(trial);
  const claim = targetClaim(trial);
  if (!Number.isInteger(keepLast) || keepLast < 1) throw new DbError('invalid_argument', `keepLast must be a positive integer, got ${keepLast}`);
  if (!isUuid(trialId)) return 0;
  const prune = async (client: DbClient) => {
    const oldestKept = await client.checkpoint.findFirst({
      where: { trialId },
      orderBy: { epoch: 'desc' },
      skip: keepLast - 1,
      select: { epoch: true },
    });
    if (!oldestKept) return 0;
    const { count } = await client.checkpoint.deleteMany({ where: { trialId, epoch: { lt: oldestKept.epoch } } });
    return count;
  };
  if (!claim) return mapDbErrors(() => prune(db));
  return mapDbErrors(() =>
    inTransaction(db, async (tx) => {
      await assertClaim(tx, claim);
      return prune(tx);
    }),
  );
}
