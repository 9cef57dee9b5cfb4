// Starts the real API on a fresh migrated database and a private Redis prefix; no mocks.
import { createApiToken, type Db } from '@hypersweep/db';
import { createMigratedTestDatabase } from '@hypersweep/db/testing';
import { createRedis } from '@hypersweep/queue';
import { deleteKeysWithPrefix, randomTestPrefix } from '@hypersweep/queue/testing';
import { parseEnv } from '../src/env.ts';
import { createJsonLogger, type Logger } from '@hypersweep/log';
import { startServer, type RunningApi } from '../src/server.ts';

export interface TestApi {
  url: string;
  token: string;
  db: Db;
  api: RunningApi;
  prefix: string;
  /** fetch against the API with the token (unless headers override it). */
  request(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

/**
 * `logger`: where the API logs (default: errors only, to stdout). `databaseUrl`: the URL the API
 * is given for the test database's (e.g. through a proxy); the harness itself uses the real one.
 */
export async function startTestApi(env: Record<string, string> = {}, options: { logger?: Logger; databaseUrl?: (url: string) => string } = {}): Promise<TestApi> {
  const database = await createMigratedTestDatabase();
  const prefix = randomTestPrefix();
  const config = parseEnv({
    DATABASE_URL: options.databaseUrl?.(database.database.url) ?? database.database.url,
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    QUEUE_PREFIX: prefix,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'error',
    ...env,
  });
  const api = await startServer(config, options.logger ?? createJsonLogger({ level: 'error', fields: { service: 'api-test' } }));
  const { token } = await createApiToken(database.db, 'test');
  const request = (path: string, init: RequestInit & { json?: unknown } = {}) => {
    const headers = new Headers(init.headers);
    if (!headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
    let body = init.body;
    if (init.json !== undefined) {
      body = JSON.stringify(init.json);
      if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    }
    return fetch(`${api.url}${path}`, { ...init, headers, body: body ?? null });
  };
  return {
    url: api.url,
    token,
    db: database.db,
    api,
    prefix,
    request,
    close: async () => {
      await api.close();
      const redis = createRedis(config.redisUrl, { role: 'queue' });
      await deleteKeysWithPrefix(redis, prefix);
      await redis.quit();
      await database.close();
    },
  };
}
