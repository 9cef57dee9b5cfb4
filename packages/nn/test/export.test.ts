// The TensorFlow.js export loads in TensorFlow.js and predicts what our engine predicts.
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { NnError } from '../src/errors.ts';
import { Predictor } from '../src/inference.ts';
import { exportTfjs, importTfjs } from '../src/tfjs.ts';
import { fit } from '../src/train.ts';
import { compileModel } from '../src/model.ts';
import { Rng } from '../src/rng.ts';
import { quadrants, randomFill, relError } from './harness.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

async function loadInTfjs(modelJson: object, weights: Uint8Array): Promise<tf.LayersModel> {
  const mj = modelJson as { modelTopology: object; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] };
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: mj.modelTopology,
      weightSpecs: mj.weightsManifest[0]!.weights,
      weightData: weights.slice().buffer,
    }),
  );
}

describe('TensorFlow.js export', () => {
  it.each([
    ['relu + dropout', [{ type: 'dense', units: 20, activation: 'relu' }, { type: 'dropout', rate: 0.2 }]],
    ['gelu, leaky_relu, elu, sigmoid, tanh', [
      { type: 'dense', units: 12, activation: 'gelu' },
      { type: 'dense', units: 12, activation: 'leaky_relu', alpha: 0.2 },
      { type: 'dense', units: 12, activation: 'elu' },
      { type: 'dense', units: 12, activation: 'sigmoid' },
      { type: 'activation', activation: 'tanh' },
    ]],
  ])('a trained model (%s) predicts the same probabilities in tfjs within 1e-5', async (_n, hidden) => {
    const ds = quadrants({ count: 200, side: 6, seed: 4 });
    const r = await fit({
      model: { inputShape: [6, 6], layers: [{ type: 'flatten' }, ...hidden, { type: 'dense', units: 4 }], loss: 'softmax_cross_entropy' },
      optimizer: { type: 'adam', learningRate: 0.01 },
      dataset: ds,
      epochs: 2,
      batchSize: 20,
      seed: 1,
    });
    const out = exportTfjs(r.session.model, r.session.paramsView().slice(), { normalization: ds.normalization });
    const json = JSON.parse(JSON.stringify(out.modelJson)) as object;
    const tfModel = await loadInTfjs(json, out.weights);

    const rows = 17;
    const x = new Float32Array(rows * 36);
    randomFill(x, Rng.fromSeed(3), 2);
    const expected = (await (tfModel.predict(tf.tensor3d(x, [rows, 6, 6])) as tf.Tensor).data()) as Float32Array;
    const predictor = await Predictor.fromTfjs(json, out.weights);
    const ours = predictor.predict(x, rows);
    expect(ours.length).toBe(rows * 4);
    expect(relError(ours, expected)).toBeLessThan(1e-5);
    // Probabilities: every row sums to 1.
    for (let i = 0; i < rows; i++) expect(ours.subarray(i * 4, i * 4 + 4).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    // Raw pixels go through the stored normalisation.
    const raw = new Uint8Array(36).map((_, i) => (i * 7) % 256);
    const viaRaw = predictor.predictRaw(raw);
    const manual = predictor.predict(Float32Array.from(raw, (v) => v * (1 / 80) - 1));
    expect(Array.from(viaRaw)).toEqual(Array.from(manual));
    tfModel.dispose();
  });

  it('refuses a model TensorFlow.js cannot load', () => {
    const model = compileModel({ inputShape: [2], layers: [{ type: 'dense', units: 3, activation: 'elu', alpha: 0.5 }, { type: 'dense', units: 2 }], loss: 'softmax_cross_entropy' });
    expect(() => exportTfjs(model, new Float32Array(model.paramCount))).toThrow(/alpha 0.5 cannot be loaded by TensorFlow.js/);
  });

  it('refuses malformed exports with a clear error', () => {
    const model = { format: 'layers-model', modelTopology: { class_name: 'Functional', config: { layers: [] } } };
    expect(() => importTfjs(model, new Uint8Array())).toThrow(/only Sequential/);
    expect(() => importTfjs(null, new Uint8Array())).toThrow(NnError);
    const ok = {
      format: 'layers-model',
      modelTopology: { class_name: 'Sequential', config: { layers: [{ class_name: 'Dense', config: { units: 2, batch_input_shape: [null, 3] } }] } },
      weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'k', shape: [3, 2], dtype: 'float32' }, { name: 'b', shape: [2], dtype: 'float32' }] }],
    };
    expect(() => importTfjs(ok, new Uint8Array(8))).toThrow(/too few/);
    expect(importTfjs(ok, new Uint8Array(32)).params.length).toBeGreaterThanOrEqual(8);
    const conv = structuredClone(ok);
    conv.modelTopology.config.layers[0]!.class_name = 'Conv2D';
    expect(() => importTfjs(conv, new Uint8Array(32))).toThrow(/unsupported class Conv2D/);
  });
});
