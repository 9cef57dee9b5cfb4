// A cluster-wide mutex on one Redis key (SET NX PX, released only by its holder) for periodic chores.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface RedisLockOptions {
  /** Who holds the lock (shown to the losers); a random suffix makes each acquisition distinct. */
  owner: string;
  /** The lock expires on its own after this long, so a holder that dies does not block the others. */
  ttlMs: number;
  /**
   * Keep the lock until this long after it was taken, even when `fn` ends sooner: a cluster-wide
   * rate limit for a chore every process attempts periodically (default 0: release at once).
   */
  holdForMs?: number;
}

export type RedisLockResult<T> = { acquired: true; value: T } | { acquired: false; holder: string | null };

// Releases the key only if it still holds our token (a lock that expired and was taken by another
// worker is never released by the late first holder): deleted, or left to expire in ARGV[2] ms.
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  if tonumber(ARGV[2]) > 0 then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
  end
  return redis.call('DEL', KEYS[1])
end
return 0`;

/**
 * Runs `fn` while holding the lock at `key`, or returns at once with `acquired: false` (and the
 * current holder) when another process holds it. The lock is not renewed: `ttlMs` must exceed the
 * longest expected run, and `fn` should be safe to overlap with a later holder if it does not.
 */
export async function withRedisLock<T>(redis: Redis, key: string, options: RedisLockOptions, fn: () => Promise<T>): Promise<RedisLockResult<T>> {
  if (!Number.isInteger(options.ttlMs) || options.ttlMs < 1) throw new RangeError(`ttlMs must be a positive integer, got ${options.ttlMs}`);
  const holdForMs = options.holdForMs ?? 0;
  const token = `${options.owner}#${randomBytes(6).toString('hex')}`;
  const takenAt = Date.now();
  const set = await redis.set(key, token, 'PX', Math.max(options.ttlMs, holdForMs), 'NX');
  if (set !== 'OK') {
    const holder = await redis.get(key);
    return { acquired: false, holder: holder === null ? null : holder.replace(/#[0-9a-f]+$/, '') };
  }
  try {
    return { acquired: true, value: await fn() };
  } finally {
    // If Redis is unreachable now, the lock simply expires after ttlMs.
    const remainingMs = Math.max(0, Math.ceil(takenAt + holdForMs - Date.now()));
    await redis.eval(RELEASE_SCRIPT, 1, key, token, String(remainingMs)).catch(() => undefined);
  }
}
