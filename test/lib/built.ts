// The processes of the Docker image, started here exactly as docker-compose.yml commands them (plain
// `node` on the JavaScript that `npm run build` bundles), on a fresh database migrated by the image's
// own one-shot, a private Redis prefix, and the repository as the working directory (the image's /app).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { createApiToken, createDb, type Db } from '@hypersweep/db';
import { createTestDatabase, type TestDatabase } from '@hypersweep/db/testing';
import { createRedis } from '@hypersweep/queue';
import { deleteKeysWithPrefix, randomTestPrefix, sleepUntil } from '@hypersweep/queue/testing';
import type { Redis } from 'ioredis';
import { ROOT, freePort, spawnManaged, type ManagedProcess } from './stack.ts';

export interface ComposeService {
  build?: unknown;
  image?: string;
  command?: string[];
  entrypoint?: string[] | string;
  environment?: Record<string, string | number | null>;
  healthcheck?: { test?: string[]; disable?: boolean };
  depends_on?: Record<string, { condition?: string }> | string[];
  restart?: string;
}

export const compose = yaml.load(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, ComposeService>; volumes?: Record<string, unknown> };

/** A compose service's command, checked to be `node <built file>`. */
export function composeCommand(service: 'migrate' | 'api' | 'worker'): [string, ...string[]] {
  const command = compose.services[service]?.command;
  if (!command || command[0] !== 'node' || !command[1]?.endsWith('.js')) throw new Error(`docker-compose.yml: ${service} does not run node on a .js file: ${JSON.stringify(command)}`);
  if (!existsSync(join(ROOT, command[1]))) throw new Error(`${command[1]} (the ${service} service's entry point) does not exist: run \`npm run build\``);
  return command as [string, ...string[]];
}

/** Runs `argv` (argv[0] "node" is this Node) from the repository root with its output kept, as spawnTs does for TypeScript. */
export function spawnCommand(name: string, argv: readonly string[], env: Record<string, string>): ManagedProcess {
  return spawnManaged(name, argv[0] === 'node' ? [process.execPath, ...argv.slice(1)] : argv, env);
}

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** migrate → api → workers, each from its compose command; `close()` stops them and removes what they made. */
export class BuiltStack {
  readonly workers: ManagedProcess[] = [];
  token = '';

  private constructor(
    readonly name: string,
    readonly database: TestDatabase,
    readonly db: Db,
    readonly prefix: string,
    readonly redis: Redis,
    readonly migrateOutput: string,
    readonly api: ManagedProcess,
    readonly url: string,
  ) {}

  static async start(options: { name: string; workers: number }): Promise<BuiltStack> {
    const database = await createTestDatabase();
    const migrate = spawnCommand(`${options.name}-migrate`, composeCommand('migrate'), { DATABASE_URL: database.url });
    const migrated = await migrate.exited;
    if (migrated !== 0) {
      await database.drop();
      throw new Error(`the migrate one-shot exited ${migrated}: ${migrate.output()}`);
    }
    const prefix = randomTestPrefix();
    const port = await freePort();
    const common = { DATABASE_URL: database.url, REDIS_URL, QUEUE_PREFIX: prefix, LOG_LEVEL: 'info' };
    const api = spawnCommand(`${options.name}-api`, composeCommand('api'), { ...common, HOST: '127.0.0.1', PORT: String(port), RATE_LIMIT_RPS: '0' });
    const stack = new BuiltStack(options.name, database, createDb(database.url, { maxConnections: 2 }), prefix, createRedis(REDIS_URL, { role: 'queue' }), migrate.output(), api, `http://127.0.0.1:${port}`);
    try {
      stack.token = (await createApiToken(stack.db, `${options.name}-admin`)).token;
      await sleepUntil(async () => (await fetch(`${stack.url}/readyz`).catch(() => null))?.status === 200, { timeoutMs: 60_000, intervalMs: 100, what: 'the built api to be ready' });
      for (let i = 0; i < options.workers; i++) {
        const id = `${options.name}-worker-${i}`;
        stack.workers.push(spawnCommand(id, composeCommand('worker'), { ...common, WORKER_ID: id, THREADS_PER_TRIAL: '1', HEARTBEAT_MS: '500', RECONCILE_MS: '1000' }));
      }
      await sleepUntil(async () => (await stack.aliveWorkers()) >= options.workers, { timeoutMs: 60_000, intervalMs: 200, what: `${options.workers} built workers to heartbeat` });
    } catch (error) {
      await stack.close();
      throw new Error(`${error instanceof Error ? error.message : String(error)}\napi: ${api.output()}\n${stack.workers.map((w) => `${w.name}: ${w.output()}`).join('\n')}`);
    }
    return stack;
  }

  /** The environment the stack's processes share (for a healthcheck or a CLI run against it). */
  get env(): Record<string, string> {
    return { DATABASE_URL: this.database.url, REDIS_URL, QUEUE_PREFIX: this.prefix, HEARTBEAT_MS: '500' };
  }

  async aliveWorkers(): Promise<number> {
    const res = await fetch(`${this.url}/api/v1/workers`, { headers: { authorization: `Bearer ${this.token}` } });
    if (!res.ok) return 0;
    return ((await res.json()) as { totals: { alive: number } }).totals.alive;
  }

  async close(): Promise<void> {
    const running = [...this.workers, this.api].filter((p) => p.child.exitCode === null && p.child.signalCode === null);
    for (const p of running) p.child.kill('SIGTERM');
    await Promise.all(running.map((p) => p.exited));
    await deleteKeysWithPrefix(this.redis, this.prefix);
    await this.redis.quit();
    await this.db.$disconnect();
    await this.database.drop();
  }
}
