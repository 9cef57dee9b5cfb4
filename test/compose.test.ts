// The Docker deliverables, checked without a Docker engine: every long-running service has a
// healthcheck, every dependency waits on a condition, and the Dockerfile's stages and paths match
// the repository.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { ROOT } from './lib/stack.ts';

interface Service {
  build?: unknown;
  image?: string;
  command?: string[];
  healthcheck?: { test?: string[]; disable?: boolean };
  depends_on?: Record<string, { condition?: string }> | string[];
  restart?: string;
}

const compose = yaml.load(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
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
        if (/^(apps|packages)\/.+\.ts$/.test(arg)) expect(existsSync(join(ROOT, arg)), `${name}: ${arg}`).toBe(true);
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
