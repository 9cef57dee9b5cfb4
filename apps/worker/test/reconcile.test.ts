// The reconciler against real Postgres (own database) and Redis (own prefix): after Redis loses its
// keys it re-enqueues exactly the runnable trials without a live job, past finished attempts, once
// across concurrent reconcilers; and a trial re-enqueued under its running worker moves to the new one.
import { SearchTrialsCache, claimTrial, finishTrial, getTrial, latestCheckpoint, metricSeries, setSweepStatus } from '@hypersweep/db';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '@hypersweep/db/testing';
import {
  TrialCancelled,
  UnrecoverableError,
  createQueues,
  createRedis,
  createTrialWorker,
  trialJobId,
  type JobQueues,
  type TrialHandler,
  type TrialWorker,
} from '@hypersweep/queue';
import { deleteKeysWithPrefix, randomTestPrefix, sleepUntil } from '@hypersweep/queue/testing';
import { ReplicaPool } from '@hypersweep/trainer';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DatasetCache } from '@hypersweep/datasets';
import { Heartbeat, waitForHandover } from '../src/heartbeat.ts';
import { silentLogger } from '@hypersweep/log';
import { reconcile, type ReconcileDeps } from '../src/reconcile.ts';
import { runTrial, type RunTrialDeps } from '../src/run-trial.ts';
import { recordingLogger, spiralsSweep, storeSweep, storeTrial } from './fixtures.ts';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

let database: MigratedTestDatabase;
let redis: Redis;
let prefix: string;
let queues: JobQueues;
const workers: TrialWorker[] = [];
const prefixes: string[] = [];

beforeAll(() => {
  redis = createRedis(redisUrl, { role: 'worker' });
});

afterAll(async () => {
  if (redis) {
    for (const p of prefixes) await deleteKeysWithPrefix(redis, p);
    await redis.quit();
  }
});

// The reconciler looks at every runnable trial of its database: each test gets its own database and prefix.
beforeEach(async () => {
  database = await createMigratedTestDatabase();
  prefix = randomTestPrefix();
  prefixes.push(prefix);
  queues = createQueues({ connection: redis, prefix });
});

afterEach(async () => {
  for (const w of workers.splice(0)) await w.close(true);
  await queues?.close();
  await database?.close();
});

function reconcileDeps(workerId = 'reconciler'): ReconcileDeps {
  return { db: database.db, redis, queues, logger: silentLogger, workerId };
}

function startWorker(name: string, handler: TrialHandler): TrialWorker {
  const worker = createTrialWorker({ connection: redis, prefix, name, handler });
  workers.push(worker);
  return worker;
}

async function liveIds(): Promise<string[]> {
  return [...(await queues.liveTrialJobIds())].sort();
}

async function sweepAdvanceIds(): Promise<string[]> {
  const jobs = await queues.sweeps.getJobs(['waiting', 'active', 'delayed', 'prioritized']);
  return jobs.map((job) => job.data.sweepId).sort();
}

async function trialNow(id: string) {
  const trial = await getTrial(database.db, id);
  if (!trial) throw new Error(`trial ${id} vanished`);
  return trial;
}

describe('reconcile', () => {
  it('leaves live jobs alone and, after Redis lost its keys, re-enqueues exactly the runnable trials', async () => {
    const sweep = await storeSweep(database.db, spiralsSweep());
    const queued = await storeTrial(database.db, sweep.id, { learningRate: 0.01 });
    const running = await storeTrial(database.db, sweep.id, { learningRate: 0.02 });
    const done = await storeTrial(database.db, sweep.id, { learningRate: 0.03 });
    const pending = await storeSweep(database.db, spiralsSweep(), 11, 'pending');
    const finished = await storeSweep(database.db, spiralsSweep());
    expect((await setSweepStatus(database.db, finished.id, 'cancelled')).changed).toBe(true);

    // `running` is held by a live worker whose job is active (concurrency 1); `queued` waits as attempt 1.
    let releaseActive!: () => void;
    const active = new Promise<void>((resolve) => (releaseActive = resolve));
    startWorker('busy-worker', () => active);
    expect((await claimTrial(database.db, running.id, 'busy-worker')).changed).toBe(true);
    await queues.enqueueTrial({ sweepId: sweep.id, trialId: running.id, attempt: 1 });
    await sleepUntil(async () => (await queues.trialJobState(running.id, 1)) === 'active', { what: 'the running trial’s job to be active' });
    await queues.enqueueTrial({ sweepId: sweep.id, trialId: queued.id, attempt: 1 });
    expect((await claimTrial(database.db, done.id, 'w')).changed).toBe(true);
    expect((await finishTrial(database.db, done.id, 'completed', { finalValue: 1 })).changed).toBe(true);

    const calm = await reconcile(reconcileDeps());
    expect(calm).toMatchObject({ ran: true, requeuedTrials: 0 });
    expect(await liveIds()).toEqual([trialJobId(queued.id, 1), trialJobId(running.id, 1)].sort());

    // Redis loses everything (FLUSHALL of this test's keys) while the worker still trains `running`.
    releaseActive();
    for (const w of workers.splice(0)) await w.close(true);
    await deleteKeysWithPrefix(redis, prefix);
    expect(await liveIds()).toEqual([]);
    // Someone (a sweep advance) enqueued `queued` again before the reconciler ran: it is live, left alone.
    await queues.enqueueTrial({ sweepId: sweep.id, trialId: queued.id, attempt: 1 });

    const summary = await reconcile(reconcileDeps());
    const activeSweeps = [sweep.id, pending.id].sort();
    expect(summary).toEqual({ ran: true, requeuedTrials: 1, advancedSweeps: expect.any(Number) });
    // `running` was claimed once and its job is gone: its next job is attempt 2.
    expect(await liveIds()).toEqual([trialJobId(queued.id, 1), trialJobId(running.id, 2)].sort());

    // Redis loses everything again: both are missing now; `queued`, never claimed, gets attempt 1 again.
    await deleteKeysWithPrefix(redis, prefix);
    expect(await reconcile(reconcileDeps())).toMatchObject({ ran: true, requeuedTrials: 2 });
    expect(await liveIds()).toEqual([trialJobId(queued.id, 1), trialJobId(running.id, 2)].sort());
    const advanced = await sweepAdvanceIds();
    for (const id of activeSweeps) expect(advanced).toContain(id);
    expect(advanced).not.toContain(finished.id);

    // A second run finds everything live again: nothing more is enqueued.
    expect(await reconcile(reconcileDeps())).toMatchObject({ ran: true, requeuedTrials: 0 });
    expect(await liveIds()).toEqual([trialJobId(queued.id, 1), trialJobId(running.id, 2)].sort());
    expect((await queues.depth()).trials.waiting).toBe(2);
  });

  it('moves past attempts whose jobs Redis already finished (completed or failed)', async () => {
    const sweep = await storeSweep(database.db, spiralsSweep());
    const skipped = await storeTrial(database.db, sweep.id, { learningRate: 0.01 });
    const broken = await storeTrial(database.db, sweep.id, { learningRate: 0.02 });
    expect((await claimTrial(database.db, broken.id, 'gone-worker')).changed).toBe(true);

    // Jobs that ended without the trial ending in Postgres: one completed, one failed for good.
    startWorker('finishing-worker', async (job) => {
      if (job.trialId === broken.id) throw new UnrecoverableError('lost its database');
    });
    await queues.enqueueTrial({ sweepId: sweep.id, trialId: skipped.id, attempt: 1 });
    await queues.enqueueTrial({ sweepId: sweep.id, trialId: broken.id, attempt: 2 });
    await sleepUntil(
      async () => (await queues.trialJobState(skipped.id, 1)) === 'completed' && (await queues.trialJobState(broken.id, 2)) === 'failed',
      { what: 'both jobs finished' },
    );
    for (const w of workers.splice(0)) await w.close();

    expect(await reconcile(reconcileDeps())).toMatchObject({ ran: true, requeuedTrials: 2 });
    // skipped: attempt 0 → 1 is spent → 2. broken: attempt 1 → 2 is spent → 3.
    expect(await liveIds()).toEqual([trialJobId(skipped.id, 2), trialJobId(broken.id, 3)].sort());
    expect(await queues.trialJobState(skipped.id, 1)).toBe('completed');
  });

  it('two concurrent reconcilers enqueue each missing trial once', async () => {
    const sweep = await storeSweep(database.db, spiralsSweep());
    const trials = [];
    for (let i = 0; i < 5; i += 1) trials.push(await storeTrial(database.db, sweep.id, { learningRate: 0.01 * (i + 1) }));
    expect((await claimTrial(database.db, trials[0]!.id, 'w-gone')).changed).toBe(true);
    const otherRedis = createRedis(redisUrl, { role: 'worker' });
    const otherQueues = createQueues({ connection: otherRedis, prefix });
    try {
      const results = await Promise.all([
        reconcile(reconcileDeps('reconciler-1')),
        reconcile({ db: database.db, redis: otherRedis, queues: otherQueues, logger: silentLogger, workerId: 'reconciler-2' }),
      ]);
      const ran = results.filter((r) => r.ran);
      const skipped = results.filter((r) => !r.ran);
      expect(ran).toHaveLength(1);
      expect(ran[0]).toMatchObject({ requeuedTrials: 5, advancedSweeps: expect.any(Number) });
      expect(skipped).toHaveLength(1);
      expect(skipped[0]).toMatchObject({ ran: false, holder: expect.stringMatching(/^reconciler-[12]$/) });

      // Once the lock is free, either may run again: it finds nothing missing.
      expect(await reconcile({ db: database.db, redis: otherRedis, queues: otherQueues, logger: silentLogger, workerId: 'reconciler-2' })).toMatchObject({
        ran: true,
        requeuedTrials: 0,
      });
      const expected = trials.map((t, i) => trialJobId(t.id, i === 0 ? 2 : 1)).sort();
      expect(await liveIds()).toEqual(expected);
      expect((await queues.depth()).trials.waiting).toBe(5);
    } finally {
      await otherQueues.close();
      await otherRedis.quit();
    }
  });

  it('with minIntervalMs, reconciles once per interval however many workers try', async () => {
    const sweep = await storeSweep(database.db, spiralsSweep());
    const trial = await storeTrial(database.db, sweep.id, { learningRate: 0.01 });
    const first = await reconcile({ ...reconcileDeps('worker-1'), minIntervalMs: 60_000 });
    expect(first).toEqual({ ran: true, requeuedTrials: 1, advancedSweeps: 1 });
    expect(await reconcile({ ...reconcileDeps('worker-2'), minIntervalMs: 60_000 })).toEqual({ ran: false, holder: 'worker-1' });
    expect(await liveIds()).toEqual([trialJobId(trial.id, 1)]);
  });

  it('a trial re-enqueued under its running worker moves to the new delivery; the old worker stops', async () => {
    const request = spiralsSweep((req) => {
      req.dataset = { type: 'spirals', count: 4000, seed: 3 };
      req.training.epochs = 50;
    });
    const epochs = 50;
    const pool1 = await ReplicaPool.create({ threads: 1, stepTimeoutMs: 10_000 });
    const pool2 = await ReplicaPool.create({ threads: 2, stepTimeoutMs: 10_000 });
    const datasets = new DatasetCache();
    try {
      // The reference: the same sweep seed and trial number trained in one go.
      const reference = await storeSweep(database.db, request, 5);
      const refTrial = await storeTrial(database.db, reference.id, { learningRate: 0.01 });
      const never = { cancelled: new AbortController().signal, shutdown: new AbortController().signal };
      const deps = (pool: ReplicaPool, workerId: string, logger = silentLogger): RunTrialDeps => ({
        db: database.db,
        pool,
        datasets,
        search: new SearchTrialsCache(database.db),
        logger,
        now: () => performance.now(),
        workerId,
        cancelPollMs: 100,
        keepCheckpoints: 100,
      });
      expect(await runTrial(deps(pool2, 'worker-ref'), { sweepId: reference.id, trialId: refTrial.id, attempt: 1 }, never)).toBe('completed');

      const sweep = await storeSweep(database.db, request, 5);
      const trial = await storeTrial(database.db, sweep.id, { learningRate: 0.01 });
      const oldLog = recordingLogger();
      const outcomes: unknown[] = [];
      let oldStoppedAt = Number.POSITIVE_INFINITY;
      // The old worker publishes heartbeats as main.ts does; the new one waits for it to let go.
      const oldHeartbeat = new Heartbeat({ redis, prefix, workerId: 'worker-old', host: 'test', pid: process.pid, threads: 1, intervalMs: 100, logger: silentLogger });
      await oldHeartbeat.start();
      startWorker('worker-old', async (job, ctx) => {
        try {
          await runTrial({ ...deps(pool1, 'worker-old', oldLog.logger), onProgress: (p) => oldHeartbeat.progress(ctx.jobId, p) }, job, ctx);
          outcomes.push('returned');
        } catch (error) {
          outcomes.push(error);
          throw error;
        } finally {
          oldStoppedAt = performance.now();
          oldHeartbeat.trialEnded(ctx.jobId);
        }
      });
      await queues.enqueueTrial({ sweepId: sweep.id, trialId: trial.id, attempt: 1 });
      await sleepUntil(async () => (await trialNow(trial.id)).epochsDone >= 1, { timeoutMs: 30_000, intervalMs: 5, what: 'a first epoch on the old worker' });

      // Redis loses the job while the old worker trains; the reconciler enqueues attempt 2.
      await deleteKeysWithPrefix(redis, prefix);
      expect(await reconcile(reconcileDeps())).toMatchObject({ ran: true, requeuedTrials: 1 });
      expect(await liveIds()).toEqual([trialJobId(trial.id, 2)]);
      let handoverAt = 0;
      const awaitHandover = async (previous: { workerId: string; trialId: string }) => {
        await waitForHandover({ redis, prefix, heartbeatMs: 200, logger: silentLogger }, previous);
        handoverAt = performance.now();
      };
      startWorker('worker-new', async (job, ctx) => {
        await runTrial({ ...deps(pool2, 'worker-new'), awaitHandover }, job, ctx);
      });

      await sleepUntil(() => outcomes.length > 0, { timeoutMs: 10_000, what: 'the old worker to stop' });
      expect(outcomes[0]).toBeInstanceOf(TrialCancelled);
      expect(oldLog.entries.some((e) => e.msg === 'trial taken over by another worker; stopped training it')).toBe(true);
      // The new worker started training only once the old one had stopped.
      await sleepUntil(() => handoverAt > 0, { what: 'the handover' });
      expect(handoverAt).toBeGreaterThan(oldStoppedAt);
      await sleepUntil(async () => (await trialNow(trial.id)).status === 'completed', { timeoutMs: 60_000, what: 'the trial to complete on the new worker' });

      const finished = await trialNow(trial.id);
      expect(finished).toMatchObject({ status: 'completed', workerId: 'worker-new', attempt: 2, epochsDone: epochs });
      // Every epoch's rows exist once (the metric writes are upserts), whoever trained it.
      const { series } = await metricSeries(database.db, trial.id, [], { maxPoints: 10_000 });
      for (const s of series) expect(s.points.map((p) => p.step), s.name).toEqual(Array.from({ length: epochs }, (_, i) => i + 1));
      // Deterministic resume: the same bytes as the uninterrupted reference.
      const finalCheckpoint = await latestCheckpoint(database.db, trial.id);
      const refCheckpoint = await latestCheckpoint(database.db, refTrial.id);
      expect(finalCheckpoint?.epoch).toBe(epochs);
      expect(Buffer.from(finalCheckpoint!.data).equals(Buffer.from(refCheckpoint!.data))).toBe(true);
      await oldHeartbeat.stop();
    } finally {
      for (const w of workers.splice(0)) await w.close(true);
      await pool1.close();
      await pool2.close();
    }
  });

  it('a second delivery of a trial in the same worker (CONCURRENCY 2) takes it over; the first stops first', async () => {
    const pool1 = await ReplicaPool.create({ threads: 1, stepTimeoutMs: 10_000 });
    const pool2 = await ReplicaPool.create({ threads: 1, stepTimeoutMs: 10_000 });
    const heartbeat = new Heartbeat({ redis, prefix, workerId: 'worker-same', host: 'test', pid: process.pid, threads: 1, intervalMs: 60_000, logger: silentLogger });
    const never = { cancelled: new AbortController().signal, shutdown: new AbortController().signal };
    try {
      const request = spiralsSweep((req) => {
        req.dataset = { type: 'spirals', count: 4000, seed: 3 };
        req.training.epochs = 50;
      });
      const sweep = await storeSweep(database.db, request, 5);
      const trial = await storeTrial(database.db, sweep.id, { learningRate: 0.01 });
      const deps = (pool: ReplicaPool, jobId: string): RunTrialDeps => ({
        db: database.db,
        pool,
        datasets: new DatasetCache(),
        search: new SearchTrialsCache(database.db),
        logger: silentLogger,
        now: () => performance.now(),
        workerId: 'worker-same',
        cancelPollMs: 100,
        onProgress: (p) => heartbeat.progress(jobId, p),
        awaitHandover: async (previous) => {
          expect(previous.workerId).toBe('worker-same');
          await heartbeat.whenReleasedLocally(previous.trialId, jobId, { timeoutMs: 10_000, pollMs: 5 });
          handoverAt = performance.now();
        },
      });
      let firstStoppedAt = Number.POSITIVE_INFINITY;
      let handoverAt = 0;
      const first = runTrial(deps(pool1, 'job-1'), { sweepId: sweep.id, trialId: trial.id, attempt: 1 }, never).then(
        () => 'returned',
        (error: unknown) => error,
      ).finally(() => {
        firstStoppedAt = performance.now();
        heartbeat.trialEnded('job-1');
      });
      await sleepUntil(async () => (await trialNow(trial.id)).epochsDone >= 1, { timeoutMs: 30_000, intervalMs: 5, what: 'a first epoch' });

      const second = await runTrial(deps(pool2, 'job-2'), { sweepId: sweep.id, trialId: trial.id, attempt: 2 }, never);
      expect(second).toBe('completed');
      expect(await first).toBeInstanceOf(TrialCancelled);
      expect(handoverAt).toBeGreaterThan(firstStoppedAt);
      expect(await trialNow(trial.id)).toMatchObject({ status: 'completed', workerId: 'worker-same', attempt: 2, epochsDone: 50 });
    } finally {
      await heartbeat.stop();
      await pool1.close();
      await pool2.close();
    }
  });
});
