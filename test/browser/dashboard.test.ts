// The dashboard in a real headless Chromium against the whole stack (api + 2 workers, Postgres,
// Redis): sign in with a token, submit a sweep from the form and watch it live, stop a trial,
// cancel a sweep, open a trial, export CSV, predict a drawn digit with a finished MNIST sweep's best
// model, and check a narrow viewport. Every page is screenshotted to test-artifacts/screenshots/;
// any console error or uncaught page error fails the test that caused it.
import { readFileSync } from 'node:fs';
import type { Sweep, Trial } from '@hypersweep/schemas';
import { mnistTpeAshaSweep } from '@hypersweep/schemas/fixtures';
import type { Page, Request as BrowserRequest } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NARROW, describeProblems, openBrowser, type BrowserSession } from '../lib/browser.ts';
import { allTrials, spiralsSweep } from '../lib/sweeps.ts';
import { Stack } from '../lib/stack.ts';

const FINISHED = ['completed', 'failed', 'cancelled'];

describe('dashboard in Chromium', () => {
  let stack: Stack;
  let session: BrowserSession;
  let page: Page;
  /** A small MNIST sweep submitted over REST at the start; the playground uses its best trial. */
  let mnist: Sweep;
  /** The sweep submitted from the form. */
  let formSweepId = '';

  beforeAll(async () => {
    stack = await Stack.start({ name: 'browser', workers: 2, threads: 1 });
    const base = mnistTpeAshaSweep();
    mnist = await stack.json<Sweep>('/api/v1/sweeps', {
      method: 'POST',
      json: { ...base, name: 'mnist: optimizer × lr × dropout', training: { ...base.training, epochs: 6 }, search: { ...base.search, sampler: { type: 'tpe', nStartupTrials: 4 }, budget: { maxTrials: 12, maxConcurrentTrials: 2 } } },
    });
    session = await openBrowser({ baseUrl: stack.url });
    page = session.page;
    // Cancel sweep and stop trial ask with window.confirm: accept.
    page.on('dialog', (dialog) => void dialog.accept());
  });

  afterEach(() => {
    // Fail the test during which the page logged an error, and start the next one clean.
    const problems = session.problems.splice(0);
    expect(problems, describeProblems(problems)).toEqual([]);
  });

  afterAll(async () => {
    await session?.close();
    await stack?.close();
  });

  it('signs in with a token and lists sweeps', async () => {
    await page.goto('/sweeps');
    await page.waitForURL(/\/login\?next=/);
    await page.getByTestId('login-form').waitFor();
    await session.screenshot('login');
    // A wrong token is refused with a message.
    await page.getByTestId('login-token').fill('not-a-token');
    await page.getByTestId('login-submit').click();
    await page.getByTestId('login-error').waitFor();
    expect(await page.getByTestId('login-error').textContent()).toBeTruthy();
    session.problems.splice(0); // the refused token's 401 is logged by Chromium as a failed resource load
    await page.getByTestId('login-token').fill(stack.token);
    await page.getByTestId('login-submit').click();
    await page.waitForURL((url) => url.pathname === '/sweeps');
    const row = page.locator(`[data-testid="sweep-row"][data-sweep-id="${mnist.id}"]`);
    await row.waitFor();
    expect(await row.getByTestId('sweep-link').textContent()).toContain('mnist');
    await session.screenshot('sweeps');
  });

  it('submits a spirals sweep from the form and shows trials and curves growing live', async () => {
    await page.getByTestId('nav-new-sweep').click();
    await page.waitForURL('**/sweeps/new');
    await page.getByTestId('template-select').selectOption('spirals-quick');
    await page.getByTestId('field-name').fill('browser: spirals from the form');
    await page.getByTestId('field-training.epochs').fill('250');
    await page.getByTestId('field-search.scheduler').selectOption('fifo');
    await page.getByTestId('field-search.budget.maxTrials').fill('4');
    await page.getByTestId('field-search.budget.maxConcurrentTrials').fill('2');
    await session.screenshot('new-sweep', page, { fullPage: true });
    await page.getByTestId('submit-sweep').click();
    await page.waitForURL(/\/sweeps\/[0-9a-f-]{36}$/);
    formSweepId = page.url().split('/').pop()!;
    const sweepPage = page.getByTestId('sweep-page');
    await sweepPage.waitFor();
    expect(await page.getByTestId('sweep-name').textContent()).toBe('browser: spirals from the form');
    await expect.poll(() => page.getByTestId('stream-state').textContent(), { timeout: 20_000 }).toBe('live');
    // A marker on window: it survives only if the page is never reloaded.
    await page.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true));

    // Live growth, without reload: the epochs shown in the table rise, more rows appear, and the
    // learning-curve canvas changes as points arrive.
    const epochsShown = () => page.locator('[data-testid="trial-row"] td:nth-child(3)').evaluateAll((cells) => cells.reduce((s, c) => s + Number(c.textContent), 0));
    const canvas = () => page.getByTestId('learning-curves').locator('canvas').evaluate((c) => (c as HTMLCanvasElement).toDataURL());
    await expect.poll(epochsShown, { timeout: 60_000, interval: 100 }).toBeGreaterThan(0);
    const rowsBefore = await page.getByTestId('trial-row').count();
    const epochsBefore = await epochsShown();
    const pictureBefore = await canvas();
    await expect.poll(epochsShown, { timeout: 30_000, interval: 100 }).toBeGreaterThan(epochsBefore + 20);
    expect(await canvas()).not.toBe(pictureBefore);
    await expect.poll(() => page.getByTestId('trial-row').count(), { timeout: 60_000, interval: 100 }).toBeGreaterThan(rowsBefore);
    expect(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);
  });

  it('stops a running trial after confirming', async () => {
    // A trial that has just started (under 100 of its 250 epochs), so it is still running when the
    // request arrives: stopping a trial that has finished meanwhile is a 409.
    let trialId = '';
    await expect
      .poll(
        async () =>
          (trialId = await page.locator('[data-testid="trial-row"]:has([data-testid="status-badge"][data-status="running"])').evaluateAll((rows) => {
            const fresh = rows.find((r) => Number(r.querySelector('td:nth-child(3)')?.textContent) < 100);
            return fresh?.getAttribute('data-trial-id') ?? '';
          })),
        { timeout: 60_000, interval: 100 },
      )
      .not.toBe('');
    const row = page.locator(`[data-testid="trial-row"][data-trial-id="${trialId}"]`);
    await row.getByTestId('stop-trial').click();
    await expect.poll(() => row.getByTestId('status-badge').getAttribute('data-status'), { timeout: 30_000 }).toBe('stopped');
    const trial = await stack.json<Trial>(`/api/v1/sweeps/${formSweepId}/trials/${trialId}`);
    expect(trial.status).toBe('stopped');
    expect(trial.epochsDone).toBeLessThan(250);
    // The sweep goes on and finishes with its other trials.
    await expect.poll(() => page.getByTestId('sweep-page').getAttribute('data-status'), { timeout: 90_000, interval: 250 }).toBe('completed');
    expect(await page.getByTestId('best-value').textContent()).toMatch(/\d/);
  });

  it('exports the trials as CSV', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()]);
    expect(download.suggestedFilename()).toMatch(/\.csv$/);
    const text = readFileSync((await download.path())!, 'utf8');
    const lines = text.trim().split(/\r?\n/);
    const trials = await allTrials(stack, formSweepId);
    expect(trials).toHaveLength(4);
    expect(lines).toHaveLength(1 + trials.length);
    expect(lines[0]).toMatch(/learningRate/);
    for (const t of trials) expect(lines.filter((l) => l.includes(t.id))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('stopped'))).toHaveLength(1);
  });

  it('opens a trial page', async () => {
    const first = page.locator('[data-testid="trial-row"][data-trial-number="0"]');
    const trialId = (await first.getAttribute('data-trial-id'))!;
    await first.locator('a').first().click();
    await page.waitForURL(`**/sweeps/${formSweepId}/trials/${trialId}`);
    const trialPage = page.getByTestId('trial-page');
    await trialPage.waitFor();
    expect(await trialPage.getAttribute('data-trial-id')).toBe(trialId);
    expect(['completed', 'stopped']).toContain(await trialPage.getAttribute('data-status'));
    await page.getByTestId('trial-params').waitFor();
    expect(await page.getByTestId('trial-params').textContent()).toContain('learningRate');
    await page.getByTestId('trial-chart-loss').locator('canvas').waitFor();
    await session.screenshot('trial');
  });

  it('cancels a long-running sweep after confirming', async () => {
    const long = await stack.json<Sweep>('/api/v1/sweeps', { method: 'POST', json: spiralsSweep({ name: 'browser: long spirals', count: 20_000, epochs: 1000, maxTrials: 2, concurrency: 2 }) });
    await page.goto(`/sweeps/${long.id}`);
    const sweepPage = page.getByTestId('sweep-page');
    await sweepPage.waitFor();
    await page.locator('[data-testid="trial-row"]:has([data-status="running"])').first().waitFor({ timeout: 60_000 });
    await page.getByTestId('cancel-sweep').click();
    await expect.poll(() => sweepPage.getAttribute('data-status'), { timeout: 30_000 }).toBe('cancelled');
    await expect.poll(() => page.getByTestId('cancel-sweep').count()).toBe(0);
    const done = await stack.waitForSweep<Sweep>(long.id, (s) => s.counts.running === 0 && s.counts.queued === 0, 'the cancelled sweep to stop its trials', 30_000);
    expect(done.status).toBe('cancelled');
  });

  it('shows the finished MNIST sweep at 1280×800 and at 390 px without horizontal overflow', async () => {
    const done = await stack.waitForSweep<Sweep>(mnist.id, (s) => FINISHED.includes(s.status), 'the MNIST sweep to finish', 120_000);
    expect(done.status).toBe('completed');
    // The page loads curves in one request and follows the stream from the sweep's last event,
    // instead of replaying the event log.
    const requests: { path: string; query: URLSearchParams; lastEventId: string | undefined }[] = [];
    const onRequest = (request: BrowserRequest) => {
      const url = new URL(request.url());
      if (url.pathname.startsWith(`/api/v1/sweeps/${mnist.id}/`)) requests.push({ path: url.pathname, query: url.searchParams, lastEventId: request.headers()['last-event-id'] });
    };
    page.on('request', onRequest);
    await page.goto(`/sweeps/${mnist.id}`);
    await page.getByTestId('test-result').waitFor();
    await expect.poll(() => page.getByTestId('trial-row').count()).toBe(12);
    const curves = requests.filter((r) => r.path.endsWith('/curves'));
    expect(curves.map((r) => r.query.get('names'))).toEqual([done.objective.metric]);
    const streams = requests.filter((r) => r.path.endsWith('/events'));
    expect(streams.length).toBeGreaterThan(0);
    expect(streams[0]!.lastEventId).toBe(String(done.lastEventId));
    // Charting another metric fetches its curves once and redraws.
    const canvas = () => page.getByTestId('learning-curves').locator('canvas').evaluate((c) => (c as HTMLCanvasElement).toDataURL());
    const before = await canvas();
    await page.getByTestId('curve-metric').selectOption('train_loss');
    await expect.poll(() => requests.filter((r) => r.path.endsWith('/curves')).map((r) => r.query.get('names'))).toEqual([done.objective.metric, 'train_loss']);
    await expect.poll(canvas).not.toBe(before);
    page.off('request', onRequest);
    await page.getByTestId('curve-metric').selectOption(done.objective.metric);
    // The best trial's confusion matrix: 10 × 10 cells holding the 500 test images.
    const cells = await page.getByTestId('confusion-matrix').locator('td').allTextContents();
    expect(cells).toHaveLength(100);
    expect(cells.reduce((sum, c) => sum + Number(c), 0)).toBe(500);
    await page.getByTestId('importance-item').first().waitFor();
    await page.evaluate(() => document.fonts.ready);
    await session.screenshot('sweep');

    const narrow = await session.newPage(NARROW, { token: stack.token });
    await narrow.goto(`${stack.url}/sweeps/${mnist.id}`);
    await narrow.getByTestId('sweep-page').waitFor();
    await narrow.getByTestId('trial-row').first().waitFor();
    await narrow.getByTestId('test-result').waitFor();
    await narrow.getByTestId('importance-item').first().waitFor(); // the replayed log is in: all trials drawn
    const overflow = await narrow.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
    expect(overflow.scroll, 'page wider than the viewport').toBeLessThanOrEqual(overflow.client);
    await session.screenshot('sweep-narrow', narrow, { fullPage: true });
    await narrow.context().close();
  });

  it('shows the cluster', async () => {
    await page.getByTestId('nav-cluster').click();
    await page.waitForURL('**/cluster');
    await expect.poll(() => page.getByTestId('worker-row').count(), { timeout: 20_000 }).toBe(2);
    expect(await page.locator('[data-testid="worker-row"][data-alive="true"]').count()).toBe(2);
    // Each worker reports its resident memory (tens of MiB at least: a Node process with its replicas).
    for (const text of await page.getByTestId('worker-memory').allTextContents()) expect(Number(text.replace(/\D/g, ''))).toBeGreaterThan(30);
    await session.screenshot('cluster');
  });

  it('predicts a drawn digit with the best MNIST model in the playground', async () => {
    const sweep = await stack.json<Sweep>(`/api/v1/sweeps/${mnist.id}`);
    await page.goto(`/playground?sweep=${mnist.id}&trial=${sweep.best!.trialId}`);
    await expect.poll(() => page.getByTestId('model-status').getAttribute('data-state'), { timeout: 30_000 }).toBe('ready');
    await page.getByTestId('sample-digit-7').click();
    const prediction = page.getByTestId('prediction');
    await prediction.waitFor();
    expect(await prediction.getAttribute('data-class')).toMatch(/^[0-9]$/);
    const probabilities = await page.getByTestId('probabilities').locator('[data-probability]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-probability'))));
    expect(probabilities).toHaveLength(10);
    expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 2);
    // Mouse strokes on the canvas work too: clear, draw a vertical bar (a "1"), predict again.
    await page.getByTestId('clear-canvas').click();
    const box = (await page.getByTestId('draw-canvas').boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.2);
    await page.mouse.down();
    for (let i = 1; i <= 10; i++) await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * (0.2 + 0.06 * i));
    await page.mouse.up();
    await expect.poll(() => prediction.getAttribute('data-class'), { timeout: 10_000 }).toMatch(/^[0-9]$/);
    await session.screenshot('playground');
  });
});
