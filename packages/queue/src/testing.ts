// Test helpers: a private key prefix per test file, prefix cleanup, and polling with a deadline.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { assertPrefix } from './queues.ts';

/** A fresh prefix such as `hs-test-1a2b3c4d5e6f`, so test files never see each other's keys. */
export function randomTestPrefix(): string {
  return `hs-test-${randomBytes(6).toString('hex')}`;
}

/**
 * Deletes every key under `<prefix>:` (SCAN + UNLINK) and returns how many were deleted. This is
 * also how tests simulate Redis losing everything, without touching other users of the server.
 */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<number> {
  assertPrefix(prefix);
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** Polls `condition` until it returns true, or throws naming `what` after `timeoutMs`. */
export async function sleepUntil(
  condition: () => boolean | Promise<boolean>,
  { timeoutMs = 10_000, intervalMs = 20, what = 'condition' }: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
