// A stopped process is not a stalled replica: a worker frozen by SIGSTOP (or a suspended VM)
// for longer than the step timeout, replica threads included, trains on when continued. The
// barrier and the progress watchdog once counted the stop as waiting and failed the trial with
// TIMEOUT.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const child = fileURLToPath(new URL('./suspend-child.ts', import.meta.url));

/** Resolves when `check` holds, polling every 10 ms. */
async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('a stopped process', () => {
  it('trains on after SIGSTOP and SIGCONT, stopped 2.5× its step timeout three times mid-epoch', async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child, '80'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let progress = -1;
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const last = /progress (\d+)\n[^\n]*$/.exec(out);
      if (last) progress = Number(last[1]);
    });
    const exited = new Promise<number | null>((resolve) => proc.on('exit', resolve));
    for (let stop = 0; stop < 3; stop++) {
      await until(() => progress > 10, 'steps in the running epoch');
      proc.kill('SIGSTOP');
      // The fault itself: the process is frozen this long, replica threads and all.
      await new Promise((r) => setTimeout(r, 2_500));
      proc.kill('SIGCONT');
      const before = progress;
      await until(() => progress !== before || out.includes('failed') || out.includes('done'), 'progress after SIGCONT');
    }
    expect(await exited).toBe(0);
    expect(out.split('\n').filter((l) => !l.startsWith('progress'))).toEqual(['done 80', '']);
  }, 60_000);
});
