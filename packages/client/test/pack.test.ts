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
    const files = packed[0]!.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['README.md', 'package.json', 'dist/index.js', 'dist/trainable.js', 'dist/types/client/src/index.d.ts', 'dist/types/client/src/trainable.d.ts']));
    // No source, tests or scripts: the built files, their declarations, the README and the manifest.
    expect(files.filter((f) => !/^dist\/(index|trainable)\.js$|^dist\/types\/.*\.d\.ts$/.test(f))).toEqual(['README.md', 'package.json']);

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

    // The declarations: a TypeScript consumer gets the response types (a wrong use is an error,
    // so they are not `any`), checked with the declarations' own internals (no skipLibCheck).
    writeFileSync(
      join(work, 'check.ts'),
      `import { HypersweepClient, ApiError } from '@hypersweep/client';
      import { report } from '@hypersweep/client/trainable';
      const client = new HypersweepClient({ baseUrl: 'http://127.0.0.1:1' });
      export async function use(): Promise<string> {
        const sweep = await client.getSweep('id');
        const decision: 'continue' | 'stop' = await report(1, { loss: 1 });
        // @ts-expect-error: a sweep's name is a string
        const wrong: number = sweep.name;
        return \`\${sweep.name} \${sweep.counts.total} \${decision} \${wrong} \${new ApiError(0, 'aborted', 'x').code}\`;
      }\n`,
    );
    writeFileSync(join(work, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', types: [], skipLibCheck: false }, files: ['check.ts'] }));
    const tsc = createRequire(join(PACKAGE_ROOT, 'package.json')).resolve('typescript/bin/tsc');
    const checked = await run(process.execPath, [tsc, '-p', join(work, 'tsconfig.json')], { cwd: work }).then(
      () => 'no errors',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
    expect(checked).toBe('no errors');
  });
});
