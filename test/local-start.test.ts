// Issue 7, acceptance 2: `npm start` with no configuration brings the whole stack up on an
// embedded PostgreSQL and a local redis-server, a sweep submitted with the CLI completes, and
// Ctrl-C (SIGTERM to the process group, as a terminal sends it) stops everything cleanly.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleepUntil } from '@hypersweep/queue/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { spiralsSweep } from './lib/sweeps.ts';
import { ROOT, freePort, spawnTs } from './lib/stack.ts';

const home = mkdtempSync(join(tmpdir(), 'hypersweep-home-'));

/** Processes whose command line mentions `text` (our embedded services run under HOME). */
function processesMentioning(text: string): string[] {
  const ps = spawnSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return ps.stdout.split('\n').filter((line) => line.includes(text) && !line.includes('ps -eo'));
}

describe('npm start', () => {
  afterAll(() => {
    rmSync(home, { recursive: true, force: true });
  });

  it('runs the stack with embedded services, completes a CLI sweep and stops cleanly', async () => {
    const port = await freePort();
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'DATABASE_URL' && k !== 'REDIS_URL') env[k] = v;
    const npm = spawn('npm', ['start'], {
      cwd: ROOT,
      env: { ...env, HYPERSWEEP_HOME: home, PORT: String(port), WORKERS: '1', THREADS_PER_TRIAL: '1', LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    npm.stdout.on('data', (c: Buffer) => (out += c.toString()));
    npm.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => npm.once('exit', (code, signal) => resolve({ code, signal })));
    try {
      await sleepUntil(() => /Token: +hs_/.test(out) || npm.exitCode !== null, { timeoutMs: 240_000, intervalMs: 200, what: 'npm start to print a token' });
      expect(out, out.slice(-3000)).toMatch(/Token: +hs_/);
      const url = /Dashboard: (\S+)/.exec(out)![1]!;
      const token = /Token: +(\S+)/.exec(out)![1]!;
      expect(url).toBe(`http://127.0.0.1:${port}`);
      // The dashboard is served by the API on the same origin.
      expect(await (await fetch(url)).text()).toMatch(/<div id="root">/);
      expect(processesMentioning(home).length).toBeGreaterThan(0);

      const file = join(home, 'sweep.json');
      writeFileSync(file, JSON.stringify(spiralsSweep({ name: 'npm-start', maxTrials: 2 })));
      const cli = spawnTs('local-start-cli', 'apps/cli/src/main.ts', { HYPERSWEEP_URL: url, HYPERSWEEP_TOKEN: token }, ['submit', file, '--watch', '--plain']);
      expect(await cli.exited).toBe(0);
      expect(cli.output()).toMatch(/^sweep npm-start completed$/m);
    } finally {
      // As a service manager would: SIGTERM to the launcher, which stops the stack in order.
      const pidFile = join(home, 'launcher.pid');
      if (existsSync(pidFile)) process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGTERM');
    }
    const { code, signal } = await exited;
    expect({ code, signal, tail: out.slice(-400) }).toMatchObject({ code: 0, signal: null });
    expect(out).toMatch(/"msg":"stopped"/);
    // Postgres and Redis were started under HOME and are gone with the stack.
    await sleepUntil(() => processesMentioning(home).length === 0, { timeoutMs: 15_000, what: 'no process left under HOME' });
    expect(processesMentioning(home)).toEqual([]);
  });
});
