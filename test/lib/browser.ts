// A headless Chromium for browser tests and the dashboard benchmark: Debian's chromium driven by
// playwright-core (never `playwright install`), one context per viewport, every console error and
// page error collected (a test fails on any), screenshots under test-artifacts/screenshots/.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ARTIFACTS } from './stack.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];
export const SCREENSHOTS = join(ARTIFACTS, 'screenshots');
export const DESKTOP = { width: 1280, height: 800 } as const;
export const NARROW = { width: 390, height: 844 } as const;

export interface PageProblem {
  readonly kind: 'console' | 'pageerror';
  readonly text: string;
  readonly url: string;
}

export interface BrowserSession {
  readonly browser: Browser;
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console errors and uncaught page errors seen so far, across every page of the context. */
  readonly problems: PageProblem[];
  /** Opens another context (e.g. a narrow viewport) sharing the browser and the problem list. */
  newPage(viewport: { width: number; height: number }, options?: { token?: string }): Promise<Page>;
  /** Writes test-artifacts/screenshots/<name>.png; returns the path. */
  screenshot(name: string, page?: Page, options?: { fullPage?: boolean }): Promise<string>;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/** Records console errors and page errors of `page` into `problems`. */
export function watchProblems(page: Page, problems: PageProblem[]): void {
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push({ kind: 'console', text: msg.text(), url: page.url() });
  });
  page.on('pageerror', (err) => problems.push({ kind: 'pageerror', text: `${err.name}: ${err.message}`, url: page.url() }));
}

/**
 * A browser with one page at `viewport`. With `token` and `baseUrl`, the token is put in
 * localStorage before any page script runs, so pages open signed in (the login test signs in
 * through the form instead).
 */
export async function openBrowser(options: { viewport?: { width: number; height: number }; baseUrl?: string; token?: string } = {}): Promise<BrowserSession> {
  const browser = await launchChromium();
  const problems: PageProblem[] = [];
  const contexts: BrowserContext[] = [];
  async function newContext(viewport: { width: number; height: number }, token = options.token): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport, deviceScaleFactor: 1, acceptDownloads: true, ...(options.baseUrl ? { baseURL: options.baseUrl } : {}) });
    if (token) {
      await context.addInitScript((t: string) => {
        if (!window.localStorage.getItem('hypersweep.token')) window.localStorage.setItem('hypersweep.token', t);
      }, token);
    }
    contexts.push(context);
    const page = await context.newPage();
    watchProblems(page, problems);
    return { context, page };
  }
  const { context, page } = await newContext(options.viewport ?? DESKTOP);
  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    browser,
    context,
    page,
    problems,
    newPage: async (viewport, extra = {}) => (await newContext(viewport, extra.token ?? options.token)).page,
    async screenshot(name, target = page, shot = {}) {
      const path = join(SCREENSHOTS, `${name}.png`);
      await target.screenshot({ path, fullPage: shot.fullPage ?? false, animations: 'disabled' });
      return path;
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => undefined);
      await browser.close();
    },
  };
}

/** Formats the collected problems for an assertion message. */
export function describeProblems(problems: readonly PageProblem[]): string {
  return problems.map((p) => `${p.kind} on ${p.url}: ${p.text}`).join('\n');
}
