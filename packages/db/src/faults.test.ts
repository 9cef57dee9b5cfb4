// Database faults against a real server of the test's own (initdb/pg_ctl): what Prisma 7 and
// adapter-pg throw when a backend is terminated mid-transaction, when the server is down or
// restarts, on deadlocks and timeouts — and that every repository function turns it into a
// transient DbError that retryTransient rides out, while a statement's own error stays permanent.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, inTransaction, type Db } from './client.ts';
import { DbError, dbErrorOf, isTransientDbError, toDbError } from './errors.ts';
import { Prisma } from './generated/prisma/client.ts';
import { applyMigrations } from './migrate.ts';
import { retryTransient } from './retry.ts';
import { saveCheckpoint } from './checkpoints.ts';
import { createSweep } from './sweeps.ts';
import { claimTrial, createTrial, getTrial, recordEpoch, type ClaimResult } from './trials.ts';
import { ScratchPostgres, createTestDatabase, type TestDatabase } from './testing.ts';

let server: ScratchPostgres;
let database: TestDatabase;
let db: Db;

beforeAll(async () => {
  server = await ScratchPostgres.start();
  database = await createTestDatabase(server.adminUrl);
  await applyMigrations(database.url);
  db = createDb(database.url, { maxConnections: 4 });
}, 120_000);

afterAll(async () => {
  await db?.$disconnect().catch(() => undefined);
  await server?.destroy();
});

/** The error `promise` rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A running trial held by `worker`, and its claim. */
async function runningTrial(worker = 'w1'): Promise<ClaimResult & { claim: NonNullable<ClaimResult['claim']> }> {
  const { sweep } = await createSweep(db, { name: 'faults', spec: {}, seed: 1, objective: { metric: 'val_loss', mode: 'minimize' }, budget: {} });
  const trial = await createTrial(db, sweep.id, { params: {} });
  const claimed = await claimTrial(db, trial.id, worker);
  if (!claimed.claim) throw new Error('not claimed');
  return claimed as ClaimResult & { claim: NonNullable<ClaimResult['claim']> };
}

/** Another connection that row-locks the trial's sweep, so the app's next write on it blocks. */
async function holdSweepLock(sweepId: string): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: database.url });
  client.on('error', () => undefined);
  await client.connect();
  await client.query('BEGIN');
  await client.query('SELECT id FROM sweeps WHERE id = $1 FOR UPDATE', [sweepId]);
  return {
    release: async () => {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}

/** Pids of the app's backends waiting on a lock. */
async function blockedPids(): Promise<number[]> {
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'`, [database.name]);
    return rows.map((r) => r.pid);
  } finally {
    await admin.end();
  }
}

async function terminate(pids: number[]): Promise<void> {
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  try {
    await admin.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
  } finally {
    await admin.end();
  }
}

describe('database faults become transient DbErrors', () => {
  it('a repository write whose backend is terminated mid-statement (57P01) throws a transient connection_failed', async () => {
    const { claim, row } = await runningTrial();
    const lock = await holdSweepLock(row!.sweepId);
    try {
      const write = rejection(recordEpoch(db, claim, 1, { val_loss: 0.5 }));
      await until(async () => (await blockedPids()).length > 0, 'the write to block on the sweep lock');
      await terminate(await blockedPids());
      const error = await write;
      expect(error).toBeInstanceOf(DbError);
      expect(error).toMatchObject({ code: 'connection_failed', transient: true, sqlState: '57P01' });
      // Prisma's code for a model query is P2039, for a raw one P2010: both only wrap the driver's error.
      expect(['P2010', 'P2039']).toContain((error as DbError).prismaCode);
    } finally {
      await lock.release();
    }
    // Nothing of the failed transaction was kept; the same write goes through now.
    expect(await db.metric.count({ where: { trialId: claim.trialId } })).toBe(0);
    await recordEpoch(db, claim, 1, { val_loss: 0.5 });
    expect(await db.metric.count({ where: { trialId: claim.trialId } })).toBe(1);
  });

  it('a model statement terminated inside inTransaction (P2039) and a COMMIT on a dead connection are transient too', async () => {
    const { claim, row } = await runningTrial();
    // The worker's epoch transaction: metrics, then the checkpoint (an upsert through Prisma's model API).
    const lock = await holdSweepLock(row!.sweepId);
    const other = new pg.Client({ connectionString: database.url });
    await other.connect();
    await other.query('BEGIN');
    await other.query('SELECT id FROM trials WHERE id = $1 FOR UPDATE', [claim.trialId]);
    await lock.release();
    try {
      const write = rejection(
        inTransaction(db, async (tx) => {
          await saveCheckpoint(tx, claim.trialId, 1, { epoch: 1 }, new Uint8Array([1, 2, 3]));
        }),
      );
      await until(async () => (await blockedPids()).length > 0, 'the checkpoint upsert to block on the trial row');
      await terminate(await blockedPids());
      const error = await write;
      expect(error).toMatchObject({ name: 'DbError', code: 'connection_failed', transient: true, sqlState: '57P01', prismaCode: 'P2039' });
    } finally {
      await other.query('ROLLBACK');
      await other.end();
    }

    // Terminated while idle in the transaction: pg refuses the next statement with a plain Error.
    const error = await rejection(
      inTransaction(db, async (tx) => {
        await tx.$queryRaw`SELECT 1 AS one`;
        const [me] = await tx.$queryRaw<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
        await terminate([me!.pid]);
        await new Promise((resolve) => setTimeout(resolve, 100));
        await recordEpoch(tx, claim, 1, { val_loss: 0.4 });
      }),
    );
    expect(error).toMatchObject({ name: 'DbError', code: 'connection_failed', transient: true });
    expect((error as DbError).cause).toBeInstanceOf(Error);
    expect(((error as DbError).cause as Error).message).toMatch(/connection error and is not queryable|Connection terminated/);
  });

  it('a stopped server: refused connections and dead pooled connections are transient; retryTransient rides out a restart', async () => {
    const { claim } = await runningTrial();
    // Warm the pool so dead pooled connections are reused after the stop.
    await Promise.all([getTrial(db, claim.trialId), getTrial(db, claim.trialId), getTrial(db, claim.trialId)]);
    await server.stop('immediate');
    try {
      const errors: unknown[] = [];
      for (let i = 0; i < 4; i++) errors.push(await rejection(getTrial(db, claim.trialId)));
      errors.push(await rejection(recordEpoch(db, claim, 1, { val_loss: 0.3 })));
      for (const error of errors) {
        expect(error).toBeInstanceOf(DbError);
        expect(error).toMatchObject({ code: 'connection_failed', transient: true });
      }
      // Among them the adapter's P1001 "Can't reach database server" once the pool dialled anew.
      expect(errors.some((e) => (e as DbError).prismaCode === 'P1001' || /Can't reach database server/.test((e as DbError).message))).toBe(true);
    } finally {
      await server.start();
    }

    // A restart while a retried write keeps trying: it lands once the server is back, once.
    const restarting = (async () => {
      await server.stop('immediate');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      await server.start();
    })();
    let retries = 0;
    await new Promise((resolve) => setTimeout(resolve, 200));
    const result = await retryTransient(() => recordEpoch(db, claim, 1, { val_loss: 0.3 }), {
      budgetMs: 30_000,
      onRetry: (error) => {
        expect(error.transient).toBe(true);
        retries++;
      },
    });
    await restarting;
    expect(retries).toBeGreaterThan(0);
    expect(result.epochsDone).toBe(1);
    expect(await db.metric.count({ where: { trialId: claim.trialId } })).toBe(1);
    expect(await db.sweepEventRow.count({ where: { type: 'trial.epoch', data: { path: ['trialId'], equals: claim.trialId } } })).toBe(1);
  });

  it('a restart (pg_ctl restart -m immediate) under idle pooled connections: the next calls fail transiently or succeed, never otherwise', async () => {
    const { claim } = await runningTrial();
    await Promise.all([getTrial(db, claim.trialId), getTrial(db, claim.trialId)]);
    await server.restart('immediate');
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) {
      try {
        await getTrial(db, claim.trialId);
        outcomes.push('ok');
      } catch (error) {
        expect(error).toMatchObject({ name: 'DbError', transient: true });
        outcomes.push((error as DbError).code);
      }
    }
    expect(outcomes.at(-1)).toBe('ok');
    expect(outcomes.every((o) => o === 'ok' || o === 'connection_failed')).toBe(true);
  });

  it('deadlocks (40P01) are serialization failures and timeouts (statement, lock, transaction) are timeouts, all transient', async () => {
    await db.$executeRaw`CREATE TABLE IF NOT EXISTS fault_rows (id int PRIMARY KEY, v int)`;
    await db.$executeRaw`INSERT INTO fault_rows VALUES (1, 0), (2, 0) ON CONFLICT DO NOTHING`;
    const pause = () => new Promise((resolve) => setTimeout(resolve, 300));
    const crossed = await Promise.allSettled([
      inTransaction(db, async (tx) => {
        await tx.$executeRaw`UPDATE fault_rows SET v = 1 WHERE id = 1`;
        await pause();
        await tx.$executeRaw`UPDATE fault_rows SET v = 1 WHERE id = 2`;
      }),
      inTransaction(db, async (tx) => {
        await tx.$executeRaw`UPDATE fault_rows SET v = 2 WHERE id = 2`;
        await pause();
        await tx.$executeRaw`UPDATE fault_rows SET v = 2 WHERE id = 1`;
      }),
    ]);
    const deadlocked = crossed.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    expect(deadlocked).toHaveLength(1);
    expect(deadlocked[0]).toMatchObject({ name: 'DbError', code: 'serialization_failure', transient: true, sqlState: '40P01' });

    const statementTimeout = await rejection(
      inTransaction(db, async (tx) => {
        await tx.$executeRaw`SET LOCAL statement_timeout = 100`;
        await tx.$queryRaw`SELECT pg_sleep(2)::text AS slept`;
      }),
    );
    expect(statementTimeout).toMatchObject({ name: 'DbError', code: 'timeout', transient: true, sqlState: '57014' });

    const holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('UPDATE fault_rows SET v = 5 WHERE id = 1');
    const lockTimeout = await rejection(
      inTransaction(db, async (tx) => {
        await tx.$executeRaw`SET LOCAL lock_timeout = 100`;
        await tx.$executeRaw`UPDATE fault_rows SET v = 6 WHERE id = 1`;
      }),
    );
    await holder.query('ROLLBACK');
    await holder.end();
    expect(lockTimeout).toMatchObject({ name: 'DbError', code: 'timeout', transient: true, sqlState: '55P03' });

    // Prisma's own interactive-transaction timeout (P2028).
    const expired = await rejection(
      db.$transaction(
        async (tx) => {
          await tx.$queryRaw`SELECT pg_sleep(0.6)::text AS slept`;
          await tx.$queryRaw`SELECT 1 AS one`;
        },
        { timeout: 200 },
      ),
    );
    expect(toDbError(expired)).toMatchObject({ code: 'timeout', transient: true, prismaCode: 'P2028' });
  });

  it('errors of the statement itself stay permanent, and errors that are not the database are not DbErrors', async () => {
    const { claim } = await runningTrial();
    const missing = await rejection(createTrial(db, '00000000-0000-4000-8000-000000000000', { params: {} }));
    expect(missing).toMatchObject({ code: 'not_found', transient: false });
    const invalid = await rejection(recordEpoch(db, claim, 1, { val_loss: Number.NaN }));
    expect(invalid).toMatchObject({ code: 'invalid_argument', transient: false });
    const syntax = toDbError(await rejection(db.$queryRawUnsafe('SELEC 1')));
    expect(syntax).toMatchObject({ code: 'database_error', transient: false, sqlState: undefined });

    // A training error (what a worker must fail the trial for) is not a database error…
    expect(dbErrorOf(new Error('loss became NaN at epoch 3, step 7'))).toBeNull();
    expect(isTransientDbError(new TypeError('x is undefined'))).toBe(false);
    // …but a socket error, or a database error wrapped by a caller, is.
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104, syscall: 'read' });
    expect(dbErrorOf(reset)).toMatchObject({ code: 'connection_failed', transient: true });
    expect(dbErrorOf(new Error('could not load the dataset', { cause: reset }))).toMatchObject({ transient: true });
    // Non-transient errors are not retried: the first failure is thrown.
    let calls = 0;
    await expect(
      retryTransient(async () => {
        calls++;
        throw new DbError('unique_violation', 'dup');
      }),
    ).rejects.toMatchObject({ code: 'unique_violation' });
    expect(calls).toBe(1);
    const training = new Error('training failed');
    await expect(retryTransient(() => Promise.reject(training))).rejects.toBe(training);
  });

  it('maps the codes the faults above do not reach the same way (Prisma codes, SQLSTATEs in the adapter error, socket codes)', () => {
    const known = (code: string, meta?: Record<string, unknown>) => new Prisma.PrismaClientKnownRequestError(`error ${code}`, { code, clientVersion: Prisma.prismaVersion.client, ...(meta ? { meta } : {}) });
    const adapter = (cause: Record<string, unknown>) => known('P2039', { driverAdapterError: { name: 'DriverAdapterError', cause } });
    const cases: [unknown, string][] = [
      [known('P1001'), 'connection_failed'],
      [known('P1002'), 'connection_failed'],
      [known('P1017'), 'connection_failed'],
      [known('P1008'), 'timeout'],
      [known('P2024'), 'timeout'],
      [known('P2028'), 'timeout'],
      [known('P2034'), 'serialization_failure'],
      [adapter({ kind: 'postgres', code: '08006', originalCode: '08006' }), 'connection_failed'],
      [adapter({ kind: 'postgres', code: '57P02', originalCode: '57P02' }), 'connection_failed'],
      [adapter({ kind: 'postgres', code: '57P03', originalCode: '57P03' }), 'connection_failed'],
      [adapter({ kind: 'TransactionWriteConflict', originalCode: '40001' }), 'serialization_failure'],
      [adapter({ kind: 'ConnectionClosed' }), 'connection_failed'],
      [adapter({ kind: 'SocketTimeout' }), 'timeout'],
      [Object.assign(new Error('write EPIPE'), { code: 'EPIPE', errno: -32, syscall: 'write' }), 'connection_failed'],
      [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', errno: -111, syscall: 'connect' }), 'connection_failed'],
      [Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01', severity: 'FATAL' }), 'connection_failed'],
    ];
    for (const [error, code] of cases) expect(toDbError(error), String((error as Error).message)).toMatchObject({ code, transient: true });
    // A constraint the statement broke stays what it is, and permanent.
    expect(toDbError(known('P2002', { target: ['name'] }))).toMatchObject({ code: 'unique_violation', transient: false, target: ['name'] });
    expect(toDbError(adapter({ kind: 'postgres', code: '22P02', originalCode: '22P02' }))).toMatchObject({ code: 'database_error', transient: false });
  });

  it('retryTransient gives up after its budget, and stops waiting when its signal aborts', async () => {
    let calls = 0;
    const started = Date.now();
    await expect(
      retryTransient(
        async () => {
          calls++;
          throw new DbError('connection_failed', 'down');
        },
        { budgetMs: 300, initialDelayMs: 20, maxDelayMs: 50 },
      ),
    ).rejects.toMatchObject({ code: 'connection_failed' });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(calls).toBeGreaterThan(3);

    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    const aborted = Date.now();
    await expect(retryTransient(() => Promise.reject(new DbError('timeout', 'slow')), { budgetMs: 60_000, initialDelayMs: 10_000, signal: abort.signal })).rejects.toMatchObject({
      code: 'timeout',
    });
    expect(Date.now() - aborted).toBeLessThan(2_000);
  });
});
