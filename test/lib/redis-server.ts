// A private, throwaway redis-server for tests that must FLUSHALL or kill Redis: the shared test Redis
// on 6379 serves other tests at the same time. No persistence, so a restart comes back empty.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRedis } from '@hypersweep/queue';
import { sleepUntil } from '@hypersweep/queue/testing';
import { ARTIFACTS, freePort } from './stack.ts';

const BINARY = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

export class RedisServer {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly port: number,
    private readonly name: string,
    private readonly bind: readonly string[],
  ) {}

  /**
   * Starts a redis-server on a free port and waits until it answers PING. It listens on 127.0.0.1
   * and on the `bind` addresses (e.g. the host side of a test's network namespaces), where clients
   * need no password (protected mode off: the server is the test's own).
   */
  static async start(name: string, options: { bind?: readonly string[] } = {}): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), name, options.bind ?? []);
    await server.launch();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The URL through one of the `bind` addresses. */
  urlAt(host: string): string {
    return `redis://${host}:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Kills the server (SIGKILL: no shutdown, no save) and waits for it to exit. */
  async kill(): Promise<void> {
    await this.stop('SIGKILL');
  }

  /** Starts a new, empty server on the same port. */
  async restart(): Promise<void> {
    if (this.child) throw new Error('redis-server is still running');
    await this.launch();
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await this.exited;
    this.child = null;
  }

  private async launch(): Promise<void> {
    mkdirSync(ARTIFACTS, { recursive: true });
    const log = createWriteStream(join(ARTIFACTS, `${this.name}-redis.log`), { flags: 'a' });
    const network = this.bind.length > 0 ? ['--bind', '127.0.0.1', ...this.bind, '--protected-mode', 'no'] : ['--bind', '127.0.0.1'];
    const child = spawn(BINARY, ['--save', '', '--appendonly', 'no', '--port', String(this.port), ...network], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        log.end();
        resolve();
      }),
    );
    const probe = createRedis(this.url, { role: 'queue' });
    // Errors while it starts are expected; the PING loop below decides.
    probe.on('error', () => undefined);
    try {
      await sleepUntil(
        async () => {
          if (child.exitCode !== null) throw new Error(`redis-server on ${this.port} exited with code ${child.exitCode}`);
          return (await probe.ping().catch(() => null)) === 'PONG';
        },
        { timeoutMs: 20_000, intervalMs: 50, what: `redis-server on ${this.port}` },
      );
    } finally {
      probe.disconnect();
    }
  }
}
