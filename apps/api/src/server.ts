// Builds the API's dependencies from its config and starts listening; `close()` drains and
// releases everything. main.ts adds signals; tests start it on port 0.
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { DatasetCache, storedUpload } from '@hypersweep/datasets';
import { createDb, getDataset } from '@hypersweep/db';
import { createQueues, createRedis } from '@hypersweep/queue';
import { createApp } from './app.ts';
import { createAuthenticator } from './auth.ts';
import { answerClientErrors, answerUnroutable } from './client-errors.ts';
import type { ApiDeps } from './deps.ts';
import type { ApiConfig } from './env.ts';
import { createEventHub } from './event-hub.ts';
import type { Logger } from '@hypersweep/log';
import { ModelCache } from './models.ts';
import { ApiMetrics } from './prometheus.ts';
import { RateLimiter } from './rate-limit.ts';

export interface RunningApi {
  server: Server;
  /** http://host:port of the listening socket. */
  url: string;
  deps: ApiDeps;
  close(): Promise<void>;
}

export async function startServer(config: ApiConfig, logger: Logger): Promise<RunningApi> {
  if (config.auth === 'none') logger.warn({}, 'AUTH=none: the API accepts requests without a token');
  const db = createDb(config.databaseUrl, { maxConnections: 20 });
  const redis = createRedis(config.redisUrl, { role: 'queue', connectionName: 'hypersweep-api' });
  const queues = createQueues({ connection: redis, prefix: config.queuePrefix });
  const hub = await createEventHub(config.databaseUrl, logger);
  const datasets = new DatasetCache(async (id) => storedUpload(id, await getDataset(db, id)));
  const deps: ApiDeps = {
    config,
    db,
    redis,
    queues,
    hub,
    logger,
    auth: createAuthenticator(db, { enabled: config.auth === 'token' }),
    datasets,
    models: new ModelCache(db, datasets),
    metrics: new ApiMetrics(),
    rateLimiter: new RateLimiter({ redis, prefix: config.queuePrefix, logger }),
    streams: new Set(),
    closing: { value: false },
  };
  // Host is checked by the app (checkRequestFraming), to answer its absence in JSON.
  const server = createServer({ requireHostHeader: false }, createApp(deps)).listen(config.port, config.host);
  answerClientErrors(server);
  answerUnroutable(server);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  server.keepAliveTimeout = 65_000;
  const { port } = server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${host}:${port}`;
  logger.info({ url, auth: config.auth }, 'api listening');

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Streams never end by themselves: end them so clients reconnect (to another replica, or to us later).
      deps.closing.value = true;
      for (const stream of deps.streams) stream.end();
      server.closeIdleConnections();
      await closed;
      await hub.close();
      await queues.close();
      await db.$disconnect();
      await redis.quit();
    })());
  return { server, url, deps, close };
}
