import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { parseEnv } from './env.ts';

describe('parseEnv', () => {
  it('applies defaults around the one required variable', () => {
    const config = parseEnv({ DATABASE_URL: 'postgresql://u@h/db' });
    expect(config).toMatchObject({
      databaseUrl: 'postgresql://u@h/db',
      redisUrl: 'redis://127.0.0.1:6379',
      queuePrefix: 'hypersweep',
      threadsPerTrial: availableParallelism(),
      concurrency: 1,
      stepTimeoutMs: 30_000,
      shutdownTimeoutMs: 30_000,
      jobLockMs: 30_000,
      stalledCheckMs: 30_000,
      heartbeatMs: 2_000,
      reconcileMs: 10_000,
      logLevel: 'info',
    });
    expect(config.workerId).toMatch(new RegExp(`-${process.pid}$`));
  });

  it('coerces numbers and keeps an explicit worker id', () => {
    const config = parseEnv({
      DATABASE_URL: 'x',
      WORKER_ID: 'w1',
      THREADS_PER_TRIAL: '2',
      CONCURRENCY: '3',
      HEARTBEAT_MS: '500',
      RECONCILE_MS: '3000',
      JOB_LOCK_MS: '2000',
      STALLED_CHECK_MS: '1000',
      LOG_LEVEL: 'debug',
    });
    expect(config).toMatchObject({ workerId: 'w1', threadsPerTrial: 2, concurrency: 3, heartbeatMs: 500, reconcileMs: 3_000, jobLockMs: 2_000, stalledCheckMs: 1_000, logLevel: 'debug' });
  });

  it('names every bad variable', () => {
    expect(() => parseEnv({ DATABASE_URL: 'x', WORKER_ID: 'w'.repeat(129) })).toThrow(/WORKER_ID/);
    expect(() => parseEnv({ THREADS_PER_TRIAL: '0', LOG_LEVEL: 'loud', QUEUE_PREFIX: 'a:b', HEARTBEAT_MS: '-1', RECONCILE_MS: 'often' })).toThrow(
      /DATABASE_URL.*QUEUE_PREFIX.*THREADS_PER_TRIAL.*HEARTBEAT_MS.*RECONCILE_MS.*LOG_LEVEL/,
    );
  });
});
