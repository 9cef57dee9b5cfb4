// The sweep page's controls in a real headless Chromium against the whole stack (api + 2 workers,
// Postgres, Redis): pause a training sweep (its trials released, shown queued), the budget form
// with the API's own refusal at its field, resume (training goes on), the configurations form
// (the API's refusal by params[i].<name>, then a trial queued), then cancel and delete (the list, and no row of the sweep left). Any console error or
// uncaught page error fails the test, except the failed loads of the requests the API refuses on
// purpose.
import type { Sweep, Trial } from '@hypersweep/schemas';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeProblems, openBrowser, type BrowserSession } from '../lib/browser.ts';
import { allTrials, spiralsSweep } from '../lib/sweeps.ts';
import { Stack } from '../lib/stack.ts';

describe('sweep control in the dashboard', () => {
  let stack: Stack;
  let session: BrowserSession;
  let page: Page;

  beforeAll(async () => {
    stack = await Stack.start({ name: 'browser-control', workers: 2, threads: 1 });
    session = await openBrowser({ baseUrl: stack.url, token: stack.token });
    page = session.page;
  });

  afterAll(async () => {
    await session?.close();
    await stack?.close();
  });

  /** The page's problems but the failed loads of refused requests (Chromium logs a 4xx that way). */
  function unexpectedProblems(status: number): string {
    const problems = session.problems.splice(0).filter((p) => !(p.kind === 'console' && p.text.includes(`status of ${status}`)));
    return problems.length === 0 ? '' : describeProblems(problems);
  }

  it('pauses and resumes a training sweep, edits its budget and adds a configuration through the forms, logs each, then deletes it once cancelled', async () => {
    // Long trials (slow epochs, many of them): still training whatever the machine's speed.
    const sweep = await stack.json<Sweep>('/api/v1/sweeps', { method: 'POST', json: spiralsSweep({ name: 'browser: pause and resume', count: 20_000, epochs: 200, maxTrials: 3, concurrency: 2 }) });
    const status = () => page.getByTestId('sweep-page').getAttribute('data-status');
    const activity = () => page.getByTestId('activity-item').evaluateAll((items) => items.map((i) => i.getAttribute('data-action')));
    const runningRows = () => page.locator('[data-testid="trial-row"] [data-testid="status-badge"][data-status="running"]').count();
    const runningTrials = async (): Promise<Trial[]> => (await allTrials(stack, sweep.id)).filter((t) => t.status === 'running');

    await page.goto(`/sweeps/${sweep.id}`);
    await expect.poll(() => page.getByTestId('stream-state').textContent(), { timeout: 20_000 }).toBe('live');
    await expect.poll(async () => (await runningTrials()).filter((t) => t.epochsDone >= 1).length, { timeout: 90_000, interval: 250 }).toBeGreaterThan(0);
    await expect.poll(runningRows, { timeout: 10_000 }).toBeGreaterThan(0);

    // Pause: the page says so from the API's answer and the stream, and the released trials show queued.
    await page.getByTestId('pause-sweep').click();
    await expect.poll(status, { timeout: 10_000 }).toBe('paused');
    await page.getByTestId('paused-notice').waitFor();
    await expect.poll(activity, { timeout: 10_000 }).toEqual(['paused']);
    await expect.poll(async () => (await runningTrials()).length, { timeout: 15_000, interval: 200 }).toBe(0);
    await expect.poll(runningRows, { timeout: 10_000 }).toBe(0);
    await session.screenshot('sweep-paused');

    // Budget: the API's refusal at its field, then a raise the header shows.
    const created = (await allTrials(stack, sweep.id)).length;
    await page.getByTestId('edit-budget').click();
    await page.getByTestId('field-budget.maxTrials').fill(String(created - 1));
    await page.getByTestId('budget-submit').click();
    await page.getByTestId('error-budget.maxTrials').waitFor();
    expect(await page.getByTestId('error-budget.maxTrials').textContent()).toContain(String(created));
    expect(unexpectedProblems(400)).toBe('');
    await page.getByTestId('field-budget.maxTrials').fill('6');
    await page.getByTestId('budget-submit').click();
    await page.getByTestId('budget-form').waitFor({ state: 'detached' });
    await expect.poll(() => page.getByTestId('sweep-progress').textContent(), { timeout: 10_000 }).toMatch(/\/6 trials finished/);
    await expect.poll(activity, { timeout: 10_000 }).toEqual(['budget', 'paused']);
    expect((await stack.json<Sweep>(`/api/v1/sweeps/${sweep.id}`)).spec.search.budget.maxTrials).toBe(6);

    // Resume: training goes on (a trial runs again, past the epochs it had).
    const epochsAtResume = (await allTrials(stack, sweep.id)).reduce((n, t) => n + t.epochsDone, 0);
    await page.getByTestId('resume-sweep').click();
    await expect.poll(status, { timeout: 10_000 }).toBe('running');
    expect(await page.getByTestId('paused-notice').count()).toBe(0);
    await expect.poll(activity, { timeout: 10_000 }).toEqual(['resumed', 'budget', 'paused']);
    await expect.poll(runningRows, { timeout: 60_000 }).toBeGreaterThan(0);
    await expect.poll(async () => (await allTrials(stack, sweep.id)).reduce((n, t) => n + t.epochsDone, 0), { timeout: 60_000, interval: 250 }).toBeGreaterThan(epochsAtResume);

    // While it runs: a configuration outside the space, named by the API; then one queued with exactly its value.
    await page.getByTestId('add-configurations').click();
    await page.getByTestId('field-params').fill('[{"learningRate": 0.05}, {"learningRate": 7}]');
    await page.getByTestId('enqueue-submit').click();
    await page.getByTestId('enqueue-errors').waitFor();
    expect(await page.getByTestId('enqueue-error').evaluateAll((items) => items.map((i) => i.getAttribute('data-path')))).toEqual(['params[1].learningRate']);
    expect(unexpectedProblems(400)).toBe('');
    await page.getByTestId('field-params').fill('{"learningRate": 0.0123}');
    await page.getByTestId('enqueue-submit').click();
    await page.getByTestId('enqueue-result').waitFor();
    const mine = (await allTrials(stack, sweep.id)).filter((t) => t.params['learningRate'] === 0.0123);
    expect(mine).toHaveLength(1);
    expect(await page.getByTestId('enqueue-result').textContent()).toBe(`Queued #${mine[0]!.number}.`);
    await page.locator(`[data-testid="trial-row"][data-trial-id="${mine[0]!.id}"]`).waitFor();
    await expect.poll(activity, { timeout: 10_000 }).toEqual(['enqueued', 'resumed', 'budget', 'paused']);
    await session.screenshot('sweep-controls', page, { fullPage: true });

    // A new visit reads the controls from the sweep's log.
    await page.reload();
    await page.getByTestId('sweep-page').waitFor();
    await expect.poll(activity, { timeout: 30_000 }).toEqual(['enqueued', 'resumed', 'budget', 'paused']);

    // Cancel, then delete: confirmed, back to the list, nothing of the sweep left.
    page.once('dialog', (d) => void d.accept());
    await page.getByTestId('cancel-sweep').click();
    await expect.poll(status, { timeout: 10_000 }).toBe('cancelled');
    // Its workers end the trials they were training; then it goes.
    await expect.poll(async () => (await runningTrials()).length, { timeout: 30_000, interval: 250 }).toBe(0);
    let question = '';
    page.once('dialog', (d) => {
      question = d.message();
      void d.accept();
    });
    await page.getByTestId('delete-sweep').click();
    await page.waitForURL((url) => url.pathname === '/sweeps');
    expect(question).toContain('Delete the sweep "browser: pause and resume"');
    // The list, loaded (empty when this was the stack's only sweep), without it.
    await page.locator('[data-testid="sweeps-table"], [data-testid="sweeps-empty"]').first().waitFor();
    expect(await page.locator(`[data-testid="sweep-row"][data-sweep-id="${sweep.id}"]`).count()).toBe(0);
    expect((await stack.request(`/api/v1/sweeps/${sweep.id}`)).status).toBe(404);
    expect(await stack.db.trial.count({ where: { sweepId: sweep.id } })).toBe(0);
    expect(await stack.db.sweepEventRow.count({ where: { sweepId: sweep.id } })).toBe(0);
    expect(unexpectedProblems(404)).toBe('');
  }, 300_000);
});
