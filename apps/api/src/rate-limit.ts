// A token bucket per client (its API token, else its address), kept in Redis so every API replica
// draws from the same bucket: bursts are allowed, sustained floods get 429 with Retry-After. When
// Redis cannot answer, requests pass (fail open): a Redis blip must not take the API down.
import { createHash } from 'node:crypto';
import type { Logger } from '@hypersweep/log';
import type { RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import { HttpError } from './errors.ts';

/**
 * One atomic step of a bucket: refill by the time since its last step (Redis's clock, the same
 * for every replica), then take one token if there is one. The bucket lives in a hash that
 * expires once it would be full again, when a missing key means the same.
 * KEYS[1] the bucket; ARGV[1] tokens per second, ARGV[2] burst.
 * Returns {1, 0} when allowed, {0, ms until a token} when refused.
 */
const TAKE_SCRIPT = `
local rate = tonumber(ARGV[1]) / 1000
local burst = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate) + 1000)
return {allowed, wait}
`;
const TAKE_SHA = createHash('sha1').update(TAKE_SCRIPT).digest('hex');

export interface RateLimiterOptions {
  redis: Redis;
  /** The app's Redis key prefix (QUEUE_PREFIX): buckets are `<prefix>:ratelimit:<scope>:<key>`. */
  prefix: string;
  logger: Logger;
  /** A Redis slower than this lets the request through (default 250 ms). */
  timeoutMs?: number;
  /** At most one warning per this long while Redis fails (default 10 s). */
  warnEveryMs?: number;
}

export type TakeResult = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** The buckets of every scope of one app, in Redis; replicas with the same prefix share them. */
export class RateLimiter {
  private readonly timeoutMs: number;
  private readonly warnEveryMs: number;
  private lastWarning = -Infinity;

  constructor(private readonly options: RateLimiterOptions) {
    this.timeoutMs = options.timeoutMs ?? 250;
    this.warnEveryMs = options.warnEveryMs ?? 10_000;
  }

  /** Takes a token from `scope`/`key`'s bucket; allowed when Redis could not say. */
  async take(scope: string, key: string, rps: number, burst: number): Promise<TakeResult> {
    const { redis } = this.options;
    // While reconnecting, a command would wait in ioredis's offline queue: pass at once instead.
    if (redis.status === 'reconnecting' || redis.status === 'close' || redis.status === 'end') {
      return this.failOpen(new Error(`redis connection is ${redis.status}`));
    }
    const bucket = `${this.options.prefix}:ratelimit:${scope}:${key}`;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`redis did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      const [allowed, waitMs] = await Promise.race([this.run(bucket, rps, burst), timeout]);
      if (allowed === 1) return { allowed: true };
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
    } catch (error) {
      return this.failOpen(error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** EVALSHA, and EVAL once when Redis does not know the script (a restart or a flush forgets it). */
  private async run(bucket: string, rps: number, burst: number): Promise<[number, number]> {
    const { redis } = this.options;
    try {
      return (await redis.evalsha(TAKE_SHA, 1, bucket, rps, burst)) as [number, number];
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return (await redis.eval(TAKE_SCRIPT, 1, bucket, rps, burst)) as [number, number];
    }
  }

  private failOpen(error: unknown): TakeResult {
    const now = performance.now();
    if (now - this.lastWarning >= this.warnEveryMs) {
      this.lastWarning = now;
      this.options.logger.warn({ err: error }, 'rate limit unavailable (redis failed): requests pass unlimited');
    }
    return { allowed: true };
  }
}

export interface RateLimitOptions {
  limiter: RateLimiter;
  /** Sustained requests per second; 0 disables the limit. */
  rps: number;
  burst: number;
  /** `client`: per verified token, else per address (after auth). `address`: per address only. */
  by: 'client' | 'address';
}

export function rateLimit(options: RateLimitOptions): RequestHandler {
  return (req, _res, next) => {
    if (options.rps <= 0) return next();
    const key = options.by === 'client' && req.token ? `t:${req.token.id}` : `ip:${req.ip ?? 'unknown'}`;
    options.limiter.take(options.by, key, options.rps, options.burst).then((result) => {
      if (result.allowed) return next();
      const retry = String(result.retryAfterSeconds);
      const message = `too many requests: at most ${options.rps}/s (bursts of ${options.burst})`;
      next(new HttpError('rate_limited', message, [{ path: 'request', message: `retry after ${retry} s` }], { 'Retry-After': retry }));
    }, next);
  };
}
