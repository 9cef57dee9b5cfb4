import { Predictor, Rng, compileModel, exportTfjs, initializeParams, type FeatureNormalization } from '@hypersweep/nn';
import { describe, expect, it } from 'vitest';
import { drawnPixels, inPage, viaApi } from './playground.ts';

/** A vertical stroke (a "1") on a 280×280 canvas's alpha channel. */
function one(): Uint8ClampedArray {
  const ink = new Uint8ClampedArray(280 * 280);
  for (let y = 60; y < 220; y++) for (let x = 130; x < 150; x++) ink[y * 280 + x] = 255;
  return ink;
}

const MNIST_LIKE: FeatureNormalization = { kind: 'affine', scale: 1 / (255 * 0.3081), shift: -0.1307 / 0.3081 };

async function mnistLikeModel() {
  const model = compileModel({ inputShape: [28, 28], layers: [{ type: 'flatten' }, { type: 'dense', units: 16, activation: 'relu' }, { type: 'dense', units: 10 }], loss: 'softmax_cross_entropy' });
  const params = new Float32Array(model.paramCount);
  initializeParams(model, Rng.fromSeed(3), params);
  const exported = exportTfjs(model, params, { normalization: MNIST_LIKE });
  return {
    // What the page loads: the API's export, through JSON.
    page: await Predictor.fromTfjs(JSON.parse(JSON.stringify(exported.modelJson)), exported.weights),
    // The model as trained, with the dataset's scaling beside it.
    reference: await Predictor.create(model, params, { normalization: MNIST_LIKE }),
  };
}

describe('playground path', () => {
  it('is null for a blank drawing and raw 0–255 pixels otherwise', () => {
    expect(drawnPixels(new Uint8ClampedArray(280 * 280), 280, 280)).toBeNull();
    const pixels = drawnPixels(one(), 280, 280)!;
    expect(pixels).toHaveLength(784);
    expect(Math.min(...pixels)).toBe(0);
    expect(Math.max(...pixels)).toBeGreaterThan(200);
    expect(Math.max(...pixels)).toBeLessThanOrEqual(255);
  });

  it('feeds the same raw pixels to the model in the page and to POST …/predict, and both answer what the trained model answers', async () => {
    const { page, reference } = await mnistLikeModel();
    const pixels = drawnPixels(one(), 280, 280)!;
    const sent: number[][][] = [];
    const api = viaApi(async (inputs) => {
      sent.push(inputs);
      // The API runs the same export on the raw values it receives.
      return { outputs: [Array.from(page.predictRaw(inputs.flat(), inputs.length))] };
    });
    const inBrowser = await inPage(page)(pixels);
    const onApi = await api(pixels);
    expect(sent).toEqual([[pixels]]);
    expect(onApi).toEqual(inBrowser);
    const expected = reference.predictRaw(pixels);
    inBrowser.forEach((p, i) => expect(Math.abs(p - expected[i]!)).toBeLessThan(1e-5));
    expect(inBrowser.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    // Pixels scaled to 0..1 are not what the model takes.
    const scaled = await inPage(page)(pixels.map((v) => v / 255));
    expect(Math.max(...scaled.map((p, i) => Math.abs(p - expected[i]!)))).toBeGreaterThan(1e-3);
  });

  it('reports an API answer without a row as an error', async () => {
    await expect(viaApi(async () => ({ outputs: [] }))([0, 1])).rejects.toThrow(/no prediction/);
  });
});
