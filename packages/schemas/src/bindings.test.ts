import { createSampler, parseSpace } from '@hypersweep/search';
import { describe, expect, it } from 'vitest';
import { BOUND_PARAMS, resolveTrialConfig } from './bindings.ts';
import { SchemaError } from './errors.ts';
import { mnistTpeAshaSweep } from './fixtures.ts';
import { CreateSweepRequest, samplerConfigFor } from './sweep.ts';

const request = () => CreateSweepRequest.parse(mnistTpeAshaSweep());

function failure(fn: () => unknown): SchemaError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SchemaError) return err;
    throw err;
  }
  throw new Error('did not throw');
}

describe('resolveTrialConfig', () => {
  it('applies sgd with its conditional momentum, learning rate, batch size, dropout and activation', () => {
    const c = resolveTrialConfig(request(), { learningRate: 0.05, batchSize: 128, dropout: 0.3, activation: 'tanh', optimizer: 'sgd', momentum: 0.9 });
    expect(c.optimizer).toEqual({ type: 'sgd', learningRate: 0.05, momentum: 0.9, nesterov: false, weightDecay: 0, decayBiases: false });
    expect(c.batchSize).toBe(128);
    expect(c.model.layers[1]).toMatchObject({ type: 'dense', units: 64, activation: 'tanh' });
    expect(c.model.layers[2]).toEqual({ type: 'dropout', rate: 0.3 });
    // The output layer is not hidden: its activation stays linear (logits for cross-entropy).
    expect(c.model.layers[3]).toMatchObject({ type: 'dense', units: 10, activation: 'linear' });
    // Microbatches not set: the default of the trial's batch size (128 → 4).
    expect(c).toMatchObject({ epochs: 9, microbatches: 4, dataset: { type: 'mnist' }, objective: { metric: 'val_accuracy' } });
  });

  it('keeps the base optimizer fields when the type stays, and uses the defaults of a new type', () => {
    const base = mnistTpeAshaSweep();
    base.training = { ...base.training!, optimizer: { type: 'adam', learningRate: 0.002, beta2: 0.99 } };
    const req = CreateSweepRequest.parse(base);
    expect(resolveTrialConfig(req, { optimizer: 'adam', learningRate: 0.01 }).optimizer).toMatchObject({ type: 'adam', learningRate: 0.01, beta2: 0.99 });
    expect(resolveTrialConfig(req, { optimizer: 'rmsprop' }).optimizer).toEqual({
      type: 'rmsprop', learningRate: 1e-3, rho: 0.9, epsilon: 1e-7, epsilonPlacement: 'inside_sqrt', centered: false, momentum: 0, weightDecay: 0, decayBiases: false,
    });
  });

  it('without parameters returns the request as written', () => {
    const req = request();
    const c = resolveTrialConfig(req, {});
    expect(c.model).toEqual(req.model);
    expect(c.optimizer).toEqual(req.training.optimizer);
    expect(c.batchSize).toBe(64);
  });

  it('sets the units of every hidden dense layer and drops alpha when the activation no longer takes it', () => {
    const base = mnistTpeAshaSweep();
    base.model = {
      inputShape: [4],
      layers: [
        { type: 'dense', units: 8, activation: 'leaky_relu', alpha: 0.2 },
        { type: 'dense', units: 8, activation: 'relu' },
        { type: 'dense', units: 3 },
      ],
      loss: 'softmax_cross_entropy',
    };
    base.search!.space = { hidden: { type: 'int', low: 4, high: 32 }, activation: { type: 'categorical', choices: ['relu', 'elu'] } };
    const req = CreateSweepRequest.parse(base);
    const relu = resolveTrialConfig(req, { hidden: 16, activation: 'relu' });
    expect(relu.model.layers.map((l) => (l.type === 'dense' ? l.units : 0))).toEqual([16, 16, 3]);
    expect(relu.model.layers[0]).not.toHaveProperty('alpha');
    const elu = resolveTrialConfig(req, { hidden: 16, activation: 'elu' });
    expect(elu.model.layers[0]).toMatchObject({ activation: 'elu', alpha: 0.2 });
  });

  it('resolves every configuration the sweep\'s own sampler proposes', () => {
    const req = request();
    const sampler = createSampler(parseSpace(req.search.space), samplerConfigFor(req));
    for (let n = 0; n < 50; n++) {
      const s = sampler.ask([], n)!;
      const c = resolveTrialConfig(req, s.params);
      expect(c.optimizer.type).toBe(s.params['optimizer']);
      if (c.optimizer.type === 'sgd') expect(c.optimizer.momentum).toBe(s.params['momentum']);
    }
  });

  it.each([
    ['an unknown name', { lr: 0.1 }, 'params.lr'],
    ['a learning rate of 0', { learningRate: 0 }, 'params.learningRate'],
    ['a string batch size', { batchSize: '64' }, 'params.batchSize'],
    ['a fractional batch size', { batchSize: 12.5 }, 'params.batchSize'],
    ['an unknown activation', { activation: 'swish' }, 'params.activation'],
    ['an unknown optimizer', { optimizer: 'lion' }, 'params.optimizer'],
    ['momentum with adam', { optimizer: 'adam', momentum: 0.9 }, 'params.momentum'],
    ['a dropout rate of 1', { dropout: 1 }, 'params.dropout'],
  ] as const)('refuses %s', (_what, params, path) => {
    const err = failure(() => resolveTrialConfig(request(), params));
    expect(err.code).toBe('INVALID_TRIAL_PARAMS');
    expect(err.details.map((d) => d.path)).toContain(path);
  });

  it('refuses a batch size below microbatches the spec fixes', () => {
    const req = request();
    const fixed = { ...req, training: { ...req.training, microbatches: 2 } };
    expect(failure(() => resolveTrialConfig(fixed, { batchSize: 1 })).details.map((d) => d.path)).toContain('params.batchSize');
    // Left to the default, a batch of 1 trains in 1 microbatch.
    expect(resolveTrialConfig(req, { batchSize: 1 }).microbatches).toBe(1);
  });

  it('documents exactly the conventional names', () => {
    expect(BOUND_PARAMS).toEqual(['learningRate', 'optimizer', 'momentum', 'weightDecay', 'batchSize', 'dropout', 'activation', 'hidden']);
  });
});
