import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis } from '@hypersweep/queue';
import { afterAll, describe, expect, it } from 'vitest';
import { parseEnv } from './env.ts';
import { findRedisServer, persistentSecret, startRedis } from './services.ts';

const home = mkdtempSync(join(tmpdir(), 'hypersweep-local-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('npm start configuration', () => {
  it('uses embedded services unless URLs are given, and names bad variables', () => {
    expect(parseEnv({}, '/repo')).toMatchObject({ home: '/repo/.hypersweep', port: 8080, databaseUrl: null, redisUrl: null, workers: 1 });
    expect(parseEnv({ DATABASE_URL: 'postgresql://x/y', REDIS_URL: 'redis://r', HYPERSWEEP_HOME: '/data' }, '/repo')).toMatchObject({
      home: '/data',
      databaseUrl: 'postgresql://x/y',
      redisUrl: 'redis://r',
    });
    expect(() => parseEnv({ PORT: '99999', WORKERS: '-1' }, '/repo')).toThrow(/PORT.*WORKERS/);
  });

  it('keeps a secret in a 0600 file and returns the same one next time', () => {
    const file = join(home, 'secret');
    const first = persistentSecret(file, () => 'abc');
    expect(persistentSecret(file, () => 'other')).toBe(first);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('starts a password-protected redis-server with append-only persistence, and stops it', async () => {
    const binary = findRedisServer();
    expect(binary).toMatch(/redis-server$/);
    const redis = await startRedis(home, binary!);
    const client = createRedis(redis.url, { role: 'queue' });
    const anonymous = createRedis(redis.url.replace(/\/\/:[^@]*@/, '//'), { role: 'queue' });
    anonymous.on('error', () => undefined);
    try {
      expect(await client.ping()).toBe('PONG');
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);
    } finally {
      client.disconnect();
      anonymous.disconnect();
      await redis.stop();
    }
    await expect(startRedis(home, '/nonexistent/redis-server')).rejects.toThrow(/could not start: spawn .* ENOENT/);
  });
});
