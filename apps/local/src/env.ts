// `npm start`'s configuration: process.env parsed once with zod.
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';

const EnvSchema = z.object({
  /** Where the embedded PostgreSQL and Redis keep their data, and the login token is kept. */
  HYPERSWEEP_HOME: z.string().min(1).default('.hypersweep'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  /** Use this PostgreSQL instead of the embedded one. */
  DATABASE_URL: z.string().min(1).optional(),
  /** Use this Redis instead of starting redis-server. */
  REDIS_URL: z.string().min(1).optional(),
  WORKERS: z.coerce.number().int().min(0).max(64).default(1),
  THREADS_PER_TRIAL: z.coerce.number().int().min(1).max(1024).default(availableParallelism()),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});

export interface LocalConfig {
  home: string;
  host: string;
  port: number;
  databaseUrl: string | null;
  redisUrl: string | null;
  workers: number;
  threadsPerTrial: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

export function parseEnv(env: Record<string, string | undefined>, cwd: string): LocalConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new Error(`invalid environment: ${problems}`);
  }
  const e = parsed.data;
  return {
    home: resolve(cwd, e.HYPERSWEEP_HOME),
    host: e.HOST,
    port: e.PORT,
    databaseUrl: e.DATABASE_URL ?? null,
    redisUrl: e.REDIS_URL ?? null,
    workers: e.WORKERS,
    threadsPerTrial: e.THREADS_PER_TRIAL,
    logLevel: e.LOG_LEVEL,
  };
}
