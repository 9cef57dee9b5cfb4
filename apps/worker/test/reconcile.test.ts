// The reconciler against real Postgres (own database) and Redis (own prefix): after Redis loses its
// keys it re-enqueues the queued trials without a live job at once and the running ones only once
// their holder went a grace period without a heartbeat naming them, past finished attempts, once
// across concurrent reconcilers; a live worker whose job vanished finishes its trial and nothing
// re-delivers it; and a second delivery of a trial under its running worker moves it to the new one.
import { SearchTrialsCache, claimTrial, finishTrial, getTrial, latestCheckpoint, metricSeries, setSweepStatus } from '@hypersweep/db';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '@hypersweep/db/testing';
import {
  MAX_RECONNECT_DELAY_MS,
  TrialCancelled,
  UnrecoverableError,
  createQueues,
  createRedis,
  createTrialWorker,
  publishHeartbeat,
  reconcileJoblessKey,
  removeHeartbeat,
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
/** The reconciler's clock in these tests (ms); each test starts at 0 and moves it. */
let clock = 0;
/** The grace `reconcileDeps` gives a running trial's holder. */
const GRACE_MS = 1_000;
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
  clock = 0;
});

afterEach(async () => {
  for (const w of workers.splice(0)) await w.close(true);
  await queues?.close();
  await database?.close();
});

function reconcileDeps(workerId = 'reconciler'): ReconcileDeps {
  return { db: database.db, redis, queues, logger: silentLogger, workerId, holderGraceMs: GRACE_MS, now: () => clock };
}

/** The spirals sweep with room for all its trials at once: these tests are about jobs, not the concurrency limit. */
function wideSweep() {
  return spiralsSweep((req) => {
    req.search.budget = { ...req.search.budget, maxConcurrentTrials: 10 };
  });
}

/** A heartbeat of `workerId` naming `trials` (trial id, claim attempt), live for a minute. */
async function beat(workerId: string, trials: { trialId: string; attempt: number }[], ttlMs = 60_000): Promise<void> {
  const first = trials[0];
  const at = new Date().toISOString();
  await publishHeartbeat(
    redis,
    prefix,
    {
      workerId,
      host: 'test',
      pid: process.pid,
      threads: 1,
      currentTrial: first ? { sweepId: '00000000-0000-4000-8000-000000000000', trialId: first.trialId, attempt: first.attempt, epoch: 1 } : null,
      samplesPerSecond: 0,
      startedAt: at,
      at,
    },
    ttlMs,
    { trials },
  );
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
    const sweep = await storeSweep(database.db, wideSweep());
    const queued = await storeTrial(database.db, sweep.id, { learningRate: 0.01 });
    const running = await storeTrial(database.db, sweep.id, { learningRate: 0.02 });
    const done = await storeTrial(database.db, sweep.id, { learningRate: 0.03 });
    const pending = await storeSweep(database.db, wideSweep(), 11, 'pending');
    const finished = await storeSweep(database.db, wideSweep());
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

    // Its worker is gone too (no heartbeat names it), but heartbeats were lost with everything else:
    // `running` is re-enqueued only once its holder had the grace period to publish one.
    const activeSweeps = [sweep.id, pending.id].sort();
    expect(await reconcile(reconcileDeps())).toEqual({ ran: true, requeuedTrials: 0, leftToHolder: 0, awaitingHolder: 1, advancedSweeps: expect.any(Number), lapsedLeaseSweeps: 0, heldBackTrials: 0 });
    expect(await liveIds()).toEqual([trialJobId(queued.id, 1)]);
    clock += GRACE_MS;
    const summary = await reconcile(reconcileDeps());
    expect(summary).toEqual({ ran: true, requeuedTrials: 1, leftToHolder: 0, awaitingHolder: 0, advancedSweeps: expect.any(Number), lapsedLeaseSweeps: 0, heldBackTrials: 0 });
    // `running` was claimed once and its job is gone: its next job is attempt 2.
    expect(await liveIds()).toEqual([trialJobId(queued.id, 1), trialJobId(running.id, 2)].sort());

    // Redis loses everything again: both are missing now; `queued`, never claimed, gets attempt 1 again
    // at once; `running` waits for the grace period again (the wipe erased when it was first seen).
    await deleteKeysWithPrefix(redis, prefix);
    expect(await reconcile(reconcileDeps())).toMatchObject({ ran: true, requeuedTrials: 1, awaitingHolder: 1 });
    expect(await liveIds()).toEqual([trialJobId(queued.id, 1)]);
    clock += GRACE_MS;
    expect(await reconcile(reconcileDeps())).toMatchObject({ ran: true, requeuedTrials: 1, awaitingHolder: 0 });
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
    const sweep = await storeSweep(database.db, wideSweep());
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

    // skipped (queued) at once; broken (running, no heartbeat) after the grace period.
    expect(await reconcile(reconcileDeps())).toMatchObject({ ran: true, requeuedTrials: 1, awaitingHolder: 1 });
    clock += GRACE_MS;
    expect(await reconcile(reconcileDeps())).toMatchObject({ ran: true, requeuedTrials: 1, awaitingHolder: 0 });
    // skipped: attempt 0 → 1 is spent → 2. broken: attempt 1 → 2 is spent → 3.
    expect(await liveIds()).toEqual([trialJobId(skipped.id, 2), trialJobId(broken.id, 3)].sort());
    expect(await queues.trialJobState(skipped.id, 1)).toBe('completed');
  });

  it('two concurrent reconcilers enqueue each missing trial once', async () => {
    const sweep = await storeSweep(database.db, wideSweep());
    const trials = [];
    for (let i = 0; i < 5; i += 1) trials.push(await storeTrial(database.db, sweep.id, { learningRate: 0.01 * (i + 1) }));
    expect((await claimTrial(database.db, trials[0]!.id, 'w-gone')).changed).toBe(true);
    const otherRedis = createRedis(redisUrl, { role: 'worker' });
    const otherQueues = createQueues({ connection: otherRedis, prefix });
    try {
      const other: ReconcileDeps = { ...reconcileDeps('reconciler-2'), redis: otherRedis, queues: otherQueues };
      const concurrently = async () => {
        const results = await Promise.all([reconcile(reconcileDeps('reconciler-1')), reconcile(other)]);
        const ran = results.filter((r) => r.ran);
        const skipped = results.filter((r) => !r.ran);
        expect(ran).toHaveLength(1);
        expect(skipped).toHaveLength(1);
        expect(skipped[0]).toMatchObject({ ran: false, holder: expect.stringMatching(/^reconciler-[12]$/) });
        return ran[0];
      };
      // The queued trials at once; the running one (its holder gone) once the grace period is over.
      expect(await concurrently()).toMatchObject({ requeuedTrials: 4, awaitingHolder: 1, advancedSweeps: expect.any(Number) });
      clock += GRACE_MS;
      expect(await concurrently()).toMatchObject({ requeuedTrials: 1, awaitingHolder: 0 });

      // Once the lock is free, either may run again: it finds nothing missing.
      expect(await reconcile(other)).toMatchObject({ ran: true, requeuedTrials: 0, awaitingHolder: 0 });
      const expected = trials.map((t, i) => trialJobId(t.id, i === 0 ? 2 : 1)).sort();
      expect(await liveIds()).toEqual(expected);
      expect((await queues.depth()).trials.waiting).toBe(5);
    } finally {
      await otherQueues.close();
      await otherRedis.quit();
    }
  });

  it("re-enqueues never-claimed queued trials only within their sweep's concurrency, lowest numbers first", async () => {
    // maxConcurrentTrials 2: one trial runs, two configurations a user enqueued wait without a job
    // (the advance held them back), and the running one's job was lost with Redis.
    const sweep = await storeSweep(database.db, spiralsSweep((req) => { req.search.budget = { ...req.search.budget, maxConcurrentTrials: 2 }; }));
    const running = await storeTrial(database.db, sweep.id, { learningRate: 0.01 });
    const next = await storeTrial(database.db, sweep.id, { learningRate: 0.02 });
    const later = await storeTrial(database.db, sweep.id, { learningRate: 0.03 });
    expect((await claimTrial(database.db, running.id, 'w-live')).changed).toBe(true);
    await beat('w-live', [{ trialId: running.id, attempt: 1 }]);

    // Room for one: the lowest-numbered waits no longer; the other stays held back.
    expect(await reconcile(reconcileDeps())).toMatchObject({ ran: true, requeuedTrials: 1, leftToHolder: 1, heldBackTrials: 1 });
    expect(await liveIds()).toEqual([trialJobId(next.id, 1)]);
    // Running again finds the room taken (a live job counts): nothing more.
    expect(await reconcile(reconcileDeps())).toMatchObject({ ran: true, requeuedTrials: 0, heldBackTrials: 1 });
    expect(await liveIds()).toEqual([trialJobId(next.id, 1)]);

    // The running trial ends: its slot goes to the held-back one.
    expect((await finishTrial(database.db, running.id, 'completed', { finalValue: 1 })).changed).toBe(true);
    expect(await reconcile(reconcileDeps())).toMatchObject({ ran: true, requeuedTrials: 1, heldBackTrials: 0 });
    expect(await liveIds()).toEqual([trialJobId(next.id, 1), trialJobId(later.id, 1)].sort());
  });

  it('with minIntervalMs, reconciles once per interval however many workers try', async () => {
    const sweep = await storeSweep(database.db, wideSweep());
    const trial = await storeTrial(database.db, sweep.id, { learningRate: 0.01 });
    const first = await reconcile({ ...reconcileDeps('worker-1'), minIntervalMs: 60_000 });
    expect(first).toEqual({ ran: true, requeuedTrials: 1, leftToHolder: 0, awaitingHolder: 0, advancedSweeps: 1, lapsedLeaseSweeps: 0, heldBackTrials: 0 });
    expect(await reconcile({ ...reconcileDeps('worker-2'), minIntervalMs: 60_000 })).toEqual({ ran: false, holder: 'worker-1' });
    expect(await liveIds()).toEqual([trialJobId(trial.id, 1)]);
  });

  it('after a wipe: a running trial whose worker names it stays; one whose holder is silent is re-enqueued after the grace period, not before', async () => {
    const sweep = await storeSweep(database.db, wideSweep());
    const held = await storeTrial(database.db, sweep.id, { learningRate: 0.01 });
    const orphan = await storeTrial(database.db, sweep.id, { learningRate: 0.02 });
    const misnamed = await storeTrial(database.db, sweep.id, { learningRate: 0.03 });
    const queued = await storeTrial(database.db, sweep.id, { learningRate: 0.04 });
    expect((await claimTrial(database.db, held.id, 'w-live')).changed).toBe(true);
    expect((await claimTrial(database.db, orphan.id, 'w-dead')).changed).toBe(true);
    expect((await claimTrial(database.db, misnamed.id, 'w-busy')).changed).toBe(true);

    // Just after a wipe: no job, no heartbeat. The queued trial is re-enqueued at once; the running
    // ones not yet — their holders may be alive and about to publish again.
    expect(await reconcile(reconcileDeps())).toMatchObject({ ran: true, requeuedTrials: 1, leftToHolder: 0, awaitingHolder: 3 });
    expect(await liveIds()).toEqual([trialJobId(queued.id, 1)]);

    // The live workers publish again: w-live names its trial and claim; w-busy names another attempt
    // of its trial (a delivery that was taken over) — that is not the claim Postgres holds.
    await beat('w-live', [{ trialId: held.id, attempt: 1 }]);
    await beat('w-busy', [{ trialId: misnamed.id, attempt: 2 }]);
    clock = GRACE_MS - 1;
    expect(await reconcile(reconcileDeps())).toMatchObject({ ran: true, requeuedTrials: 0, leftToHolder: 1, awaitingHolder: 2 });
    expect(await liveIds()).toEqual([trialJobId(queued.id, 1)]);

    // The grace period is over: the trials no live heartbeat names are re-enqueued (attempt + 1).
    clock = GRACE_MS;
    expect(await reconcile(reconcileDeps())).toMatchObject({ ran: true, requeuedTrials: 2, leftToHolder: 1, awaitingHolder: 0 });
    expect(await liveIds()).toEqual([trialJobId(queued.id, 1), trialJobId(orphan.id, 2), trialJobId(misnamed.id, 2)].sort());

    // However long it trains without a job, a trial its worker's heartbeat names stays with it.
    clock = 1_000 * GRACE_MS;
    expect(await reconcile(reconcileDeps())).toMatchObject({ ran: true, requeuedTrials: 0, leftToHolder: 1, awaitingHolder: 0 });
    expect(await getTrial(database.db, held.id)).toMatchObject({ status: 'running', workerId: 'w-live', attempt: 1 });

    // Its worker stops publishing (the heartbeat expired: gone here). The silence counts from the last
    // run that saw the trial named, not from the wipe: a holder that missed a beat keeps the grace.
    await removeHeartbeat(redis, prefix, 'w-live');
    const lastNamed = clock;
    clock = lastNamed + GRACE_MS - 1;
    expect(await reconcile(reconcileDeps())).toMatchObject({ ran: true, requeuedTrials: 0, leftToHolder: 0, awaitingHolder: 1 });
    clock = lastNamed + GRACE_MS;
    expect(await reconcile(reconcileDeps())).toMatchObject({ ran: true, requeuedTrials: 1, leftToHolder: 0, awaitingHolder: 0 });
    expect(await liveIds()).toContain(trialJobId(held.id, 2));
    // Every runnable trial has a job again: the next run finds nothing to do and drops its marks.
    expect(await redis.hkeys(reconcileJoblessKey(prefix))).toContain(held.id);
    expect(await reconcile(reconcileDeps())).toMatchObject({ ran: true, requeuedTrials: 0, leftToHolder: 0, awaitingHolder: 0 });
    expect(await redis.hkeys(reconcileJoblessKey(prefix))).toEqual([]);
  });

  it('without holderGraceMs, the grace is the longest live heartbeat TTL plus a reconnection; none readable → nothing judged dead', async () => {
    const sweep = await storeSweep(database.db, wideSweep());
    const first = await storeTrial(database.db, sweep.id, { learningRate: 0.01 });
    expect((await claimTrial(database.db, first.id, 'w-gone')).changed).toBe(true);
    const deps: ReconcileDeps = { db: database.db, redis, queues, logger: silentLogger, workerId: 'w-self', now: () => clock };

    // No heartbeat readable, not even this worker's own (Redis was just wiped): however long, no verdict.
    expect(await reconcile(deps)).toMatchObject({ ran: true, requeuedTrials: 0, awaitingHolder: 1 });
    clock = 10_000_000;
    expect(await reconcile(deps)).toMatchObject({ ran: true, requeuedTrials: 0, awaitingHolder: 1 });

    // This worker's heartbeat (TTL 60 s) is back: `first`, jobless since clock 0, is re-enqueued.
    await beat('w-self', [], 60_000);
    expect(await reconcile(deps)).toMatchObject({ ran: true, requeuedTrials: 1, awaitingHolder: 0 });
    expect(await liveIds()).toEqual([trialJobId(first.id, 2)]);

    // A holder lost from now on gets exactly the TTL plus the longest reconnection delay.
    const second = await storeTrial(database.db, sweep.id, { learningRate: 0.02 });
    expect((await claimTrial(database.db, second.id, 'w-gone')).changed).toBe(true);
    const since = clock;
    expect(await reconcile(deps)).toMatchObject({ ran: true, requeuedTrials: 0, awaitingHolder: 1 });
    clock = since + 60_000 + MAX_RECONNECT_DELAY_MS - 1;
    expect(await reconcile(deps)).toMatchObject({ ran: true, requeuedTrials: 0, awaitingHolder: 1 });
    clock = since + 60_000 + MAX_RECONNECT_DELAY_MS;
    expect(await reconcile(deps)).toMatchObject({ ran: true, requeuedTrials: 1, awaitingHolder: 0 });
    expect(await liveIds()).toEqual([trialJobId(first.id, 2), trialJobId(second.id, 2)].sort());

    // A mark from another Redis server (one restarted from an old snapshot) does not count: the
    // grace period starts again.
    const restored = await storeTrial(database.db, sweep.id, { learningRate: 0.03 });
    expect((await claimTrial(database.db, restored.id, 'w-gone')).changed).toBe(true);
    await redis.hset(reconcileJoblessKey(prefix), restored.id, JSON.stringify({ workerId: 'w-gone', attempt: 1, since: 0, server: 'another-server' }));
    expect(await reconcile(deps)).toMatchObject({ ran: true, requeuedTrials: 0, awaitingHolder: 1 });
    expect(JSON.parse((await redis.hget(reconcileJoblessKey(prefix), restored.id))!)).toMatchObject({ since: clock, server: expect.not.stringMatching(/^another-server$/) });
  });

  it('a worker training two trials at once (CONCURRENCY 2) keeps both, though its heartbeat shows one', async () => {
    const sweep = await storeSweep(database.db, wideSweep());
    const a = await storeTrial(database.db, sweep.id, { learningRate: 0.01 });
    const b = await storeTrial(database.db, sweep.id, { learningRate: 0.02 });
    const heartbeat = new Heartbeat({ redis, prefix, workerId: 'w-two', host: 'test', pid: process.pid, threads: 1, intervalMs: 60_000, logger: silentLogger });
    try {
      for (const [jobId, trial] of [['job-a', a], ['job-b', b]] as const) {
        const claim = await claimTrial(database.db, trial.id, 'w-two');
        expect(claim.changed).toBe(true);
        heartbeat.progress(jobId, { sweepId: sweep.id, trialId: trial.id, attempt: claim.row!.attempt, epoch: 0, samplesPerSecond: 0 });
      }
      await heartbeat.start();
      expect(heartbeat.snapshot().currentTrial?.trialId).toBe(a.id);
      expect(await reconcile(reconcileDeps())).toMatchObject({ ran: true, requeuedTrials: 0, leftToHolder: 2, awaitingHolder: 0 });
      clock = 100 * GRACE_MS;
      expect(await reconcile(reconcileDeps())).toMatchObject({ ran: true, requeuedTrials: 0, leftToHolder: 2, awaitingHolder: 0 });

      // One delivery ends without the trial ending in Postgres: b, no longer named by its live holder,
      // is re-enqueued once the grace period has passed since it was last named.
      heartbeat.trialEnded('job-b');
      await heartbeat.start(); // the publish of that change, awaited
      const lastNamed = clock;
      clock += 1;
      expect(await reconcile(reconcileDeps())).toMatchObject({ ran: true, requeuedTrials: 0, leftToHolder: 1, awaitingHolder: 1 });
      clock = lastNamed + GRACE_MS;
      expect(await reconcile(reconcileDeps())).toMatchObject({ ran: true, requeuedTrials: 1, leftToHolder: 1, awaitingHolder: 0 });
      expect(await liveIds()).toEqual([trialJobId(b.id, 2)]);
    } finally {
      await heartbeat.stop();
    }
  });

  it('a live worker whose job Redis lost keeps its trial: lock renewal and completion fail, it finishes the trial, nothing re-delivers it', async () => {
    const request = spiralsSweep((req) => {
      req.dataset = { type: 'spirals', count: 4000, seed: 3 };
      req.training.epochs = 60;
    });
    const graceMs = 300;
    const pool = await ReplicaPool.create({ threads: 1, stepTimeoutMs: 10_000 });
    const heartbeat = new Heartbeat({ redis, prefix, workerId: 'worker-live', host: 'test', pid: process.pid, threads: 1, intervalMs: 100, logger: silentLogger });
    try {
      const sweep = await storeSweep(database.db, request, 5);
      const trial = await storeTrial(database.db, sweep.id, { learningRate: 0.01 });
      const deps: RunTrialDeps = {
        db: database.db,
        pool,
        datasets: new DatasetCache(),
        search: new SearchTrialsCache(database.db),
        logger: silentLogger,
        now: () => performance.now(),
        workerId: 'worker-live',
        cancelPollMs: 100,
      };
      await heartbeat.start();
      const deliveries: string[] = [];
      const renewalFailures: string[] = [];
      const errors: string[] = [];
      // A job lock of 1 s: renewed every 0.5 s, so the lost lock shows within the trial.
      const live = createTrialWorker({
        connection: redis,
        prefix,
        name: 'worker-live',
        lockDuration: 1_000,
        handler: async (job, ctx) => {
          deliveries.push(`worker-live ${ctx.jobId}`);
          try {
            await runTrial({ ...deps, onProgress: (p) => heartbeat.progress(ctx.jobId, p) }, job, ctx);
          } finally {
            heartbeat.trialEnded(ctx.jobId);
          }
        },
      });
      workers.push(live);
      live.worker.on('lockRenewalFailed', (jobIds) => renewalFailures.push(...jobIds));
      live.worker.on('error', (error) => errors.push(error.message));
      // An idle worker: a second delivery of the trial would land here.
      const idle = startWorker('worker-idle', async (_job, ctx) => {
        deliveries.push(`worker-idle ${ctx.jobId}`);
      });

      await queues.enqueueTrial({ sweepId: sweep.id, trialId: trial.id, attempt: 1 });
      await sleepUntil(async () => (await trialNow(trial.id)).epochsDone >= 1, { timeoutMs: 30_000, intervalMs: 5, what: 'a first epoch' });
      await deleteKeysWithPrefix(redis, prefix);
      const wipedAt = performance.now();

      // The reconciler runs over and over (real clock) until the trial ends.
      const requeued: number[] = [];
      let judgedAfterGrace = false;
      const reconcilerDeps: ReconcileDeps = { db: database.db, redis, queues, logger: silentLogger, workerId: 'worker-idle', holderGraceMs: graceMs };
      await sleepUntil(
        async () => {
          const startedAt = performance.now();
          const result = await reconcile(reconcilerDeps);
          if (result.ran) {
            requeued.push(result.requeuedTrials);
            if (result.leftToHolder === 1 && startedAt - wipedAt > 2 * graceMs) judgedAfterGrace = true;
          }
          return (await trialNow(trial.id)).status !== 'running';
        },
        { timeoutMs: 60_000, intervalMs: 50, what: 'the trial to end on its worker' },
      );
      // Never re-enqueued, never delivered again — although it outlived the grace period without a job.
      expect(requeued.filter((n) => n > 0)).toEqual([]);
      expect(deliveries).toEqual([`worker-live ${trialJobId(trial.id, 1)}`]);
      expect(judgedAfterGrace).toBe(true);
      expect(await trialNow(trial.id)).toMatchObject({ status: 'completed', workerId: 'worker-live', attempt: 1, epochsDone: 60 });
      const jobId = trialJobId(trial.id, 1);
      // BullMQ could not renew the vanished job's lock (and kept the processor running), then could
      // neither complete nor fail it; nothing re-created the job or delivered it again.
      expect(renewalFailures).toContain(jobId);
      await sleepUntil(() => errors.some((m) => m.startsWith(`Missing key for job ${jobId}`)), { what: 'the completion to fail' });
      expect(await queues.trialJobState(trial.id, 1)).toBe('unknown');
      expect(await liveIds()).toEqual([]);
      expect(deliveries).toEqual([`worker-live ${jobId}`]);

      // The worker goes on taking work.
      await idle.close();
      const next = await storeTrial(database.db, sweep.id, { learningRate: 0.02 });
      await queues.enqueueTrial({ sweepId: sweep.id, trialId: next.id, attempt: 1 });
      await sleepUntil(async () => (await trialNow(next.id)).status === 'completed', { timeoutMs: 60_000, what: 'the next trial on the same worker' });
      expect(await trialNow(next.id)).toMatchObject({ workerId: 'worker-live', attempt: 1 });
      expect(deliveries).toEqual([`worker-live ${jobId}`, `worker-live ${trialJobId(next.id, 1)}`]);
    } finally {
      for (const w of workers.splice(0)) await w.close(true);
      await heartbeat.stop();
      await pool.close();
    }
  });

  it('a second delivery of a trial under its running worker moves it to the new one; the old worker stops first', async () => {
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

      // Redis loses the job while the old worker trains: the reconciler leaves the trial to it once
      // its heartbeat (published again after the wipe) names it.
      await deleteKeysWithPrefix(redis, prefix);
      await sleepUntil(
        async () => {
          const result = await reconcile(reconcileDeps());
          return result.ran && result.leftToHolder === 1 && result.requeuedTrials === 0;
        },
        { what: 'the reconciler to leave the trial to its worker' },
      );
      expect(await liveIds()).toEqual([]);
      // A second delivery comes anyway (a job retaken as stalled, a reconciler that judged the old
      // worker dead): the new worker takes the trial over once the old one has let go.
      await queues.enqueueTrial({ sweepId: sweep.id, trialId: trial.id, attempt: 2 });
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
      // Stopped by the takeover: seen by its Postgres poll, or by a fenced write of its stale claim.
      expect(oldLog.entries.some((e) => e.level === 'warn' && e.msg.includes('taken over'))).toBe(true);
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
