// A whole Hypersweep stack for a test: a fresh migrated database, a private Redis prefix, the API
// and N workers as real child processes (started the way users start them), their logs kept under
// test-artifacts/. Processes can be killed, restarted and added while a sweep runs.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApiToken, type Db } from '@hypersweep/db';
import { freePort } from '@hypersweep/local/ports';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '@hypersweep/db/testing';
import { createRedis } from '@hypersweep/queue';
import { deleteKeysWithPrefix, randomTestPrefix, sleepUntil } from '@hypersweep/queue/testing';
import type { Redis } from 'ioredis';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ARTIFACTS = join(ROOT, 'test-artifacts');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export { freePort };

export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  /** Lines written so far (stdout and stderr). */
  output(): string;
}

export interface SpawnOptions {
  /**
   * A command prefix that execs the rest (so the child keeps its pid and takes signals), e.g. a
   * network namespace's `ip netns exec <ns>` (test/lib/netns.ts `NetHost.command([])`).
   */
  wrap?: readonly string[];
}

/** Runs `argv` from the repository root, its output kept in memory and in test-artifacts/<name>.log. */
export function spawnManaged(name: string, argv: readonly string[], env: Record<string, string>): ManagedProcess {
  mkdirSync(ARTIFACTS, { recursive: true });
  const log = createWriteStream(join(ARTIFACTS, `${name}.log`), { flags: 'a' });
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const keep = (chunk: Buffer) => {
    text += chunk.toString();
    if (text.length > 2_000_000) text = text.slice(-1_000_000);
    log.write(chunk);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    log.end();
    resolve(code);
  }));
  return { name, child, exited, output: () => text };
}

/** Runs a TypeScript entry point of the repo with tsx, as `npm start` of that app does. */
export function spawnTs(name: string, entry: string, env: Record<string, string>, args: string[] = [], options: SpawnOptions = {}): ManagedProcess {
  return spawnManaged(name, [...(options.wrap ?? []), process.execPath, '--import', 'tsx', join(ROOT, entry), ...args], env);
}

export interface StackOptions {
  workers: number;
  threads?: number;
  /** The Redis the api and workers use (default `REDIS_URL`, else the shared test Redis on 6379). */
  redisUrl?: string;
  /** Extra environment for every worker. */
  workerEnv?: Record<string, string>;
  name: string;
  /** The server to create the stack's database on (default: the shared test server). */
  adminUrl?: string;
}

export class Stack {
  readonly workers: ManagedProcess[] = [];
  api: ManagedProcess | null = null;
  url = '';
  token = '';
  private workerCount = 0;

  private constructor(
    readonly options: StackOptions,
    readonly database: MigratedTestDatabase,
    readonly prefix: string,
    readonly redis: Redis,
    private readonly port: number,
  ) {}

  static async start(options: StackOptions): Promise<Stack> {
    const database = await createMigratedTestDatabase(options.adminUrl ? { adminUrl: options.adminUrl } : {});
    const stack = new Stack(options, database, randomTestPrefix(), createRedis(options.redisUrl ?? REDIS_URL, { role: 'queue' }), await freePort());
    stack.token = (await createApiToken(database.db, 'integration')).token;
    await stack.startApi();
    for (let i = 0; i < options.workers; i++) stack.startWorker();
    await stack.waitForWorkers(options.workers);
    return stack;
  }

  get db(): Db {
    return this.database.db;
  }

  private get commonEnv(): Record<string, string> {
    return { DATABASE_URL: this.database.database.url, REDIS_URL: this.options.redisUrl ?? REDIS_URL, QUEUE_PREFIX: this.prefix, LOG_LEVEL: 'info' };
  }

  async startApi(): Promise<void> {
    this.api = spawnTs(`${this.options.name}-api`, 'apps/api/src/main.ts', { ...this.commonEnv, HOST: '127.0.0.1', PORT: String(this.port), RATE_LIMIT_RPS: '0' });
    this.url = `http://127.0.0.1:${this.port}`;
    await sleepUntil(async () => (await fetch(`${this.url}/readyz`).catch(() => null))?.status === 200, { timeoutMs: 60_000, intervalMs: 100, what: 'the api to be ready' });
  }

  async stopApi(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const api = this.api;
    if (!api) return;
    api.child.kill(signal);
    await api.exited;
    this.api = null;
  }

  /** Starts a worker; `env` overrides (e.g. DATABASE_URL / REDIS_URL of another address), `spawnOptions.wrap` prefixes its command. */
  startWorker(env: Record<string, string> = {}, spawnOptions: SpawnOptions = {}): ManagedProcess {
    const id = `${this.options.name}-worker-${this.workerCount++}`;
    const worker = spawnTs(
      id,
      'apps/worker/src/main.ts',
      {
        ...this.commonEnv,
        WORKER_ID: id,
        THREADS_PER_TRIAL: String(this.options.threads ?? 1),
        HEARTBEAT_MS: '500',
        RECONCILE_MS: '1000',
        ...this.options.workerEnv,
        ...env,
      },
      [],
      spawnOptions,
    );
    this.workers.push(worker);
    return worker;
  }

  /** Waits until `n` workers publish heartbeats (they are consuming jobs by then). */
  async waitForWorkers(n: number): Promise<void> {
    await sleepUntil(
      async () => {
        const res = await this.request('/api/v1/workers');
        const view = (await res.json()) as { totals: { alive: number } };
        return view.totals.alive >= n;
      },
      { timeoutMs: 90_000, intervalMs: 200, what: `${n} live workers` },
    );
  }

  request(path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${this.token}`);
    let body = init.body;
    if (init.json !== undefined) {
      body = JSON.stringify(init.json);
      headers.set('content-type', 'application/json');
    }
    return fetch(`${this.url}${path}`, { ...init, headers, body: body ?? null });
  }

  async json<T>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> {
    const res = await this.request(path, init);
    const body = (await res.json()) as T;
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path} → ${res.status}: ${JSON.stringify(body)}`);
    return body;
  }

  /** Polls the sweep until `predicate` holds for it. */
  async waitForSweep<T>(sweepId: string, predicate: (sweep: T) => boolean, what: string, timeoutMs = 240_000): Promise<T> {
    let last: T | null = null;
    await sleepUntil(
      async () => {
        last = await this.json<T>(`/api/v1/sweeps/${sweepId}`);
        return predicate(last);
      },
      { timeoutMs, intervalMs: 250, what },
    );
    return last!;
  }

  /** SIGTERM to every worker; resolves when they have exited. */
  async stopWorkers(): Promise<void> {
    for (const worker of this.workers) if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGTERM');
    await Promise.all(this.workers.map((w) => w.exited));
  }

  async close(): Promise<void> {
    for (const worker of this.workers) if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGTERM');
    await Promise.all(this.workers.map((w) => w.exited));
    await this.stopApi();
    await deleteKeysWithPrefix(this.redis, this.prefix);
    await this.redis.quit();
    await this.database.close();
  }
}
