// The worker process: env → Postgres, Redis, replica pools → a trial worker and a sweep worker; SIGTERM releases work.
import { createDb } from '@hypersweep/db';
import { createQueues, createRedis, createSweepWorker, createTrialWorker, subscribeCancels } from '@hypersweep/queue';
import { ReplicaPool } from '@hypersweep/trainer';
import { advanceSweep } from './advance-sweep.ts';
import { DatasetCache } from './dataset-cache.ts';
import { parseEnv } from './env.ts';
import { createJsonLogger } from './logger.ts';
import { runTrial } from './run-trial.ts';

const config = parseEnv(process.env);
const logger = createJsonLogger({ level: config.logLevel, fields: { workerId: config.workerId } });
const db = createDb(config.databaseUrl);
const redis = createRedis(config.redisUrl, { role: 'worker' });
const datasets = new DatasetCache();
const queues = createQueues({ connection: redis, prefix: config.queuePrefix });

// A pool trains one trial at a time; with CONCURRENCY > 1 each slot gets its own pool.
const pools = await Promise.all(
  Array.from({ length: config.concurrency }, () => ReplicaPool.create({ threads: config.threadsPerTrial, stepTimeoutMs: config.stepTimeoutMs })),
);
const idle = [...pools];

const worker = createTrialWorker({
  connection: redis,
  prefix: config.queuePrefix,
  concurrency: config.concurrency,
  name: config.workerId,
  logger,
  handler: async (job, ctx) => {
    const pool = idle.pop();
    if (!pool) throw new Error('no idle replica pool (concurrency exceeded)');
    try {
      await runTrial({ db, pool, datasets, logger, now: () => performance.now(), workerId: config.workerId, queues }, job, ctx);
    } finally {
      idle.push(pool);
    }
  },
});
// Advancing a sweep (new trials, its end) is serialised per sweep by a Postgres advisory lock.
const sweepWorker = createSweepWorker({
  connection: redis,
  prefix: config.queuePrefix,
  name: config.workerId,
  logger,
  handler: async (advance) => {
    await advanceSweep({ db, queues, datasets, logger }, advance.sweepId);
  },
});
const cancels = await subscribeCancels({ connection: redis, prefix: config.queuePrefix, logger, handler: (signal) => worker.cancel(signal) });
logger.info({ threads: config.threadsPerTrial, concurrency: config.concurrency, prefix: config.queuePrefix }, 'worker started');

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down: releasing running trials');
  const timeout = setTimeout(() => {
    logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out; exiting');
    process.exit(1);
  }, config.shutdownTimeoutMs);
  timeout.unref();
  try {
    await worker.shutdown();
    await sweepWorker.close();
    await cancels.close();
    await queues.close();
    await Promise.all(pools.map((pool) => pool.close()));
    await db.$disconnect();
    await redis.quit();
    logger.info({}, 'worker stopped');
  } catch (error) {
    logger.error({ err: error }, 'error during shutdown');
    process.exitCode = 1;
  } finally {
    clearTimeout(timeout);
  }
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
