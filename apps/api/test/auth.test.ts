// Token verification under load: concurrent requests of one token share one database check, and a
// revoke during a check does not put the token back in the cache. With AUTH=none, no token is asked.
import { DEFAULT_PROJECT_ID, createApiToken, revokeApiToken, type Db } from '@hypersweep/db';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '@hypersweep/db/testing';
import type { Request, Response } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WhoAmI } from '@hypersweep/schemas';
import { createAuthenticator } from '../src/auth.ts';
import { startTestApi, type TestApi } from './harness.ts';

describe('bearer token verification', () => {
  let m: MigratedTestDatabase;
  let lookups = 0;
  let counted: Db;

  beforeAll(async () => {
    m = await createMigratedTestDatabase();
    // The real client; only its token lookups are counted.
    const apiToken = new Proxy(m.db.apiToken, {
      get(target, key, receiver) {
        if (key === 'findUnique') lookups++;
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    counted = new Proxy(m.db, { get: (target, key, receiver) => (key === 'apiToken' ? apiToken : (Reflect.get(target, key, receiver) as unknown)) });
  });

  afterAll(async () => {
    await m?.close();
  });

  const call = (middleware: ReturnType<typeof createAuthenticator>['middleware'], token: string) =>
    new Promise<unknown>((resolve) => {
      const req = { get: (name: string) => (name.toLowerCase() === 'authorization' ? `Bearer ${token}` : undefined) } as unknown as Request;
      void middleware(req, {} as Response, (error?: unknown) => resolve(error ?? (req as Request & { token?: unknown }).token));
    });

  it('verifies a token once for 100 concurrent requests, and again only after the cache lapses', async () => {
    const { token } = await createApiToken(m.db, 'load');
    let clock = 1_000;
    const auth = createAuthenticator(counted, { enabled: true, cacheMs: 5_000, now: () => clock });
    lookups = 0;
    const answers = await Promise.all(Array.from({ length: 100 }, () => call(auth.middleware, token)));
    expect(answers.every((a) => a !== null && typeof a === 'object' && 'id' in a)).toBe(true);
    expect(lookups).toBe(1);
    await Promise.all(Array.from({ length: 50 }, () => call(auth.middleware, token)));
    expect(lookups).toBe(1);
    clock += 6_000;
    await Promise.all(Array.from({ length: 50 }, () => call(auth.middleware, token)));
    expect(lookups).toBe(2);
  });

  it('refuses a cached token from the instant it expires', async () => {
    // Cached for its whole cacheMs, an expired token once worked for up to 5 s more.
    const expiresAt = new Date(Date.now() + 1_000);
    const { token } = await createApiToken(m.db, { name: 'short-lived', grants: [{ projectId: DEFAULT_PROJECT_ID, role: 'read' }], expiresAt });
    const auth = createAuthenticator(m.db, { enabled: true, cacheMs: 60_000 });
    expect(await call(auth.middleware, token)).toMatchObject({ name: 'short-lived' });
    while (Date.now() <= expiresAt.getTime()) await new Promise((r) => setTimeout(r, 20));
    expect(await call(auth.middleware, token)).toMatchObject({ code: 'unauthorized' });
  });

  it('does not cache a token whose check was in flight when tokens were forgotten (a revoke)', async () => {
    const created = await createApiToken(m.db, 'revoked');
    const auth = createAuthenticator(counted, { enabled: true });
    const inFlight = call(auth.middleware, created.token);
    await revokeApiToken(m.db, created.id);
    auth.forget();
    await inFlight;
    const after = await call(auth.middleware, created.token);
    expect(after).toBeInstanceOf(Error);
    expect((after as Error).message).toMatch(/invalid or revoked/);
  });
});

describe('AUTH=none', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi({ AUTH: 'none' });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it('serves every request without a token as a server admin, and says so on /me', async () => {
    const bare = (path: string) => fetch(`${t.url}${path}`);
    const me = await bare('/api/v1/me');
    expect(me.status).toBe(200);
    expect(WhoAmI.parse(await me.json())).toEqual({ serverAdmin: true, token: null });
    expect((await bare('/api/v1/sweeps')).status).toBe(200);
    expect((await bare('/api/v1/tokens')).status).toBe(200);
  });
});
