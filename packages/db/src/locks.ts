// Per-sweep serialisation across processes with Postgres transaction-scoped advisory locks.
import { createHash } from 'node:crypto';
import { type Db, markTransaction } from './client.ts';
import { mapDbErrors } from './errors.ts';
import type { Prisma } from './generated/prisma/client.ts';

/** The advisory-lock key of a sweep: the first 8 bytes of sha256('hypersweep:sweep:' + id), signed. */
export function sweepLockKey(sweepId: string): bigint {
  const digest = createHash('sha256').update(`hypersweep:sweep:${sweepId}`).digest();
  return digest.readBigInt64BE(0);
}

export interface SweepLockOptions {
  /** How long `fn` may run before Prisma aborts the transaction (default 60 s). */
  timeoutMs?: number;
  /** How long to wait for a pooled connection (default 15 s). Waiting for the lock itself is not bounded by this. */
  maxWaitMs?: number;
}

/**
 * Runs `fn` inside a transaction holding `pg_advisory_xact_lock` on the sweep, so callers on any
 * process run one at a time per sweep. The lock is released when the transaction ends (commit,
 * rollback or a dropped connection), so a crashed process never leaves it held. `fn` gets the
 * transaction client; repository functions accept it and then run inside the same transaction.
 */
export async function withSweepLock<T>(
  db: Db,
  sweepId: string,
  fn: (tx: Prisma.TransactionClient) => Promise<T>,
  options: SweepLockOptions = {},
): Promise<T> {
  const key = sweepLockKey(sweepId);
  return mapDbErrors(() =>
    db.$transaction(
      async (tx) => {
        // The lock's transaction idles while `fn` writes through other connections: the session's
        // 30 s idle-in-transaction bound (client.ts) would end it early, so it gets its own timeout.
        const idleMs = String(options.timeoutMs ?? 60_000);
        await tx.$queryRaw`SELECT set_config('idle_in_transaction_session_timeout', ${idleMs}, true)`;
        // $executeRaw: the function returns void, a type the driver adapter does not map as a result column.
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(${key}::bigint)`;
        return fn(markTransaction(tx));
      },
      { timeout: options.timeoutMs ?? 60_000, maxWait: options.maxWaitMs ?? 15_000 },
    ),
  );
}
