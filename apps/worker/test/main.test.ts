// The worker process (src/main.ts) against real Postgres and Redis: it trains a queued trial and,
// on SIGTERM, releases it with its last checkpoint and puts the job back for another worker.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { getTrial, latestCheckpoint } from '@hypersweep/db';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '@hypersweep/db/testing';
import { createQueues, createRedis, listWorkers, type JobQueues } from '@hypersweep/queue';
import { deleteKeysWithPrefix, randomTestPrefix, sleepUntil } from '@hypersweep/queue/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spiralsSweep, storeSweep, storeTrial } from './fixtures.ts';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const appDir = fileURLToPath(new URL('..', import.meta.url));

let database: MigratedTestDatabase;
let redis: Redis;
let prefix: string;
let queues: JobQueues;
let child: ChildProcess | undefined;

beforeAll(async () => {
  database = await createMigratedTestDatabase();
  redis = createRedis(redisUrl, { role: 'worker' });
  prefix = randomTestPrefix();
  queues = createQueues({ connection: redis, prefix });
});

afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await queues?.close();
  if (redis) {
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
  }
  await database?.close();
});

describe('worker process', () => {
  it('trains a queued trial, and on SIGTERM releases it with its checkpoint and exits 0', async () => {
    const sweep = await storeSweep(
      database.db,
      spiralsSweep((req) => {
        req.dataset = { type: 'spirals', count: 4000, seed: 3 };
        req.training.epochs = 500;
      }),
    );
    const trial = await storeTrial(database.db, sweep.id, { learningRate: 0.01 });
    await queues.enqueueTrial({ sweepId: sweep.id, trialId: trial.id, attempt: 1 });

    const lines: string[] = [];
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: appDir,
      env: {
        ...process.env,
        DATABASE_URL: database.database.url,
        REDIS_URL: redisUrl,
        QUEUE_PREFIX: prefix,
        WORKER_ID: 'process-worker',
        THREADS_PER_TRIAL: '1',
        HEARTBEAT_MS: '200',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child = proc;
    let exitCode: number | null = null;
    proc.on('exit', (code) => (exitCode = code));
    proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => lines.push(...chunk.split('\n').filter(Boolean)));

    await sleepUntil(async () => ((await getTrial(database.db, trial.id))?.epochsDone ?? 0) >= 2, { timeoutMs: 60_000, what: 'two epochs in the worker process' });
    expect(await getTrial(database.db, trial.id)).toMatchObject({ status: 'running', workerId: 'process-worker', attempt: 1 });
    // Its heartbeat shows the trial it trains, the epoch and the last epoch's speed.
    await sleepUntil(async () => ((await listWorkers(redis, prefix)).workers[0]?.currentTrial?.epoch ?? 0) >= 2, { what: 'the heartbeat to show epoch 2' });
    const cluster = await listWorkers(redis, prefix);
    expect(cluster.workers).toMatchObject([
      { workerId: 'process-worker', alive: true, pid: proc.pid, threads: 1, currentTrial: { sweepId: sweep.id, trialId: trial.id, attempt: 1 } },
    ]);
    expect(cluster.totals.samplesPerSecond).toBeGreaterThan(0);
    proc.kill('SIGTERM');
    await sleepUntil(() => exitCode !== null, { timeoutMs: 15_000, what: 'worker process exit' });
    expect(exitCode).toBe(0);
    // A graceful stop removes the heartbeat at once.
    expect((await listWorkers(redis, prefix)).workers).toEqual([]);

    const released = await getTrial(database.db, trial.id);
    expect(released).toMatchObject({ status: 'queued', workerId: null, attempt: 1 });
    expect((await latestCheckpoint(database.db, trial.id))?.epoch).toBe(released?.epochsDone);
    expect(await queues.trialJobState(trial.id, 1)).toBe('waiting');

    const logs = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logs.find((l) => l.msg === 'trial claimed')).toMatchObject({ trialId: trial.id, sweepId: sweep.id, workerId: 'process-worker' });
    expect(logs.some((l) => l.msg === 'trial released for another worker' && l.trialId === trial.id)).toBe(true);
    // The reconciler ran at start (debug-level summary) without finding anything to re-enqueue.
    expect(logs.some((l) => l.msg === 'reconciled: re-enqueued trials Redis had lost')).toBe(false);
  });
});
