// The worker process: env → Postgres, Redis, replica pools → a trial worker, a sweep worker, a heartbeat and
// the reconciler; SIGTERM releases work.
import { hostname } from 'node:os';
import { SearchTrialsCache, createDb, dbErrorOf, getDataset, retryTransient } from '@hypersweep/db';
import { createQueues, createRedis, createSweepWorker, createTrialWorker, subscribeCancels, trainableQueueName, type TrialWorker } from '@hypersweep/queue';
import { ReplicaPool } from '@hypersweep/trainer';
import { advanceSweep } from './advance-sweep.ts';
import { DatasetCache, storedUpload } from '@hypersweep/datasets';
import { parseEnv } from './env.ts';
import { Heartbeat, waitForHandover } from './heartbeat.ts';
import { createJsonLogger, onShutdownSignal } from '@hypersweep/log';
import { reconcile } from './reconcile.ts';
import { runTrial, type RunTrialDeps } from './run-trial.ts';
import { loadTrainables, type TrainableConfig } from './trainables.ts';

const config = parseEnv(process.env);
const logger = createJsonLogger({ level: config.logLevel, fields: { workerId: config.workerId } });
// A Postgres outage must not take the worker down: every path retries or hands its work back, and a
// transient database error that still escapes somewhere is logged, not fatal. Anything else is a
// bug, and the process ends as Node would end it.
process.on('unhandledRejection', (reason) => {
  const dbError = dbErrorOf(reason);
  if (dbError?.transient) {
    logger.warn({ err: dbError, code: dbError.code }, 'unhandled transient database error; continuing');
    return;
  }
  logger.error({ err: reason instanceof Error ? reason : String(reason) }, 'unhandled rejection; exiting');
  process.exit(1);
});
const db = createDb(config.databaseUrl);
const redis = createRedis(config.redisUrl, { role: 'worker' });
// Uploaded CSV datasets are read from Postgres once per process.
const datasets = new DatasetCache(async (id) => storedUpload(id, await getDataset(db, id)));
const queues = createQueues({ connection: redis, prefix: config.queuePrefix });
// The trials of the sweeps this process schedules and samples, read incrementally after each epoch.
const search = new SearchTrialsCache(db);

// The trainables this worker offers (docs/trainables.md): each has its own queue and concurrency.
const trainables: ReadonlyMap<string, TrainableConfig> = config.trainablesFile ? loadTrainables(config.trainablesFile) : new Map();
// A pool trains one trial at a time; with CONCURRENCY > 1 each slot gets its own pool.
const pools = config.builtin
  ? await Promise.all(Array.from({ length: config.concurrency }, () => ReplicaPool.create({ threads: config.threadsPerTrial, stepTimeoutMs: config.stepTimeoutMs })))
  : [];
const idle = [...pools];
// A takeover waits at most this long for the previous holder to stop (it polls Postgres every 500 ms).
const handoverTimeoutMs = 3 * config.heartbeatMs + 2_000;
const heartbeat = new Heartbeat({
  redis,
  prefix: config.queuePrefix,
  workerId: config.workerId,
  host: hostname(),
  pid: process.pid,
  threads: config.threadsPerTrial,
  trainables: [...trainables.keys()],
  intervalMs: config.heartbeatMs,
  logger,
});

/** What every trial delivery shares; the pool is added per delivery for the built-in engine. */
const trialDeps = (jobId: string): Omit<RunTrialDeps, 'pool'> => ({
  db,
  datasets,
  search,
  logger,
  now: () => performance.now(),
  workerId: config.workerId,
  queues,
  trainables,
  maxCheckpointBytes: config.maxCheckpointBytes,
  ...(config.trainableWorkRoot ? { trainableWorkRoot: config.trainableWorkRoot } : {}),
  onProgress: (progress) => heartbeat.progress(jobId, progress),
  // Taken over from a delivery in this process (or from an earlier process with this WORKER_ID,
  // which is dead): watch the local deliveries. From another worker: watch its heartbeat.
  awaitHandover: (previous) =>
    previous.workerId === config.workerId
      ? heartbeat.whenReleasedLocally(previous.trialId, jobId, { timeoutMs: handoverTimeoutMs })
      : waitForHandover({ redis, prefix: config.queuePrefix, heartbeatMs: config.heartbeatMs, timeoutMs: handoverTimeoutMs, logger }, previous),
});
const trialWorkers: TrialWorker[] = [];
if (config.builtin) {
  trialWorkers.push(
    createTrialWorker({
      connection: redis,
      prefix: config.queuePrefix,
      concurrency: config.concurrency,
      lockDuration: config.jobLockMs,
      stalledInterval: config.stalledCheckMs,
      name: config.workerId,
      logger,
      handler: async (job, ctx) => {
        const pool = idle.pop();
        if (!pool) throw new Error('no idle replica pool (concurrency exceeded)');
        try {
          await runTrial({ ...trialDeps(ctx.jobId), pool }, job, ctx);
        } finally {
          heartbeat.trialEnded(ctx.jobId);
          idle.push(pool);
        }
      },
    }),
  );
}
for (const trainable of trainables.values()) {
  trialWorkers.push(
    createTrialWorker({
      connection: redis,
      prefix: config.queuePrefix,
      queueName: trainableQueueName(trainable.name),
      concurrency: trainable.concurrency,
      lockDuration: config.jobLockMs,
      stalledInterval: config.stalledCheckMs,
      name: config.workerId,
      logger,
      handler: async (job, ctx) => {
        try {
          await runTrial(trialDeps(ctx.jobId), job, ctx);
        } finally {
          heartbeat.trialEnded(ctx.jobId);
        }
      },
    }),
  );
}
if (trialWorkers.length === 0) throw new Error('this worker runs nothing: WORKER_BUILTIN=false and no WORKER_TRAINABLES');
// Advancing a sweep (new trials, its end) is serialised per sweep by a Postgres advisory lock.
const sweepWorker = createSweepWorker({
  connection: redis,
  prefix: config.queuePrefix,
  name: config.workerId,
  logger,
  handler: async (advance) => {
    // An advance is derived from Postgres alone and idempotent: run it again through a database fault.
    await retryTransient(() => advanceSweep({ db, queues, datasets, search, logger }, advance.sweepId), {
      budgetMs: 60_000,
      onRetry: (error, retry, delayMs) =>
        logger.warn({ sweepId: advance.sweepId, op: 'advance', code: error.code, err: error.message, retry, delayMs }, 'database unavailable; retrying'),
    });
  },
});
const cancels = await subscribeCancels({ connection: redis, prefix: config.queuePrefix, logger, handler: (signal) => trialWorkers.forEach((w) => w.cancel(signal)) });
await heartbeat.start();

// Redis may have lost work (a flush, a restart without persistence): re-enqueue it from Postgres now
// and every RECONCILE_MS. One worker of the cluster runs it at a time (a Redis lock); errors are retried next time.
let stopping = false;
let reconciling: Promise<void> | undefined;
function reconcileSoon(): void {
  if (reconciling || stopping) return;
  reconciling = reconcile({ db, redis, queues, logger, workerId: config.workerId, minIntervalMs: config.reconcileMs })
    .then(() => undefined, (error: unknown) => logger.warn({ err: error }, 'reconcile failed; retrying at the next interval'))
    .finally(() => (reconciling = undefined));
}
const reconcileTimer = setInterval(reconcileSoon, config.reconcileMs);
reconcileTimer.unref();
reconcileSoon();
logger.info(
  { threads: config.threadsPerTrial, concurrency: config.concurrency, builtin: config.builtin, trainables: [...trainables.keys()], prefix: config.queuePrefix, heartbeatMs: config.heartbeatMs, reconcileMs: config.reconcileMs },
  'worker started',
);

onShutdownSignal({
  logger,
  timeoutMs: config.shutdownTimeoutMs,
  message: 'shutting down: releasing running trials',
  done: 'worker stopped',
  stop: async () => {
    stopping = true;
    clearInterval(reconcileTimer);
    await reconciling;
    await Promise.all(trialWorkers.map((w) => w.shutdown()));
    await heartbeat.stop();
    await sweepWorker.close();
    await cancels.close();
    await queues.close();
    await Promise.all(pools.map((pool) => pool.close()));
    await db.$disconnect();
    await redis.quit();
  },
});
