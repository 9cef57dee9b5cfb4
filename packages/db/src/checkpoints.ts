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
 * The epoch whose objective value is the trial's best (the latest such epoch on a tie), among the
 * epochs that have a checkpoint; null when none has a value.
 */
async function bestCheckpointEpoch(client: DbClient, trialId: string): Promise<number | null> {
  const rows = await client.$queryRaw<{ epoch: number }[]>`
    SELECT c.epoch FROM checkpoints c
    JOIN trials t ON t.id = c.trial_id JOIN sweeps s ON s.id = t.sweep_id
    JOIN metrics m ON m.trial_id = c.trial_id AND m.step = c.epoch AND m.name = s.objective_metric
    WHERE c.trial_id = ${trialId}::uuid
    ORDER BY CASE WHEN s.objective_mode = 'minimize' THEN m.value ELSE -m.value END ASC, c.epoch DESC
    LIMIT 1`;
  return rows[0]?.epoch ?? null;
}

/** Deletes the trial's checkpoints but the `keepLast` highest epochs and the best epoch's. */
async function keepLatestAndBest(client: DbClient, trialId: string, keepLast: number): Promise<number> {
  const oldestKept = await client.checkpoint.findFirst({ where: { trialId }, orderBy: { epoch: 'desc' }, skip: keepLast - 1, select: { epoch: true } });
  if (!oldestKept) return 0;
  const best = await bestCheckpointEpoch(client, trialId);
  const { count } = await client.checkpoint.deleteMany({
    where: { trialId, epoch: { lt: oldestKept.epoch, ...(best !== null ? { not: best } : {}) } },
  });
  return count;
}

/**
 * Deletes all but the `keepLast` highest-epoch checkpoints and the best epoch's (the one a user
 * takes home); returns how many were deleted. Given a claim, only while the trial is running under
 * it (else `claim_lost`, nothing deleted).
 */
export async function pruneCheckpoints(db: DbClient, trial: TrialTarget, keepLast: number): Promise<number> {
  const trialId = targetId(trial);
  const claim = targetClaim(trial);
  if (!Number.isInteger(keepLast) || keepLast < 1) throw new DbError('invalid_argument', `keepLast must be a positive integer, got ${keepLast}`);
  if (!isUuid(trialId)) return 0;
  if (!claim) return mapDbErrors(() => keepLatestAndBest(db, trialId, keepLast));
  return mapDbErrors(() =>
    inTransaction(db, async (tx) => {
      await assertClaim(tx, claim);
      return keepLatestAndBest(tx, trialId, keepLast);
    }),
  );
}

/** Retention of an ended trial: its latest checkpoint (to resume or export) and its best; nothing else. */
export async function retainFinishedCheckpoints(tx: DbClient, trialId: string): Promise<number> {
  return keepLatestAndBest(tx, trialId, 1);
}

export interface SweepStorage {
  checkpoints: number;
  checkpointBytes: number;
  metrics: number;
  events: number;
}

/** What a sweep stores: its checkpoints (count and bytes), metric rows and events. */
export async function sweepStorage(db: DbClient, sweepId: string): Promise<SweepStorage> {
  if (!isUuid(sweepId)) return { checkpoints: 0, checkpointBytes: 0, metrics: 0, events: 0 };
  return mapDbErrors(async () => {
    const [c] = await db.$queryRaw<{ n: bigint; bytes: bigint | null }[]>`
      SELECT count(*) AS n, sum(octet_length(c.data)) AS bytes FROM checkpoints c JOIN trials t ON t.id = c.trial_id WHERE t.sweep_id = ${sweepId}::uuid`;
    const [m] = await db.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM metrics m JOIN trials t ON t.id = m.trial_id WHERE t.sweep_id = ${sweepId}::uuid`;
    const events = await db.sweepEventRow.count({ where: { sweepId } });
    return { checkpoints: Number(c?.n ?? 0), checkpointBytes: Number(c?.bytes ?? 0), metrics: Number(m?.n ?? 0), events };
  });
}
