// "Published from the repo": `npm pack -w @hypersweep/client` gives a tarball that installs in an
// empty project and runs under plain node (no TypeScript loader, no workspace), talking to a
// server. zod, its one dependency, is packed from the repo's own install so nothing is fetched.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { startRecordingServer } from './recording-server.ts';

const run = promisify(execFile);
const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));
const REPO_ROOT = join(PACKAGE_ROOT, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'hypersweep-client-pack-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the packed package', () => {
  it('installs from its tarball and works with plain node', async () => {
    await run(process.execPath, ['--import', 'tsx', join(PACKAGE_ROOT, 'scripts', 'build.ts')], { cwd: PACKAGE_ROOT });
    const packed = JSON.parse((await run('npm', ['pack', '-w', '@hypersweep/client', '--pack-destination', work, '--json'], { cwd: REPO_ROOT })).stdout) as {
      filename: string;
      files: { path: string }[];
    }[];
    expect(packed[0]!.files.map((f) => f.path).sort()).toEqual(['README.md', 'dist/index.js', 'dist/trainable.js', 'package.json']);

    const zodDir = dirname(createRequire(join(PACKAGE_ROOT, 'package.json')).resolve('zod/package.json'));
    const zod = JSON.parse((await run('npm', ['pack', zodDir, '--pack-destination', work, '--json'], { cwd: work })).stdout) as { filename: string }[];
    writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', `./${zod[0]!.filename}`, `./${packed[0]!.filename}`], { cwd: work });

    const server = await startRecordingServer(() => ({ json: { items: [{ id: 'mnist', name: 'mnist', kind: 'builtin', description: null, task: 'classification', featureShape: [784], numClasses: 10, sizes: { train: 1, test: 1 }, createdAt: null }] } }));
    try {
      const script = `
        const { HypersweepClient, ApiError } = await import('@hypersweep/client');
        const trainable = await import('@hypersweep/client/trainable');
        const client = new HypersweepClient({ baseUrl: process.argv[1], token: 'hs_packed' });
        const { items } = await client.listDatasets();
        console.log(JSON.stringify({ resolved: import.meta.resolve('@hypersweep/client'), names: items.map((d) => d.name), apiError: typeof ApiError, report: typeof trainable.report }));
      `;
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script, server.url], { cwd: work });
      const out = JSON.parse(stdout) as { resolved: string; names: string[]; apiError: string; report: string };
      expect(out.resolved).toMatch(/\/node_modules\/@hypersweep\/client\/dist\/index\.js$/);
      expect(out).toMatchObject({ names: ['mnist'], apiError: 'function', report: 'function' });
      expect(server.requests.map((r) => [r.path, r.headers.authorization])).toEqual([['/api/v1/datasets', 'Bearer hs_packed']]);
    } finally {
      await server.close();
    }
  });
});
