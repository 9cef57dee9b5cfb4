// PostgreSQL faults never fail a trial. A sweep runs on two workers against a PostgreSQL server
// this test starts itself (initdb/pg_ctl in a temp dir) while, at seeded random moments, the test
// terminates every backend, restarts the server (immediate), and freezes the app's backends with
// SIGSTOP for longer than the workers' job lock before SIGCONT. Afterwards: no trial failed, every
// trial stored epochs 1..E exactly once, and every training metric, the best trial and the test
// result are bit-identical to a fault-free run of the same sweep on the same server.
import { ScratchPostgres } from '@hypersweep/db/testing';
import { Rng } from '@hypersweep/nn';
import type { Sweep } from '@hypersweep/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logLines, patiently, storedTrials, sweepFinished, TRAINING_METRICS, type StoredTrial } from './lib/db-faults.ts';
import { spiralsSweep } from './lib/sweeps.ts';
import { Stack } from './lib/stack.ts';

const SEED = 20_261_201;
const EPOCHS = 120;
const TRIALS = 6;
const JOB_LOCK_MS = 2_500;
const spec = (name: string) => spiralsSweep({ name, count: 2_000, epochs: EPOCHS, maxTrials: TRIALS, concurrency: 2 });

type Fault = 'terminate' | 'restart' | 'stall';

describe('PostgreSQL faults during a sweep on two workers', () => {
  let server: ScratchPostgres;
  let stack: Stack;
  beforeAll(async () => {
    server = await ScratchPostgres.start();
    stack = await Stack.start({
      name: 'pg-faults',
      workers: 2,
      threads: 1,
      adminUrl: server.adminUrl,
      workerEnv: { JOB_LOCK_MS: String(JOB_LOCK_MS), STALLED_CHECK_MS: '1000' },
    });
  }, 180_000);
  afterAll(async () => {
    // Backends left frozen by a failed run would hold the drop forever.
    if (server) server.signalBackends(await server.backendPids().catch(() => []), 'SIGCONT');
    await stack?.close().catch(() => undefined);
    await server?.destroy();
  });

  async function runSweep(name: string): Promise<Sweep> {
    return stack.json<Sweep>('/api/v1/sweeps', { method: 'POST', json: spec(name) });
  }

  async function inject(fault: Fault): Promise<void> {
    if (fault === 'terminate') {
      await server.terminateBackends();
    } else if (fault === 'restart') {
      await server.restart('immediate');
    } else {
      const pids = await server.backendPids(stack.database.database.name);
      server.signalBackends(pids, 'SIGSTOP');
      try {
        await new Promise((resolve) => setTimeout(resolve, JOB_LOCK_MS + 1_000));
      } finally {
        server.signalBackends(pids, 'SIGCONT');
      }
    }
  }

  it('fails no trial, stores epochs 1..E once each, and matches a fault-free run bit for bit', async () => {
    // The reference: the same sweep, fault-free, on the same server and workers.
    const reference = await runSweep('pg-faults-reference');
    expect((await sweepFinished(stack.db, reference.id, 120_000)).status).toBe('completed');

    const sweep = await runSweep('pg-faults');
    // Seeded fault plan: two rounds of the three kinds, each round in a seeded order, the faults a
    // seeded 0.3–1 s apart, while the sweep's trials are still training (the rest are skipped once
    // it has finished).
    const rng = Rng.fromSeed(SEED);
    const plan: Fault[] = [];
    for (let round = 0; round < 2; round++) {
      const kinds: Fault[] = ['terminate', 'restart', 'stall'];
      for (let i = kinds.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
      }
      plan.push(...kinds);
    }
    const injected: Fault[] = [];
    await patiently(async () => {
      const t = await stack.db.trial.findFirst({ where: { sweepId: sweep.id, epochsDone: { gt: 0 } } });
      if (!t) throw new Error('no epoch yet');
    });
    for (const fault of plan) {
      await new Promise((resolve) => setTimeout(resolve, rng.uniform(300, 1_000)));
      const running = await patiently(() => stack.db.trial.count({ where: { sweepId: sweep.id, status: { in: ['queued', 'running'] } } }));
      if (running === 0) break;
      await inject(fault);
      injected.push(fault);
    }
    const done = await sweepFinished(stack.db, sweep.id, 180_000);
    const ref = await patiently(() => sweepFinished(stack.db, reference.id, 10_000));
    const [faulted, clean] = await patiently(() => Promise.all([storedTrials(stack.db, sweep.id), storedTrials(stack.db, reference.id)]));
    expect(faulted.map((t) => t.status)).toEqual(Array.from({ length: TRIALS }, () => 'completed'));
    expect(done.status).toBe('completed');
    // Not even attempted: a database error is never taken for a training error.
    const outputs = stack.workers.map((w) => w.output());
    expect(outputs.flatMap((o) => logLines(o, 'trial failed'))).toEqual([]);
    // Every kind of fault hit the sweep while it trained.
    expect(new Set(injected), `injected ${injected.join(', ')}`).toEqual(new Set<Fault>(['terminate', 'restart', 'stall']));
    const epochs = Array.from({ length: EPOCHS }, (_, i) => i + 1);
    for (const trial of faulted) {
      const what = `trial ${trial.number} (attempt ${trial.attempt})`;
      expect(trial.epochsDone, what).toBe(EPOCHS);
      for (const name of TRAINING_METRICS) expect(trial.series.get(name)?.steps, `${what} ${name}`).toEqual(epochs);
      // One trial.epoch event per epoch: no epoch written twice, not even by a retried transaction.
      expect(trial.epochEvents, what).toEqual(epochs);
    }

    // Bit-identical to the fault-free run: same params per trial number, same values, same winner.
    const byNumber = new Map<number, StoredTrial>(clean.map((t) => [t.number, t]));
    for (const trial of faulted) {
      const twin = byNumber.get(trial.number)!;
      expect(trial.params).toEqual(twin.params);
      for (const name of TRAINING_METRICS) expect(trial.series.get(name)?.values, `trial ${trial.number} ${name}`).toEqual(twin.series.get(name)?.values);
      expect(trial.finalValue).toBe(twin.finalValue);
    }
    const numberOf = (trials: StoredTrial[], id: string | null) => trials.find((t) => t.id === id)?.number;
    expect(numberOf(faulted, done.bestTrialId)).toBe(numberOf(clean, ref.bestTrialId));
    const { trialId: _a, ...testResult } = done.testResult as { trialId: string };
    const { trialId: _b, ...refResult } = ref.testResult as { trialId: string };
    expect(testResult).toEqual(refResult);

    // The faults reached the workers — retried, never a failed trial — and both survived them.
    const retries = outputs.flatMap((o) => logLines(o, 'database unavailable; retrying'));
    expect(retries.some((r) => r.op === 'epoch')).toBe(true);
    for (const worker of stack.workers) expect(worker.child.exitCode, worker.name).toBeNull();
  });
});
