// The per-sweep trial counts kept by triggers on `trials` (migration 20261220000000_sweep_counts) always
// equal a fresh GROUP BY of the trials: after seeded random walks of inserts, status and epoch changes,
// moves and deletes made through the repository and through plain SQL, under concurrent transactions
// that commit, roll back or deadlock, and after the migration's backfill of existing trials.
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@hypersweep/nn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations, defaultMigrationsDir } from './migrate.ts';
import { sweepSnapshotIn } from './snapshot.ts';
import { cancelSweep, createSweep, trialCounts } from './sweeps.ts';
import { createMigratedTestDatabase, createTestDatabase, openSqlSession, type MigratedTestDatabase, type SqlSession } from './testing.ts';
import { claimTrial, createTrial, finishTrial, recordEpoch, releaseTrial } from './trials.ts';

const STATUSES = ['queued', 'running', 'completed', 'stopped', 'failed', 'cancelled'] as const;

interface CountsRow {
  id: string;
  queued: number;
  running: number;
  completed: number;
  stopped: number;
  failed: number;
  cancelled: number;
  epochs: number;
}

/** What the triggers stored, and what a GROUP BY of the trials says now, for every sweep. */
async function storedAndFresh(sql: SqlSession): Promise<{ stored: CountsRow[]; fresh: CountsRow[] }> {
  const stored = await sql.query<CountsRow>(`
    SELECT id::text AS id, trials_queued AS queued, trials_running AS running, trials_completed AS completed,
      trials_stopped AS stopped, trials_failed AS failed, trials_cancelled AS cancelled, epochs_done AS epochs
    FROM sweeps ORDER BY id`);
  const fresh = await sql.query<CountsRow>(`
    SELECT s.id::text AS id, ${STATUSES.map((st) => `(count(t.id) FILTER (WHERE t.status = '${st}'))::int AS ${st}`).join(', ')},
      COALESCE(sum(t.epochs_done), 0)::float8 AS epochs
    FROM sweeps s LEFT JOIN trials t ON t.sweep_id = s.id GROUP BY s.id ORDER BY s.id`);
  return { stored, fresh };
}

async function expectExact(sql: SqlSession, what: string): Promise<void> {
  const { stored, fresh } = await storedAndFresh(sql);
  expect(stored, what).toEqual(fresh);
}

describe('sweep trial counts kept by triggers', () => {
  let t: MigratedTestDatabase;
  let sql: SqlSession;
  beforeAll(async () => {
    t = await createMigratedTestDatabase({ maxConnections: 8 });
    sql = await openSqlSession(t.database.url);
  });
  afterAll(async () => {
    await sql?.close();
    await t?.close();
  });

  const newSweep = async (name: string) =>
    (await createSweep(t.db, { name, spec: {}, seed: 1, objective: { metric: 'val_loss', mode: 'minimize' }, budget: { maxTrials: 100, maxTotalEpochs: 1000 } })).sweep;

  it.each([5, 17, 43])('equal a fresh GROUP BY after every step of a random walk over three sweeps (seed %i)', async (seed) => {
    // Seeded, so a failing walk can be replayed from its seed (the ops so far are in the message).
    const rng = Rng.fromSeed(seed);
    const random = () => rng.double();
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const sweeps = [await newSweep(`walk-${seed}-a`), await newSweep(`walk-${seed}-b`), await newSweep(`walk-${seed}-c`)];
    const sweepIds = sweeps.map((s) => s.id);
    // Plain-SQL trials count down from -1: createTrial numbers from the highest up, so they never meet.
    let number = -1;
    // The repository writes to a and b only: c is cancelled along the way, and takes no new trials then.
    const active = sweepIds.slice(0, 2);
    const trialIds = async (where = 'true', of = sweepIds) =>
      // In an order of the walk's own making (not of random uuids), so a seed replays the same walk.
      (await sql.query<{ id: string }>(
        `SELECT t.id::text AS id FROM trials t JOIN sweeps s ON s.id = t.sweep_id WHERE t.sweep_id = ANY($1::uuid[]) AND ${where} ORDER BY s.name, t.number`,
        [of],
      )).map((r) => r.id);
    const ops: string[] = [];
    for (let step = 0; step < 120; step++) {
      const r = random();
      const ids = await trialIds();
      if (r < 0.12 || ids.length < 3) {
        // A multi-row INSERT across sweeps, in random states and epochs.
        const rows = 1 + Math.floor(random() * 4);
        const values = Array.from({ length: rows }, () => `(gen_random_uuid(), '${pick(sweepIds)}', ${number--}, '{}', '${pick(STATUSES)}', ${Math.floor(random() * 5)}, now())`);
        await sql.query(`INSERT INTO trials (id, sweep_id, number, params, status, epochs_done, updated_at) VALUES ${values.join(', ')}`);
        ops.push(`insert×${rows}`);
      } else if (r < 0.22) {
        await createTrial(t.db, pick(active), { params: { lr: random() } });
        ops.push('createTrial');
      } else if (r < 0.32) {
        const queued = await trialIds(`t.status = 'queued'`, active);
        if (queued.length === 0) continue;
        await claimTrial(t.db, pick(queued), 'w');
        ops.push('claimTrial');
      } else if (r < 0.42) {
        const running = await trialIds(`t.status = 'running'`, active);
        if (running.length === 0) continue;
        const id = pick(running);
        if (random() < 0.4) {
          await releaseTrial(t.db, id);
          ops.push('releaseTrial');
        } else {
          await finishTrial(t.db, id, pick(['completed', 'stopped', 'failed', 'cancelled'] as const), { finalValue: random() });
          ops.push('finishTrial');
        }
      } else if (r < 0.5) {
        const id = pick(ids);
        const done = (await sql.query<{ e: number }>('SELECT epochs_done AS e FROM trials WHERE id = $1', [id]))[0]!.e;
        await recordEpoch(t.db, id, done + (random() < 0.2 ? 0 : 1), { val_loss: random() });
        ops.push('recordEpoch');
      } else if (r < 0.62) {
        // A bulk status change of a random subset, any state to any state (the triggers do not judge).
        await sql.query(`UPDATE trials SET status = $1::"TrialStatus" WHERE id = ANY($2::uuid[])`, [pick(STATUSES), ids.filter(() => random() < 0.4)]);
        ops.push('bulk status');
      } else if (r < 0.7) {
        await sql.query(`UPDATE trials SET epochs_done = GREATEST(0, epochs_done + $1::int) WHERE id = ANY($2::uuid[])`, [Math.floor(random() * 7) - 2, ids.filter(() => random() < 0.5)]);
        ops.push('bulk epochs');
      } else if (r < 0.75) {
        // Status and epochs in one statement, and a column that moves no count.
        await sql.query(`UPDATE trials SET status = $1::"TrialStatus", epochs_done = epochs_done + 1, last_metrics = '{"x": 1}' WHERE id = $2`, [pick(STATUSES), pick(ids)]);
        await sql.query(`UPDATE trials SET last_metrics = '{"y": 2}' WHERE id = ANY($1::uuid[])`, [ids]);
        ops.push('status+epochs, last_metrics');
      } else if (r < 0.8) {
        await sql.query(`UPDATE trials SET sweep_id = $1::uuid, number = $2 WHERE id = $3`, [pick(sweepIds), number--, pick(ids)]);
        ops.push('move');
      } else if (r < 0.9) {
        await sql.query('DELETE FROM trials WHERE id = ANY($1::uuid[])', [ids.filter(() => random() < 0.2)]);
        ops.push('delete');
      } else if (r < 0.95) {
        // A transaction that changes everything and rolls back leaves the counts as they were.
        await sql.query('BEGIN');
        await sql.query(`UPDATE trials SET status = 'failed', epochs_done = epochs_done + 10 WHERE sweep_id = ANY($1::uuid[])`, [sweepIds]);
        await sql.query(`INSERT INTO trials (id, sweep_id, number, params, updated_at) VALUES (gen_random_uuid(), $1, $2, '{}', now())`, [pick(sweepIds), number--]);
        await sql.query('DELETE FROM trials WHERE id = $1', [pick(ids)]);
        await sql.query('ROLLBACK');
        ops.push('rollback');
      } else {
        const [updated] = await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM trials WHERE sweep_id = $1 AND status = 'queued'`, [sweepIds[2]]);
        await cancelSweep(t.db, sweepIds[2]!);
        ops.push(`cancelSweep(${updated!.n} queued)`);
      }
      await expectExact(sql, `seed ${seed}, after ${ops.join(', ')}`);
    }
    // The walk went through every kind of write.
    expect(new Set(ops.map((op) => op.replace(/[×(].*$/, '')))).toEqual(
      new Set(['insert', 'createTrial', 'claimTrial', 'releaseTrial', 'finishTrial', 'recordEpoch', 'bulk status', 'bulk epochs', 'status+epochs, last_metrics', 'move', 'delete', 'rollback', 'cancelSweep']),
    );
    // And what the repository reads is those columns.
    const { fresh } = await storedAndFresh(sql);
    for (const sweep of sweeps) {
      const expected = fresh.find((row) => row.id === sweep.id)!;
      const counts = Object.fromEntries(STATUSES.map((st) => [st, expected[st]]));
      const total = STATUSES.reduce((sum, st) => sum + expected[st], 0);
      expect(await trialCounts(t.db, sweep.id)).toEqual({ ...counts, total });
      const snapshot = await sweepSnapshotIn(t.db, sweep.id);
      expect(snapshot.counts).toEqual({ ...counts, total });
      expect(snapshot.progress.epochsDone).toBe(expected.epochs);
    }
  });

  it('equal a fresh GROUP BY after concurrent transactions that commit, roll back or deadlock', async () => {
    const rng = Rng.fromSeed(41);
    const random = () => rng.double();
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const sweepIds = [(await newSweep('concurrent-a')).id, (await newSweep('concurrent-b')).id];
    const seedRows = Array.from({ length: 40 }, (_, i) => `(gen_random_uuid(), '${sweepIds[i % 2]}', ${i}, '{}', '${STATUSES[i % 6]}', ${i % 4}, now())`);
    await sql.query(`INSERT INTO trials (id, sweep_id, number, params, status, epochs_done, updated_at) VALUES ${seedRows.join(', ')}`);
    const sessions = await Promise.all(Array.from({ length: 5 }, () => openSqlSession(t.database.url)));
    // Deadlocks are found after deadlock_timeout (1 s by default); sooner, where the test's role may set it.
    await Promise.all(sessions.map((s) => s.query(`SET deadlock_timeout = '20ms'`).catch(() => undefined)));
    let number = 10_000;
    const outcomes = { committed: 0, rolledBack: 0, failed: 0 };
    try {
      for (let round = 0; round < 15; round++) {
        const rows = await sql.query<{ id: string; sweep_id: string }>(
          'SELECT t.id::text AS id, t.sweep_id::text AS sweep_id FROM trials t JOIN sweeps s ON s.id = t.sweep_id WHERE t.sweep_id = ANY($1::uuid[]) ORDER BY s.name, t.number',
          [sweepIds],
        );
        const ids = rows.map((r) => r.id);
        const idsOf = new Map(rows.map((r) => [r.id, r.sweep_id]));
        // Each session's plan is drawn before any of them runs: the draws stay in seed order. Most
        // transactions lock their sweep's row first, as the repository's writers do (they cannot deadlock);
        // the others write plain SQL to both sweeps in any order (Postgres may abort one of a deadlocked pair).
        const plans = sessions.map(() => {
          const own = random() < 0.7 ? pick(sweepIds) : null;
          const mine = own ? ids.filter((id) => idsOf.get(id) === own) : ids;
          const statements = Array.from({ length: 2 + Math.floor(random() * 4) }, () => {
            const r = random();
            if (r < 0.25) return { sql: `INSERT INTO trials (id, sweep_id, number, params, status, updated_at) VALUES (gen_random_uuid(), $1, $2, '{}', $3::"TrialStatus", now())`, values: [own ?? pick(sweepIds), number++, pick(STATUSES)] };
            if (r < 0.55) return { sql: `UPDATE trials SET status = $1::"TrialStatus" WHERE id = ANY($2::uuid[])`, values: [pick(STATUSES), mine.filter(() => random() < 0.15)] };
            if (r < 0.8) return { sql: 'UPDATE trials SET epochs_done = epochs_done + $1::int WHERE id = ANY($2::uuid[])', values: [1 + Math.floor(random() * 3), mine.filter(() => random() < 0.15)] };
            return { sql: 'DELETE FROM trials WHERE id = $1', values: [pick(mine)] };
          });
          return own ? [{ sql: 'SELECT 1 FROM sweeps WHERE id = $1 FOR NO KEY UPDATE', values: [own] }, ...statements] : statements;
        });
        const ends = sessions.map(() => (random() < 0.75 ? 'COMMIT' : 'ROLLBACK'));
        await Promise.all(
          sessions.map(async (session, i) => {
            try {
              await session.query('BEGIN');
              for (const statement of plans[i]!) await session.query(statement.sql, statement.values);
              await session.query(ends[i]!);
              if (ends[i] === 'COMMIT') outcomes.committed++;
              else outcomes.rolledBack++;
            } catch (error) {
              // Two sessions updating the same trials in another order deadlock: Postgres aborts one.
              expect((error as { code?: string }).code, String(error)).toMatch(/^(40P01|40001)$/);
              await session.query('ROLLBACK');
              outcomes.failed++;
            }
          }),
        );
        await expectExact(sql, `after round ${round}`);
      }
    } finally {
      await Promise.all(sessions.map((s) => s.close()));
    }
    expect(outcomes.committed).toBeGreaterThan(20);
    expect(outcomes.rolledBack).toBeGreaterThan(5);
  });

  it('cancelSweep returns the row as the cancellation left it: counts and last event id', async () => {
    const sweep = await newSweep('cancel-row');
    for (let i = 0; i < 3; i++) await createTrial(t.db, sweep.id, { params: { i } });
    const result = await cancelSweep(t.db, sweep.id);
    expect(result.sweep).toMatchObject({ status: 'cancelled', trialsQueued: 0, trialsCancelled: 3 });
    const stored = await t.db.sweep.findUniqueOrThrow({ where: { id: sweep.id } });
    expect(result.sweep).toEqual(stored);
  });

  it('writes no sweep row for a change that moves no count', async () => {
    const sweep = await newSweep('quiet');
    const trial = await createTrial(t.db, sweep.id, { params: {} });
    const version = async () => (await sql.query<{ xmin: string }>('SELECT xmin::text AS xmin FROM sweeps WHERE id = $1', [sweep.id]))[0]!.xmin;
    const before = await version();
    await sql.query(`UPDATE trials SET last_metrics = '{"a": 1}', worker_id = 'w' WHERE id = $1`, [trial.id]);
    await sql.query(`UPDATE trials SET status = status, epochs_done = epochs_done WHERE id = $1`, [trial.id]);
    expect(await version()).toBe(before);
    await sql.query(`UPDATE trials SET epochs_done = 3 WHERE id = $1`, [trial.id]);
    expect(await version()).not.toBe(before);
  });

  it('TRUNCATE of the trials zeroes every count', async () => {
    const scratch = await createMigratedTestDatabase({ maxConnections: 2 });
    const session = await openSqlSession(scratch.database.url);
    try {
      const { sweep } = await createSweep(scratch.db, { name: 'truncate', spec: {}, seed: 1, objective: { metric: 'm', mode: 'minimize' }, budget: {} });
      await session.query(`INSERT INTO trials (id, sweep_id, number, params, status, epochs_done, updated_at) VALUES (gen_random_uuid(), $1, 0, '{}', 'running', 4, now())`, [sweep.id]);
      expect(await trialCounts(scratch.db, sweep.id)).toMatchObject({ running: 1, total: 1 });
      await session.query('TRUNCATE trials CASCADE');
      await expectExact(session, 'after TRUNCATE');
      expect(await trialCounts(scratch.db, sweep.id)).toMatchObject({ running: 0, total: 0 });
    } finally {
      await session.close();
      await scratch.close();
    }
  });
});

describe('the migration backfills the counts of existing trials', () => {
  let dir: string | null = null;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('counts every trial stored before it', async () => {
    const db = await createTestDatabase();
    dir = await mkdtemp(join(tmpdir(), 'hs-counts-backfill-'));
    try {
      // The migrations before this one, then trials written by the code of that time, then the rest.
      const names = (await readdir(defaultMigrationsDir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
      await cp(join(defaultMigrationsDir, 'migration_lock.toml'), join(dir, 'migration_lock.toml'));
      for (const name of names.filter((n) => n < '20261220000000_sweep_counts')) await cp(join(defaultMigrationsDir, name), join(dir, name), { recursive: true });
      await applyMigrations(db.url, { migrationsDir: dir });
      const sql = await openSqlSession(db.url);
      try {
        const sweeps = ['a', 'b', 'c'].map((_, i) => `00000000-0000-4000-8000-00000000000${i + 1}`);
        for (const id of sweeps) {
          await sql.query(
            `INSERT INTO sweeps (id, name, spec, seed, objective_metric, objective_mode, budget, updated_at) VALUES ($1, 'old', '{}', 1, 'm', 'minimize', '{}', now())`,
            [id],
          );
        }
        // Sweep c has no trials: its counts stay zero.
        const rows = Array.from({ length: 50 }, (_, i) => `(gen_random_uuid(), '${sweeps[i % 2]}', ${i}, '{}', '${STATUSES[(i * 7) % 6]}', ${i % 5}, now())`);
        await sql.query(`INSERT INTO trials (id, sweep_id, number, params, status, epochs_done, updated_at) VALUES ${rows.join(', ')}`);
        expect(await applyMigrations(db.url)).toMatchObject({ appliedMigrationNames: expect.arrayContaining(['20261220000000_sweep_counts']) });
        const { stored, fresh } = await storedAndFresh(sql);
        expect(stored).toEqual(fresh);
        expect(stored.map((row) => row.queued + row.running + row.completed + row.stopped + row.failed + row.cancelled)).toEqual([25, 25, 0]);
        expect(stored.map((row) => row.epochs)).toEqual([50, 50, 0]);
      } finally {
        await sql.close();
      }
    } finally {
      await db.drop();
    }
  });
});
