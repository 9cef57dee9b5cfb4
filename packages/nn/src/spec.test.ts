import { describe, expect, it } from 'vitest';
import { NnError } from './errors.ts';
import { compileModel } from './model.ts';
import { parseModelSpec, parseOptimizerSpec, parseScheduleSpec } from './spec.ts';

const mlp = {
  inputShape: [28, 28],
  layers: [
    { type: 'flatten' },
    { type: 'dense', units: 32, activation: 'relu' },
    { type: 'dropout', rate: 0.2 },
    { type: 'dense', units: 10 },
  ],
  loss: 'softmax_cross_entropy',
};

function specError(input: unknown): NnError {
  try {
    parseModelSpec(input);
  } catch (e) {
    expect(e).toBeInstanceOf(NnError);
    expect((e as NnError).code).toBe('INVALID_SPEC');
    return e as NnError;
  }
  throw new Error('expected the spec to be rejected');
}

describe('model spec', () => {
  it('accepts a valid MLP and fills defaults', () => {
    const spec = parseModelSpec(mlp);
    expect(spec.layers[3]).toEqual({ type: 'dense', units: 10, activation: 'linear', useBias: true });
  });

  it.each([
    [{ ...mlp, layers: [...mlp.layers.slice(0, 1), { type: 'dense', units: 0 }] }, 'layers[1].units'],
    [{ ...mlp, layers: [{ type: 'flatten' }, { type: 'dense', units: 'ten' }] }, 'layers[1].units'],
    [{ ...mlp, layers: [{ type: 'flatten' }, { type: 'dense', units: 4, activation: 'swish' }] }, 'layers[1].activation'],
    [{ ...mlp, layers: [{ type: 'flatten' }, { type: 'conv9d', units: 4 }] }, 'layers[1].type'],
    [{ ...mlp, layers: [{ type: 'flatten' }, { type: 'dropout', rate: 1 }, { type: 'dense', units: 2 }] }, 'layers[1].rate'],
    [{ ...mlp, layers: [{ type: 'flatten' }, { type: 'dense', units: 4, bogus: true }] }, 'layers[1]'],
    [{ ...mlp, layers: [{ type: 'dense', units: 10 }] }, 'layers[0]'],
    [{ ...mlp, layers: [{ type: 'flatten' }, { type: 'dense', units: 10, activation: 'softmax' }] }, 'layers[1].activation'],
    [{ ...mlp, layers: [{ type: 'flatten' }, { type: 'dense', units: 1 }] }, 'layers[1].units'],
    [{ ...mlp, layers: [{ type: 'flatten' }, { type: 'dense', units: 3, activation: 'relu', alpha: 0.1 }] }, 'layers[1].alpha'],
    [{ ...mlp, inputShape: [0] }, 'inputShape[0]'],
    [{ ...mlp, loss: 'hinge' }, 'loss'],
    [{ ...mlp, layers: [] }, 'layers'],
    [{ ...mlp, layers: [{ type: 'flatten' }, { type: 'dropout', rate: Number.NaN }, { type: 'dense', units: 2 }] }, 'layers[1].rate'],
  ])('rejects an invalid spec naming the field (%#)', (input, path) => {
    const e = specError(input);
    expect(e.message).toContain(`${path}`);
    const issues = (e.details as { issues: { path: string }[] }).issues;
    expect(issues.some((i) => i.path.startsWith(path))).toBe(true);
  });

  it('compiles parameter tensors with aligned offsets and names', () => {
    const m = compileModel(mlp);
    expect(m.inputSize).toBe(784);
    expect(m.outputSize).toBe(10);
    expect(m.params.map((p) => p.name)).toEqual(['dense_1/kernel', 'dense_1/bias', 'dense_2/kernel', 'dense_2/bias']);
    for (const p of m.params) expect(p.offset % 16).toBe(0);
    expect(m.trainableCount).toBe(784 * 32 + 32 + 32 * 10 + 10);
    // The first dense layer needs no input gradient; the second does.
    const dense = m.layers.filter((l) => l.type === 'dense');
    expect(dense.map((l) => l.needsInputGrad)).toEqual([false, true]);
    expect(m.gemmFlopsPerSample).toBe(2 * 784 * 32 * 2 + 2 * 32 * 10 * 3);
  });
});

describe('optimizer and schedule specs', () => {
  it('fills optimizer defaults', () => {
    expect(parseOptimizerSpec({ type: 'adamw' })).toMatchObject({ learningRate: 1e-3, weightDecay: 0.01 });
    expect(parseOptimizerSpec({ type: 'sgd', momentum: 0.9, nesterov: true })).toMatchObject({ momentum: 0.9, nesterov: true });
  });
  it.each([
    [{ type: 'adam', learningRate: -1 }, 'learningRate'],
    [{ type: 'sgd', momentum: 1.5 }, 'momentum'],
    [{ type: 'rmsprop', rho: 'x' }, 'rho'],
    [{ type: 'lamb' }, 'type'],
    [{ type: 'adam', learningRate: Infinity }, 'learningRate'],
  ])('rejects a bad optimizer naming the field (%#)', (input, field) => {
    expect(() => parseOptimizerSpec(input)).toThrow(field);
  });
  it('rejects a bad schedule naming the field', () => {
    expect(() => parseScheduleSpec({ type: 'step', stepEpochs: 0 })).toThrow('stepEpochs');
    expect(parseScheduleSpec(undefined)).toEqual({ type: 'constant', warmupEpochs: 0 });
  });
});
