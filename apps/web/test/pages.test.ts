// Dashboard pages in a real headless Chromium (Debian's, through playwright-core, as
// test/lib/browser.ts at the root) against the built dashboard and scripts/mock-api.ts: "tune this"
// on the new-sweep form, conditional parameters on the sweep page, the resolved model on the trial
// page, the sweep page's controls (pause, resume, budget, added configurations, delete), and the
// Access page (projects, quotas, tokens; the controls a token is shown after asking /me), and
// projects on the forms and the sweeps list (the Project select, column and filter). Any
// console error or uncaught page error fails the test during which it happened.
import { CreateSweepRequest, WhoAmI, isBuiltinSweep, type Sweep, type SweepSummary, type Trial } from '@hypersweep/schemas';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
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
    // The build users get: vitest sets NODE_ENV=test, which Vite would honour with React's
    // development build (StrictMode's double effects, dev-only checks).
    const nodeEnv = process.env['NODE_ENV'];
    process.env['NODE_ENV'] = 'production';
    try {
      await build({ root: ROOT, mode: 'production', logLevel: 'error', build: { outDir: dist, emptyOutDir: true, sourcemap: false } });
    } finally {
      if (nodeEnv === undefined) delete process.env['NODE_ENV'];
      else process.env['NODE_ENV'] = nodeEnv;
    }
    const scripts = readdirSync(join(dist, 'assets')).filter((f) => f.endsWith('.js'));
    expect(scripts.some((f) => readFileSync(join(dist, 'assets', f), 'utf8').includes('unique "key" prop')), 'React development build in the bundle').toBe(false);
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

  it('pauses and resumes a sweep, edits its budget and adds configurations (the API’s errors at their fields), logs each, and deletes it once ended', async () => {
    const auth = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };
    const request = {
      name: 'controls: paused and resumed',
      dataset: { type: 'mnist', limitTrain: 2000, limitTest: 500 },
      model: { inputShape: [28, 28], layers: [{ type: 'flatten' }, { type: 'dense', units: 32, activation: 'relu' }, { type: 'dense', units: 10 }], loss: 'softmax_cross_entropy' },
      training: { epochs: 500, batchSize: 64 },
      search: { space: { learningRate: { type: 'loguniform', low: 1e-4, high: 1e-1 }, activation: { type: 'categorical', choices: ['relu', 'tanh'] } }, budget: { maxTrials: 4, maxConcurrentTrials: 2 } },
      objective: { metric: 'val_accuracy' },
    };
    const createdRes = await fetch(`${baseUrl}/api/v1/sweeps`, { method: 'POST', headers: auth, body: JSON.stringify(request) });
    expect(createdRes.status).toBe(201);
    const created = (await createdRes.json()) as Sweep;
    const status = () => page.getByTestId('sweep-page').getAttribute('data-status');
    const activity = () => page.getByTestId('activity-item').evaluateAll((items) => items.map((i) => i.getAttribute('data-action')));

    await page.goto(`/sweeps/${created.id}`);
    await expect.poll(() => page.getByTestId('stream-state').textContent(), { timeout: 20_000 }).toBe('live');
    await expect.poll(() => page.getByTestId('trial-row').count(), { timeout: 20_000 }).toBe(2);
    expect(await page.getByTestId('sweep-activity-empty').count()).toBe(1);
    expect(await page.getByTestId('resume-sweep').count()).toBe(0);
    expect(await page.getByTestId('delete-sweep').count()).toBe(0);

    // Pause: the status, a notice, Resume instead of Pause, and the control in the activity log.
    await page.getByTestId('pause-sweep').click();
    await expect.poll(status, { timeout: 10_000 }).toBe('paused');
    await page.getByTestId('paused-notice').waitFor();
    expect(await page.getByTestId('status-badge').first().getAttribute('data-status')).toBe('paused');
    expect(await page.getByTestId('pause-sweep').count()).toBe(0);
    await expect.poll(activity, { timeout: 10_000 }).toEqual(['paused']);
    // Not ended: the card holds the best so far.
    expect(await page.getByTestId('best-trial').locator('h2').textContent()).toBe('Best trial so far');

    // Budget: a value the form refuses itself, one the API refuses (at its field), then a change.
    await page.getByTestId('edit-budget').click();
    await page.getByTestId('field-budget.maxConcurrentTrials').fill('two');
    await page.getByTestId('budget-submit').click();
    expect(await page.getByTestId('error-budget.maxConcurrentTrials').textContent()).toBe('a whole number ≥ 1');
    await page.getByTestId('field-budget.maxConcurrentTrials').fill('2');
    await page.getByTestId('field-budget.maxTrials').fill('1');
    await page.getByTestId('budget-submit').click();
    await page.getByTestId('error-budget.maxTrials').waitFor();
    expect(await page.getByTestId('error-budget.maxTrials').textContent()).toBe('must be at least 2, the trials the sweep has');
    expect(await page.getByTestId('field-budget.maxTrials').getAttribute('aria-invalid')).toBe('true');
    problems.splice(0); // Chromium logs the refused request (400) as a failed resource load
    await page.getByTestId('field-budget.maxTrials').fill('20');
    await page.getByTestId('budget-submit').click();
    await page.getByTestId('budget-form').waitFor({ state: 'detached' });
    await expect.poll(() => page.getByTestId('sweep-progress').textContent(), { timeout: 10_000 }).toMatch(/\/20 trials finished/);
    await expect.poll(activity, { timeout: 10_000 }).toEqual(['budget', 'paused']);
    expect(await page.locator('[data-testid="activity-item"][data-action="budget"]').textContent()).toContain('budget changed: maxTrials 20');

    // Configurations: a syntax error at the field, the API's refusals by params[i].<name>, then two queued.
    await page.getByTestId('add-configurations').click();
    const editor = page.getByTestId('field-params');
    expect(JSON.parse(await editor.inputValue())).toHaveLength(1);
    await editor.fill('{"learningRate": 0.001');
    await page.getByTestId('enqueue-submit').click();
    expect(await page.getByTestId('error-params').textContent()).toMatch(/^not valid JSON: /);
    await editor.fill(JSON.stringify([{ learningRate: 0.5, activation: 'relu' }, { learningRate: 0.001, activation: 'swish', momentum: 0.9 }]));
    await page.getByTestId('enqueue-submit').click();
    await page.getByTestId('enqueue-errors').waitFor();
    expect(await page.getByTestId('enqueue-error').evaluateAll((items) => items.map((i) => i.getAttribute('data-path')))).toEqual(['params[0].learningRate', 'params[1].activation', 'params[1].momentum']);
    expect(await page.locator('[data-testid="enqueue-error"][data-path="params[1].activation"]').textContent()).toBe('params[1].activation: must be one of relu, tanh');
    problems.splice(0);
    await editor.fill(JSON.stringify([{ learningRate: 0.003, activation: 'tanh' }, { learningRate: 0.02, activation: 'relu' }]));
    await page.getByTestId('enqueue-submit').click();
    expect(await page.getByTestId('enqueue-result').textContent()).toBe('Queued #2, #3.');
    expect(await page.getByTestId('enqueue-errors').count()).toBe(0);
    const row = (n: number) => page.locator(`[data-testid="trial-row"][data-trial-number="${n}"]`);
    await row(3).waitFor();
    expect(await row(2).locator('td[data-param="learningRate"]').textContent()).toBe('0.003');
    expect(await row(3).locator('td[data-param="activation"]').textContent()).toBe('relu');
    // Paused: queued, not started; the trials the pause released are queued again too.
    expect(await row(3).getByTestId('status-badge').getAttribute('data-status')).toBe('queued');
    expect(await page.locator('[data-testid="trial-row"] [data-testid="status-badge"][data-status="running"]').count()).toBe(0);
    await expect.poll(activity, { timeout: 10_000 }).toEqual(['enqueued', 'budget', 'paused']);
    expect(await page.locator('[data-testid="activity-item"][data-action="enqueued"]').textContent()).toMatch(/2 trials enqueued: #2, #3$/);

    // A new visit reads the controls from the sweep's log.
    await page.reload();
    await page.getByTestId('sweep-page').waitFor();
    await expect.poll(activity, { timeout: 20_000 }).toEqual(['enqueued', 'budget', 'paused']);

    // Resume: running again, trials start.
    await page.getByTestId('resume-sweep').click();
    await expect.poll(status, { timeout: 10_000 }).toBe('running');
    expect(await page.getByTestId('paused-notice').count()).toBe(0);
    await expect.poll(activity, { timeout: 10_000 }).toEqual(['resumed', 'enqueued', 'budget', 'paused']);
    await expect.poll(() => page.locator('[data-testid="trial-row"] [data-testid="status-badge"][data-status="running"]').count(), { timeout: 20_000 }).toBeGreaterThan(0);

    // Delete: only once ended, after confirming; then the list, without it.
    page.once('dialog', (d) => void d.accept());
    await page.getByTestId('cancel-sweep').click();
    await expect.poll(status, { timeout: 10_000 }).toBe('cancelled');
    expect(await page.getByTestId('edit-budget').count()).toBe(0);
    expect(await page.getByTestId('best-trial').locator('h2').textContent()).toBe('Best trial');
    let question = '';
    page.once('dialog', (d) => {
      question = d.message();
      void d.accept();
    });
    await page.getByTestId('delete-sweep').click();
    await page.waitForURL((url) => url.pathname === '/sweeps');
    expect(question).toContain('Delete the sweep "controls: paused and resumed" with its');
    expect((await fetch(`${baseUrl}/api/v1/sweeps/${created.id}`, { headers: auth })).status).toBe(404);
    await page.getByTestId('sweeps-table').waitFor();
    expect(await page.locator(`[data-testid="sweep-row"][data-sweep-id="${created.id}"]`).count()).toBe(0);
  });

  it('creates a project, edits its quotas and creates a token (its secret shown once, working until it is revoked); the API’s refusals at their fields', async () => {
    const auth = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });
    const posted = (path: string, method = 'POST') => page.waitForResponse((r) => new URL(r.url()).pathname === `/api/v1${path}` && r.request().method() === method);
    await page.goto('/');
    await page.getByTestId('nav-access').click();
    await page.waitForURL((url) => url.pathname === '/access');
    expect(await page.getByTestId('nav-access').getAttribute('aria-current')).toBe('page');
    await page.locator('[data-testid="project-row"][data-project="default"]').waitFor();

    // /me says who is signed in: a server admin sees its controls, and no read-only line.
    expect(await page.getByTestId('signed-in-name').textContent()).toBe('dev');
    expect(await page.getByTestId('signed-in-as').textContent()).toContain('(server admin, default: admin)');
    expect(await page.getByTestId('project-form').count()).toBe(1);
    expect(await page.locator('[data-testid="project-row"][data-project="default"] [data-testid="edit-quotas"]').count()).toBe(1);
    expect(await page.getByTestId('token-form').getByTestId('field-serverAdmin').count()).toBe(1);
    expect(await page.getByTestId('quotas-read-only').count()).toBe(0);

    // An empty name: the API's 400, its message at the field it names.
    const projectForm = page.getByTestId('project-form');
    let answer = posted('/projects');
    await projectForm.getByTestId('project-submit').click();
    expect((await answer).status()).toBe(400);
    expect(await projectForm.getByTestId('error-name').textContent()).toBe('must be a project name: 1-63 of a-z, 0-9, _ and -, starting with a letter or digit');
    expect(await projectForm.getByTestId('field-name').getAttribute('aria-invalid')).toBe('true');
    expect(await projectForm.getByTestId('project-form-errors').textContent()).toContain('invalid body: name: must be a project name');
    problems.splice(0); // Chromium logs each refused request as a failed resource load

    await projectForm.getByTestId('field-name').fill('vision');
    await projectForm.getByTestId('field-quotas.maxRunningTrials').fill('4');
    await projectForm.getByTestId('project-submit').click();
    await page.getByTestId('project-created').waitFor();
    expect(await projectForm.getByTestId('field-name').getAttribute('aria-invalid')).toBe('false');
    const visionRow = page.locator('[data-testid="project-row"][data-project="vision"]');
    await visionRow.waitFor();
    // A taken name: the API's 409, at the name.
    await projectForm.getByTestId('field-name').fill('vision');
    answer = posted('/projects');
    await projectForm.getByTestId('project-submit').click();
    expect((await answer).status()).toBe(409);
    expect(await projectForm.getByTestId('error-name').textContent()).toBe('is taken by another project');
    problems.splice(0);
    await projectForm.getByTestId('field-name').fill('');
    expect(await visionRow.locator('td[data-quota="maxRunningTrials"]').textContent()).toBe('0 / 4');
    expect(await visionRow.locator('td[data-quota="maxActiveSweeps"]').textContent()).toBe('0 / no limit');

    // Quotas: the editor takes the focus; a negative quota is the API's 400 at that quota; then a change.
    await visionRow.getByTestId('edit-quotas').click();
    const quotaForm = page.getByTestId('quota-form');
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('field-quotas.maxRunningTrials');
    await quotaForm.getByTestId('field-quotas.maxRunningTrials').fill('-1');
    answer = posted('/projects/vision', 'PATCH');
    await quotaForm.getByTestId('quota-submit').click();
    expect((await answer).status()).toBe(400);
    expect(await quotaForm.getByTestId('error-quotas.maxRunningTrials').textContent()).toBe('must be ≥ 0');
    problems.splice(0);
    await quotaForm.getByTestId('field-quotas.maxRunningTrials').fill('8');
    await quotaForm.getByTestId('field-quotas.maxActiveSweeps').fill('2');
    await quotaForm.getByTestId('quota-submit').click();
    await quotaForm.waitFor({ state: 'detached' });
    await expect.poll(() => visionRow.locator('td[data-quota="maxRunningTrials"]').textContent()).toBe('0 / 8');
    expect((await api<{ quotas: Record<string, number | null> }>('/projects/vision')).quotas).toMatchObject({ maxRunningTrials: 8, maxActiveSweeps: 2, maxQueuedTrials: null });
    // Escape closes the editor and gives the focus back to its button.
    await visionRow.getByTestId('edit-quotas').click();
    await quotaForm.waitFor();
    await page.keyboard.press('Escape');
    await quotaForm.waitFor({ state: 'detached' });
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-project'))).toBe('vision');

    // A token without a name: the API's 400 at the name; its project is kept.
    const tokenForm = page.getByTestId('token-form');
    // A grant row added takes the focus at its project; removed, the focus goes to the add button.
    await tokenForm.getByTestId('grant-add').click();
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('field-grants[1].project');
    await tokenForm.getByTestId('grant-remove').nth(1).click();
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('grant-add');
    expect(await tokenForm.getByTestId('grant-row').count()).toBe(1);
    await tokenForm.getByTestId('field-grants[0].project').selectOption('vision');
    await tokenForm.getByTestId('field-grants[0].role').selectOption('submit');
    answer = posted('/tokens');
    await tokenForm.getByTestId('token-submit').click();
    expect((await answer).status()).toBe(400);
    expect(await tokenForm.getByTestId('error-name').textContent()).toBe('must not be empty');
    expect(await tokenForm.getByTestId('field-grants[0].project').inputValue()).toBe('vision');
    problems.splice(0);

    await tokenForm.getByTestId('field-name').fill('ci');
    answer = posted('/tokens');
    await tokenForm.getByTestId('token-submit').click();
    const created = (await (await answer).json()) as { id: string; token: string };
    const secretField = page.getByTestId('token-secret');
    await secretField.waitFor();
    const secret = await secretField.inputValue();
    expect(secret).toMatch(/^hs_[A-Za-z0-9_-]{43}$/);
    expect(secret).toBe(created.token);
    expect(await page.getByTestId('token-secret-warning').textContent()).toContain('This is the only time the secret is shown.');
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseUrl });
    await page.getByTestId('copy-token-secret').click();
    await expect.poll(() => page.getByTestId('copy-status').textContent()).toBe('Copied to the clipboard.');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);

    // The secret works: the new token sees its project, with its role.
    const asNew = await fetch(`${baseUrl}/api/v1/projects`, auth(secret));
    expect(asNew.status).toBe(200);
    expect(((await asNew.json()) as { items: { name: string; role: string }[] }).items.map((p) => [p.name, p.role])).toEqual([['vision', 'submit']]);
    // It may ask who it is without any admin role.
    const me = await fetch(`${baseUrl}/api/v1/me`, auth(secret));
    expect(me.status).toBe(200);
    expect(WhoAmI.parse(await me.json())).toMatchObject({ serverAdmin: false, token: { id: created.id, name: 'ci', grants: [{ project: 'vision', role: 'submit' }] } });

    // Once Done, the secret is nowhere: not on the page, not after a reload, not in the listing.
    await page.getByTestId('token-secret-done').click();
    await page.getByTestId('token-secret-panel').waitFor({ state: 'detached' });
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('tokens-heading');
    expect(await page.content()).not.toContain(secret);
    await page.reload();
    const row = page.locator(`[data-testid="token-row"][data-token-id="${created.id}"]`);
    await row.waitFor();
    expect(await page.content()).not.toContain(secret);
    expect(JSON.stringify(await api('/tokens'))).not.toContain(secret);
    expect(await row.getByTestId('token-grants').textContent()).toBe('vision: submit');
    expect(await row.getByTestId('token-state').textContent()).toBe('active');
    // It was used once above: the API says when.
    expect(await row.getByTestId('token-last-used').textContent()).not.toBe('never');

    // Revoke, after confirming: gone from the active list, refused from then on.
    let question = '';
    page.once('dialog', (d) => {
      question = d.message();
      void d.accept();
    });
    await row.getByTestId('revoke-token').click();
    await page.getByTestId('token-revoked').waitFor();
    expect(question).toContain(`Revoke the token "ci" (${secret.slice(0, 11)}…)?`);
    await row.waitFor({ state: 'detached' });
    await page.getByTestId('tokens-show-inactive').check();
    expect(await row.getAttribute('data-state')).toBe('revoked');
    expect(await row.getByTestId('revoke-token').count()).toBe(0);
    expect((await fetch(`${baseUrl}/api/v1/projects`, auth(secret))).status).toBe(401);
    expect((await fetch(`${baseUrl}/api/v1/me`, auth(secret))).status).toBe(401);
    // The dashboard's own token is untouched.
    expect(page.url()).toBe(`${baseUrl}/access`);
  });

  /** A project admin of nlp (with a read role in default) and a token it manages; resolves with its secret. */
  async function projectAdminToken(): Promise<string> {
    const admin = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };
    const post = (path: string, body: unknown) => fetch(`${baseUrl}/api/v1${path}`, { method: 'POST', headers: admin, body: JSON.stringify(body) });
    if ((await fetch(`${baseUrl}/api/v1/projects/nlp`, { headers: admin })).status === 404) expect((await post('/projects', { name: 'nlp' })).status).toBe(201);
    expect((await post('/tokens', { name: 'nlp-ci', grants: [{ project: 'nlp', role: 'submit' }] })).status).toBe(201);
    const res = await post('/tokens', { name: 'nlp-admin', grants: [{ project: 'nlp', role: 'admin' }, { project: 'default', role: 'read' }] });
    expect(res.status).toBe(201);
    return ((await res.json()) as { token: string }).token;
  }

  /** A page signed in with `token` in its own browser context; `prepare` may route its requests. */
  async function pageAs(token: string, prepare: (context: BrowserContext) => Promise<unknown> = async () => undefined): Promise<{ page: Page; close: () => Promise<void> }> {
    const context = await browser.newContext({ baseURL: baseUrl, viewport: { width: 1280, height: 900 } });
    await context.addInitScript((t: string) => window.localStorage.setItem('hypersweep.token', t), token);
    await prepare(context);
    const other = await context.newPage();
    other.on('pageerror', (e) => problems.push(`pageerror (second context): ${e.message}`));
    return { page: other, close: () => context.close() };
  }

  it('shows a project admin (no server admin) its name and the projects read-only: no New project, Edit quotas or server admin box', async () => {
    const token = await projectAdminToken();
    const { page: other, close } = await pageAs(token);
    try {
      await other.goto('/access');
      const nlp = other.locator('[data-testid="project-row"][data-project="nlp"]');
      await nlp.waitFor();
      // Once /me has answered, what shows is final: the controls are absent, not loading.
      await other.getByTestId('signed-in-name').waitFor();
      expect(await other.getByTestId('access-page').getAttribute('data-caller')).toBe('known');
      expect(await other.getByTestId('signed-in-name').textContent()).toBe('nlp-admin');
      expect(await other.getByTestId('signed-in-as').textContent()).toContain('(nlp: admin, default: read)');
      expect(await other.getByTestId('project-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-project')))).toEqual(['default', 'nlp']);
      expect(await nlp.getByTestId('project-role').textContent()).toBe('admin');
      expect(await nlp.locator('td[data-quota="maxActiveSweeps"]').textContent()).toBe('0 / no limit');
      expect(await other.getByTestId('quotas-read-only').textContent()).toContain('A server admin creates projects and sets their quotas');
      expect(await other.getByTestId('edit-quotas').count()).toBe(0);
      expect(await other.getByRole('button', { name: /edit quotas/i }).count()).toBe(0);
      expect(await other.getByTestId('project-form').count()).toBe(0);
      expect(await other.getByText('New project').count()).toBe(0);
      const tokenForm = other.getByTestId('token-form');
      await tokenForm.waitFor();
      expect(await tokenForm.getByTestId('field-serverAdmin').count()).toBe(0);
      expect(await tokenForm.getByLabel('Server admin').count()).toBe(0);
      // A new token may get a role only where the caller is admin: nlp, not default.
      expect(await tokenForm.getByTestId('field-grants[0].project').locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual(['', 'nlp']);
      // It manages the tokens wholly in nlp (not its own, which reads default too).
      await other.getByTestId('token-row').first().waitFor();
      expect(await other.getByTestId('token-grants').allTextContents()).toEqual(['nlp: submit']);
      expect(await other.getByTestId('me-error').count()).toBe(0);
    } finally {
      await close();
    }
  });

  it('shows a token without an admin role no token management, only why', async () => {
    await projectAdminToken();
    const admin = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };
    const res = await fetch(`${baseUrl}/api/v1/tokens`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'nlp-submitter', grants: [{ project: 'nlp', role: 'submit' }] }) });
    expect(res.status).toBe(201);
    const { page: other, close } = await pageAs(((await res.json()) as { token: string }).token);
    try {
      await other.goto('/access');
      await other.getByTestId('signed-in-name').waitFor();
      expect(await other.getByTestId('signed-in-name').textContent()).toBe('nlp-submitter');
      expect(await other.getByTestId('tokens-not-managed').textContent()).toContain('no admin role');
      expect(await other.getByTestId('tokens-section').count()).toBe(0);
      expect(await other.getByTestId('token-form').count()).toBe(0);
    } finally {
      await close();
    }
  });

  it('shows every control when /me fails, with its error, and the API’s 403 where a project admin sets quotas or creates a project', async () => {
    const token = await projectAdminToken();
    let asked = 0;
    const { page: other, close } = await pageAs(token, (context) =>
      context.route('**/api/v1/me', (route) => {
        asked++;
        return route.fulfill({ status: 503, contentType: 'text/plain', body: 'upstream down' });
      }),
    );
    try {
      await other.goto('/access');
      const meError = other.getByTestId('me-error');
      await meError.waitFor();
      expect(await meError.getByTestId('error-banner').locator('p').textContent()).toBe('GET /api/v1/me answered HTTP 503: upstream down');
      // Asked on load (twice under StrictMode in the development build vitest makes, the first aborted), not again below.
      const askedOnLoad = asked;
      expect(askedOnLoad).toBeGreaterThanOrEqual(1);
      expect(await other.getByTestId('access-page').getAttribute('data-caller')).toBe('unknown');
      expect(await other.getByTestId('signed-in-as').count()).toBe(0);
      const tokenForm = other.getByTestId('token-form');
      expect(await tokenForm.getByTestId('field-serverAdmin').count()).toBe(1);

      // The controls show as before /me; the API refuses, and its 403 shows where the form is.
      const nlp = other.locator('[data-testid="project-row"][data-project="nlp"]');
      await nlp.getByTestId('edit-quotas').click();
      const quotaForm = other.getByTestId('quota-form');
      await quotaForm.getByTestId('field-quotas.maxActiveSweeps').fill('1');
      await quotaForm.getByTestId('quota-submit').click();
      const refusal = other.getByTestId('quota-form-errors');
      await refusal.waitFor();
      expect(await refusal.locator('p').textContent()).toBe('only a server admin token may do this');
      expect(await refusal.locator('[data-testid="form-error"][data-path="headers.authorization"]').textContent()).toBe('headers.authorization needs a server admin token');

      const projectForm = other.getByTestId('project-form');
      await projectForm.getByTestId('field-name').fill('mine');
      await projectForm.getByTestId('project-submit').click();
      await projectForm.getByTestId('project-form-errors').waitFor();
      expect(await projectForm.getByTestId('project-form-errors').locator('p').textContent()).toBe('only a server admin token may do this');
      expect((await api<{ quotas: { maxActiveSweeps: number | null } }>('/projects/nlp')).quotas.maxActiveSweeps).toBeNull();
      expect((await fetch(`${baseUrl}/api/v1/projects/mine`, { headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
      expect(asked).toBe(askedOnLoad);
    } finally {
      await close();
    }
  });

  it('says authentication is off when /me names no token (AUTH=none), and shows a server admin’s controls', async () => {
    // The mock always wants a token: /me is answered as the API answers it with AUTH=none.
    const authOff = WhoAmI.parse({ serverAdmin: true, token: null });
    const { page: other, close } = await pageAs(TOKEN, (context) => context.route('**/api/v1/me', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(authOff) })));
    try {
      await other.goto('/access');
      const signedIn = other.getByTestId('signed-in-as');
      await signedIn.waitFor();
      expect(await signedIn.textContent()).toBe('Authentication is off on this server: every request acts as a server admin.');
      expect(await other.getByTestId('signed-in-name').count()).toBe(0);
      await other.getByTestId('project-form').waitFor();
      expect(await other.getByTestId('token-form').getByTestId('field-serverAdmin').count()).toBe(1);
      expect(await other.getByTestId('quotas-read-only').count()).toBe(0);
    } finally {
      await close();
    }
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

  /** A token with the submit role in `grants` (projects created as needed by the server admin); resolves with its secret. */
  async function submitterToken(name: string, grants: readonly string[]): Promise<string> {
    const admin = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };
    const post = (path: string, body: unknown) => fetch(`${baseUrl}/api/v1${path}`, { method: 'POST', headers: admin, body: JSON.stringify(body) });
    for (const project of grants) {
      if ((await fetch(`${baseUrl}/api/v1/projects/${project}`, { headers: admin })).status === 404) expect((await post('/projects', { name: project })).status).toBe(201);
    }
    const res = await post('/tokens', { name, grants: grants.map((project) => ({ project, role: 'submit' })) });
    expect(res.status).toBe(201);
    return ((await res.json()) as { token: string }).token;
  }

  /** Submits the new-sweep form's first template as `name`, into `project` when given; resolves with the sweep's id. */
  async function submitSweep(on: Page, name: string, project?: string): Promise<string> {
    await on.goto('/sweeps/new');
    const select = on.getByTestId('field-project');
    await select.waitFor();
    if (project !== undefined) await select.selectOption(project);
    await on.getByTestId('field-name').fill(name);
    await on.getByTestId('submit-sweep').click();
    await on.waitForURL(/\/sweeps\/[0-9a-f-]{36}$/);
    return on.url().split('/').pop()!;
  }

  /** Two animation frames: whatever a response already received set in state is on screen. */
  const painted = (on: Page) => on.evaluate(() => new Promise<void>((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve()))));

  it('lets a token with two projects (neither default) submit a sweep into the one it chooses, lists it with its project and filters the list by project', async () => {
    const token = await submitterToken('vision-audio', ['vision', 'audio']);
    const { page: other, close } = await pageAs(token);
    try {
      await other.goto('/sweeps/new');
      const select = other.getByTestId('field-project');
      await select.waitFor();
      // Nothing remembered and no default: none is preselected.
      expect(await select.locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual(['', 'audio', 'vision']);
      expect(await select.inputValue()).toBe('');

      const visionId = await submitSweep(other, 'projects: in vision', 'vision');
      expect(await other.getByTestId('sweep-project').textContent()).toBe('project vision');
      const audioId = await submitSweep(other, 'projects: in audio', 'audio');
      expect(await other.getByTestId('sweep-project').textContent()).toBe('project audio');
      // As the API stored them.
      const byToken = { headers: { Authorization: `Bearer ${token}` } };
      expect(((await (await fetch(`${baseUrl}/api/v1/sweeps/${visionId}`, byToken)).json()) as Sweep).project).toBe('vision');
      // The next form starts on the project of the last submission.
      await other.goto('/sweeps/new');
      await expect.poll(() => other.getByTestId('field-project').inputValue()).toBe('audio');

      await other.goto('/');
      const visionRow = other.locator(`[data-testid="sweep-row"][data-sweep-id="${visionId}"]`);
      const audioRow = other.locator(`[data-testid="sweep-row"][data-sweep-id="${audioId}"]`);
      await visionRow.waitFor();
      await audioRow.waitFor();
      await visionRow.getByTestId('sweep-project').waitFor();
      expect(await visionRow.getByTestId('sweep-project').textContent()).toBe('vision');
      expect(await audioRow.getByTestId('sweep-project').textContent()).toBe('audio');
      // The token sees only its projects' sweeps: none of default's.
      expect(new Set(await other.getByTestId('sweep-project').allTextContents())).toEqual(new Set(['vision', 'audio']));

      const filter = other.getByTestId('sweeps-project-filter');
      expect(await filter.locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual(['', 'audio', 'vision']);
      await filter.selectOption('vision');
      await other.waitForURL(/\/\?project=vision$/);
      await audioRow.waitFor({ state: 'detached' });
      await visionRow.waitFor();
      expect(new Set(await other.getByTestId('sweep-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-project'))))).toEqual(new Set(['vision']));

      // The filter is the URL's: a reload keeps it; All clears it.
      await other.reload();
      await visionRow.waitFor();
      expect(await other.getByTestId('sweeps-project-filter').inputValue()).toBe('vision');
      expect(await audioRow.count()).toBe(0);
      await other.getByTestId('sweeps-project-filter').selectOption('');
      await audioRow.waitFor();
      expect(new URL(other.url()).search).toBe('');
    } finally {
      await close();
    }
  });

  it('keeps the forms from submitting until the projects are listed (a request naming none would land where the user did not pick)', async () => {
    const token = await submitterToken('vision-audio-3', ['vision', 'audio']);
    let answer: () => void = () => undefined;
    const listed = new Promise<void>((resolve) => (answer = resolve));
    const { page: other, close } = await pageAs(token, (context) =>
      context.route('**/api/v1/projects', async (route) => {
        await listed;
        // The first page's request may have been aborted by the navigation to the next.
        await route.continue().catch(() => undefined);
      }),
    );
    try {
      await other.goto('/sweeps/new');
      await other.getByTestId('submit-sweep').waitFor();
      expect(await other.getByTestId('submit-sweep').isDisabled()).toBe(true);
      await other.goto('/datasets');
      await other.getByTestId('idx-upload-submit').waitFor();
      expect(await other.getByTestId('idx-upload-submit').isDisabled()).toBe(true);
      expect(await other.getByTestId('csv-upload-submit').isDisabled()).toBe(true);
      answer();
      await other.getByTestId('field-project').first().waitFor();
      await expect.poll(() => other.getByTestId('idx-upload-submit').isDisabled()).toBe(false);
      expect(await other.getByTestId('csv-upload-submit').isDisabled()).toBe(false);
    } finally {
      answer();
      await close();
    }
  });

  it('shows at the select that a token with several projects must choose one, and the API’s 400 naming project there when the projects cannot be listed', async () => {
    const token = await submitterToken('vision-audio-2', ['vision', 'audio']);
    const { page: other, close } = await pageAs(token);
    try {
      await other.goto('/sweeps/new');
      await other.getByTestId('field-project').waitFor();
      await other.getByTestId('field-name').fill('projects: none chosen');
      await other.getByTestId('submit-sweep').click();
      const message = other.getByTestId('error-project');
      await message.waitFor();
      expect(await message.textContent()).toBe('choose the project it goes to');
      expect(await other.getByTestId('field-project').getAttribute('aria-invalid')).toBe('true');
      expect(new URL(other.url()).pathname).toBe('/sweeps/new');
      // Choosing one clears it.
      await other.getByTestId('field-project').selectOption('audio');
      await message.waitFor({ state: 'detached' });
    } finally {
      await close();
    }

    // GET /projects fails: the form works without the select, says why, and the API's refusal shows where the select would be.
    const failing = await pageAs(token, (context) => context.route('**/api/v1/projects', (route) => route.fulfill({ status: 503, contentType: 'text/plain', body: 'upstream down' })));
    try {
      const on = failing.page;
      await on.goto('/sweeps/new');
      await on.getByTestId('projects-error').waitFor();
      expect(await on.getByTestId('field-project').count()).toBe(0);
      await on.getByTestId('field-name').fill('projects: the API picks');
      await on.getByTestId('submit-sweep').click();
      const message = on.getByTestId('error-project');
      await message.waitFor();
      expect(await message.textContent()).toBe('is required for this token');
      expect(await on.getByTestId('form-errors').textContent()).toContain('The API refused the sweep: 1 problem.');
      expect(new URL(on.url()).pathname).toBe('/sweeps/new');
    } finally {
      await failing.close();
    }
  });

  it('shows a single-project user no project column or filter, and starts its forms on that project', async () => {
    const token = await submitterToken('speech-only', ['speech']);
    const { page: other, close } = await pageAs(token);
    try {
      const id = await submitSweep(other, 'projects: the only one');
      expect(await other.getByTestId('sweep-project').textContent()).toBe('project speech');
      const projectsListed = other.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/projects' && r.ok());
      await other.goto('/');
      await projectsListed;
      await other.locator(`[data-testid="sweep-row"][data-sweep-id="${id}"]`).waitFor();
      await painted(other);
      expect(await other.locator('[data-testid="sweeps-table"] thead th').allTextContents()).not.toContain('Project');
      expect(await other.getByTestId('sweep-project').count()).toBe(0);
      expect(await other.getByTestId('sweeps-project-filter').count()).toBe(0);

      // The datasets page starts its uploads on the same project; a CSV lands there.
      await other.goto('/datasets');
      const select = other.getByTestId('field-project');
      await select.waitFor();
      expect(await select.inputValue()).toBe('speech');
      const csv = other.getByTestId('csv-upload-form');
      await csv.getByTestId('field-name').fill('speech table');
      await csv.getByTestId('field-body').setInputFiles({ name: 't.csv', mimeType: 'text/csv', buffer: Buffer.from('a,b,label\n1,2,x\n3,4,y\n5,6,x\n') });
      await csv.getByTestId('field-labelColumn').fill('label');
      await csv.getByTestId('csv-upload-submit').click();
      await other.getByTestId('csv-upload-stored').waitFor();
      expect((await api<{ usage: { datasetBytes: number } }>('/projects/speech')).usage.datasetBytes).toBeGreaterThan(0);
    } finally {
      await close();
    }
  });
});
