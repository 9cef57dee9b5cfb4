// Acceptance 8: a grid sweep on four concurrent workers runs every cell exactly once.
import type { Sweep } from '@hypersweep/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allTrials, expectCompleteMetrics, spiralsSweep, startedEvents } from './lib/sweeps.ts';
import { Stack } from './lib/stack.ts';

describe('grid search on four workers', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({ name: 'grid', workers: 4, threads: 1 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('never runs a cell twice', async () => {
    const spec = spiralsSweep({
      name: 'grid',
      count: 1000,
      epochs: 2,
      maxTrials: 12,
      concurrency: 4,
      search: {
        space: {
          learningRate: { type: 'categorical', choices: [0.001, 0.003, 0.01, 0.03] },
          batchSize: { type: 'categorical', choices: [16, 32, 64] },
        },
        sampler: { type: 'grid' },
      },
    });
    const sweep = await stack.json<Sweep>('/api/v1/sweeps', { method: 'POST', json: spec });
    const done = await stack.waitForSweep<Sweep>(sweep.id, (s) => ['completed', 'failed', 'cancelled'].includes(s.status), 'the grid to finish');
    expect(done.status).toBe('completed');
    const trials = await allTrials(stack, sweep.id);
    expect(trials).toHaveLength(12);
    const cells = trials.map((t) => `${t.params.learningRate}×${t.params.batchSize}`);
    expect(new Set(cells).size).toBe(12);
    const stored = await stack.db.trial.findMany({ where: { sweepId: sweep.id }, select: { cellKey: true, attempt: true } });
    expect(new Set(stored.map((t) => t.cellKey)).size).toBe(12);
    // Each trial was claimed once: one start event, attempt 1.
    expect(stored.every((t) => t.attempt === 1)).toBe(true);
    const starts = await startedEvents(stack.db, sweep.id);
    expect(starts).toHaveLength(12);
    expect(new Set(starts.map((s) => s.trialId)).size).toBe(12);
    // All four workers took part.
    expect(new Set(starts.map((s) => s.workerId)).size).toBe(4);
    await expectCompleteMetrics(stack.db, trials);
  });
});
