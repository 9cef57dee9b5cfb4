// Acceptance 1: a TPE + ASHA sweep over MNIST submitted over REST runs to the end on two worker
// processes with two threads each.
import type { Sweep } from '@hypersweep/schemas';
import { mnistTpeAshaSweep } from '@hypersweep/schemas/fixtures';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allTrials, expectCompleteMetrics } from './lib/sweeps.ts';
import { Stack, spawnTs } from './lib/stack.ts';

describe('end to end', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({ name: 'e2e', workers: 2, threads: 2 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('runs a 12-trial TPE + ASHA MNIST sweep to completion with every metric, stops marked, best trial tested', async () => {
    const spec = mnistTpeAshaSweep();
    const res = await stack.request('/api/v1/sweeps', { method: 'POST', json: spec, headers: { 'idempotency-key': 'e2e-1' } });
    expect(res.status).toBe(201);
    const sweep = (await res.json()) as Sweep;
    // The CLI follows the sweep live over SSE and exits when it ends.
    const cli = { HYPERSWEEP_URL: stack.url, HYPERSWEEP_TOKEN: stack.token };
    const watch = spawnTs('e2e-cli-watch', 'apps/cli/src/main.ts', cli, ['watch', sweep.id, '--plain']);
    const done = await stack.waitForSweep<Sweep>(sweep.id, (s) => ['completed', 'failed', 'cancelled'].includes(s.status), 'the sweep to finish');
    expect(done.status).toBe('completed');
    expect(done.counts.total).toBe(12);
    expect(done.counts.completed + done.counts.stopped).toBe(12);

    const trials = await allTrials(stack, sweep.id);
    await expectCompleteMetrics(stack.db, trials);
    // ASHA stopped some trials early; they are marked stopped with the scheduler's reason.
    const stopped = trials.filter((t) => t.status === 'stopped');
    expect(stopped.length).toBeGreaterThan(0);
    for (const t of stopped) {
      expect(t.epochsDone).toBeLessThan(spec.training.epochs);
      expect(t.reason).toMatch(new RegExp(`^asha stopped it after epoch ${t.epochsDone}\\b`));
    }
    for (const t of trials.filter((t) => t.status === 'completed')) expect(t.epochsDone).toBe(spec.training.epochs);
    // Both workers trained trials; the optimizer choice drove the conditional momentum.
    expect(new Set(trials.map((t) => t.workerId)).size).toBe(2);
    for (const t of trials) expect('momentum' in t.params).toBe(t.params.optimizer === 'sgd');

    expect(done.best).not.toBeNull();
    const best = trials.find((t) => t.id === done.best!.trialId)!;
    expect(done.best!.value).toBe(Math.max(...trials.map((t) => t.finalValue ?? -Infinity).filter((v) => v > -Infinity)));
    expect(best.status === 'completed' || best.status === 'stopped').toBe(true);
    expect(done.testResult?.trialId).toBe(best.id);
    expect(done.testResult?.metrics.test_accuracy).toBeGreaterThan(0.8);
    expect(done.testResult?.confusionMatrix).toHaveLength(10);
    expect(done.testResult?.confusionMatrix?.flat().reduce((a, b) => a + b, 0)).toBe(500);

    expect(await watch.exited).toBe(0);
    const watched = watch.output();
    for (const t of trials) expect(watched).toContain(`trial #${t.number} created`);
    expect(watched).toContain(`best trial #${best.number} (${best.id})`);
    expect(watched).toMatch(/^sweep mnist tpe\+asha completed$/m);
    const exported = spawnTs('e2e-cli-export', 'apps/cli/src/main.ts', cli, ['export', sweep.id, '--format', 'csv']);
    expect(await exported.exited).toBe(0);
    const lines = exported.output().trim().split(/\r?\n/);
    expect(lines).toHaveLength(13);
    expect(lines[0]).toMatch(/param\.learningRate/);
    for (const t of trials) expect(lines.some((l) => l.includes(t.id))).toBe(true);
  });
});
