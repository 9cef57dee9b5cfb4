// Acceptance 2 (orchestration): `kill -9` of a worker mid-trial; issue 7 acceptance 3: SIGTERM of
// a worker mid-trial. Either way another worker resumes the trial from its last checkpoint, and
// every epoch's metrics are stored exactly once.
import { spawnSync } from 'node:child_process';
import { sleepUntil } from '@hypersweep/queue/testing';
import type { Sweep, Trial } from '@hypersweep/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allTrials, expectCompleteMetrics, spiralsSweep, startedEvents } from './lib/sweeps.ts';
import { ROOT, Stack } from './lib/stack.ts';

const EPOCHS = 10;

describe('a worker dies or stops mid-trial', () => {
  let stack: Stack;
  beforeAll(async () => {
    // Short job locks so a killed worker's trial is retaken in seconds, not the default 30 s; not
    // shorter than 5 s, or a busy CI machine delays a live worker's lock renewal past it and the
    // job is taken over once more as stalled (a third attempt, correct but not what is tested).
    stack = await Stack.start({ name: 'failure', workers: 2, threads: 1, workerEnv: { JOB_LOCK_MS: '5000', STALLED_CHECK_MS: '1000' } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** Submits a one-trial sweep and returns once the trial has stored `epochs` epochs. */
  async function trialPast(name: string, epochs: number): Promise<{ sweep: Sweep; trial: Trial }> {
    const sweep = await stack.json<Sweep>('/api/v1/sweeps', { method: 'POST', json: spiralsSweep({ name, count: 40_000, epochs: EPOCHS, maxTrials: 1, concurrency: 1 }) });
    let trial: Trial | undefined;
    await sleepUntil(
      async () => {
        trial = (await allTrials(stack, sweep.id))[0];
        return trial !== undefined && trial.status === 'running' && trial.epochsDone >= epochs;
      },
      { timeoutMs: 60_000, intervalMs: 20, what: `the trial to pass epoch ${epochs}` },
    );
    return { sweep, trial: trial! };
  }

  async function expectResumedElsewhere(sweep: Sweep, holder: string, epochAtFailure: number): Promise<void> {
    const done = await stack.waitForSweep<Sweep>(sweep.id, (s) => ['completed', 'failed', 'cancelled'].includes(s.status), 'the sweep to finish', 120_000);
    expect(done.status).toBe('completed');
    const [trial] = await allTrials(stack, sweep.id);
    expect(trial).toMatchObject({ status: 'completed', epochsDone: EPOCHS });
    const starts = await startedEvents(stack.db, sweep.id);
    expect(trial!.attempt, `starts: ${JSON.stringify(starts)}`).toBe(2);
    expect(trial!.workerId).not.toBe(holder);
    expect(starts).toHaveLength(2);
    expect(starts[0]).toMatchObject({ workerId: holder, resumedFromEpoch: 0 });
    expect(starts[1]!.workerId).not.toBe(holder);
    // Resumed from the checkpoint of an epoch at or after the one seen before the failure.
    expect(starts[1]!.resumedFromEpoch).toBeGreaterThanOrEqual(epochAtFailure);
    expect(starts[1]!.resumedFromEpoch).toBeLessThan(EPOCHS);
    await expectCompleteMetrics(stack.db, [trial!]);
  }

  it('kill -9: another worker finishes the trial from its last checkpoint, no metric missing or duplicated', async () => {
    const { sweep, trial } = await trialPast('kill', 2);
    const victim = stack.workers.find((w) => w.name === trial.workerId)!;
    expect(victim).toBeDefined();
    victim.child.kill('SIGKILL');
    await victim.exited;
    await expectResumedElsewhere(sweep, trial.workerId!, trial.epochsDone);
    // Replace the dead worker for the next test.
    stack.startWorker();
    await stack.waitForWorkers(2);
  });

  it('SIGTERM: the worker checkpoints, releases the job and exits 0; another worker resumes the trial', async () => {
    const { sweep, trial } = await trialPast('sigterm', 3);
    const leaving = stack.workers.find((w) => w.name === trial.workerId)!;
    leaving.child.kill('SIGTERM');
    expect(await leaving.exited).toBe(0);
    expect(leaving.output()).toMatch(/"msg":"trial released for another worker"/);
    await expectResumedElsewhere(sweep, trial.workerId!, trial.epochsDone);
  });

  it('the worker container healthcheck passes while a worker on this host is alive', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'apps/worker/src/healthcheck.ts'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: stack.database.database.url, QUEUE_PREFIX: stack.prefix, HEARTBEAT_MS: '500' },
      encoding: 'utf8',
    });
    expect(result.stdout.trim()).toBe('healthy');
    expect(result.status).toBe(0);
    const elsewhere = spawnSync(process.execPath, ['--import', 'tsx', 'apps/worker/src/healthcheck.ts'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: stack.database.database.url, QUEUE_PREFIX: `${stack.prefix}-none` },
      encoding: 'utf8',
    });
    expect(elsewhere.status).toBe(1);
  });
});
