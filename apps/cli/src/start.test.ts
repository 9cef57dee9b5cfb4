// `hypersweep start`: the apps are found in this checkout, run through tsx from source or as built
// JavaScript from the built CLI, and signals reach them once.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appEntry, REPO_ROOT, runForwardingSignals } from './start.ts';

describe('hypersweep start', () => {
  it('resolves the apps relative to the repository', () => {
    expect(existsSync(`${REPO_ROOT}/package.json`)).toBe(true);
    expect(appEntry('worker')).toBe(`${REPO_ROOT}apps/worker/src/main.ts`);
    expect(appEntry('api')).toBe(`${REPO_ROOT}apps/api/src/main.ts`);
    expect(existsSync(appEntry('worker'))).toBe(true);
    expect(appEntry('worker', false)).toBe(`${REPO_ROOT}apps/worker/dist/main.js`);
  });

  it('runs the worker through tsx from source, and the built worker from the built CLI, exiting with its code (here: it refuses a missing DATABASE_URL)', () => {
    const env = { ...process.env };
    delete env.DATABASE_URL;
    const tsx = createRequire(import.meta.url).resolve('tsx/cli');
    const bins = [
      [tsx, new URL('./main.ts', import.meta.url).pathname],
      // The built CLI (npm run build) starts apps/worker/dist/main.js: no TypeScript loader anywhere.
      [new URL('../dist/hypersweep.js', import.meta.url).pathname],
    ];
    for (const bin of bins) {
      const r = spawnSync(process.execPath, [...bin, 'start', 'worker'], { env, encoding: 'utf8', timeout: 60_000 });
      expect(r.stderr, bin.join(' ')).toContain('invalid worker environment: DATABASE_URL');
      expect(r.status).toBe(1);
    }
  });

  it('forwards SIGTERM and SIGINT to the child once each and returns its exit code', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hypersweep-start-'));
    const ready = join(dir, 'ready');
    // Exit 7 after one SIGTERM and one SIGINT; 9 if either arrives twice.
    const script = `
      const got = new Set();
      for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => {
        if (got.has(s)) process.exit(9);
        got.add(s);
        if (got.size === 2) process.exit(7);
      });
      require('node:fs').writeFileSync(${JSON.stringify(ready)}, '');
      setInterval(() => {}, 1000);
    `;
    const listeners = () => process.listenerCount('SIGTERM') + process.listenerCount('SIGINT');
    const before = listeners();
    try {
      const child = runForwardingSignals(process.execPath, ['-e', script], { env: process.env });
      for (const deadline = Date.now() + 10_000; !existsSync(ready) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
      expect(existsSync(ready)).toBe(true);
      // Emit (not raise) the signals in this process: the forwarding listeners run as on a real signal.
      process.emit('SIGTERM', 'SIGTERM');
      process.emit('SIGINT', 'SIGINT');
      expect(await child).toBe(7);
      expect(listeners()).toBe(before); // its forwarding listeners are gone
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an unknown app', async () => {
    const { runCli } = await import('./cli.ts');
    const err: string[] = [];
    const code = await runCli(['start', 'database'], {
      stdout: { write: () => true },
      stderr: { write: (t: string) => err.push(t) },
      env: {},
      isTTY: false,
      columns: 80,
      rows: 24,
      cwd: process.cwd(),
    });
    expect(code).toBe(2);
    expect(err.join('')).toContain('cannot start "database": choose api or worker');
  });
});
