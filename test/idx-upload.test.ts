// Issue 14, IDX upload: image datasets users bring (generated here as IDX files, gzip and not, 1 and 3
// channels) are uploaded through the CLI and REST, and sweeps train on them through the queue on a
// worker process; the best trial is tested on the upload's test set and its export takes raw pixels.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { syntheticIdxImages } from '@hypersweep/datasets/testing';
import { DatasetInfo, DatasetList, PredictResponse, Sweep, TrialModelExport, type CreateSweepRequestInput } from '@hypersweep/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allTrials } from './lib/sweeps.ts';
import { Stack, spawnTs } from './lib/stack.ts';

const files = mkdtempSync(join(tmpdir(), 'hypersweep-idx-'));
const gray = { train: syntheticIdxImages({ count: 240, height: 8, width: 8, numClasses: 4, seed: 1 }), test: syntheticIdxImages({ count: 40, height: 8, width: 8, numClasses: 4, seed: 2 }) };
const rgb = syntheticIdxImages({ count: 200, height: 4, width: 4, channels: 3, numClasses: 2, seed: 3 });

function sweep(name: string, id: string, inputShape: number[], classes: number, scaling: 'standardize' | 'unit' | 'none'): CreateSweepRequestInput {
  return {
    name,
    dataset: { type: 'idx', id, scaling, validationFraction: 0.2, seed: 5 },
    model: { inputShape, layers: [{ type: 'flatten' }, { type: 'dense', units: 16, activation: 'relu' }, { type: 'dense', units: classes }], loss: 'softmax_cross_entropy' },
    training: { epochs: 2, batchSize: 16, optimizer: { type: 'adam', learningRate: 0.01 } },
    search: { space: { learningRate: { type: 'loguniform', low: 5e-3, high: 2e-2 } }, budget: { maxTrials: 1 } },
    objective: { metric: 'val_accuracy' },
  };
}

describe('IDX uploads, end to end', () => {
  let stack: Stack;
  beforeAll(async () => {
    writeFileSync(join(files, 'train-images-idx3-ubyte.gz'), gzipSync(gray.train.images));
    writeFileSync(join(files, 'train-labels-idx1-ubyte.gz'), gzipSync(gray.train.labels));
    writeFileSync(join(files, 't10k-images-idx3-ubyte'), gray.test.images);
    writeFileSync(join(files, 't10k-labels-idx1-ubyte'), gray.test.labels);
    stack = await Stack.start({ name: 'idx-upload', workers: 1, threads: 1 });
  });
  afterAll(async () => {
    await stack?.close();
    rmSync(files, { recursive: true, force: true });
  });

  it('uploads through the CLI and REST, trains sweeps on both through the queue, tests and exports the best', async () => {
    const cli = { HYPERSWEEP_URL: stack.url, HYPERSWEEP_TOKEN: stack.token };
    const upload = spawnTs('idx-cli-upload', 'apps/cli/src/main.ts', cli, [
      'datasets', 'upload-idx', '--name', 'bands', '--json',
      '--train-images', join(files, 'train-images-idx3-ubyte.gz'), '--train-labels', join(files, 'train-labels-idx1-ubyte.gz'),
      '--test-images', join(files, 't10k-images-idx3-ubyte'), '--test-labels', join(files, 't10k-labels-idx1-ubyte'),
    ]);
    expect(await upload.exited, upload.output()).toBe(0);
    const bands = DatasetInfo.parse(JSON.parse(upload.output().slice(upload.output().indexOf('{'))));
    expect(bands).toMatchObject({ kind: 'idx', featureShape: [8, 8], numClasses: 4, sizes: { train: 240, test: 40 } });

    const form = new FormData();
    form.append('name', 'rgb');
    form.append('trainImages', new Blob([new Uint8Array(rgb.images)]), 'images');
    form.append('trainLabels', new Blob([gzipSync(rgb.labels)]), 'labels.gz');
    const res = await stack.request('/api/v1/datasets/idx', { method: 'POST', body: form });
    expect(res.status, await res.clone().text()).toBe(201);
    const colour = DatasetInfo.parse(await res.json());
    expect(colour).toMatchObject({ featureShape: [4, 4, 3], numClasses: 2, sizes: { train: 180, test: 20 } });

    const listed = spawnTs('idx-cli-list', 'apps/cli/src/main.ts', cli, ['datasets', 'list']);
    expect(await listed.exited).toBe(0);
    expect(listed.output()).toMatch(new RegExp(`${bands.id}\\s+bands\\s+idx\\s+\\[8, 8\\]\\s+4\\s+240\\s+40`));
    expect(DatasetList.parse(await stack.json('/api/v1/datasets')).items.map((d) => d.name)).toEqual(expect.arrayContaining(['bands', 'rgb']));

    const submitted = await Promise.all(
      [sweep('bands sweep', bands.id, [8, 8], 4, 'standardize'), sweep('rgb sweep', colour.id, [4, 4, 3], 2, 'unit')].map(async (spec) => {
        const r = await stack.request('/api/v1/sweeps', { method: 'POST', json: spec });
        expect(r.status, await r.clone().text()).toBe(201);
        return Sweep.parse(await r.json());
      }),
    );
    for (const [sweepId, testCount, classes] of [[submitted[0]!.id, 40, 4], [submitted[1]!.id, 20, 2]] as const) {
      const done = await stack.waitForSweep<Sweep>(sweepId, (s) => ['completed', 'failed', 'cancelled'].includes(s.status), 'the idx sweep to finish', 120_000);
      expect(done.status, JSON.stringify(await allTrials(stack, sweepId))).toBe('completed');
      const trials = await allTrials(stack, sweepId);
      expect(trials.map((t) => [t.status, t.epochsDone])).toEqual([['completed', 2]]);
      expect(trials[0]!.lastMetrics.val_accuracy).toBeGreaterThan(0.8);
      // Tested once on the upload's test set: its own files, or the hold-out drawn at upload.
      expect(done.testResult?.trialId).toBe(trials[0]!.id);
      expect(done.testResult?.metrics.test_accuracy).toBeGreaterThan(0.8);
      expect(done.testResult?.confusionMatrix).toHaveLength(classes);
      expect(done.testResult?.confusionMatrix?.flat().reduce((a, b) => a + b, 0)).toBe(testCount);
    }

    // The export takes raw pixels (0–255): the standardisation is inside the model.
    const best = `/api/v1/sweeps/${submitted[0]!.id}/trials/${(await allTrials(stack, submitted[0]!.id))[0]!.id}`;
    const exported = TrialModelExport.parse(await stack.json(`${best}/export`));
    expect(exported.modelJson.format).toBe('layers-model');
    const rows = Array.from({ length: 40 }, (_, i) => Array.from(gray.test.pixels.subarray(i * 64, (i + 1) * 64)));
    const predicted = PredictResponse.parse(await stack.json(`${best}/predict`, { method: 'POST', json: { inputs: rows } }));
    const right = predicted.classes!.filter((c, i) => c === gray.test.classes[i]).length;
    expect(right / 40).toBeGreaterThan(0.8);
  });
});
