// Issue 15: the dashboard's playground runs a CNN in the page. A small MNIST CNN sweep (its spec
// starts with a reshape to 28×28×1) finishes on the real stack; the playground loads its best
// trial's TensorFlow.js export into @hypersweep/nn's Predictor in Chromium, predicts a drawn digit
// without asking the API, and gives the probabilities POST …/predict gives for the same drawing.
import type { Sweep } from '@hypersweep/schemas';
import type { Request as BrowserRequest } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeProblems, openBrowser, type BrowserSession } from '../lib/browser.ts';
import { mnistCnnSweep } from '../lib/sweeps.ts';
import { Stack } from '../lib/stack.ts';

describe('playground with a CNN in Chromium', () => {
  let stack: Stack;
  let session: BrowserSession;

  beforeAll(async () => {
    stack = await Stack.start({ name: 'browser-cnn', workers: 1, threads: 2 });
    session = await openBrowser({ baseUrl: stack.url, token: stack.token });
  });

  afterEach(() => {
    const problems = session.problems.splice(0);
    expect(problems, describeProblems(problems)).toEqual([]);
  });

  afterAll(async () => {
    await session?.close();
    await stack?.close();
  });

  it('predicts a drawn digit with the best CNN in the page, as the API does', async () => {
    const submitted = await stack.json<Sweep>('/api/v1/sweeps', { method: 'POST', json: mnistCnnSweep('browser: mnist cnn') });
    const sweep = await stack.waitForSweep<Sweep>(submitted.id, (s) => ['completed', 'failed', 'cancelled'].includes(s.status), 'the CNN sweep to finish', 120_000);
    expect(sweep.status, sweep.error ?? '').toBe('completed');
    const trialId = sweep.best!.trialId;
    const page = session.page;
    const predicts: string[] = [];
    const onRequest = (request: BrowserRequest) => {
      if (new URL(request.url()).pathname.endsWith('/predict')) predicts.push(request.url());
    };
    page.on('request', onRequest);

    await page.goto(`/playground?sweep=${sweep.id}&trial=${trialId}`);
    const status = page.getByTestId('model-status');
    await expect.poll(() => status.getAttribute('data-state'), { timeout: 30_000 }).toBe('ready');
    expect(await status.textContent()).toContain('784 inputs → 10 outputs');
    expect(await page.getByTestId('mode-browser').isChecked()).toBe(true);

    const probabilities = () => page.getByTestId('probabilities').locator('[data-probability]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-probability'))));
    await page.getByTestId('sample-digit-7').click();
    const prediction = page.getByTestId('prediction');
    await prediction.waitFor();
    const inPage = await probabilities();
    expect(inPage).toHaveLength(10);
    expect(inPage.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 2);
    expect(await prediction.getAttribute('data-class')).toBe(String(inPage.indexOf(Math.max(...inPage))));
    expect(predicts, 'the in-page model asked the API').toEqual([]);
    await session.screenshot('playground-cnn');

    // The same drawing on the API: the same probabilities (shown to 4 decimals).
    await page.getByTestId('mode-api').check();
    await page.getByTestId('clear-canvas').click();
    await prediction.waitFor({ state: 'detached' });
    await page.getByTestId('sample-digit-7').click();
    await prediction.waitFor();
    expect(predicts).toHaveLength(1);
    const viaApi = await probabilities();
    expect(viaApi).toHaveLength(10);
    for (let k = 0; k < 10; k++) expect(Math.abs(viaApi[k]! - inPage[k]!), `class ${k}: ${viaApi[k]} vs ${inPage[k]}`).toBeLessThanOrEqual(2e-4);
    page.off('request', onRequest);
  });
});
