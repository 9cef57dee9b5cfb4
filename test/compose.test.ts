// The Docker deliverables, checked without a Docker engine: every long-running service has a
// healthcheck, every dependency waits on a condition, the Dockerfile's stages and paths match the
// repository, and the image runs plain `node` on built JavaScript whose entry points exist after
// `npm run build` and start (migrations, api, worker and its healthcheck on real Postgres and Redis;
// the api's CSV parse thread).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { CSV_THREAD_MIN_CHARS } from '@hypersweep/datasets/csv-check';
import { sleepUntil } from '@hypersweep/queue/testing';
import { describe, expect, it } from 'vitest';
import { BuiltStack, compose, spawnCommand, type ComposeService as Service } from './lib/built.ts';
import { ROOT } from './lib/stack.ts';

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const runtimeStage = dockerfile.slice(dockerfile.search(/^FROM\s+\S+\s+AS\s+runtime/im));
/** The runtime stage's instructions, continuation lines joined. */
const runtimeInstructions = runtimeStage
  .replace(/\\\n\s*/g, ' ')
  .split('\n')
  .filter((line) => line.trim() !== '' && !line.startsWith('#'));
/** An exec-form JSON array (CMD ["node", "x.js"]) as its arguments. */
const execForm = (text: string): string[] => JSON.parse(text.slice(text.indexOf('['))) as string[];
/** Every command line the image runs: CMD, ENTRYPOINT, HEALTHCHECK, and each service's command, entrypoint and healthcheck. */
function runtimeCommands(): { where: string; argv: string[] }[] {
  const commands: { where: string; argv: string[] }[] = [];
  for (const line of runtimeInstructions) {
    const m = /^(CMD|ENTRYPOINT|HEALTHCHECK)\s+(.*)$/.exec(line);
    if (!m) continue;
    commands.push({ where: `Dockerfile ${m[1]}`, argv: m[2]!.includes('[') ? execForm(m[2]!) : m[2]!.split(/\s+/) });
  }
  for (const [name, service] of Object.entries(compose.services)) {
    if (!service.build && service.image !== 'hypersweep:latest') continue;
    if (service.command) commands.push({ where: `${name} command`, argv: service.command });
    if (service.entrypoint) commands.push({ where: `${name} entrypoint`, argv: typeof service.entrypoint === 'string' ? service.entrypoint.split(/\s+/) : service.entrypoint });
    if (service.healthcheck?.test) commands.push({ where: `${name} healthcheck`, argv: service.healthcheck.test });
  }
  return commands;
}
/** The built files the image runs (the .js arguments of node). */
const builtEntries = () => runtimeCommands().flatMap(({ where, argv }) => argv.filter((a) => /^(apps|packages)\/.+\.js$/.test(a)).map((file) => ({ where, file })));
const ONE_SHOT = new Set(['migrate']);

/** Workspace directories from the root package.json's globs ("packages/*", "apps/*", "test"). */
function workspaces(): string[] {
  const globs = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces;
  return globs.flatMap((glob) =>
    glob.endsWith('/*')
      ? readdirSync(join(ROOT, glob.slice(0, -2)), { withFileTypes: true })
          .filter((d) => d.isDirectory() && existsSync(join(ROOT, glob.slice(0, -2), d.name, 'package.json')))
          .map((d) => `${glob.slice(0, -2)}/${d.name}`)
      : [glob],
  );
}

describe('docker-compose.yml', () => {
  it('gives every long-running service a healthcheck, and the migrations run once', () => {
    const names = Object.keys(compose.services);
    expect(names).toEqual(expect.arrayContaining(['postgres', 'redis', 'migrate', 'api', 'worker']));
    for (const [name, service] of Object.entries(compose.services)) {
      if (ONE_SHOT.has(name)) {
        expect(service.restart, name).toBe('no');
        continue;
      }
      expect(service.healthcheck?.test?.length ?? 0, `${name} has a healthcheck`).toBeGreaterThan(0);
      expect(service.healthcheck?.disable, name).not.toBe(true);
    }
  });

  it('makes every dependent wait on a condition its dependency can meet', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      if (!service.depends_on) continue;
      expect(Array.isArray(service.depends_on), `${name}: depends_on without conditions`).toBe(false);
      for (const [dependency, { condition }] of Object.entries(service.depends_on as Record<string, { condition?: string }>)) {
        expect(compose.services[dependency], `${name} → ${dependency}`).toBeDefined();
        expect(['service_healthy', 'service_completed_successfully'], `${name} → ${dependency}`).toContain(condition);
        if (condition === 'service_healthy') expect(compose.services[dependency]?.healthcheck?.test, `${dependency} must have a healthcheck`).toBeDefined();
        if (condition === 'service_completed_successfully') expect(ONE_SHOT.has(dependency)).toBe(true);
      }
    }
    for (const name of ['api', 'worker']) {
      expect(compose.services[name]?.depends_on).toMatchObject({
        postgres: { condition: 'service_healthy' },
        redis: { condition: 'service_healthy' },
        migrate: { condition: 'service_completed_successfully' },
      });
    }
  });

  it('persists Postgres and Redis (append-only) in volumes, and scales workers (no fixed name or port)', () => {
    expect(Object.keys(compose.volumes ?? {})).toEqual(expect.arrayContaining(['pgdata', 'redisdata']));
    expect(compose.services.redis?.command).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
    const worker = compose.services.worker as Service & { container_name?: string; ports?: unknown };
    expect(worker.container_name).toBeUndefined();
    expect(worker.ports).toBeUndefined();
  });

  it('runs entry points that exist', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const arg of [...(service.command ?? []), ...(service.healthcheck?.test ?? [])]) {
        if (/^(apps|packages)\/.+\.[jt]s$/.test(arg)) expect(existsSync(join(ROOT, arg)), `${name}: ${arg} (after npm run build)`).toBe(true);
      }
    }
  });

  it('is valid for docker-compose itself (when installed; CI installs it)', () => {
    const probe = spawnSync('docker-compose', ['version', '--short'], { encoding: 'utf8' });
    if (probe.error) {
      expect((probe.error as NodeJS.ErrnoException).code).toBe('ENOENT');
      return;
    }
    for (const files of [['-f', 'docker-compose.yml'], []]) {
      const result = spawnSync('docker-compose', [...files, 'config', '-q'], { cwd: ROOT, encoding: 'utf8' });
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
    }
  });
});

describe('Dockerfile', () => {
  const stages = [...dockerfile.matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) => m[1]);

  it('has the deps → build → runtime stages, the runtime not root', () => {
    expect(stages).toEqual(['deps', 'build', 'runtime']);
    const runtime = dockerfile.slice(dockerfile.search(/^FROM\s+\S+\s+AS\s+runtime/im));
    expect(runtime).toMatch(/^USER\s+(?!root\b|0\b)\S+/m);
    expect(runtime).toMatch(/^HEALTHCHECK /m);
    expect(runtime).not.toMatch(/^COPY (?!--from)/m);
  });

  it('copies paths that exist, and every workspace manifest before npm ci', () => {
    for (const m of dockerfile.matchAll(/^COPY\s+(?!--from)(.+)$/gm)) {
      const parts = m[1]!.trim().split(/\s+/);
      for (const source of parts.slice(0, -1)) if (source !== '.') expect(existsSync(join(ROOT, source)), source).toBe(true);
    }
    const deps = dockerfile.slice(0, dockerfile.indexOf('RUN npm ci'));
    for (const dir of workspaces()) expect(deps, `${dir}/package.json`).toContain(`COPY ${dir}/package.json ${dir}/`);
    for (const m of dockerfile.matchAll(/^COPY --from=build \S+ \/app\/(\S+) /gm)) expect(existsSync(join(ROOT, m[1]!)), m[1]).toBe(true);
  });

  it('is served the files the image needs, and not the ones it must not carry', () => {
    const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    expect(ignore).toEqual(expect.arrayContaining(['.git', '**/node_modules', '.hypersweep']));
    expect(ignore).not.toContain('prisma');
  });
});

describe('the image runs built JavaScript', () => {
  it('runs no TypeScript loader: plain node on .js files in the runtime stage and every service', () => {
    expect(runtimeStage).not.toMatch(/\btsx\b/);
    const commands = runtimeCommands();
    expect(commands.map((c) => c.where)).toEqual(
      expect.arrayContaining(['Dockerfile CMD', 'Dockerfile HEALTHCHECK', 'migrate command', 'api command', 'api healthcheck', 'worker command', 'worker healthcheck']),
    );
    for (const { where, argv } of commands) {
      const args = argv[0] === 'CMD' || argv[0] === 'CMD-SHELL' ? argv.slice(1) : argv;
      expect(args.join(' '), where).not.toMatch(/\btsx\b|--import|--loader|--experimental-(loader|strip-types|transform-types)/);
      expect(args.filter((a) => /\.[cm]?tsx?$/.test(a)), where).toEqual([]);
      expect(args[0], where).toBe('node');
      expect(args[1] === '-e' || /^(apps|packages)\/.+\/dist\/[^/]+\.js$/.test(args[1] ?? ''), `${where}: ${args.join(' ')}`).toBe(true);
    }
    // Nor through the environment (NODE_OPTIONS=--import tsx would bring the loader back).
    for (const [name, service] of Object.entries(compose.services)) expect(JSON.stringify(service.environment ?? {}), name).not.toMatch(/tsx|--import|--loader/);
    expect(runtimeInstructions.filter((l) => /^ENV\b/.test(l)).join('\n')).not.toMatch(/NODE_OPTIONS/);
    expect(execForm(runtimeInstructions.find((l) => l.startsWith('CMD'))!)).toEqual(compose.services.api?.command);
  });

  it('names entry points that exist after `npm run build`, and the files they load lie inside the image', () => {
    const entries = builtEntries();
    expect(new Set(entries.map((e) => e.file))).toEqual(new Set(['apps/api/dist/main.js', 'apps/worker/dist/main.js', 'apps/worker/dist/healthcheck.js', 'packages/db/dist/migrate-cli.js']));
    // What the runtime stage copies from the build stage (paths under /app).
    const copied = [...runtimeStage.matchAll(/^COPY --from=build (?:--\S+ )*(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/).map((p) => p.replace(/^\/app\//, '')));
    const inImage = (file: string) => copied.some((p) => file === p || file.startsWith(`${p}/`));
    for (const { where, file } of entries) {
      const path = join(ROOT, file);
      expect(existsSync(path), `${where}: ${file} (run npm run build)`).toBe(true);
      expect(inImage(file), `${file} is copied into the runtime stage`).toBe(true);
      // Module-relative files (the replica thread, supervisor.sh, the dashboard, prisma/migrations).
      const text = readFileSync(path, 'utf8');
      const loaded = [
        ...[...text.matchAll(/new URL\("([^"]+)", import\.meta\.url\)/g)].map((m) => m[1]!),
        ...[...text.matchAll(/resolve\d*\(dirname\d*\(fileURLToPath\d*\(import\.meta\.url\)\), "([^"]+)"\)/g)].map((m) => m[1]!),
      ];
      for (const rel of loaded) {
        const target = relative(ROOT, resolve(join(ROOT, file, '..'), rel));
        expect(target.startsWith('..'), `${file} loads ${rel}: outside the repository`).toBe(false);
        expect(existsSync(join(ROOT, target)), `${file} loads ${target}`).toBe(true);
        expect(inImage(target), `${file} loads ${target}, which the runtime stage does not copy`).toBe(true);
      }
    }
    const worker = readFileSync(join(ROOT, 'apps/worker/dist/main.js'), 'utf8');
    expect(worker).toContain('packages/trainer/dist/replica-thread.mjs');
    expect(worker).toContain('supervisor.sh');
  });

  it('starts them: the migrations one-shot migrates a scratch database, the api serves /healthz, the worker heartbeats and passes its healthcheck, the CLI makes the first token', async () => {
    const stack = await BuiltStack.start({ name: 'compose-built', workers: 1 });
    try {
      expect(stack.migrateOutput).toMatch(/^Applied \d+ migration\(s\):/);
      const health = await fetch(`${stack.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ status: 'ok' });
      expect(await stack.aliveWorkers()).toBe(1);

      const healthcheck = compose.services.worker!.healthcheck!.test!;
      expect(healthcheck[0]).toBe('CMD');
      const check = spawnCommand('compose-built-healthcheck', healthcheck.slice(1), stack.env);
      expect(await check.exited).toBe(0);
      expect(check.output()).toBe('healthy\n');

      // Migrating again is a no-op, as every `docker compose up` after the first does.
      const again = spawnCommand('compose-built-migrate-again', compose.services.migrate!.command!, { DATABASE_URL: stack.database.url });
      expect(await again.exited).toBe(0);
      expect(again.output()).toBe('No pending migrations; the database is up to date.\n');

      // The first token, as the README says to make it with compose: the image's built CLI writes it
      // to the database of the container's DATABASE_URL (no API token given), and the API takes it.
      const bootstrap = spawnCommand('compose-built-first-token', ['node', 'apps/cli/dist/hypersweep.js', 'token', 'create', '--name', 'first'], { DATABASE_URL: stack.database.url, HYPERSWEEP_TOKEN: '' });
      expect(await bootstrap.exited, bootstrap.output()).toBe(0);
      const secret = /^hs_\S+$/m.exec(bootstrap.output())?.[0];
      expect(secret).toBeDefined();
      expect((await fetch(`${stack.url}/api/v1/sweeps`, { headers: { authorization: `Bearer ${secret}` } })).status).toBe(200);
      // A CSV of megabytes is checked on the parse thread's own bundle, which the API's bundle finds in the tree.
      const csv = `x,label\n${Array.from({ length: 250_000 }, (_, i) => `${i % 97},${i % 2}`).join('\n')}\n`;
      const upload = await fetch(`${stack.url}/api/v1/datasets?name=big&labelColumn=label&task=classification`, { method: 'POST', body: csv, headers: { authorization: `Bearer ${secret}`, 'content-type': 'text/csv' } });
      expect(csv.length).toBeGreaterThan(CSV_THREAD_MIN_CHARS);
      expect(upload.status, await upload.clone().text()).toBe(201);
      expect(await upload.json()).toMatchObject({ kind: 'csv', numClasses: 2, featureShape: [1] });

      // SIGTERM ends the worker cleanly, and its healthcheck then fails.
      stack.workers[0]!.child.kill('SIGTERM');
      expect(await stack.workers[0]!.exited).toBe(0);
      await sleepUntil(async () => (await stack.aliveWorkers()) === 0, { timeoutMs: 10_000, intervalMs: 100, what: 'the stopped worker to drop out' });
      const after = spawnCommand('compose-built-healthcheck-after', healthcheck.slice(1), stack.env);
      expect(await after.exited).toBe(1);
    } finally {
      await stack.close();
    }
  });
});
