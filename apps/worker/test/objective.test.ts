// Any reported metric as the objective, through the queue (real Postgres and Redis, in-process trial
// and sweep workers): a val_top3_accuracy sweep under ASHA ranks, stops and picks its best trial by
// that metric, as its stored rows, trial values and decision events show; a regression sweep does
// the same by val_rmse; an objective the dataset cannot report fails its trials before training.
import { SearchTrialsCache, createSweep, getSweep, listTrials, metricSeries, sweepEventsAfter, type Sweep, type Trial } from '@hypersweep/db';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '@hypersweep/db/testing';
import { DatasetCache } from '@hypersweep/datasets';
import { silentLogger } from '@hypersweep/log';
import { Rng } from '@hypersweep/nn';
import { createQueues, createRedis, createSweepWorker, createTrialWorker, type JobQueues, type SweepWorker, type TrialWorker } from '@hypersweep/queue';
import { deleteKeysWithPrefix, randomTestPrefix, sleepUntil } from '@hypersweep/queue/testing';
import { CreateSweepRequest, schedulerConfigFor, type CreateSweepRequestInput } from '@hypersweep/schemas';
import { createScheduler, type FrozenTrial } from '@hypersweep/search';
import { ReplicaPool } from '@hypersweep/trainer';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { advanceSweep } from '../src/advance-sweep.ts';
import { runTrial } from '../src/run-trial.ts';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

// A regression CSV served as an upload (the store is Postgres in the apps; a function here).
const CSV_ID = '3f1c1c52-6a57-4cf1-9a43-0d1d8f7e2b10';
function regressionCsv(rows: number): string {
  const rng = Rng.fromSeed(21);
  const lines = ['x1,x2,x3,y'];
  for (let i = 0; i < rows; i++) {
    const x = [rng.normal(), rng.normal(), rng.normal()];
    lines.push(`${x.map((v) => v.toFixed(5)).join(',')},${(2 * x[0]! - x[1]! + 0.5 * x[2]! * x[0]! + 0.1 * rng.normal()).toFixed(5)}`);
  }
  return lines.join('\n');
}
const csvText = regressionCsv(400);

let database: MigratedTestDatabase;
let redis: Redis;
let prefix: string;
let queues: JobQueues;
let pool: ReplicaPool;
const datasets = new DatasetCache(async (id) => {
  if (id !== CSV_ID) throw new Error(`no upload ${id}`);
  return { text: csvText, options: { labelColumn: 'y', task: 'regression', validationFraction: 0.2, testFraction: 0.2, seed: 1 } };
});
const workers: (TrialWorker | SweepWorker)[] = [];

beforeAll(async () => {
  database = await createMigratedTestDatabase({ maxConnections: 8 });
  redis = createRedis(redisUrl, { role: 'worker' });
  prefix = randomTestPrefix();
  queues = createQueues({ connection: redis, prefix });
  pool = await ReplicaPool.create({ threads: 2, stepTimeoutMs: 10_000 });
});

afterAll(async () => {
  await queues?.close();
  if (redis) {
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  }
  await pool?.close();
  await database?.close();
});

afterEach(async () => {
  for (const w of workers.splice(0)) await w.close();
});

/** One trial worker and one sweep worker, as a worker process runs them. */
function startWorkers(): void {
  const search = new SearchTrialsCache(database.db);
  workers.push(
    createTrialWorker({
      connection: redis,
      prefix,
      name: 'trial-worker',
      handler: async (job, ctx) => {
        await runTrial({ db: database.db, pool, datasets, search, logger: silentLogger, now: () => performance.now(), workerId: 'trial-worker', cancelPollMs: 200, queues }, job, ctx);
      },
    }),
    createSweepWorker({
      connection: redis,
      prefix,
      name: 'sweep-worker',
      handler: async (advance) => {
        await advanceSweep({ db: database.db, queues, datasets, search: new SearchTrialsCache(database.db), logger: silentLogger }, advance.sweepId);
      },
    }),
  );
}

/** Stores the sweep as the API does and starts it; resolves when it has ended. */
async function runSweep(input: CreateSweepRequestInput): Promise<{ spec: CreateSweepRequest; sweep: Sweep; trials: Trial[] }> {
  const spec = CreateSweepRequest.parse(input);
  const { sweep } = await createSweep(database.db, {
    name: spec.name,
    spec: JSON.parse(JSON.stringify(spec)),
    seed: 5,
    objective: { metric: spec.objective.metric, mode: spec.objective.mode },
    budget: JSON.parse(JSON.stringify(spec.search.budget)),
  });
  startWorkers();
  await queues.enqueueSweepAdvance({ sweepId: sweep.id, reason: 'started' });
  let done: Sweep | null = null;
  await sleepUntil(
    async () => {
      done = await getSweep(database.db, sweep.id);
      return done !== null && ['completed', 'failed', 'cancelled'].includes(done.status);
    },
    { timeoutMs: 120_000, intervalMs: 100, what: `sweep ${spec.name} ended` },
  );
  const trials = (await listTrials(database.db, sweep.id, { limit: 1000 })).items.sort((a, b) => a.number - b.number);
  return { spec, sweep: done!, trials };
}

/** A trial's stored series by metric name: step → value. */
async function rowsOf(trial: Trial): Promise<Map<string, Map<number, number>>> {
  const { series } = await metricSeries(database.db, trial.id, [], { maxPoints: 10_000 });
  return new Map(series.map((s) => [s.name, new Map(s.points.map((p) => [p.step, p.value]))]));
}

const lastOf = (m: Map<number, number>) => m.get(Math.max(...m.keys()))!;

describe('a sweep whose objective is not the default', () => {
  it('val_top3_accuracy under ASHA: trial values are its rows, every stop is the ASHA verdict on its rows and cites them, the best trial is its maximum', async () => {
    const { spec, sweep, trials } = await runSweep({
      name: 'top3 asha',
      dataset: { type: 'mnist', limitTrain: 600, limitTest: 100, validationCount: 150 },
      model: {
        inputShape: [28, 28],
        layers: [{ type: 'flatten' }, { type: 'dense', units: 16, activation: 'relu' }, { type: 'dense', units: 10 }],
        loss: 'softmax_cross_entropy',
      },
      training: { epochs: 3, batchSize: 32, optimizer: { type: 'sgd', learningRate: 0.01 } },
      search: {
        // From rates that barely move the weights in an epoch to ones that learn: ASHA has losers to stop.
        space: { learningRate: { type: 'loguniform', low: 1e-4, high: 0.3 } },
        sampler: { type: 'random' },
        scheduler: { type: 'asha', reductionFactor: 3, minResource: 1 },
        // One trial at a time: each trial's Rung holds exactly the trials before it, so the
        // decisions can be recomputed from the stored rows.
        budget: { maxTrials: 6, maxConcurrentTrials: 1 },
        seed: 3,
      },
      objective: { metric: 'val_top3_accuracy', mode: 'maximize' },
    });
    expect(sweep.status).toBe('completed');
    expect(sweep.objectiveMetric).toBe('val_top3_accuracy');
    expect(trials).toHaveLength(6);

    const rows = new Map<number, Map<string, Map<number, number>>>();
    for (const t of trials) rows.set(t.number, await rowsOf(t));
    const top3 = (t: Trial) => rows.get(t.number)!.get('val_top3_accuracy')!;
    for (const t of trials) {
      const r = rows.get(t.number)!;
      // Every classification metric is written per epoch, top-3 and top-5 included (MNIST has 10 classes).
      for (const name of ['train_loss', 'train_accuracy', 'train_top3_accuracy', 'train_top5_accuracy', 'val_loss', 'val_accuracy', 'val_top3_accuracy', 'val_top5_accuracy']) {
        expect([...(r.get(name)?.keys() ?? [])], `${t.number} ${name}`).toEqual(Array.from({ length: t.epochsDone }, (_, i) => i + 1));
      }
      for (const step of r.get('val_accuracy')!.keys()) {
        expect(r.get('val_top3_accuracy')!.get(step)!).toBeGreaterThanOrEqual(r.get('val_accuracy')!.get(step)!);
        expect(r.get('val_top5_accuracy')!.get(step)!).toBeGreaterThanOrEqual(r.get('val_top3_accuracy')!.get(step)!);
      }
      // The trial's values are its val_top3_accuracy rows: the maximum, and the last epoch's.
      expect(t.bestValue, `trial ${t.number} bestValue`).toBe(Math.max(...top3(t).values()));
      expect(t.finalValue, `trial ${t.number} finalValue`).toBe(lastOf(top3(t)));
    }

    // ASHA's Milestones here: epoch 1 only (3 = maxResource is none). Recompute each trial's verdict
    // at epoch 1 from the val_top3_accuracy rows of the trials before it.
    const scheduler = createScheduler(schedulerConfigFor(spec));
    const frozen = (t: Trial, upTo: number): FrozenTrial => ({
      number: t.number,
      params: t.params as Record<string, number>,
      state: t.status,
      reports: [...top3(t)].filter(([step]) => step <= upTo).map(([step, value]) => ({ step, value })),
    });
    const stoppedAt = new Map<number, string>();
    for (const t of trials) {
      const verdict = scheduler.explain(frozen(t, 1), [...trials.filter((p) => p.number < t.number).map((p) => frozen(p, Infinity)), frozen(t, 1)]);
      if (verdict.decision === 'stop') {
        expect(t.status, `trial ${t.number}`).toBe('stopped');
        expect(t.epochsDone).toBe(1);
        const reason = `asha stopped it after epoch 1: ${verdict.reason} (val_top3_accuracy ${top3(t).get(1)}, cutoff ${verdict.cutoff})`;
        expect(t.reason).toBe(reason);
        stoppedAt.set(t.number, reason);
      } else {
        expect(t.status, `trial ${t.number}`).toBe('completed');
        expect(t.epochsDone).toBe(3);
      }
    }
    // The sweep exercised ASHA both ways.
    expect(stoppedAt.size).toBeGreaterThan(0);
    expect(stoppedAt.size).toBeLessThan(trials.length);

    // The stored decision events say the same: one trial.stopped per stop with that reason, and the
    // trial.completed events carry val_top3_accuracy values.
    const events = await sweepEventsAfter(database.db, sweep.id, 0, 10_000);
    const stops = events.filter((e) => e.type === 'trial.stopped').map((e) => e.data as { number: number; reason: string });
    expect(new Map(stops.map((e) => [e.number, e.reason]))).toEqual(stoppedAt);
    const completions = events.filter((e) => e.type === 'trial.completed').map((e) => e.data as { number: number; finalValue: number; bestValue: number });
    for (const c of completions) {
      const t = trials.find((x) => x.number === c.number)!;
      expect(c).toMatchObject({ finalValue: lastOf(top3(t)), bestValue: Math.max(...top3(t).values()) });
    }
    const epochEvents = events.filter((e) => e.type === 'trial.epoch').map((e) => e.data as { number: number; epoch: number; metrics: Record<string, number> });
    expect(epochEvents.length).toBe(trials.reduce((n, t) => n + t.epochsDone, 0));
    for (const e of epochEvents) expect(e.metrics.val_top3_accuracy).toBe(top3(trials.find((t) => t.number === e.number)!).get(e.epoch));

    // The best trial: the completed one with the highest final val_top3_accuracy.
    const completed = trials.filter((t) => t.status === 'completed');
    const best = completed.reduce((a, b) => (lastOf(top3(b)) > lastOf(top3(a)) ? b : a));
    expect(sweep.bestTrialId).toBe(best.id);
  });

  it('val_rmse on a regression CSV: MAE and RMSE rows per epoch, values and the best trial by val_rmse', async () => {
    const { sweep, trials } = await runSweep({
      name: 'rmse fifo',
      dataset: { type: 'csv', id: CSV_ID },
      model: { inputShape: [3], layers: [{ type: 'dense', units: 16, activation: 'tanh' }, { type: 'dense', units: 1 }], loss: 'mse' },
      training: { epochs: 3, batchSize: 16, optimizer: { type: 'adam', learningRate: 0.01 } },
      search: {
        space: { learningRate: { type: 'loguniform', low: 1e-4, high: 3e-2 } },
        sampler: { type: 'random' },
        budget: { maxTrials: 3, maxConcurrentTrials: 1 },
        seed: 4,
      },
      objective: { metric: 'val_rmse' },
    });
    expect(sweep.status).toBe('completed');
    expect(sweep.objectiveMode).toBe('minimize');
    expect(trials.map((t) => t.status)).toEqual(['completed', 'completed', 'completed']);
    const rmse = new Map<number, Map<number, number>>();
    for (const t of trials) {
      const r = await rowsOf(t);
      for (const name of ['train_loss', 'train_mae', 'train_rmse', 'val_loss', 'val_mae', 'val_rmse']) {
        expect([...(r.get(name)?.keys() ?? [])], `${t.number} ${name}`).toEqual([1, 2, 3]);
      }
      expect(r.has('val_accuracy')).toBe(false);
      for (const step of [1, 2, 3]) {
        // RMSE is the root of the mse loss; MAE never exceeds it.
        expect(r.get('val_rmse')!.get(step)! ** 2).toBeCloseTo(r.get('val_loss')!.get(step)!, 10);
        expect(r.get('val_mae')!.get(step)!).toBeLessThanOrEqual(r.get('val_rmse')!.get(step)!);
      }
      rmse.set(t.number, r.get('val_rmse')!);
      expect(t.bestValue).toBe(Math.min(...r.get('val_rmse')!.values()));
      expect(t.finalValue).toBe(r.get('val_rmse')!.get(3));
    }
    const best = trials.reduce((a, b) => (rmse.get(b.number)!.get(3)! < rmse.get(a.number)!.get(3)! ? b : a));
    expect(sweep.bestTrialId).toBe(best.id);
  });

  it('an objective the dataset cannot report (top-5 of 2 spiral classes) fails each trial before it trains, naming what is reported', async () => {
    const { sweep, trials } = await runSweep({
      name: 'top5 of 2 classes',
      dataset: { type: 'spirals', count: 200, seed: 3 },
      model: { inputShape: [2], layers: [{ type: 'dense', units: 8, activation: 'tanh' }, { type: 'dense', units: 2 }], loss: 'softmax_cross_entropy' },
      training: { epochs: 2, batchSize: 16, optimizer: { type: 'adam', learningRate: 0.01 } },
      search: { space: { learningRate: { type: 'loguniform', low: 1e-3, high: 1e-1 } }, budget: { maxTrials: 2, maxConcurrentTrials: 1 }, seed: 1 },
      objective: { metric: 'val_top5_accuracy', mode: 'maximize' },
    });
    expect(sweep.status).toBe('failed');
    expect(trials.map((t) => [t.status, t.epochsDone])).toEqual([
      ['failed', 0],
      ['failed', 0],
    ]);
    expect(trials[0]!.error).toBe(
      'the objective val_top5_accuracy is not reported for this model and dataset (spirals, 2 outputs); it reports train_loss, train_accuracy, val_loss, val_accuracy',
    );
    expect(sweep.error).toContain('2 of 2 trials failed');
  });
});
