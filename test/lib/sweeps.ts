// Sweep specs and checks shared by the integration tests.
import type { Db } from '@hypersweep/db';
import type { CreateSweepRequestInput, Trial, TrialPage } from '@hypersweep/schemas';
import { expect } from 'vitest';
import type { Stack } from './stack.ts';

/** Two spirals: cheap per epoch, so trials are long only when asked (`count`, `epochs`). */
export function spiralsSweep(options: { name: string; count?: number; epochs?: number; maxTrials?: number; concurrency?: number; search?: Partial<CreateSweepRequestInput['search']> }): CreateSweepRequestInput {
  return {
    name: options.name,
    dataset: { type: 'spirals', count: options.count ?? 400, testCount: 100, seed: 3 },
    model: { inputShape: [2], layers: [{ type: 'dense', units: 32, activation: 'tanh' }, { type: 'dense', units: 32, activation: 'tanh' }, { type: 'dense', units: 2 }], loss: 'softmax_cross_entropy' },
    training: { epochs: options.epochs ?? 3, batchSize: 32, optimizer: { type: 'adam', learningRate: 0.01 } },
    search: {
      space: { learningRate: { type: 'loguniform', low: 1e-3, high: 1e-1 } },
      budget: { maxTrials: options.maxTrials ?? 3, maxConcurrentTrials: options.concurrency ?? 2 },
      ...options.search,
    },
    objective: { metric: 'val_accuracy' },
  };
}

/**
 * A small MNIST CNN (reshape → conv2d → max_pool2d → flatten → dense), two trials of two epochs on
 * 1,000 images: seconds per trial, and well above chance after them.
 */
export function mnistCnnSweep(name = 'mnist cnn'): CreateSweepRequestInput {
  return {
    name,
    dataset: { type: 'mnist', limitTrain: 1000, limitTest: 200 },
    model: {
      inputShape: [28, 28],
      layers: [
        { type: 'reshape', targetShape: [28, 28, 1] },
        { type: 'conv2d', filters: 4, kernelSize: 3, activation: 'relu' },
        { type: 'max_pool2d' },
        { type: 'flatten' },
        { type: 'dense', units: 10 },
      ],
      loss: 'softmax_cross_entropy',
    },
    training: { epochs: 2, batchSize: 32, optimizer: { type: 'adam', learningRate: 3e-3 } },
    search: {
      space: { learningRate: { type: 'loguniform', low: 2e-3, high: 1e-2 } },
      budget: { maxTrials: 2, maxConcurrentTrials: 2 },
      seed: 7,
    },
    objective: { metric: 'val_accuracy' },
  };
}

export async function allTrials(stack: Stack, sweepId: string): Promise<Trial[]> {
  const out: Trial[] = [];
  let cursor: string | null = null;
  do {
    const page: TrialPage = await stack.json<TrialPage>(`/api/v1/sweeps/${sweepId}/trials?limit=200${cursor ? `&cursor=${cursor}` : ''}`);
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

/**
 * Every trial that trained has exactly one row per epoch 1..epochsDone for each per-epoch metric
 * (no missing, no duplicated row), and nothing beyond its last epoch.
 */
export async function expectCompleteMetrics(db: Db, trials: readonly Trial[]): Promise<void> {
  for (const trial of trials) {
    const rows = await db.metric.findMany({ where: { trialId: trial.id, name: 'val_accuracy' }, select: { step: true }, orderBy: { step: 'asc' } });
    expect(rows.map((r) => r.step), `trial ${trial.number} (${trial.status})`).toEqual(Array.from({ length: trial.epochsDone }, (_, i) => i + 1));
    const dup = await db.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM (SELECT 1 FROM metrics WHERE trial_id = ${trial.id}::uuid GROUP BY name, step HAVING count(*) > 1) d`;
    expect(Number(dup[0]?.n ?? 0)).toBe(0);
  }
}

/** The trial.started events of a sweep, in order. */
export async function startedEvents(db: Db, sweepId: string): Promise<{ id: number; trialId: string; attempt: number; workerId: string; resumedFromEpoch: number }[]> {
  const rows = await db.sweepEventRow.findMany({ where: { sweepId, type: 'trial.started' }, orderBy: { seq: 'asc' } });
  return rows.map((r) => ({ id: r.seq, ...(r.data as { trialId: string; attempt: number; workerId: string; resumedFromEpoch: number }) }));
}
