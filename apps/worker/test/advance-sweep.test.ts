// advanceSweep against a real Postgres (own database) and Redis (own prefix): sweeps driven end to
// end by in-process trial and sweep workers, concurrent advancers, grid exhaustion, failing sweeps.
import { SearchTrialsCache, claimTrial, createSweep, finishTrial, getSweep, listTrials, metricSeries, setSweepStatus, sweepEventsAfter, type Sweep, type Trial } from '@hypersweep/db';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '@hypersweep/db/testing';
import {
  createQueues,
  createRedis,
  createSweepWorker,
  createTrialWorker,
  type JobQueues,
  type SweepWorker,
  type TrialWorker,
} from '@hypersweep/queue';
import { deleteKeysWithPrefix, randomTestPrefix, sleepUntil } from '@hypersweep/queue/testing';
import { CreateSweepRequest, type CreateSweepRequestInput } from '@hypersweep/schemas';
import { ReplicaPool } from '@hypersweep/trainer';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { advanceSweep, pickBest, type AdvanceSweepDeps } from '../src/advance-sweep.ts';
import { DatasetCache } from '@hypersweep/datasets';
import { silentLogger } from '@hypersweep/log';
import { runTrial } from '../src/run-trial.ts';
import { spiralsSweep } from './fixtures.ts';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

let database: MigratedTestDatabase;
let redis: Redis;
let prefix: string;
let queues: JobQueues;
const pools: ReplicaPool[] = [];
const datasets = new DatasetCache();
const trialWorkers: TrialWorker[] = [];
const sweepWorkers: SweepWorker[] = [];

beforeAll(async () => {
  database = await createMigratedTestDatabase({ maxConnections: 12 });
  redis = createRedis(redisUrl, { role: 'worker' });
  prefix = randomTestPrefix();
  queues = createQueues({ connection: redis, prefix });
  for (let i = 0; i < 2; i++) pools.push(await ReplicaPool.create({ threads: 1, stepTimeoutMs: 10_000 }));
});

afterAll(async () => {
  await queues?.close();
  if (redis) {
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  }
  for (const pool of pools) await pool.close();
  await database?.close();
});

afterEach(async () => {
  // Workers left running would take the next test's jobs.
  for (const w of trialWorkers.splice(0)) await w.close();
  for (const w of sweepWorkers.splice(0)) await w.close();
});

function advanceDeps(): AdvanceSweepDeps {
  return { db: database.db, queues, datasets, search: new SearchTrialsCache(database.db), logger: silentLogger };
}

/** Two trial workers (one single-thread pool each) and `sweepWorkerCount` sweep workers, as worker processes run them. */
function startWorkers(sweepWorkerCount = 1): void {
  pools.forEach((pool, i) => {
    const workerId = `trial-worker-${i}`;
    trialWorkers.push(
      createTrialWorker({
        connection: redis,
        prefix,
        name: workerId,
        handler: async (job, ctx) => {
          await runTrial(
            { db: database.db, pool, datasets, search: new SearchTrialsCache(database.db), logger: silentLogger, now: () => performance.now(), workerId, cancelPollMs: 200, queues },
            job,
            ctx,
          );
        },
      }),
    );
  });
  for (let i = 0; i < sweepWorkerCount; i++) {
    sweepWorkers.push(
      createSweepWorker({
        connection: redis,
        prefix,
        name: `sweep-worker-${i}`,
        handler: async (advance) => {
          await advanceSweep(advanceDeps(), advance.sweepId);
        },
      }),
    );
  }
}

/** Stores a pending sweep the way the API does. */
async function submit(input: CreateSweepRequestInput): Promise<Sweep> {
  const spec = CreateSweepRequest.parse(input);
  const { sweep } = await createSweep(database.db, {
    name: spec.name,
    spec: JSON.parse(JSON.stringify(spec)),
    seed: 5,
    objective: { metric: spec.objective.metric, mode: spec.objective.mode },
    budget: JSON.parse(JSON.stringify(spec.search.budget)),
  });
  return sweep;
}

async function sweepNow(id: string): Promise<Sweep> {
  const sweep = await getSweep(database.db, id);
  if (!sweep) throw new Error(`sweep ${id} vanished`);
  return sweep;
}

async function trialsOf(sweepId: string): Promise<Trial[]> {
  return (await listTrials(database.db, sweepId, { limit: 1000 })).items;
}

const ended = (s: Sweep) => s.status === 'completed' || s.status === 'failed' || s.status === 'cancelled';

describe('advanceSweep', () => {
  it('drives a TPE sweep end to end: 4 trials with metrics, a best trial and a test result', async () => {
    const sweep = await submit(
      spiralsSweep((req) => {
        req.training.epochs = 2;
        req.search.sampler = { type: 'tpe', nStartupTrials: 2 };
        req.search.budget = { maxTrials: 4, maxConcurrentTrials: 2 };
      }),
    );
    expect(sweep.status).toBe('pending');
    startWorkers();
    await queues.enqueueSweepAdvance({ sweepId: sweep.id, reason: 'started' });

    let maxActive = 0;
    await sleepUntil(
      async () => {
        const trials = await trialsOf(sweep.id);
        maxActive = Math.max(maxActive, trials.filter((t) => t.status === 'queued' || t.status === 'running').length);
        return ended(await sweepNow(sweep.id));
      },
      { timeoutMs: 90_000, intervalMs: 50, what: 'sweep ended' },
    );
    const done = await sweepNow(sweep.id);
    expect(done.status).toBe('completed');
    expect(maxActive).toBeLessThanOrEqual(2);
    const trials = await trialsOf(sweep.id);
    expect(trials.map((t) => t.number)).toEqual([0, 1, 2, 3]);
    for (const trial of trials) {
      expect(trial).toMatchObject({ status: 'completed', epochsDone: 2 });
      const { series } = await metricSeries(database.db, trial.id, ['val_loss', 'train_loss', 'val_accuracy']);
      for (const s of series) expect(s.points.map((p) => p.step), `${trial.number} ${s.name}`).toEqual([1, 2]);
      expect(series).toHaveLength(3);
    }
    const best = trials.reduce((a, b) => ((b.finalValue as number) < (a.finalValue as number) ? b : a));
    expect(done.bestTrialId).toBe(best.id);
    const test = done.testResult as Record<string, unknown>;
    expect(test).toMatchObject({ trialId: best.id, trialNumber: best.number, epoch: 2 });
    expect(test.loss).toEqual(expect.any(Number));
    expect(test.accuracy as number).toBeGreaterThan(0);
    expect(test.accuracy as number).toBeLessThanOrEqual(1);
    // The confusion matrix covers the whole test split and agrees with the accuracy.
    const matrix = test.confusionMatrix as number[][];
    const total = matrix.flat().reduce((a, b) => a + b, 0);
    expect(total).toBe(test.count);
    expect(matrix.reduce((sum, row, i) => sum + row[i]!, 0) / total).toBeCloseTo(test.accuracy as number, 6);
    expect(test.classNames).toHaveLength(matrix.length);

    // Idempotent once finished: another advance changes nothing.
    const again = await advanceSweep(advanceDeps(), sweep.id);
    expect(again).toMatchObject({ status: 'completed', created: 0, enqueued: 0 });
    expect(await trialsOf(sweep.id)).toHaveLength(4);
    expect(await sweepNow(sweep.id)).toEqual(done);
  });

  it('creates no extra trials when advanced twice concurrently or again (concurrency respected)', async () => {
    const sweep = await submit(spiralsSweep((req) => (req.search.budget = { maxTrials: 4, maxConcurrentTrials: 2 })));
    const results = await Promise.all([advanceSweep(advanceDeps(), sweep.id), advanceSweep(advanceDeps(), sweep.id)]);
    expect(results.map((r) => r.created).sort()).toEqual([0, 2]);
    expect((await sweepNow(sweep.id)).status).toBe('running');
    const trials = await trialsOf(sweep.id);
    expect(trials.map((t) => [t.number, t.status])).toEqual([
      [0, 'queued'],
      [1, 'queued'],
    ]);
    const states = await Promise.all(trials.map((t) => queues.trialJobState(t.id, 1)));
    for (const state of states) expect(state).toBe('waiting');

    const again = await advanceSweep(advanceDeps(), sweep.id);
    expect(again.created).toBe(0);
    expect(await trialsOf(sweep.id)).toHaveLength(2);
  });

  it('never creates a grid cell twice with concurrent advancers and ends when the grid is exhausted', async () => {
    const sweep = await submit(
      spiralsSweep((req) => {
        req.training.epochs = 2;
        req.search.sampler = { type: 'grid', pointsPerParam: 3 };
        req.search.space = { learningRate: { type: 'loguniform', low: 1e-3, high: 1e-1 } };
        req.search.budget = { maxTrials: 10, maxConcurrentTrials: 2 };
      }),
    );
    startWorkers(2);
    await Promise.all([advanceSweep(advanceDeps(), sweep.id), advanceSweep(advanceDeps(), sweep.id)]);
    expect(await trialsOf(sweep.id)).toHaveLength(2);
    // Besides the queue-driven advances, two direct advancers race while the trials run.
    await sleepUntil(
      async () => {
        await Promise.all([advanceSweep(advanceDeps(), sweep.id), advanceSweep(advanceDeps(), sweep.id)]);
        return ended(await sweepNow(sweep.id));
      },
      { timeoutMs: 90_000, intervalMs: 50, what: 'grid sweep ended' },
    );
    const done = await sweepNow(sweep.id);
    expect(done.status).toBe('completed');
    const trials = await trialsOf(sweep.id);
    expect(trials).toHaveLength(3);
    expect(new Set(trials.map((t) => t.cellKey)).size).toBe(3);
    expect(new Set(trials.map((t) => (t.params as { learningRate: number }).learningRate)).size).toBe(3);
    expect(trials.every((t) => t.status === 'completed')).toBe(true);
    expect(trials.map((t) => t.id)).toContain(done.bestTrialId);
    expect(done.testResult).toMatchObject({ trialId: done.bestTrialId, loss: expect.any(Number) });
  });

  it('records the best trial as soon as a trial finishes, while the sweep runs or is paused', async () => {
    const sweep = await submit(spiralsSweep((req) => (req.search.budget = { maxTrials: 6, maxConcurrentTrials: 3 })));
    const deps = advanceDeps();
    await advanceSweep(deps, sweep.id);
    const [a, b, c] = await trialsOf(sweep.id);
    expect((await sweepNow(sweep.id)).bestTrialId).toBeNull();
    const finish = async (trial: Trial, outcome: 'completed' | 'stopped', value: number) => {
      await claimTrial(database.db, trial.id, 'w');
      await finishTrial(database.db, trial.id, outcome, { finalValue: value });
      await advanceSweep(deps, sweep.id);
      return sweepNow(sweep.id);
    };
    // A stopped trial counts only while none has completed (pickBest), whatever its value.
    expect(await finish(a!, 'stopped', 0.2)).toMatchObject({ status: 'running', bestTrialId: a!.id });
    expect(await finish(b!, 'completed', 0.5)).toMatchObject({ status: 'running', bestTrialId: b!.id });
    await setSweepStatus(database.db, sweep.id, 'paused', { from: ['running'] });
    expect(await finish(c!, 'completed', 0.3)).toMatchObject({ status: 'paused', bestTrialId: c!.id });
    const events = await sweepEventsAfter(database.db, sweep.id, 0);
    expect(events.filter((e) => e.type === 'sweep.updated' && (e.data as { best: { trialId: string } | null }).best?.trialId === c!.id).length).toBeGreaterThan(0);
  });

  it('fails a sweep whose trials all fail, with the trials’ error', async () => {
    const sweep = await submit(
      spiralsSweep((req) => {
        // The largest learning rate a spec may ask for, with momentum, through a deep linear network
        // (ReLUs would die instead): every trial diverges.
        req.model.layers = [
          { type: 'dense', units: 16, activation: 'linear' },
          { type: 'dense', units: 16, activation: 'linear' },
          { type: 'dense', units: 16, activation: 'linear' },
          { type: 'dense', units: 2 },
        ];
        req.training.optimizer = { type: 'sgd', learningRate: 100 };
        req.search.space = { momentum: { type: 'fixed', value: 0.9 } };
        req.search.budget = { maxTrials: 3, maxConcurrentTrials: 2 };
      }),
    );
    startWorkers();
    await queues.enqueueSweepAdvance({ sweepId: sweep.id, reason: 'started' });
    await sleepUntil(async () => ended(await sweepNow(sweep.id)), { timeoutMs: 60_000, intervalMs: 50, what: 'failing sweep ended' });
    const done = await sweepNow(sweep.id);
    expect(done.status).toBe('failed');
    expect(done.bestTrialId).toBeNull();
    expect(done.testResult).toBeNull();
    expect(done.error).toMatch(/3 of 3 trials failed \(last error: loss became/);
    const trials = await trialsOf(sweep.id);
    expect(trials.map((t) => t.status)).toEqual(['failed', 'failed', 'failed']);
  });
});

describe('pickBest', () => {
  const t = (number: number, state: 'completed' | 'stopped' | 'failed', value?: number) => ({
    number,
    params: {},
    state,
    reports: [],
    ...(value === undefined ? {} : { value }),
  });

  it('prefers completed trials by the objective mode, then stopped ones with a value', () => {
    const trials = [t(0, 'stopped', 0.1), t(1, 'completed', 0.5), t(2, 'completed', 0.3), t(3, 'failed')];
    expect(pickBest(trials, 'minimize')?.number).toBe(2);
    expect(pickBest(trials, 'maximize')?.number).toBe(1);
    expect(pickBest([t(0, 'stopped', 0.4), t(1, 'stopped', 0.2), t(2, 'failed')], 'minimize')?.number).toBe(1);
    expect(pickBest([t(0, 'failed'), t(1, 'stopped')], 'minimize')).toBeNull();
  });
});
