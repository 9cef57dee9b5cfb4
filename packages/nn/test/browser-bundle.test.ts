// The engine runs in a browser: bundling it for the browser platform needs no Node built-in, and the
// bundle trains and predicts when evaluated without Node's module system — an MLP, and a CNN loaded
// from its TensorFlow.js export as the dashboard's playground loads it.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { tfjsPredict } from './tfjs-harness.ts';

const entry = fileURLToPath(new URL('../src/index.ts', import.meta.url));

type Nn = typeof import('../src/index.ts');

describe('browser bundle', () => {
  let code = '';
  let nn: Nn;
  beforeAll(async () => {
    const result = await build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'iife', globalName: 'nn', write: false, logLevel: 'silent' });
    expect(result.errors).toEqual([]);
    code = result.outputFiles[0]!.text;
    // Evaluate as a classic script would: no require, no process, no module.
    nn = (new Function(`${code}; return nn;`) as () => Nn)();
  });

  it('bundles for the browser and runs inference on unshared memory', async () => {
    expect(code).not.toMatch(/require\(["']node:/);
    const model = nn.compileModel({ inputShape: [3], layers: [{ type: 'dense', units: 2 }], loss: 'softmax_cross_entropy' });
    const params = new Float32Array(model.paramCount);
    params.set([1, 0, 0, 1, 1, 1], model.params[0]!.offset); // kernel [3×2]
    const predictor = await nn.Predictor.create(model, params);
    const out = predictor.predict(new Float32Array([1, 2, 3]));
    // Logits [4, 5] of a cross-entropy model come back as probabilities.
    const e = Math.exp(-1);
    expect(out[0]).toBeCloseTo(e / (1 + e), 6);
    expect(out[1]).toBeCloseTo(1 / (1 + e), 6);
  });

  it('runs a CNN (reshape to 28×28×1, conv2d, batch_norm, pooling) from its TensorFlow.js export on raw pixels, as tfjs does', async () => {
    const model = nn.compileModel({
      inputShape: [28, 28],
      layers: [
        { type: 'reshape', targetShape: [28, 28, 1] },
        { type: 'conv2d', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' },
        { type: 'batch_norm' },
        { type: 'max_pool2d' },
        { type: 'conv2d', filters: 6, kernelSize: [3, 2], strides: 2, activation: 'elu' },
        { type: 'avg_pool2d' },
        { type: 'flatten' },
        { type: 'dense', units: 10 },
      ],
      loss: 'softmax_cross_entropy',
    });
    const params = new Float32Array(model.paramCount);
    nn.initializeParams(model, nn.Rng.fromSeed(11), params);
    const normalization = { kind: 'affine', scale: 1 / (255 * 0.3081), shift: -0.1307 / 0.3081 } as const;
    const exported = nn.exportTfjs(model, params, { normalization });
    // What the page does: model.json through JSON, weights.bin as bytes, raw 0–255 pixels in.
    const predictor = await nn.Predictor.fromTfjs(JSON.parse(JSON.stringify(exported.modelJson)), exported.weights.slice());
    expect([predictor.inputSize, predictor.outputSize]).toEqual([784, 10]);
    const rng = nn.Rng.fromSeed(12);
    const rows = 3;
    const pixels = Float32Array.from({ length: rows * 784 }, () => (rng.float() < 0.8 ? 0 : rng.int(256)));
    const ours = predictor.predictRaw(pixels, rows);
    const theirs = await tfjsPredict(exported, pixels, [28, 28]);
    expect(ours).toHaveLength(rows * 10);
    let maxDiff = 0;
    for (let i = 0; i < ours.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ours[i]! - theirs[i]!));
    expect(maxDiff).toBeLessThan(1e-5);
    for (let r = 0; r < rows; r++) expect(ours.subarray(r * 10, (r + 1) * 10).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    // Different rows give different outputs: the agreement is not that of a constant model.
    expect(Math.max(...ours.subarray(0, 10).map((p, k) => Math.abs(p - ours[10 + k]!)))).toBeGreaterThan(1e-3);
  });
});
