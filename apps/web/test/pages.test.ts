// Dashboard pages in a real headless Chromium (Debian's, through playwright-core, as
// test/lib/browser.ts at the root) against the built dashboard and scripts/mock-api.ts: "tune this"
// on the new-sweep form, conditional parameters on the sweep page, the resolved model on the trial
// page. Any console error or uncaught page error fails the test during which it happened.
import { CreateSweepRequest, isBuiltinSweep, type Sweep, type SweepSummary, type Trial } from '@hypersweep/schemas';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TOKEN = 'dev-token';

/** Starts the mock API serving `dist` on a free port; resolves with its URL once it listens. */
function startMock(dist: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/mock-api.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', MOCK_DIST: dist, MOCK_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve({ child, url: m[0] });
    });
    child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => reject(new Error(`mock API exited (${code}): ${out}`)));
  });
}

// Chromium is a prerequisite of the tests (scripts/test-prerequisites.mjs installs it): missing, they fail.
describe('pages in Chromium', () => {
  let dist = '';
  let mock: ChildProcess | undefined;
  let baseUrl = '';
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  async function api<T>(path: string): Promise<T> {
    const res = await fetch(`${baseUrl}/api/v1${path}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(res.status, path).toBe(200);
    return (await res.json()) as T;
  }

  beforeAll(async () => {
    dist = mkdtempSync(join(tmpdir(), 'hypersweep-web-'));
    await build({ root: ROOT, logLevel: 'error', build: { outDir: dist, emptyOutDir: true, sourcemap: false } });
    const started = await startMock(dist);
    mock = started.child;
    baseUrl = started.url;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'] });
    const context = await browser.newContext({ baseURL: baseUrl, viewport: { width: 1280, height: 900 } });
    await context.addInitScript((t: string) => window.localStorage.setItem('hypersweep.token', t), TOKEN);
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  });

  afterEach(() => {
    const seen = problems.splice(0);
    expect(seen, seen.join('\n')).toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    mock?.kill();
    if (dist) rmSync(dist, { recursive: true, force: true });
  });

  it('tunes form fields into references that the editor shows and the API accepts', async () => {
    await page.goto('/sweeps/new');
    await page.getByTestId('template-select').selectOption('mnist-mlp');
    await page.getByTestId('field-model.hidden').fill('128, 64');
    for (const target of ['units:1', 'units:2', 'activation:1', 'dropout:2', 'learningRate', 'epochs']) await page.getByTestId(`tune-${target}`).click();
    expect(await page.getByTestId('tune-units:1').getAttribute('aria-pressed')).toBe('true');
    expect(await page.getByTestId('tuned-param').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-name')))).toEqual(['units_1', 'units_2', 'activation_1', 'dropout_2', 'learningRate', 'epochs']);
    // The learning-rate row of the space is taken over by the tuned field.
    expect(await page.getByTestId('space-learningRate').isDisabled()).toBe(true);
    expect(await page.getByTestId('field-training.epochs').isDisabled()).toBe(true);
    // Clicking again stops tuning.
    await page.getByTestId('tune-units:2').click();
    expect(await page.getByTestId('tune-units:2').getAttribute('aria-pressed')).toBe('false');
    expect(await page.getByTestId('tuned-param').count()).toBe(5);
    // Edit a suggested range.
    await page.locator('[data-testid="tuned-param"][data-name="units_1"] [data-testid="field-search.space.units_1.high"]').fill('256');

    await page.getByTestId('tab-json').click();
    const value = JSON.parse(await page.getByTestId('json-editor').inputValue()) as Record<string, Record<string, unknown>>;
    const layers = value['model']!['layers'] as Record<string, unknown>[];
    expect(layers[1]).toEqual({ type: 'dense', units: { $param: 'units_1' }, activation: { $param: 'activation_1' } });
    expect(layers[3]).toEqual({ type: 'dense', units: 64, activation: 'relu' });
    expect(layers[4]).toEqual({ type: 'dropout', rate: { $param: 'dropout_2' } });
    expect((value['search']!['space'] as Record<string, unknown>)['units_1']).toEqual({ type: 'intlog', low: 32, high: 256 });
    expect(CreateSweepRequest.safeParse(value).success).toBe(true);
    expect(await page.getByTestId('param-insert').evaluateAll((b) => b.map((x) => x.getAttribute('data-param')))).toContain('units_1');

    // A reference to a parameter the space lacks is refused with the path of the reference.
    layers[3]!['units'] = { $param: 'units_9' };
    await page.getByTestId('json-editor').fill(JSON.stringify(value, null, 2));
    await page.getByTestId('submit-sweep').click();
    await page.locator('[data-testid="form-error"][data-path="model.layers[3].units"]').first().waitFor();
    layers[3]!['units'] = 64;
    await page.getByTestId('json-editor').fill(JSON.stringify(value, null, 2));

    // Back to the form: the references are tuned fields again.
    await page.getByTestId('tab-form').click();
    await page.getByTestId('new-sweep-form').waitFor();
    expect(await page.getByTestId('tune-activation:1').getAttribute('aria-pressed')).toBe('true');
    expect(await page.getByTestId('tuned-param').count()).toBe(5);

    await page.getByTestId('submit-sweep').click();
    await page.waitForURL(/\/sweeps\/[0-9a-f-]{36}$/);
    const sweep = await api<Sweep>(`/sweeps/${page.url().split('/').pop()!}`);
    if (!isBuiltinSweep(sweep.spec)) throw new Error('the form submits a built-in model sweep');
    expect((sweep.spec.template?.model as { layers: unknown[] }).layers[1]).toEqual({ type: 'dense', units: { $param: 'units_1' }, activation: { $param: 'activation_1' } });
    expect(Object.keys(sweep.spec.search.space).sort()).toEqual(['activation_1', 'batchSize', 'dropout_2', 'epochs', 'learningRate', 'units_1']);
  });

  it('shows conditional parameters as columns and axes, blank where a trial does not have them', async () => {
    const sweeps = await api<{ items: SweepSummary[] }>('/sweeps');
    const deep = sweeps.items.find((s) => s.name.startsWith('depth'))!;
    await page.goto(`/sweeps/${deep.id}`);
    await expect.poll(() => page.getByTestId('trial-row').count(), { timeout: 20_000 }).toBe(12);
    const headers = await page.locator('[data-testid="trial-table"] thead th').allTextContents();
    expect(headers).toEqual(expect.arrayContaining(['units_1', 'depth', 'units_2', 'units_3']));
    const trials = (await api<{ items: Trial[] }>(`/sweeps/${deep.id}/trials?limit=50`)).items;
    // Trial #0 has depth 1: no units_2 or units_3 (the columns exist all the same).
    expect(trials[0]!.params['units_2']).toBeUndefined();
    const cell = (n: number, p: string) => page.locator(`[data-testid="trial-row"][data-trial-number="${n}"] td[data-param="${p}"]`);
    for (const p of ['units_2', 'units_3']) {
      expect(await cell(0, p).textContent()).toBe('');
      expect(await cell(0, p).getAttribute('data-absent')).toBe('true');
    }
    expect(await cell(2, 'units_3').textContent()).toBe(String(trials[2]!.params['units_3']));
    expect(await cell(1, 'units_3').textContent()).toBe('');
    const axes = await page.getByTestId('parallel-coordinates').locator('.pc-axis strong').allTextContents();
    expect(axes).toEqual(['learningRate (log)', 'units_1 (log)', 'depth', 'units_2 (log)', 'units_3 (log)', 'val_accuracy']);
    await expect.poll(() => page.locator('[data-testid="importance-item"]').evaluateAll((items) => items.map((i) => i.getAttribute('data-param')).sort()), { timeout: 10_000 }).toEqual(['depth', 'learningRate', 'units_1', 'units_2', 'units_3']);
  });

  it('shows the resolved layers and training settings of a trial', async () => {
    const sweeps = await api<{ items: SweepSummary[] }>('/sweeps');
    const deep = sweeps.items.find((s) => s.name.startsWith('depth'))!;
    const trial = (await api<{ items: Trial[] }>(`/sweeps/${deep.id}/trials?limit=50`)).items.find((t) => t.params['depth'] === 3)!;
    await page.goto(`/sweeps/${deep.id}/trials/${trial.id}`);
    const section = page.getByTestId('trial-resolved');
    await section.waitFor();
    expect(await section.getAttribute('data-available')).toBe('true');
    const rows = await page.getByTestId('resolved-layer').evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).slice(1, 4).map((td) => td.textContent)));
    expect(rows).toEqual([
      ['flatten', '', ''],
      ['dense', String(trial.params['units_1']), 'relu'],
      ['dense', String(trial.params['units_2']), 'relu'],
      ['dense', String(trial.params['units_3']), 'relu'],
      ['dense', '10', 'linear'],
    ]);
    const optimizer = await page.locator('[data-testid="resolved-settings"] [data-setting="optimizer"] dd').textContent();
    expect(optimizer).toContain(`learningRate ${trial.params['learningRate'] as number}`);
    expect(await page.locator('[data-testid="resolved-settings"] [data-setting="epochs"] dd').textContent()).toBe('6');
  });
});
