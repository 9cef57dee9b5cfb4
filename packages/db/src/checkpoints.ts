// Checkpoint repository: one blob per (trial, epoch), so a redelivered trial resumes where it stopped.
import { isUuid, type DbClient } from './client.ts';
import { DbError, mapDbErrors } from './errors.ts';
import type { Checkpoint, Prisma } from './generated/prisma/client.ts';

/** Upserts the checkpoint of `epoch`: saving the same epoch again (a retried write) replaces it. */
export async function saveCheckpoint(
  db: DbClient,
  trialId: string,
  epoch: number,
  manifest: Prisma.InputJsonValue,
  data: Uint8Array,
): Promise<Checkpoint> {
  if (!Number.isInteger(epoch) || epoch < 0) throw new DbError('invalid_argument', `epoch must be a non-negative integer, got ${epoch}`);
  if (!isUuid(trialId)) throw new DbError('not_found', `no trial ${trialId}`);
  // Prisma's Bytes is a Uint8Array over an ArrayBuffer; copy views of shared or pooled buffers.
  const bytes = new Uint8Array(data);
  return mapDbErrors(() =>
    db.checkpoint.upsert({
      where: { trialId_epoch: { trialId, epoch } },
      create: { trialId, epoch, manifest, data: bytes },
      update: { manifest, data: bytes, createdAt: new Date() },
    }),
  );
}

/** The highest-epoch checkpoint of a trial, or null. */
export async function latestCheckpoint(db: DbClient, trialId: string): Promise<Checkpoint | null> {
  if (!isUuid(trialId)) return null;
  return mapDbErrors(() => db.checkpoint.findFirst({ where: { trialId }, orderBy: { epoch: 'desc' } }));
}

/** Deletes all but the `keepLast` highest-epoch checkpoints; returns how many were deleted. */
export async function pruneCheckpoints(db: DbClient, trialId: string, keepLast: number): Promise<number> {
  if (!Number.isInteger(keepLast) || keepLast < 1) throw new DbError('invalid_argument', `keepLast must be a positive integer, got ${keepLast}`);
  if (!isUuid(trialId)) return 0;
  return mapDbErrors(async () => {
    const oldestKept = await db.checkpoint.findFirst({
      where: { trialId },
      orderBy: { epoch: 'desc' },
      skip: keepLast - 1,
      select: { epoch: true },
    });
    if (!oldestKept) return 0;
    const { count } = await db.checkpoint.deleteMany({ where: { trialId, epoch: { lt: oldestKept.epoch } } });
    return count;
  });
}
