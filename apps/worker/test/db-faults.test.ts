// runTrial through Postgres faults, on a server of the test's own (initdb/pg_ctl): an epoch write
// whose backend is terminated, and a server restart mid-trial, neither fail the trial — it completes
// with epochs 1..E stored exactly once and bit-identical to a fault-free run. And a worker whose
// claim was taken over stops at its next write, leaving nothing behind.
import { SearchTrialsCache, createDb, getTrial, latestCheckpoint, type Db } from '@hypersweep/db';
import { ScratchPostgres, createTestDatabase, openSqlSession, type TestDatabase } from '@hypersweep/db/testing';
import { applyMigrations, claimTrial, releaseTrial } from '@hypersweep/db';
import { TrialCancelled } from '@hypersweep/queue';
import { sleepUntil } from '@hypersweep/queue/testing';
import { ReplicaPool } from '@hypersweep/trainer';
import { DatasetCache } from '@hypersweep/datasets';
import type { Logger } from '@hypersweep/log';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTrial, type RunTrialDeps } from '../src/run-trial.ts';
import { recordingLogger, spiralsSweep, storeSweep, storeTrial, type LogEntry } from './fixtures.ts';

const EPOCHS = 12;
const request = spiralsSweep((req) => {
  req.dataset = { type: 'spirals', count: 4000, seed: 3 };
  req.training.epochs = EPOCHS;
});

let server: ScratchPostgres;
let database: TestDatabase;
let db: Db;
let pool: ReplicaPool;
const datasets = new DatasetCache();

beforeAll(async () => {
  server = await ScratchPostgres.start();
  database = await createTestDatabase(server.adminUrl);
  await applyMigrations(database.url);
  db = createDb(database.url, { maxConnections: 6 });
  pool = await ReplicaPool.create({ threads: 2, stepTimeoutMs: 10_000 });
}, 120_000);

afterAll(async () => {
  await pool?.close();
  await db?.$disconnect().catch(() => undefined);
  await server?.destroy();
});

function deps(workerId: string, logger: Logger, cancelPollMs = 200): RunTrialDeps {
  return {
    db,
    pool,
    datasets,
    search: new SearchTrialsCache(db),
    logger,
    now: () => performance.now(),
    workerId,
    cancelPollMs,
    keepCheckpoints: 100,
    dbRetryMs: 60_000,
  };
}

const never = () => ({ cancelled: new AbortController().signal, shutdown: new AbortController().signal });

/** A test's reads go through the faults it injects: retried until the server answers. */
async function patiently<T>(read: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await read();
    } catch (error) {
      if (i > 200) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Per metric name, the (step → value) rows of a trial; and its trial.epoch events' epochs. */
async function stored(trialId: string) {
  const metrics = await db.metric.findMany({ where: { trialId }, orderBy: [{ name: 'asc' }, { step: 'asc' }] });
  const trial = await getTrial(db, trialId);
  const events = await db.sweepEventRow.findMany({ where: { sweepId: trial!.sweepId }, orderBy: { seq: 'asc' } });
  return { metrics, events, trial: trial! };
}

const TRAINING_METRICS = ['train_loss', 'train_accuracy', 'val_loss', 'val_accuracy', 'learning_rate'];

describe('runTrial through Postgres faults', () => {
  it('an epoch write whose connection is terminated, then a restart, do not fail the trial: it completes with epochs 1..E once, bit-identical', async () => {
    // The reference: the same sweep seed and trial number, without faults.
    const reference = await storeSweep(db, request, 21);
    const refTrial = await storeTrial(db, reference.id, { learningRate: 0.01 });
    expect(await runTrial(deps('worker-ref', recordingLogger().logger), { sweepId: reference.id, trialId: refTrial.id, attempt: 1 }, never())).toBe('completed');

    const sweep = await storeSweep(db, request, 21);
    const trial = await storeTrial(db, sweep.id, { learningRate: 0.01 });
    const { logger, entries } = recordingLogger();
    const run = runTrial(deps('worker-a', logger), { sweepId: sweep.id, trialId: trial.id, attempt: 1 }, never());
    const settled = run.then(
      (outcome) => outcome,
      (error: unknown) => error,
    );

    // Fault 1: hold the sweep row so the next epoch write blocks inside its transaction, then
    // terminate that backend (57P01 mid-statement, as pg_terminate_backend or a fast shutdown do).
    await sleepUntil(async () => ((await getTrial(db, trial.id))?.epochsDone ?? 0) >= 2, { timeoutMs: 30_000, intervalMs: 5, what: 'two epochs' });
    const blocker = await openSqlSession(database.url);
    await blocker.query('BEGIN');
    await blocker.query('SELECT id FROM sweeps WHERE id = $1 FOR UPDATE', [sweep.id]);
    await sleepUntil(async () => (await server.lockWaiters(database.name)).length > 0, { timeoutMs: 10_000, intervalMs: 5, what: 'the epoch write to block' });
    expect(await server.terminate(await server.lockWaiters(database.name))).toBeGreaterThan(0);
    await blocker.query('ROLLBACK');
    await blocker.close();

    // Fault 2: the server restarts (immediate: every connection drops) while the trial trains.
    const before = (await getTrial(db, trial.id))!.epochsDone;
    expect(before).toBeLessThan(EPOCHS);
    await server.restart('immediate');

    const outcome = await settled;
    expect(outcome).toBe('completed');
    const after = await patiently(() => stored(trial.id));
    expect(after.trial).toMatchObject({ status: 'completed', epochsDone: EPOCHS, attempt: 1, workerId: 'worker-a', error: null });
    // Every metric has exactly one row per epoch 1..E, and each epoch one trial.epoch event.
    const steps = new Map<string, number[]>();
    for (const m of after.metrics) steps.set(m.name, [...(steps.get(m.name) ?? []), m.step]);
    for (const name of TRAINING_METRICS) expect(steps.get(name), name).toEqual(Array.from({ length: EPOCHS }, (_, i) => i + 1));
    const epochEvents = after.events.filter((e) => e.type === 'trial.epoch').map((e) => (e.data as { epoch: number }).epoch);
    expect(epochEvents).toEqual(Array.from({ length: EPOCHS }, (_, i) => i + 1));
    expect(after.events.filter((e) => e.type === 'trial.failed')).toEqual([]);

    // Bit-identical to the fault-free run: values and the final checkpoint.
    const ref = await stored(refTrial.id);
    const values = (rows: typeof ref.metrics) => rows.filter((m) => TRAINING_METRICS.includes(m.name)).map((m) => [m.name, m.step, m.value]);
    expect(values(after.metrics)).toEqual(values(ref.metrics));
    expect(after.trial.finalValue).toBe(ref.trial.finalValue);
    const [mine, theirs] = await Promise.all([latestCheckpoint(db, trial.id), latestCheckpoint(db, refTrial.id)]);
    expect(Buffer.from(mine!.data).equals(Buffer.from(theirs!.data))).toBe(true);

    // The faults were met and retried, in the epoch write among others.
    const retries = entries.filter((e: LogEntry) => e.msg === 'database unavailable; retrying');
    expect(retries.some((e) => e.op === 'epoch' && e.sqlState === '57P01')).toBe(true);
    expect(retries.every((e) => ['connection_failed', 'timeout'].includes(String(e.code)))).toBe(true);
    expect(entries.some((e) => e.msg === 'trial failed')).toBe(false);
  });

  it('a worker whose claim was taken over stops at its next write and leaves no row, checkpoint or event after the takeover', async () => {
    const sweep = await storeSweep(
      db,
      spiralsSweep((req) => {
        req.dataset = { type: 'spirals', count: 4000, seed: 3 };
        req.training.epochs = 500;
      }),
      22,
    );
    const trial = await storeTrial(db, sweep.id, { learningRate: 0.01 });
    const { logger, entries } = recordingLogger();
    // The Postgres poll that would notice the takeover is off: only the fence stops this worker.
    const run = runTrial(deps('worker-stale', logger, 600_000), { sweepId: sweep.id, trialId: trial.id, attempt: 1 }, never());
    const settled = run.then(
      (outcome) => outcome,
      (error: unknown) => error,
    );
    await sleepUntil(async () => ((await getTrial(db, trial.id))?.epochsDone ?? 0) >= 2, { timeoutMs: 30_000, intervalMs: 5, what: 'two epochs' });

    // Another delivery takes the trial over while the first one trains on.
    expect((await releaseTrial(db, trial.id)).changed).toBe(true);
    const takeover = await claimTrial(db, trial.id, 'worker-new');
    expect(takeover.claim).toMatchObject({ attempt: 2, workerId: 'worker-new' });

    const outcome = await settled;
    expect(outcome).toBeInstanceOf(TrialCancelled);
    // Its next write lands after the release (the trial is queued) or after the new claim: refused either way.
    expect((outcome as Error).message).toMatch(/^claim lost: trial (taken over by worker-new|queued)/);
    expect(entries.some((e) => e.msg === 'claim lost: trial taken over or ended elsewhere; stopped training it')).toBe(true);

    const { metrics, events, trial: now } = await stored(trial.id);
    // The trial is the new holder's, untouched: not failed, not cancelled, not released.
    expect(now).toMatchObject({ status: 'running', attempt: 2, workerId: 'worker-new', error: null });
    const started = events.find((e) => e.type === 'trial.started' && e.attempt === 2)!;
    expect(started).toBeDefined();
    const staleEvents = events.filter((e) => e.attempt === 1);
    expect(staleEvents.length).toBeGreaterThan(0);
    for (const e of staleEvents) expect(e.seq).toBeLessThan(started.seq);
    // After the claim only its own sweep.updated: the stale worker appended nothing.
    expect(events.filter((e) => e.seq > started.seq).map((e) => [e.type, e.attempt])).toEqual([['sweep.updated', 2]]);
    // Rows of the first claim stop at the epochs it stored before the takeover.
    const epochsBefore = staleEvents.filter((e) => e.type === 'trial.epoch').map((e) => (e.data as { epoch: number }).epoch);
    const lastBefore = Math.max(...epochsBefore);
    expect(Math.max(...metrics.map((m) => m.step))).toBe(lastBefore);
    expect(metrics.every((m) => m.attempt === 1)).toBe(true);
    const checkpoints = await db.checkpoint.findMany({ where: { trialId: trial.id }, select: { epoch: true, attempt: true } });
    expect(Math.max(...checkpoints.map((c) => c.epoch))).toBe(lastBefore);
    expect(now.epochsDone).toBe(lastBefore);
  });
});
