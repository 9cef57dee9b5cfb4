// The engine runs in a browser: bundling it for the browser platform needs no Node built-in, and the
// bundle trains and predicts when evaluated without Node's module system.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const entry = fileURLToPath(new URL('../src/index.ts', import.meta.url));

describe('browser bundle', () => {
  it('bundles for the browser and runs inference on unshared memory', async () => {
    const result = await build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'iife', globalName: 'nn', write: false, logLevel: 'silent' });
    expect(result.errors).toEqual([]);
    const code = result.outputFiles[0]!.text;
    expect(code).not.toMatch(/require\(["']node:/);
    // Evaluate as a classic script would: no require, no process, no module.
    const run = new Function(`${code}; return nn;`) as () => typeof import('../src/index.ts');
    const nn = run();
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
});
