// Issue 15: a convolutional network end to end. A small MNIST CNN sweep (reshape → conv2d →
// max_pool2d → flatten → dense) runs through the API, the queue and a worker training on two
// threads; POST …/predict answers raw 0–255 pixels with probabilities equal to those of the
// engine's own Predictor on the trial's checkpoint, refuses a wrong input width naming the field,
// and the TensorFlow.js export names its Conv2D / MaxPooling2D layers and predicts the same in tfjs.
import { DatasetCache } from '@hypersweep/datasets';
import { Predictor, compileModel, decodeTensors, parseCheckpoint } from '@hypersweep/nn';
import type { ApiError, PredictResponse, Sweep, TrialDetail } from '@hypersweep/schemas';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allTrials, expectCompleteMetrics, mnistCnnSweep } from './lib/sweeps.ts';
import { Stack } from './lib/stack.ts';

/** GET …/export: the TensorFlow.js Layers model as JSON, weights in base64. */
interface ModelExport {
  modelJson: { modelTopology: { config: { layers: { class_name: string }[] } }; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] };
  weightsBase64: string;
}

const argmax = (row: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
};

describe('a CNN through the whole stack', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await Stack.start({ name: 'cnn', workers: 1, threads: 2 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('trains an MNIST CNN sweep; predict on raw pixels matches the engine on the checkpoint; the export has Conv2D and MaxPooling2D', async () => {
    const spec = mnistCnnSweep();
    const sweep = await stack.json<Sweep>('/api/v1/sweeps', { method: 'POST', json: spec });
    const done = await stack.waitForSweep<Sweep>(sweep.id, (s) => ['completed', 'failed', 'cancelled'].includes(s.status), 'the CNN sweep to finish', 120_000);
    expect(done.status, done.error ?? '').toBe('completed');
    const trials = await allTrials(stack, sweep.id);
    expect(trials.map((t) => t.status)).toEqual(['completed', 'completed']);
    await expectCompleteMetrics(stack.db, trials);
    expect(done.best).not.toBeNull();
    const base = `/api/v1/sweeps/${sweep.id}/trials/${done.best!.trialId}`;
    const detail = await stack.json<TrialDetail>(base);
    const resolved = detail.resolved!;
    expect(resolved.model.layers.map((l) => l.type)).toEqual(['reshape', 'conv2d', 'max_pool2d', 'flatten', 'dense']);

    // Raw test images (uint8 pixels, as in the IDX file) of the dataset the trial trained on; more
    // rows than the API's Predictor runs at once (64), so the last pass is a partial one.
    const ds = await new DatasetCache().get(resolved.dataset);
    const n = 100;
    const pixels = ds.test.features.subarray(0, n * 784);
    expect(pixels).toBeInstanceOf(Uint8Array);
    const rows = Array.from({ length: n }, (_, r) => Array.from(pixels.subarray(r * 784, (r + 1) * 784)));

    const res = await stack.request(`${base}/predict`, { method: 'POST', json: { inputs: rows } });
    expect(res.status, await res.clone().text()).toBe(200);
    const predicted = (await res.json()) as PredictResponse;
    expect(predicted.outputs).toHaveLength(n);
    for (const row of predicted.outputs) {
      expect(row).toHaveLength(10);
      for (const p of row) expect(p >= 0 && p <= 1, `probability ${p}`).toBe(true);
      expect(Math.abs(row.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-5);
    }
    expect(predicted.classes).toEqual(predicted.outputs.map(argmax));
    // It learned (chance is 0.1): agreeing with a constant model would prove little.
    const labels = ds.test.labels;
    const right = predicted.classes!.filter((c, r) => c === labels[r]).length;
    expect(right / n).toBeGreaterThan(0.5);

    // The engine's own Predictor on the trial's latest checkpoint (the model as trained, the
    // dataset's scaling beside it, passes of 7 rows) gives what the API gives through its export.
    const ckpt = await stack.db.checkpoint.findFirst({ where: { trialId: done.best!.trialId }, orderBy: { epoch: 'desc' } });
    expect(ckpt?.epoch).toBe(spec.training.epochs);
    const params = decodeTensors(parseCheckpoint(JSON.stringify(ckpt!.manifest), new Uint8Array(ckpt!.data))).get('params')!;
    const engine = await Predictor.create(compileModel(resolved.model), params, { normalization: ds.normalization, rows: 7 });
    const ours = engine.predictRaw(pixels, n);
    let maxDiff = 0;
    for (let r = 0; r < n; r++) {
      expect(predicted.classes![r], `row ${r}`).toBe(argmax(ours.subarray(r * 10, (r + 1) * 10)));
      for (let k = 0; k < 10; k++) maxDiff = Math.max(maxDiff, Math.abs(predicted.outputs[r]![k]! - ours[r * 10 + k]!));
    }
    expect(maxDiff).toBeLessThan(1e-5);

    // A row of the wrong width is a 400 that names it.
    const wrong = await stack.request(`${base}/predict`, { method: 'POST', json: { inputs: [rows[0]!.slice(0, 783)] } });
    expect(wrong.status).toBe(400);
    const error = ((await wrong.json()) as ApiError).error;
    expect(error.code).toBe('invalid_request');
    expect(error.message).toContain('784');
    expect(error.details).toEqual([expect.objectContaining({ path: 'inputs[0]', message: expect.stringContaining('783') })]);

    // The TensorFlow.js export: Conv2D and MaxPooling2D layers, and tfjs predicts what the API does.
    const exportRes = await stack.request(`${base}/export`);
    expect(exportRes.status).toBe(200);
    expect(exportRes.headers.get('x-checkpoint-epoch')).toBe(String(ckpt!.epoch));
    const exported = (await exportRes.json()) as ModelExport;
    const classes = exported.modelJson.modelTopology.config.layers.map((l) => l.class_name);
    expect(classes).toContain('Conv2D');
    expect(classes).toContain('MaxPooling2D');
    expect(classes.indexOf('Conv2D')).toBeLessThan(classes.indexOf('MaxPooling2D'));
    await tf.setBackend('cpu');
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: exported.modelJson.modelTopology,
        weightSpecs: exported.modelJson.weightsManifest.flatMap((g) => g.weights),
        weightData: new Uint8Array(Buffer.from(exported.weightsBase64, 'base64')).buffer,
      }),
    );
    const input = tf.tensor(Float32Array.from(pixels), [n, 28, 28]);
    const output = model.predict(input) as tf.Tensor;
    const theirs = (await output.data()) as Float32Array;
    let tfDiff = 0;
    for (let i = 0; i < n * 10; i++) tfDiff = Math.max(tfDiff, Math.abs(theirs[i]! - predicted.outputs[Math.floor(i / 10)]![i % 10]!));
    expect(tfDiff).toBeLessThan(1e-4);
    tf.dispose([input, output]);
    model.dispose();
  });
});
