// What a client is told when PostgreSQL or Redis cannot be reached: 503 with Retry-After and a
// message of our own. Prisma's text quoted our source file, its invocation and the database's
// address; an unreachable Redis was a 500.
import { createDb, verifyApiToken } from '@hypersweep/db';
import { createRedis, listWorkers } from '@hypersweep/queue';
import { describe, expect, it } from 'vitest';
import { toHttpError } from '../src/errors.ts';

/** A port nothing listens on. */
const CLOSED = 'tcp://127.0.0.1:9';

describe('errors of unreachable services', () => {
  it('answers an unreachable PostgreSQL with 503 and says nothing of its own text', async () => {
    const db = createDb(`postgresql://postgres@${new URL(CLOSED).host}/nowhere`);
    try {
      const thrown = await verifyApiToken(db, `hs_${'a'.repeat(43)}`).then(
        () => null,
        (e: unknown) => e,
      );
      expect(thrown).not.toBeNull();
      const http = toHttpError(thrown);
      expect(http.status).toBe(503);
      expect(http.headers['Retry-After']).toBe('1');
      const body = JSON.stringify(http.body());
      for (const leak of ['127.0.0.1', '.ts', 'invocation', 'findUnique', 'prisma']) expect(body.toLowerCase()).not.toContain(leak.toLowerCase());
    } finally {
      await db.$disconnect();
    }
  });

  it('answers an unreachable Redis with 503, not 500', async () => {
    const redis = createRedis(`redis://${new URL(CLOSED).host}`, { role: 'queue' });
    redis.on('error', () => {});
    try {
      const thrown = await listWorkers(redis, 'hs-test-unreachable', { aliveWithinMs: 1000 }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(thrown).not.toBeNull();
      const http = toHttpError(thrown);
      expect(http.status).toBe(503);
      expect(http.body().error.code).toBe('unavailable');
    } finally {
      redis.disconnect();
    }
  });
});
