// Tune anything: a TPE + ASHA sweep over MNIST whose space reaches into the spec through
// references — depth 1–3 with a width (int-log) and a dropout per layer, the cosine schedule's
// warm-up, Adam's beta2 and the input scaling — runs through the queue; every trial stores the
// spec its parameters say, conditional parameters exist exactly where their layers do, and the
// best trial's export loads in TensorFlow.js and predicts like the API on raw pixels.
import { parseIdx, readMnistFiles } from '@hypersweep/datasets';
import type { CreateSweepRequestInput, PredictResponse, Sweep, TrialDetail } from '@hypersweep/schemas';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allTrials, expectCompleteMetrics } from './lib/sweeps.ts';
import { Stack } from './lib/stack.ts';

/** GET …/export: the TensorFlow.js Layers model as JSON, weights in base64. */
interface ModelExport {
  modelJson: { modelTopology: object; weightsManifest: unknown[] };
  weightsBase64: string;
}

const width = { type: 'intlog', low: 16, high: 128 } as const;
const rate = { type: 'uniform', low: 0, high: 0.4 } as const;

function tunedMnistSweep(): CreateSweepRequestInput {
  // References are JSON the schema lifts into `template`; the input type does not spell them.
  const body: Record<string, unknown> = {
    name: 'mnist depth+widths',
    dataset: { type: 'mnist', limitTrain: 3000, limitTest: 500, scaling: { $param: 'scaling' } },
    model: {
      inputShape: [28, 28],
      loss: 'softmax_cross_entropy',
      layers: [
        { type: 'flatten' },
        {
          $repeat: {
            times: { $param: 'depth' },
            block: [
              { type: 'dense', units: { $param: 'units_{i}' }, activation: 'relu' },
              { type: 'dropout', rate: { $param: 'dropout_{i}' } },
            ],
          },
        },
        { type: 'dense', units: 10 },
      ],
    },
    training: {
      epochs: 3,
      batchSize: 64,
      optimizer: { type: 'adam', learningRate: 0.003, beta2: { $param: 'beta2' } },
      schedule: { type: 'cosine', warmupEpochs: { $param: 'warmup' } },
    },
    search: {
      space: {
        scaling: { type: 'categorical', choices: ['standardize', 'unit', 'none'] },
        beta2: { type: 'uniform', low: 0.99, high: 0.9999 },
        warmup: { type: 'int', low: 0, high: 1 },
        units_1: width,
        dropout_1: rate,
        depth: {
          type: 'categorical',
          choices: [
            { value: 1 },
            { value: 2, params: { units_2: width, dropout_2: rate } },
            { value: 3, params: { units_2: width, dropout_2: rate, units_3: width, dropout_3: rate } },
          ],
        },
      },
      sampler: { type: 'tpe', nStartupTrials: 4 },
      scheduler: { type: 'asha', minResource: 1, reductionFactor: 2 },
      budget: { maxTrials: 8, maxConcurrentTrials: 2 },
      seed: 5,
    },
    objective: { metric: 'val_accuracy' },
  };
  return body as unknown as CreateSweepRequestInput;
}

describe('search spaces that reach into the spec', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({ name: 'spaces', workers: 2, threads: 1 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('runs TPE + ASHA over depth, per-layer widths and dropouts, warm-up, beta2 and scaling; each trial trains what its parameters say', async () => {
    const res = await stack.request('/api/v1/sweeps', { method: 'POST', json: tunedMnistSweep() });
    expect(res.status, await res.clone().text()).toBe(201);
    const sweep = (await res.json()) as Sweep;
    expect(Object.keys(('template' in sweep.spec ? sweep.spec.template : undefined) ?? {}).sort()).toEqual(['dataset', 'model', 'training']);
    const done = await stack.waitForSweep<Sweep>(sweep.id, (s) => ['completed', 'failed', 'cancelled'].includes(s.status), 'the sweep to finish');
    expect(done.status, done.error ?? '').toBe('completed');
    const trials = await allTrials(stack, sweep.id);
    expect(trials).toHaveLength(8);
    await expectCompleteMetrics(stack.db, trials);
    for (const t of trials.filter((x) => x.status === 'stopped')) expect(t.reason).toMatch(/^asha stopped it/);

    const depths = new Set<number>();
    for (const t of trials) {
      const p = t.params as Record<string, number | string>;
      const depth = p['depth'] as number;
      depths.add(depth);
      // Conditional parameters exist exactly where their layers do.
      for (let l = 1; l <= 3; l++) {
        expect(`units_${l}` in p, `trial ${t.number} depth ${depth} units_${l}`).toBe(l <= depth);
        expect(`dropout_${l}` in p, `trial ${t.number} depth ${depth} dropout_${l}`).toBe(l <= depth);
      }
      // The stored spec is the one its parameters say.
      const detail = await stack.json<TrialDetail>(`/api/v1/sweeps/${sweep.id}/trials/${t.id}`);
      const resolved = detail.resolved!;
      expect(resolved, `trial ${t.number} has no resolved spec`).not.toBeNull();
      const dense = resolved.model.layers.filter((l) => l.type === 'dense');
      const dropout = resolved.model.layers.filter((l) => l.type === 'dropout');
      expect(dense.map((l) => l.units)).toEqual([...Array.from({ length: depth }, (_, i) => p[`units_${i + 1}`]), 10]);
      expect(dropout.map((l) => l.rate)).toEqual(Array.from({ length: depth }, (_, i) => p[`dropout_${i + 1}`]));
      expect(resolved.optimizer).toMatchObject({ type: 'adam', beta2: p['beta2'], learningRate: 0.003 });
      expect(resolved.schedule).toMatchObject({ type: 'cosine', warmupEpochs: p['warmup'] });
      expect(resolved.dataset).toMatchObject({ type: 'mnist', scaling: p['scaling'] });
      // What the worker trained: the checkpoint's model has the same layers.
      const ckpt = await stack.db.checkpoint.findFirst({ where: { trialId: t.id }, orderBy: { epoch: 'desc' } });
      expect(ckpt, `trial ${t.number} has no checkpoint`).not.toBeNull();
      const trained = (ckpt!.manifest as { model: { layers: unknown[] }; optimizer: unknown }).model.layers;
      expect(trained).toEqual(resolved.model.layers);
      expect((ckpt!.manifest as { optimizer: unknown }).optimizer).toMatchObject({ beta2: p['beta2'] });
    }
    expect(depths.size, `depths drawn: ${[...depths].join(', ')}`).toBeGreaterThan(1);

    // The best trial's export loads in TensorFlow.js and agrees with the API on raw pixels.
    expect(done.best).not.toBeNull();
    const exported = await stack.json<ModelExport>(`/api/v1/sweeps/${sweep.id}/trials/${done.best!.trialId}/export`);
    const weights = Buffer.from(exported.weightsBase64, 'base64');
    const manifest = exported.modelJson.weightsManifest as { weights: tf.io.WeightsManifestEntry[] }[];
    await tf.setBackend('cpu');
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: exported.modelJson.modelTopology, weightSpecs: manifest.flatMap((g) => g.weights), weightData: new Uint8Array(weights).buffer }),
    );
    const images = parseIdx((await readMnistFiles()).testImages);
    const n = 100;
    const pixels = Float32Array.from(images.data.subarray(0, n * 784) as Uint8Array);
    const tfOut = (await (model.predict(tf.tensor(pixels, [n, 28, 28])) as tf.Tensor).data()) as Float32Array;
    const rows = Array.from({ length: n }, (_, r) => Array.from(pixels.subarray(r * 784, (r + 1) * 784)));
    const predicted = await stack.json<PredictResponse>(`/api/v1/sweeps/${sweep.id}/trials/${done.best!.trialId}/predict`, { method: 'POST', json: { inputs: rows } });
    let agree = 0;
    let maxDiff = 0;
    for (let r = 0; r < n; r++) {
      const ours = predicted.outputs[r]!;
      const theirs = Array.from(tfOut.subarray(r * 10, (r + 1) * 10));
      if (theirs.indexOf(Math.max(...theirs)) === predicted.classes![r]) agree++;
      for (let k = 0; k < 10; k++) maxDiff = Math.max(maxDiff, Math.abs(ours[k]! - theirs[k]!));
    }
    expect(agree).toBe(n);
    expect(maxDiff).toBeLessThan(1e-4);
    model.dispose();
  });
});
