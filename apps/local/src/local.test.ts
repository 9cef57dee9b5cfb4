import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRedis } from '@hypersweep/queue';
import { afterAll, describe, expect, it } from 'vitest';
import { parseEnv } from './env.ts';
import { freePort, portTaken } from './ports.ts';
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

  it('refuses a port in use, or a launcher already running from the same folder, before starting anything', async () => {
    const port = await freePort();
    expect(await portTaken('127.0.0.1', port)).toBe(false);
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    // A stand-in for a running launcher: a live process whose command line names the launcher.
    const launcherLike = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)', join('apps', 'local', 'src', 'main.ts')], { stdio: 'ignore' });
    try {
      expect(await portTaken('127.0.0.1', port)).toBe(true);
      const { DATABASE_URL: _db, REDIS_URL: _redis, ...withoutServiceUrls } = process.env;
      const launch = (homeDir: string, onPort: number) =>
        spawnSync(process.execPath, ['--import', createRequire(import.meta.url).resolve('tsx'), new URL('./main.ts', import.meta.url).pathname], {
          env: { ...withoutServiceUrls, PORT: String(onPort), HOST: '127.0.0.1', HYPERSWEEP_HOME: homeDir },
          encoding: 'utf8',
          timeout: 60_000,
        });
      const other = launch(join(home, 'other'), port);
      expect(other.status).toBe(1);
      expect(other.stderr).toContain(`Port ${port} on 127.0.0.1 is in use by another program.`);

      // Another launcher from the same folder is refused on any port: the data is shared.
      const same = join(home, 'same');
      mkdirSync(same);
      writeFileSync(join(same, 'launcher.pid'), `${launcherLike.pid}\n`);
      const again = launch(same, await freePort());
      expect(again.status).toBe(1);
      expect(again.stderr).toContain(`Hypersweep is already running from this folder (pid ${launcherLike.pid}`);
      expect(again.stdout).not.toContain('embedded PostgreSQL started');
      expect(readFileSync(join(same, 'launcher.pid'), 'utf8')).toBe(`${launcherLike.pid}\n`);
      // Started from the package (`npm start -w apps/local`: src/main.ts in apps/local) is one too.
      const fromPackage = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)', join('src', 'main.ts')], { stdio: 'ignore', cwd: fileURLToPath(new URL('..', import.meta.url)) });
      try {
        writeFileSync(join(same, 'launcher.pid'), `${fromPackage.pid}\n`);
        const third = launch(same, await freePort());
        expect(third.status).toBe(1);
        expect(third.stderr).toContain(`Hypersweep is already running from this folder (pid ${fromPackage.pid}`);
      } finally {
        fromPackage.kill();
      }

      // A live pid that is not a launcher (this test's) is a stale file: the port is what is refused.
      writeFileSync(join(same, 'launcher.pid'), `${process.pid}\n`);
      const stale = launch(same, port);
      expect(stale.status).toBe(1);
      expect(stale.stderr).toContain(`Port ${port} on 127.0.0.1 is in use by another program.`);
    } finally {
      launcherLike.kill();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

