// A token bucket per client (its API token, else its address): bursts are allowed, sustained
// floods get 429 with Retry-After. In memory: each API replica limits on its own.
import type { RequestHandler } from 'express';
import { HttpError } from './errors.ts';

export interface RateLimitOptions {
  /** Sustained requests per second; 0 disables the limiter. */
  rps: number;
  burst: number;
  /** `client`: per verified token, else per address (after auth). `address`: per address only. */
  by?: 'client' | 'address';
  now?: () => number;
}

export function rateLimit(options: RateLimitOptions): RequestHandler {
  const now = options.now ?? Date.now;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return (req, res, next) => {
    if (options.rps <= 0) return next();
    const key = options.by !== 'address' && req.token ? `t:${req.token.id}` : `ip:${req.ip ?? 'unknown'}`;
    const t = now();
    const bucket = buckets.get(key) ?? { tokens: options.burst, at: t };
    bucket.tokens = Math.min(options.burst, bucket.tokens + ((t - bucket.at) / 1000) * options.rps);
    bucket.at = t;
    if (buckets.size > 100_000) buckets.clear();
    buckets.set(key, bucket);
    if (bucket.tokens < 1) {
      const retry = Math.ceil((1 - bucket.tokens) / options.rps);
      res.setHeader('Retry-After', String(retry));
      const message = `too many requests: at most ${options.rps}/s (bursts of ${options.burst})`;
      return next(new HttpError('rate_limited', message, [{ path: 'request', message: `retry after ${retry} s` }], { 'Retry-After': String(retry) }));
    }
    bucket.tokens -= 1;
    next();
  };
}
