// Test support: a PostgreSQL server of the test's own (initdb + pg_ctl in a temp directory, on a
// free port) that the test may stop, restart, and whose backends it may terminate or freeze —
// faults no test may inflict on the shared server other tests use.
import { execFile } from 'node:child_process';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { chownSync, existsSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** Debian's server binaries of the newest installed major version; POSTGRES_BIN_DIR overrides. */
export const defaultPostgresBinDir = process.env.POSTGRES_BIN_DIR ?? newestDebianPostgres() ?? '/usr/lib/postgresql/15/bin';

function newestDebianPostgres(): string | null {
  try {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v) && existsSync(join('/usr/lib/postgresql', v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    return versions[0] ? join('/usr/lib/postgresql', versions[0], 'bin') : null;
  } catch {
    return null;
  }
}

export interface ScratchPostgresOptions {
  binDir?: string;
  /** OS user the server runs as when this process is root (postgres refuses to run as root). */
  user?: string;
  /** Extra `-c name=value` server settings; `listen_addresses` replaces 127.0.0.1, so list it too (`adminUrl` uses it). */
  settings?: Record<string, string | number>;
  /** Client networks (CIDR, e.g. `10.213.0.2/32`) let in with trust auth besides localhost. */
  trustedClients?: readonly string[];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export type ShutdownMode = 'smart' | 'fast' | 'immediate';

export class ScratchPostgres {
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly binDir: string,
    private readonly user: string | null,
    private readonly settings: string[],
  ) {}

  /** initdb in a fresh temp directory, then starts the server; resolves once it accepts connections. */
  static async start(options: ScratchPostgresOptions = {}): Promise<ScratchPostgres> {
    const binDir = options.binDir ?? defaultPostgresBinDir;
    const asRoot = process.getuid?.() === 0;
    const user = asRoot ? (options.user ?? 'postgres') : null;
    const dir = await mkdtemp(join(tmpdir(), 'hs-pg-'));
    if (user) {
      const uid = Number((await run('id', ['-u', user])).stdout.trim());
      const gid = Number((await run('id', ['-g', user])).stdout.trim());
      chownSync(dir, uid, gid);
    }
    const settings = Object.entries({
      listen_addresses: '127.0.0.1',
      unix_socket_directories: dir,
      // The OS survives a server restart, so what reached it is kept; only an OS crash needs fsync.
      fsync: 'off',
      max_connections: 200,
      ...options.settings,
    }).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
    const server = new ScratchPostgres(dir, await freePort(), binDir, user, settings);
    try {
      await server.exec('initdb', ['-D', server.dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
      const hba = (options.trustedClients ?? []).map((cidr) => `host all all ${cidr} trust\n`).join('');
      if (hba) await appendFile(join(server.dataDir, 'pg_hba.conf'), hba);
      await server.start();
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    return server;
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  get logFile(): string {
    return join(this.dir, 'server.log');
  }

  /** The `postgres` database, for creating test databases (`createTestDatabase(server.adminUrl)`). */
  get adminUrl(): string {
    return this.url('postgres');
  }

  /** A database's URL; `host` one of the addresses it listens on (default 127.0.0.1). */
  url(database: string, host = '127.0.0.1'): string {
    return `postgresql://postgres@${host}:${this.port}/${database}`;
  }

  private async exec(tool: string, args: string[]): Promise<void> {
    const path = join(this.binDir, tool);
    // The server's own output goes to its log file (-l), so pg_ctl returns once it is up.
    if (this.user) await run('runuser', ['-u', this.user, '--', path, ...args], { timeout: 120_000 });
    else await run(path, args, { timeout: 120_000 });
  }

  private get startArgs(): string[] {
    return ['-D', this.dataDir, '-l', this.logFile, '-w', '-t', '60', '-o', [`-p ${this.port}`, ...this.settings.map((s) => (s === '-c' ? s : `'${s}'`))].join(' ')];
  }

  async start(): Promise<void> {
    await this.exec('pg_ctl', ['start', ...this.startArgs]);
  }

  /** `pg_ctl stop`: immediate kills every backend at once (no checkpoint; crash recovery at the next start). */
  async stop(mode: ShutdownMode = 'immediate'): Promise<void> {
    await this.exec('pg_ctl', ['stop', '-D', this.dataDir, '-m', mode, '-w', '-t', '60']);
  }

  /** `pg_ctl restart -m <mode>`: every connection drops; resolves once the server accepts connections again. */
  async restart(mode: ShutdownMode = 'immediate'): Promise<void> {
    await this.exec('pg_ctl', ['restart', '-m', mode, ...this.startArgs]);
  }

  private async admin<T extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<T[]> {
    const client = new pg.Client({ connectionString: this.adminUrl });
    client.on('error', () => undefined); // a fault injected meanwhile must not crash the test
    await client.connect();
    try {
      return (await client.query<T>(sql, values)).rows;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Pids of the client backends (the apps' connections), of one database or of all but `postgres`' own admin connections. */
  async backendPids(database?: string): Promise<number[]> {
    const rows = await this.admin<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND ($1::text IS NULL OR datname = $1)`,
      [database ?? null],
    );
    return rows.map((r) => r.pid);
  }

  /** Pids of client backends waiting on a lock (e.g. behind a row a test holds). */
  async lockWaiters(database?: string): Promise<number[]> {
    const rows = await this.admin<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND wait_event_type = 'Lock' AND ($1::text IS NULL OR datname = $1)`,
      [database ?? null],
    );
    return rows.map((r) => r.pid);
  }

  /** `pg_terminate_backend` of the given backends; returns how many were terminated. */
  async terminate(pids: readonly number[]): Promise<number> {
    const rows = await this.admin<{ terminated: boolean }>('SELECT pg_terminate_backend(pid) AS terminated FROM unnest($1::int[]) AS pid', [pids]);
    return rows.filter((r) => r.terminated).length;
  }

  /** `pg_terminate_backend` of every client backend but this call's own (57P01 for their clients); returns how many. */
  async terminateBackends(database?: string): Promise<number> {
    const rows = await this.admin<{ terminated: boolean }>(
      `SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity
       WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND ($1::text IS NULL OR datname = $1)`,
      [database ?? null],
    );
    return rows.filter((r) => r.terminated).length;
  }

  /** SIGSTOP (or SIGCONT) to backend processes: a stalled server that still holds its connections open. */
  signalBackends(pids: readonly number[], signal: 'SIGSTOP' | 'SIGCONT'): number {
    let signalled = 0;
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
        signalled++;
      } catch {
        // The backend exited meanwhile.
      }
    }
    return signalled;
  }

  /** Stops the server (immediately) and deletes its directory. */
  async destroy(): Promise<void> {
    await this.stop('immediate').catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}
