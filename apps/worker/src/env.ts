// The worker's configuration: process.env parsed once with zod; everything below takes options.
import { availableParallelism, hostname } from 'node:os';
import { z } from 'zod';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const EnvSchema = z.object({
  DATABASE_URL: z.string().min(1, 'is required (postgresql://…)'),
  REDIS_URL: z.string().min(1).default('redis://127.0.0.1:6379'),
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only').default('hypersweep'),
  // At most 128 characters: the heartbeat schema's limit (WorkerHeartbeat.workerId).
  WORKER_ID: z.string().min(1).max(128).optional(),
  THREADS_PER_TRIAL: positiveInt(availableParallelism()),
  CONCURRENCY: positiveInt(1),
  STEP_TIMEOUT_MS: positiveInt(30_000),
  SHUTDOWN_TIMEOUT_MS: positiveInt(30_000),
  /** A trial job's lock lives this long without renewal: a killed worker's trial is retaken after it. */
  JOB_LOCK_MS: positiveInt(30_000),
  /** How often this worker looks for stalled jobs of dead workers. */
  STALLED_CHECK_MS: positiveInt(30_000),
  HEARTBEAT_MS: positiveInt(2_000),
  RECONCILE_MS: positiveInt(10_000),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** The trainables file (docs/trainables.md); absent: this worker runs the built-in engine only. */
  WORKER_TRAINABLES: z.string().min(1).optional(),
  /** false: no replica pools, only the trainables (a machine for them alone). */
  WORKER_BUILTIN: z.enum(['true', 'false']).default('true'),
  /** The largest trainable checkpoint directory stored, in bytes. */
  WORKER_TRAINABLE_CHECKPOINT_BYTES: positiveInt(256 * 1024 * 1024),
  /** Where trainables' per-trial directories are made (default: the OS temp directory). */
  WORKER_TRAINABLE_DIR: z.string().min(1).optional(),
});

export type LogLevel = z.infer<typeof EnvSchema>['LOG_LEVEL'];

export interface WorkerConfig {
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  workerId: string;
  threadsPerTrial: number;
  concurrency: number;
  stepTimeoutMs: number;
  shutdownTimeoutMs: number;
  jobLockMs: number;
  stalledCheckMs: number;
  /** How often the worker publishes its heartbeat; the heartbeat expires after 3× this. */
  heartbeatMs: number;
  /** How often the worker tries to reconcile Redis with Postgres (one worker of the cluster at a time). */
  reconcileMs: number;
  logLevel: LogLevel;
  trainablesFile: string | null;
  builtin: boolean;
  maxCheckpointBytes: number;
  trainableWorkRoot: string | null;
}

/** Parses an environment (process.env at the edge) into the worker's config; throws naming every problem. */
export function parseEnv(env: Record<string, string | undefined>): WorkerConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new Error(`invalid worker environment: ${problems}`);
  }
  const e = parsed.data;
  return {
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    queuePrefix: e.QUEUE_PREFIX,
    workerId: e.WORKER_ID ?? `${hostname().slice(0, 100)}-${process.pid}`,
    threadsPerTrial: e.THREADS_PER_TRIAL,
    concurrency: e.CONCURRENCY,
    stepTimeoutMs: e.STEP_TIMEOUT_MS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    jobLockMs: e.JOB_LOCK_MS,
    stalledCheckMs: e.STALLED_CHECK_MS,
    heartbeatMs: e.HEARTBEAT_MS,
    reconcileMs: e.RECONCILE_MS,
    logLevel: e.LOG_LEVEL,
    trainablesFile: e.WORKER_TRAINABLES ?? null,
    builtin: e.WORKER_BUILTIN === 'true',
    maxCheckpointBytes: e.WORKER_TRAINABLE_CHECKPOINT_BYTES,
    trainableWorkRoot: e.WORKER_TRAINABLE_DIR ?? null,
  };
}
