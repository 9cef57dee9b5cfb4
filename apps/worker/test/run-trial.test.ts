// runTrial against a real Postgres (own database) and Redis (own prefix): the trial execution path end to end.
import { SearchTrialsCache, claimTrial, finishTrial, getTrial, latestCheckpoint, metricSeries, recordEpochs, releaseTrial, setSweepStatus } from '@hypersweep/db';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '@hypersweep/db/testing';
import { evaluateCheckpoint, parseCheckpoint } from '@hypersweep/nn';
import { CreateSweepRequest, resolveTrialConfig } from '@hypersweep/schemas';
import {
  ReleaseTrial,
  createQueues,
  createRedis,
  createTrialWorker,
  publishCancel,
  subscribeCancels,
  type CancelSubscription,
  type JobQueues,
  type TrialWorker,
} from '@hypersweep/queue';
import { deleteKeysWithPrefix, randomTestPrefix, sleepUntil } from '@hypersweep/queue/testing';
import { ReplicaPool } from '@hypersweep/trainer';
import { faultyPool } from '@hypersweep/trainer/testing';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DatasetCache } from '@hypersweep/datasets';
import { silentLogger, type Logger } from '@hypersweep/log';
import { REPLICA_FAULT_ATTEMPTS, runTrial, type RunTrialDeps } from '../src/run-trial.ts';
import { recordingLogger, spiralsSweep, storeSweep, storeTrial } from './fixtures.ts';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

let database: MigratedTestDatabase;
let redis: Redis;
let prefix: string;
let queues: JobQueues;
let pool1: ReplicaPool;
let pool2: ReplicaPool;
const datasets = new DatasetCache();
const workers: TrialWorker[] = [];
const subscriptions: CancelSubscription[] = [];

beforeAll(async () => {
  database = await createMigratedTestDatabase();
  redis = createRedis(redisUrl, { role: 'worker' });
  prefix = randomTestPrefix();
  queues = createQueues({ connection: redis, prefix });
  pool1 = await ReplicaPool.create({ threads: 1, stepTimeoutMs: 10_000 });
  pool2 = await ReplicaPool.create({ threads: 2, stepTimeoutMs: 10_000 });
});

afterAll(async () => {
  await queues?.close();
  if (redis) {
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  }
  await pool1?.close();
  await pool2?.close();
  await database?.close();
});

afterEach(async () => {
  // A worker left running would take the next test's jobs and hold a pool.
  for (const s of subscriptions.splice(0)) await s.close();
  for (const w of workers.splice(0)) await w.close();
});

function deps(pool: ReplicaPool, workerId: string, options: { logger?: Logger; cancelPollMs?: number } = {}): RunTrialDeps {
  return {
    db: database.db,
    pool,
    datasets,
    search: new SearchTrialsCache(database.db),
    logger: options.logger ?? silentLogger,
    now: () => performance.now(),
    workerId,
    cancelPollMs: options.cancelPollMs ?? 200,
    keepCheckpoints: 100,
  };
}

const never = () => ({ cancelled: new AbortController().signal, shutdown: new AbortController().signal });

function startWorker(d: RunTrialDeps): TrialWorker {
  const worker = createTrialWorker({
    connection: redis,
    prefix,
    name: d.workerId,
    handler: async (job, ctx) => {
      await runTrial(d, job, ctx);
    },
  });
  workers.push(worker);
  return worker;
}

async function trialNow(id: string) {
  const trial = await getTrial(database.db, id);
  if (!trial) throw new Error(`trial ${id} vanished`);
  return trial;
}

async function seriesByName(trialId: string) {
  const { series } = await metricSeries(database.db, trialId, [], { maxPoints: 10_000 });
  return new Map(series.map((s) => [s.name, s]));
}

describe('runTrial', () => {
  it('runs a trial job from the queue to completion with metrics and checkpoints per epoch', async () => {
    const sweep = await storeSweep(database.db, spiralsSweep());
    const trial = await storeTrial(database.db, sweep.id, { learningRate: 0.02 });
    startWorker(deps(pool2, 'worker-e2e'));
    await queues.enqueueTrial({ sweepId: sweep.id, trialId: trial.id, attempt: 1 });

    await sleepUntil(async () => (await trialNow(trial.id)).status === 'completed', { timeoutMs: 30_000, what: 'trial completed' });
    const done = await trialNow(trial.id);
    expect(done).toMatchObject({ status: 'completed', epochsDone: 3, attempt: 1, error: null });
    const series = await seriesByName(trial.id);
    for (const name of ['train_loss', 'train_accuracy', 'val_loss', 'val_accuracy', 'learning_rate', 'samples_per_sec', 'step_compute_ms', 'step_reduce_ms', 'step_wait_ms']) {
      expect(series.get(name)?.points.map((p) => p.step), name).toEqual([1, 2, 3]);
    }
    expect(done.finalValue).toBe(series.get('val_loss')?.points.at(-1)?.value);
    const checkpoint = await latestCheckpoint(database.db, trial.id);
    expect(checkpoint?.epoch).toBe(3);
    const parsed = parseCheckpoint(JSON.stringify(checkpoint?.manifest), new Uint8Array(checkpoint!.data));
    expect(parsed.manifest.training.microbatches).toBe(4);
    expect(parsed.manifest.history).toHaveLength(3);
    await sleepUntil(async () => (await queues.trialJobState(trial.id, 1)) === 'completed', { what: 'job completed' });
  });

  it('stops a bad trial at the first ASHA rung when finished trials beat it there', async () => {
    const sweep = await storeSweep(
      database.db,
      spiralsSweep((req) => {
        req.training.epochs = 9;
        req.search.scheduler = { type: 'asha', reductionFactor: 3, minResource: 1 };
      }),
    );
    for (let i = 0; i < 5; i++) {
      const good = await storeTrial(database.db, sweep.id, { learningRate: 0.05 });
      await claimTrial(database.db, good.id, 'earlier-worker');
      await recordEpochs(database.db, good.id, Array.from({ length: 9 }, (_, e) => ({ epoch: e + 1, metrics: { val_loss: 1e-6 } })));
      await finishTrial(database.db, good.id, 'completed', { finalValue: 1e-6 });
    }
    const bad = await storeTrial(database.db, sweep.id, { learningRate: 1e-4 });

    expect(await runTrial(deps(pool2, 'worker-asha'), { sweepId: sweep.id, trialId: bad.id, attempt: 1 }, never())).toBe('stopped');
    const stopped = await trialNow(bad.id);
    expect(stopped).toMatchObject({ status: 'stopped', epochsDone: 1 });
    const series = await seriesByName(bad.id);
    expect(series.get('val_loss')?.points.map((p) => p.step)).toEqual([1]);
    expect(stopped.finalValue).toBe(series.get('val_loss')?.points[0]?.value);
  });

  it('resumes a released trial from its checkpoint on another thread count, bit-identical to an uninterrupted run', async () => {
    const request = spiralsSweep((req) => {
      req.dataset = { type: 'spirals', count: 4000, seed: 3 };
      req.training.epochs = 12;
    });
    const epochs = 12;
    // The reference: the same sweep seed and trial number, trained in one go on two threads.
    const reference = await storeSweep(database.db, request, 21);
    const refTrial = await storeTrial(database.db, reference.id, { learningRate: 0.01 });
    expect(await runTrial(deps(pool2, 'worker-ref'), { sweepId: reference.id, trialId: refTrial.id, attempt: 1 }, never())).toBe('completed');
    const refCheckpoint = await latestCheckpoint(database.db, refTrial.id);
    expect(refCheckpoint?.epoch).toBe(epochs);

    // The interrupted run: a graceful shutdown after a couple of epochs releases the trial.
    const sweep = await storeSweep(database.db, request, 21);
    const trial = await storeTrial(database.db, sweep.id, { learningRate: 0.01 });
    const shutdown = new AbortController();
    const first = runTrial(deps(pool2, 'worker-a'), { sweepId: sweep.id, trialId: trial.id, attempt: 1 }, { cancelled: new AbortController().signal, shutdown: shutdown.signal });
    const firstSettled = first.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await sleepUntil(async () => (await trialNow(trial.id)).epochsDone >= 2, { timeoutMs: 30_000, intervalMs: 5, what: 'two epochs' });
    shutdown.abort();
    expect(await firstSettled).toBeInstanceOf(ReleaseTrial);
    const released = await trialNow(trial.id);
    const k = released.epochsDone;
    expect(released).toMatchObject({ status: 'queued', attempt: 1, workerId: null });
    expect(k).toBeGreaterThanOrEqual(2);
    expect(k).toBeLessThan(epochs);
    expect((await latestCheckpoint(database.db, trial.id))?.epoch).toBe(k);

    // A worker takes it and dies (the trial stays running), then the job is delivered again.
    expect((await claimTrial(database.db, trial.id, 'dead-worker')).changed).toBe(true);
    const { logger, entries } = recordingLogger();
    await runTrial(deps(pool1, 'worker-b', { logger }), { sweepId: sweep.id, trialId: trial.id, attempt: 2 }, never());

    const resumed = await trialNow(trial.id);
    expect(resumed.error).toBeNull();
    expect(resumed).toMatchObject({ status: 'completed', epochsDone: epochs, attempt: 3, workerId: 'worker-b' });
    const trainedEpochs = entries.filter((e) => e.msg === 'epoch').map((e) => e.epoch);
    expect(trainedEpochs).toEqual(Array.from({ length: epochs - k }, (_, i) => k + 1 + i));
    const series = await seriesByName(trial.id);
    for (const s of series.values()) expect(s.points.map((p) => p.step), s.name).toEqual(Array.from({ length: epochs }, (_, i) => i + 1));

    const finalCheckpoint = await latestCheckpoint(database.db, trial.id);
    expect(finalCheckpoint?.epoch).toBe(epochs);
    expect(Buffer.from(finalCheckpoint!.data).equals(Buffer.from(refCheckpoint!.data))).toBe(true);
    expect(resumed.finalValue).toBe((await trialNow(refTrial.id)).finalValue);
  });

  it('stops a running trial within 2 s when its sweep is cancelled in Postgres', async () => {
    const sweep = await storeSweep(
      database.db,
      spiralsSweep((req) => {
        req.dataset = { type: 'spirals', count: 4000, seed: 3 };
        req.training.epochs = 500;
      }),
    );
    const trial = await storeTrial(database.db, sweep.id, { learningRate: 0.01 });
    startWorker(deps(pool2, 'worker-cancel', { cancelPollMs: 200 }));
    await queues.enqueueTrial({ sweepId: sweep.id, trialId: trial.id, attempt: 1 });
    await sleepUntil(async () => (await trialNow(trial.id)).epochsDone >= 1, { timeoutMs: 30_000, what: 'first epoch' });

    const cancelledAt = Date.now();
    expect((await setSweepStatus(database.db, sweep.id, 'cancelled')).changed).toBe(true);
    await sleepUntil(async () => (await trialNow(trial.id)).status === 'cancelled', { timeoutMs: 2_000, what: 'trial cancelled' });
    expect(Date.now() - cancelledAt).toBeLessThan(2_000);
    const cancelled = await trialNow(trial.id);
    expect(cancelled.epochsDone).toBeLessThan(500);
    await sleepUntil(async () => (await queues.trialJobState(trial.id, 1)) === 'completed', { what: 'job completed (outcome cancelled)' });
  });

  it('stops a running trial on the queue cancel signal, before Postgres is polled', async () => {
    const sweep = await storeSweep(
      database.db,
      spiralsSweep((req) => {
        req.dataset = { type: 'spirals', count: 4000, seed: 3 };
        req.training.epochs = 500;
      }),
    );
    const trial = await storeTrial(database.db, sweep.id, { learningRate: 0.01 });
    const worker = startWorker(deps(pool2, 'worker-signal', { cancelPollMs: 600_000 }));
    subscriptions.push(await subscribeCancels({ connection: redis, prefix, handler: (signal) => worker.cancel(signal) }));
    await queues.enqueueTrial({ sweepId: sweep.id, trialId: trial.id, attempt: 1 });
    await sleepUntil(async () => (await trialNow(trial.id)).epochsDone >= 1, { timeoutMs: 30_000, what: 'first epoch' });

    const cancelledAt = Date.now();
    await publishCancel({ connection: redis, prefix }, { scope: 'trial', sweepId: sweep.id, trialId: trial.id });
    await sleepUntil(async () => (await trialNow(trial.id)).status === 'cancelled', { timeoutMs: 2_000, what: 'trial cancelled' });
    expect(Date.now() - cancelledAt).toBeLessThan(2_000);
  });

  it('early stopping ends a trial on its patience and restores the best epoch: checkpoint, value and test weights', async () => {
    const request = spiralsSweep((req) => {
      // A learning rate that overshoots: the validation loss stops improving early.
      req.training = { ...req.training, epochs: 40, earlyStopping: { patience: 2 } };
      req.search.space = { learningRate: { type: 'fixed', value: 0.3 } };
    });
    const sweep = await storeSweep(database.db, request);
    const trial = await storeTrial(database.db, sweep.id, { learningRate: 0.3 });
    expect(await runTrial(deps(pool2, 'worker-es'), { sweepId: sweep.id, trialId: trial.id, attempt: 1 }, never())).toBe('completed');
    const done = await trialNow(trial.id);
    const valLoss = (await seriesByName(trial.id)).get('val_loss')!.points.map((p) => p.value);
    expect(done.epochsDone).toBeLessThan(40);
    expect(done.reason).toMatch(/^early stopping after epoch \d+: val_loss did not improve for 2 epochs/);
    const best = Math.min(...valLoss);
    const bestEpoch = valLoss.indexOf(best) + 1;
    expect(bestEpoch).toBeLessThan(valLoss.length);
    // The trial's value is its best epoch's, and its last checkpoint holds that epoch's weights:
    // evaluated again, they give the best epoch's validation loss to the bit.
    expect(done.finalValue).toBe(best);
    const row = await latestCheckpoint(database.db, trial.id);
    const ckpt = parseCheckpoint(JSON.stringify(row!.manifest), new Uint8Array(row!.data));
    const config = resolveTrialConfig(CreateSweepRequest.parse(request), { learningRate: 0.3 });
    const again = await evaluateCheckpoint(ckpt, await datasets.get(config.dataset), 'validation');
    expect(again.loss).toBe(best);
    expect(again.loss).not.toBe(valLoss.at(-1));
  });

  it('releases a trial whose replica thread dies to resume from its checkpoint, and fails it at its third fault, whatever else claimed it', async () => {
    const pool = await ReplicaPool.create({ threads: 2, stepTimeoutMs: 10_000 });
    try {
      const epochs = 10;
      const sweep = await storeSweep(
        database.db,
        spiralsSweep((req) => {
          req.dataset = { type: 'spirals', count: 4000, seed: 3 };
          req.training.epochs = epochs;
        }),
      );
      /** Runs the trial and kills replica thread 1 once two more epochs are stored. */
      const runAndKill = async (trialId: string, attempt: number) => {
        const from = (await trialNow(trialId)).epochsDone;
        const running = runTrial(deps(pool, 'worker-fault'), { sweepId: sweep.id, trialId, attempt }, never()).then(
          (outcome) => outcome,
          (error: unknown) => error,
        );
        await sleepUntil(async () => (await trialNow(trialId)).epochsDone >= from + 2, { timeoutMs: 30_000, intervalMs: 5, what: 'two epochs' });
        await pool.replicaThread(1)!.terminate();
        return running;
      };

      // A thread killed mid-trial (an OOM kill, a crashed runtime) once failed the trial for good.
      const trial = await storeTrial(database.db, sweep.id, { learningRate: 0.01 });
      expect(await runAndKill(trial.id, 1)).toBeInstanceOf(ReleaseTrial);
      const released = await trialNow(trial.id);
      expect(released).toMatchObject({ status: 'queued', attempt: 1, replicaFaults: 1, workerId: null, error: null });
      expect((await latestCheckpoint(database.db, trial.id))?.epoch).toBe(released.epochsDone);
      // Claims that end otherwise (a shutdown, a takeover) do not count against the trial's faults.
      for (let i = 0; i < REPLICA_FAULT_ATTEMPTS; i++) {
        expect((await claimTrial(database.db, trial.id, 'dead-worker')).changed).toBe(true);
        expect((await releaseTrial(database.db, trial.id)).changed).toBe(true);
      }
      const claimsBefore = (await trialNow(trial.id)).attempt;
      expect(await runAndKill(trial.id, claimsBefore + 1)).toBeInstanceOf(ReleaseTrial);
      expect(await trialNow(trial.id)).toMatchObject({ status: 'queued', replicaFaults: 2, error: null });
      // The pool replaced the thread; the next delivery resumes where the checkpoint is.
      expect(await runTrial(deps(pool, 'worker-fault'), { sweepId: sweep.id, trialId: trial.id, attempt: claimsBefore + 2 }, never())).toBe('completed');
      const resumed = await trialNow(trial.id);
      expect(resumed).toMatchObject({ status: 'completed', epochsDone: epochs, replicaFaults: 2, error: null });
      for (const series of (await seriesByName(trial.id)).values()) {
        expect(series.points.map((p) => p.step), series.name).toEqual(Array.from({ length: epochs }, (_, i) => i + 1));
      }

      // The last fault it may lose an attempt to fails the trial, and says so.
      const last = await storeTrial(database.db, sweep.id, { learningRate: 0.02 });
      for (let fault = 1; fault < REPLICA_FAULT_ATTEMPTS; fault++) expect(await runAndKill(last.id, fault)).toBeInstanceOf(ReleaseTrial);
      expect(await runAndKill(last.id, REPLICA_FAULT_ATTEMPTS)).toBe('failed');
      const failed = await trialNow(last.id);
      expect(failed).toMatchObject({ status: 'failed', replicaFaults: REPLICA_FAULT_ATTEMPTS - 1 });
      expect(failed.error).toMatch(new RegExp(`^replica thread 1 .*\\(replica fault ${REPLICA_FAULT_ATTEMPTS} of ${REPLICA_FAULT_ATTEMPTS}\\)$`));
    } finally {
      await pool.close();
    }
  });

  it('releases a trial whose replica stalls past the step timeout, and resumes it on the replaced thread', async () => {
    // Replica 1 hangs inside a step without looking at the abort word, once (as a thread stuck in a kernel).
    const pool = await faultyPool({ threads: 2, stepTimeoutMs: 2_000 }, [{ rank: 1, step: 5, kind: 'stall', ms: 60_000 }]);
    try {
      const epochs = 4;
      const sweep = await storeSweep(
        database.db,
        spiralsSweep((req) => {
          req.training.epochs = epochs;
        }),
      );
      const trial = await storeTrial(database.db, sweep.id, { learningRate: 0.01 });
      const stalled = await runTrial(deps(pool, 'worker-stall'), { sweepId: sweep.id, trialId: trial.id, attempt: 1 }, never()).then(
        (outcome) => outcome,
        (error: unknown) => error,
      );
      expect(stalled).toBeInstanceOf(ReleaseTrial);
      expect((stalled as ReleaseTrial).message).toMatch(/^replica fault 1 of 3: a replica waited more than 2000 ms at a barrier$/);
      expect(await trialNow(trial.id)).toMatchObject({ status: 'queued', replicaFaults: 1, workerId: null, error: null });
      expect(await runTrial(deps(pool, 'worker-stall'), { sweepId: sweep.id, trialId: trial.id, attempt: 2 }, never())).toBe('completed');
      expect(await trialNow(trial.id)).toMatchObject({ status: 'completed', epochsDone: epochs, replicaFaults: 1, error: null });
      for (const series of (await seriesByName(trial.id)).values()) {
        expect(series.points.map((p) => p.step), series.name).toEqual(Array.from({ length: epochs }, (_, i) => i + 1));
      }
    } finally {
      await pool.close();
    }
  });

  it('fails a trial whose loss becomes NaN with the trainer’s message', async () => {
    const sweep = await storeSweep(
      database.db,
      spiralsSweep((req) => {
        req.model.layers = [{ type: 'dense', units: 16, activation: 'relu' }, { type: 'dense', units: 2 }];
        req.training.optimizer = { type: 'sgd', learningRate: 100 };
        req.search.space = { momentum: { type: 'fixed', value: 0 } };
      }),
    );
    const trial = await storeTrial(database.db, sweep.id, { momentum: 0 });
    expect(await runTrial(deps(pool2, 'worker-nan'), { sweepId: sweep.id, trialId: trial.id, attempt: 1 }, never())).toBe('failed');
    const failed = await trialNow(trial.id);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/^loss became (NaN|Infinity|-Infinity) at epoch 1, step \d+/);
    expect(failed.epochsDone).toBe(0);
  });
});
