// Redis connection factory: parses redis:// URLs and creates ioredis clients tuned for their role.
import { Redis, type RedisOptions } from 'ioredis';
import { QueueError } from './errors.ts';

/** What a connection is used for; decides how commands behave while Redis is unreachable. */
export type RedisRole = 'queue' | 'worker' | 'events';

export interface RedisAddress {
  host: string;
  port: number;
  db: number;
  username: string | undefined;
  password: string | undefined;
  tls: boolean;
}

/**
 * Parses `redis://[user[:password]@]host[:port][/db]` (or `rediss://` for TLS).
 * Throws a QueueError with code `invalid_redis_url` naming the problem; the password never
 * appears in the message.
 */
export function parseRedisUrl(url: string): RedisAddress {
  const fail = (problem: string): never => {
    throw new QueueError('invalid_redis_url', `invalid Redis URL ${redact(url)}: ${problem}`);
  };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new QueueError('invalid_redis_url', `invalid Redis URL ${redact(url)}: not a URL`, { cause: error });
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    fail(`the scheme must be redis:// or rediss://, not ${parsed.protocol}//`);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') fail('the host is missing');
  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`the port ${parsed.port} is out of range`);
  const path = parsed.pathname.replace(/^\//, '');
  let db = 0;
  if (path !== '') {
    if (!/^\d+$/.test(path)) fail(`the database must be a number (redis://host:port/0), not "${path}"`);
    db = Number(path);
  }
  if (parsed.search !== '' || parsed.hash !== '') fail('query strings and fragments are not supported');
  return {
    host,
    port,
    db,
    username: parsed.username === '' ? undefined : decodeURIComponent(parsed.username),
    password: parsed.password === '' ? undefined : decodeURIComponent(parsed.password),
    tls: parsed.protocol === 'rediss:',
  };
}

function redact(url: string): string {
  return url.replace(/\/\/([^@/]*):[^@/]*@/, '//$1:***@');
}

/** The longest wait between two reconnection attempts of a client from `createRedis`. */
export const MAX_RECONNECT_DELAY_MS = 5_000;

/** How long a producer's (`queue` role) command may wait for Redis's answer. */
export const QUEUE_COMMAND_TIMEOUT_MS = 3_000;

/** Reconnects forever, backing off exponentially from 100 ms to at most 5 s. */
export function reconnectDelayMs(times: number): number {
  return Math.min(100 * 2 ** Math.min(Math.max(times, 1) - 1, 6), MAX_RECONNECT_DELAY_MS);
}

export interface CreateRedisOptions {
  role: RedisRole;
  /** Shown in `CLIENT LIST`; defaults to `hypersweep-<role>`. */
  connectionName?: string;
}

/**
 * Creates a connected (not lazy) ioredis client.
 *
 * - `worker` and `events` (blocking commands, subscribers): `maxRetriesPerRequest: null`, as BullMQ
 *   requires for workers, so commands wait through a Redis restart instead of failing.
 * - `queue` (producers such as the API): commands fail after 3 reconnection attempts, or after
 *   QUEUE_COMMAND_TIMEOUT_MS without an answer, so a request handler gets an error instead of
 *   hanging while Redis is down or silent.
 *
 * The caller owns the client: close queues and workers first, then `quit()` it.
 */
export function createRedis(url: string, options: CreateRedisOptions): Redis {
  const address = parseRedisUrl(url);
  const redisOptions: RedisOptions = {
    host: address.host,
    port: address.port,
    db: address.db,
    connectionName: options.connectionName ?? `hypersweep-${options.role}`,
    lazyConnect: false,
    maxRetriesPerRequest: options.role === 'queue' ? 3 : null,
    // A producer's command also fails when Redis went silent (a partition drops packets; the
    // connection looks up): a request handler gets an error in seconds instead of hanging.
    ...(options.role === 'queue' ? { commandTimeout: QUEUE_COMMAND_TIMEOUT_MS, connectTimeout: 5_000 } : {}),
    retryStrategy: reconnectDelayMs,
    // Failover replicas answer READONLY to writes: reconnect so the client finds the new primary.
    reconnectOnError: (error) => error.message.startsWith('READONLY'),
  };
  if (address.username !== undefined) redisOptions.username = address.username;
  if (address.password !== undefined) redisOptions.password = address.password;
  if (address.tls) redisOptions.tls = {};
  return new Redis(redisOptions);
}

/** Throws a clear error when a worker is given a connection BullMQ would reject. */
export function assertWorkerConnection(connection: Redis, what: string): void {
  if (connection.options.maxRetriesPerRequest !== null) {
    throw new QueueError(
      'invalid_connection',
      `${what} needs a Redis connection with maxRetriesPerRequest: null; create it with createRedis(url, { role: 'worker' })`,
    );
  }
  if (connection.options.keyPrefix) {
    throw new QueueError('invalid_connection', `${what}: use the prefix option, not ioredis keyPrefix`);
  }
}
