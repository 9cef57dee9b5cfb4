// The Datasets page in a real headless Chromium against the API: an IDX upload from the form whose
// files do not agree is refused with the message by the file it names (and nothing is stored), then
// the same files put right are stored and listed.
import { gzipSync } from 'node:zlib';
import { encodeIdx } from '@hypersweep/datasets';
import { syntheticIdxImages } from '@hypersweep/datasets/testing';
import { DatasetList } from '@hypersweep/schemas';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeProblems, openBrowser, type BrowserSession } from '../lib/browser.ts';
import { Stack } from '../lib/stack.ts';

const train = syntheticIdxImages({ count: 30, height: 5, width: 5, numClasses: 3, seed: 1 });
const file = (name: string, bytes: Uint8Array) => ({ name, mimeType: 'application/octet-stream', buffer: Buffer.from(bytes) });

describe('Datasets page in Chromium', () => {
  let stack: Stack;
  let session: BrowserSession;
  let page: Page;

  beforeAll(async () => {
    stack = await Stack.start({ name: 'browser-datasets', workers: 0 });
    session = await openBrowser({ baseUrl: stack.url, token: stack.token });
    page = session.page;
  });

  afterAll(async () => {
    await session?.close();
    await stack?.close();
  });

  const uploads = async () => DatasetList.parse(await stack.json('/api/v1/datasets')).items.filter((d) => d.kind === 'idx');

  it('shows a refusal by the file it names, then stores and lists the upload', async () => {
    await page.goto('/datasets');
    await page.getByTestId('datasets-table').waitFor();
    // The IDX form's own fields (the CSV upload form has a name field too).
    const form = page.getByTestId('idx-upload-form');
    await form.getByTestId('field-name').fill('bands');
    await form.getByTestId('field-trainImages').setInputFiles(file('train-images-idx3-ubyte.gz', gzipSync(train.images)));
    await form.getByTestId('field-trainLabels').setInputFiles(file('train-labels-idx1-ubyte', encodeIdx([29], train.classes.subarray(0, 29))));
    await form.getByTestId('idx-upload-submit').click();
    const refusal = form.getByTestId('error-trainLabels');
    await refusal.waitFor();
    expect(await refusal.textContent()).toMatch(/^trainLabels: byte 4 \(dims\[0\]\): 29 labels for 30 images in trainImages/);
    expect(await uploads()).toEqual([]);
    await session.screenshot('datasets-refused');
    // Chromium logs the refused upload's 400 as a failed resource load: expected here.
    session.problems.splice(0);

    await form.getByTestId('field-trainLabels').setInputFiles(file('train-labels-idx1-ubyte', train.labels));
    await form.getByTestId('idx-upload-submit').click();
    const stored = page.getByTestId('idx-upload-stored');
    await stored.waitFor();
    expect(await stored.textContent()).toMatch(/Stored bands: \[5, 5\], 3 classes, 27 train \/ 3 test/);
    expect(await form.getByTestId('error-trainLabels').count()).toBe(0);
    const [dataset] = await uploads();
    expect(dataset).toMatchObject({ name: 'bands', featureShape: [5, 5], numClasses: 3 });
    await page.locator(`[data-testid="dataset-row"][data-dataset-id="${dataset!.id}"]`).waitFor();
    await session.screenshot('datasets-stored', page, { fullPage: true });
    expect(session.problems, describeProblems(session.problems)).toEqual([]);
  });
});
