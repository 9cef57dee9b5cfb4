// What every route handler needs, built once in main.ts (or by a test) and passed down.
import type { DatasetCache } from '@hypersweep/datasets';
import type { Db } from '@hypersweep/db';
import type { JobQueues } from '@hypersweep/queue';
import type { Redis } from 'ioredis';
import type { Authenticator } from './auth.ts';
import type { ApiConfig } from './env.ts';
import type { EventHub } from './event-hub.ts';
import type { Logger } from '@hypersweep/log';
import type { ModelCache } from './models.ts';
import type { ApiMetrics } from './prometheus.ts';
import type { RateLimiter } from './rate-limit.ts';

export interface ApiDeps {
  config: ApiConfig;
  db: Db;
  redis: Redis;
  queues: JobQueues;
  hub: EventHub;
  logger: Logger;
  auth: Authenticator;
  datasets: DatasetCache;
  models: ModelCache;
  /** This app's Prometheus registry (request counts, latency, cluster gauges). */
  metrics: ApiMetrics;
  /** Token buckets in Redis, shared by every replica with the same queue prefix. */
  rateLimiter: RateLimiter;
  /** Open SSE responses, ended on shutdown. */
  streams: Set<{ end(): void }>;
  /** Set when shutdown began: no new stream opens after the open ones were ended. */
  closing: { value: boolean };
}
