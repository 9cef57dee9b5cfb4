// An accepted sweep never hands a worker a model it cannot build. Generated CNN templates (kernel
// sizes, strides or dilations, pool sizes and strides, padding, all as parameters over generated
// int or quniform ranges) are checked at their corners when submitted; for every one accepted, a
// hundred random points inside its space must resolve to a valid model, and the refused ones are
// refused with a path inside the model or the space.
import { parseModelSpec, Rng } from '@hypersweep/nn';
import { createSampler, parseSpace, type Params } from '@hypersweep/search';
import { describe, expect, it } from 'vitest';
import { resolveTrialConfig } from './bindings.ts';
import { CreateSweepRequest } from './sweep.ts';

function generatedRequest(seed: number) {
  const rng = Rng.fromSeed(seed);
  const side = 2 + rng.int(20);
  // Mostly int ranges; a quarter quniform, whose step may be fractional (1.5 is no kernel size).
  const range = (low: number, width: number) => {
    const high = low + 1 + rng.int(width);
    return rng.float() < 0.75 ? { type: 'int', low, high } : { type: 'quniform', low, high, q: [0.5, 1, 2][rng.int(3)]! };
  };
  const padding = () => (rng.float() < 0.5 ? 'valid' : 'same');
  const dilated = rng.float() < 0.4;
  return {
    name: 'corners',
    dataset: { type: 'mnist', limitTrain: 100 },
    model: {
      inputShape: [28, 28],
      layers: [
        { type: 'reshape', targetShape: [28, 28, 1] },
        { type: 'conv2d', filters: 4, kernelSize: { $param: 'k1' }, ...(dilated ? { dilation: { $param: 's1' } } : { strides: { $param: 's1' } }), padding: padding() },
        { type: rng.float() < 0.5 ? 'max_pool2d' : 'avg_pool2d', poolSize: { $param: 'p1' }, strides: { $param: 'ps' }, padding: padding() },
        { type: 'conv2d', filters: 4, kernelSize: [{ $param: 'k2' }, { $param: 'k3' }], padding: padding() },
        { type: rng.float() < 0.5 ? 'flatten' : 'global_avg_pool2d' },
        { type: 'dense', units: 10 },
      ],
      loss: 'softmax_cross_entropy',
    },
    training: { epochs: 1, batchSize: 32, optimizer: { type: 'adam', learningRate: 1e-3 } },
    search: {
      space: { k1: range(1, side), s1: range(1, 3), p1: range(1, 6), ps: range(1, 3), k2: range(1, side), k3: range(1, side) },
      budget: { maxTrials: 10 },
    },
    objective: { metric: 'val_accuracy' },
  };
}

const SEEDS = Array.from({ length: 200 }, (_, i) => 4000 + i);

describe('generated templated sweeps', () => {
  it('accepted: every random point of the space resolves to a valid model; refused: a path in the model or the space', () => {
    let accepted = 0;
    for (const seed of SEEDS) {
      const parsed = CreateSweepRequest.safeParse(generatedRequest(seed));
      if (!parsed.success) {
        // A shape a corner cannot build (under model.layers), or a range the space refuses (under search.space).
        expect(parsed.error.issues[0]!.path.slice(0, 2).join('.'), JSON.stringify(parsed.error.issues[0])).toMatch(/^(model\.layers|search\.space)$/);
        continue;
      }
      accepted++;
      const sampler = createSampler(parseSpace(parsed.data.search.space), { type: 'random', seed });
      for (let n = 0; n < 100; n++) {
        const params = sampler.ask([], n)!.params as Params;
        const model = resolveTrialConfig(parsed.data, params).model;
        expect(() => parseModelSpec(model), `seed ${seed} at ${JSON.stringify(params)}`).not.toThrow();
      }
    }
    // Enough of each kind to mean something.
    expect(accepted).toBeGreaterThan(30);
    expect(accepted).toBeLessThan(SEEDS.length);
  });
});
