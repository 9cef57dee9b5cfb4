// The API's configuration: process.env parsed once with zod; everything below takes options.
import { z } from 'zod';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const bytes = (fallback: number) => z.coerce.number().int().min(1024).max(1 << 30).default(fallback);

const EnvSchema = z.object({
  DATABASE_URL: z.string().min(1, 'is required (postgresql://…)'),
  REDIS_URL: z.string().min(1).default('redis://127.0.0.1:6379'),
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only').default('hypersweep'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  /** `token` (default): every /api route needs a bearer token. `none` turns auth off; say so explicitly. */
  AUTH: z.enum(['token', 'none']).default('token'),
  MAX_BODY_BYTES: bytes(1 << 20),
  /** Uploads, as sent and (IDX) decompressed: 64 MiB holds all of Fashion-MNIST or KMNIST (52.4 MiB of IDX files). */
  MAX_UPLOAD_BYTES: bytes(64 << 20),
  /** Requests per second per client (token, else IP), with bursts of RATE_LIMIT_BURST; 0 disables. */
  RATE_LIMIT_RPS: z.coerce.number().min(0).default(50),
  RATE_LIMIT_BURST: positiveInt(200),
  /** Directory of the built dashboard, served at / when it exists. */
  WEB_DIST: z.string().optional(),
  /** Trust X-Forwarded-For from this many proxies (for rate limiting by client IP). */
  TRUST_PROXY: z.coerce.number().int().min(0).max(10).default(0),
  SHUTDOWN_TIMEOUT_MS: positiveInt(10_000),
  /**
   * The most memory one trial's plan may need (parameters, a gradient slot per microbatch,
   * optimizer state, every replica's activations, the dataset), checked at submission for the
   * largest trial the search space can draw. 2 GiB: a worker's replica pool holds the plan in one
   * shared WebAssembly.Memory, which memory32 caps at 4 GiB, and the process also keeps the
   * dataset in its cache and copies of the parameters for checkpoints; half the address space
   * leaves room for both, and fits a 4 GiB worker container.
   */
  TRIAL_MEMORY_LIMIT_BYTES: z.coerce.number().int().min(1 << 20).max(2 ** 32).default(2 ** 31),
  /**
   * Replica threads the plan is sized for: each thread holds its own activations. 8 covers the
   * default THREADS_PER_TRIAL (the core count) of ordinary worker machines.
   */
  TRIAL_MEMORY_THREADS: z.coerce.number().int().min(1).max(1024).default(8),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});

export type LogLevel = z.infer<typeof EnvSchema>['LOG_LEVEL'];

export interface ApiConfig {
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  host: string;
  port: number;
  auth: 'token' | 'none';
  maxBodyBytes: number;
  maxUploadBytes: number;
  rateLimit: { rps: number; burst: number };
  webDist: string | null;
  trustProxy: number;
  shutdownTimeoutMs: number;
  /** Submission refuses a sweep whose largest trial's memory plan, on `threads` replicas, needs more than `maxPlanBytes`. */
  trialLimits: { maxPlanBytes: number; threads: number };
  logLevel: LogLevel;
}

/** Parses an environment (process.env at the edge) into the API's config; throws naming every problem. */
export function parseEnv(env: Record<string, string | undefined>): ApiConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new Error(`invalid api environment: ${problems}`);
  }
  const e = parsed.data;
  return {
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    queuePrefix: e.QUEUE_PREFIX,
    host: e.HOST,
    port: e.PORT,
    auth: e.AUTH,
    maxBodyBytes: e.MAX_BODY_BYTES,
    maxUploadBytes: e.MAX_UPLOAD_BYTES,
    rateLimit: { rps: e.RATE_LIMIT_RPS, burst: e.RATE_LIMIT_BURST },
    webDist: e.WEB_DIST ?? null,
    trustProxy: e.TRUST_PROXY,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    trialLimits: { maxPlanBytes: e.TRIAL_MEMORY_LIMIT_BYTES, threads: e.TRIAL_MEMORY_THREADS },
    logLevel: e.LOG_LEVEL,
  };
}
