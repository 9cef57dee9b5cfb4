// The model files in examples/: each compiles, and the Keras recipes have the parameter counts
// of Keras' own model.summary(), so they are the networks the README says they are.
import { readFileSync, readdirSync } from 'node:fs';
import { compileModel } from '@hypersweep/nn';
import { describe, expect, it } from 'vitest';

const dir = new URL('../examples/', import.meta.url);
const load = (name: string): unknown => JSON.parse(readFileSync(new URL(name, dir), 'utf8'));

describe('examples/', () => {
  it.each(readdirSync(dir).filter((f) => f.endsWith('.json')))('%s compiles', (name) => {
    expect(compileModel(load(name)).trainableCount).toBeGreaterThan(0);
  });

  it.each([
    // keras.io/examples/vision/mnist_convnet: conv 320 + conv 18,496 + dense 16,010.
    ['keras-mnist-convnet.json', 34_826],
    // keras-team/keras examples/mnist_mlp.py: 401,920 + 262,656 + 5,130.
    ['keras-mnist-mlp.json', 669_706],
  ])('%s has Keras’ %i parameters', (name, count) => {
    expect(compileModel(load(name)).trainableCount).toBe(count);
  });
});
