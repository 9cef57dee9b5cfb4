import { describe, expect, it } from 'vitest';
import { NnError } from './errors.ts';
import { compileModel } from './model.ts';
import { axisWindow } from './geometry.ts';
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

describe('spatial layers (channels-last)', () => {
  const cnn = {
    inputShape: [9, 7, 3],
    layers: [
      { type: 'conv2d', filters: 4, kernelSize: [3, 2], padding: 'same', activation: 'relu' },
      { type: 'max_pool2d' },
      { type: 'conv2d', filters: 2, kernelSize: 2, dilation: 2 },
      { type: 'flatten' },
      { type: 'dense', units: 3 },
    ],
    loss: 'softmax_cross_entropy',
  };

  it('accepts a CNN and fills tfjs defaults', () => {
    const spec = parseModelSpec(cnn);
    expect(spec.layers[0]).toEqual({ type: 'conv2d', filters: 4, kernelSize: [3, 2], strides: 1, padding: 'same', dilation: 1, activation: 'relu', useBias: true });
    expect(spec.layers[1]).toEqual({ type: 'max_pool2d', poolSize: 2, padding: 'valid' });
  });

  it('follows tfjs window arithmetic, even kernels with same padding included', () => {
    expect(axisWindow(5, 2, 1, 1, 'same')).toEqual({ out: 5, padBefore: 0 });
    expect(axisWindow(7, 4, 2, 1, 'same')).toEqual({ out: 4, padBefore: 1 });
    expect(axisWindow(7, 3, 2, 1, 'valid')).toEqual({ out: 3, padBefore: 0 });
    expect(axisWindow(9, 3, 1, 2, 'valid')).toEqual({ out: 5, padBefore: 0 });
    expect(axisWindow(6, 3, 1, 2, 'same')).toEqual({ out: 6, padBefore: 2 });
  });

  const withLayers = (layers: object[], inputShape = [9, 7, 3]) => ({ inputShape, layers: [...layers, { type: 'flatten' }, { type: 'dense', units: 3 }], loss: 'softmax_cross_entropy' });
  it.each([
    ['a kernel larger than the input with valid padding', withLayers([{ type: 'conv2d', filters: 2, kernelSize: [3, 8] }]), 'layers[0].kernelSize', 'larger than the input 9×7'],
    ['a dilated kernel larger than the input', withLayers([{ type: 'conv2d', filters: 2, kernelSize: 4, dilation: 3 }]), 'layers[0].kernelSize', 'dilated to 10×10'],
    ['a pool larger than its input', withLayers([{ type: 'conv2d', filters: 2, kernelSize: 5 }, { type: 'avg_pool2d', poolSize: 4 }]), 'layers[1].poolSize', 'larger than the input 5×3'],
    ['zero strides', withLayers([{ type: 'conv2d', filters: 2, kernelSize: 2, strides: 0 }]), 'layers[0].strides', ''],
    ['negative dilation', withLayers([{ type: 'conv2d', filters: 2, kernelSize: 2, dilation: [1, -1] }]), 'layers[0].dilation[1]', ''],
    ['zero pool strides', withLayers([{ type: 'max_pool2d', strides: [0, 1] }]), 'layers[0].strides[0]', ''],
    ['strides and dilation both above 1', withLayers([{ type: 'conv2d', filters: 2, kernelSize: 2, strides: 2, dilation: 2 }]), 'layers[0].dilation', 'cannot both'],
    ['a pool over a dense output', { inputShape: [9, 7, 3], layers: [{ type: 'flatten' }, { type: 'dense', units: 8 }, { type: 'max_pool2d' }, { type: 'dense', units: 3 }], loss: 'softmax_cross_entropy' }, 'layers[2]', 'flat shape [8]'],
    ['a conv over a rank-2 input', withLayers([{ type: 'conv2d', filters: 2, kernelSize: 2 }], [9, 7]), 'layers[0]', 'add {"type":"reshape"'],
    ['a global pool over a flat input', withLayers([{ type: 'flatten' }, { type: 'global_avg_pool2d' }]), 'layers[1]', 'flat shape [189]'],
    ['a reshape of another size', withLayers([{ type: 'reshape', targetShape: [9, 7, 2] }]), 'layers[0].targetShape', 'holds 126 values'],
    ['batch norm over a rank-2 input', withLayers([{ type: 'batch_norm' }], [9, 7]), 'layers[0]', 'not shape [9, 7]'],
    ['batch norm over a rank-4 reshape', withLayers([{ type: 'reshape', targetShape: [9, 7, 3, 1] }, { type: 'batch_norm' }]), 'layers[1]', 'not shape [9, 7, 3, 1]'],
    ['batch norm with momentum 1', withLayers([{ type: 'batch_norm', momentum: 1 }]), 'layers[0].momentum', 'must be in [0, 1)'],
    ['batch norm with epsilon 0', withLayers([{ type: 'batch_norm', epsilon: 0 }]), 'layers[0].epsilon', 'must be in [1e-9, 1]'],
    ['batch norm with a string center', withLayers([{ type: 'batch_norm', center: 'yes' }]), 'layers[0].center', ''],
  ])('refuses %s, naming the layer and field', (_what, spec, path, text) => {
    const e = specError(spec);
    const issues = (e.details as { issues: { path: string; message: string }[] }).issues;
    expect(issues.map((i) => i.path)).toContain(path);
    expect(issues.find((i) => i.path === path)?.message).toContain(text);
  });

  it('compiles HWIO kernels, FLOPs and the conv kernel scratch', () => {
    const m = compileModel(cnn);
    expect(m.params.map((p) => [p.name, p.shape])).toEqual([
      ['conv2d_1/kernel', [3, 2, 3, 4]],
      ['conv2d_1/bias', [4]],
      ['conv2d_2/kernel', [2, 2, 4, 2]],
      ['conv2d_2/bias', [2]],
      ['dense_1/kernel', [4, 3]],
      ['dense_1/bias', [3]],
    ]);
    // 9×7×4 (same) → pool 2: 4×3×4 → kernel 2 dilated to 3, valid: 2×1×2.
    const conv1 = m.layers[0];
    expect(conv1?.type === 'conv2d' && conv1.geometry).toMatchObject({ outH: 9, outW: 7, padTop: 1, padLeft: 0 });
    expect(m.layers.map((l) => ('outDim' in l ? l.outDim : l.dim))).toEqual([9 * 7 * 4, 4 * 3 * 4, 2 * 1 * 2, 4, 3]);
    // conv1: 2·63·(3·2·3)·4 × 2 (no input gradient); conv2: 2·2·(2·2·4)·2 × 3; dense: 2·4·3 × 3.
    expect(m.gemmFlopsPerSample).toBe(2 * 63 * 18 * 4 * 2 + 2 * 2 * 16 * 2 * 3 + 2 * 4 * 3 * 3);
    // conv1's: tap table (3·2·3) + origins (9·7) + padded example (9 + 2 rows × 7 + 1 columns × 3) + Wᵀ (4 × 18).
    expect(m.convScratchFloats).toBe(18 + 63 + 11 * 8 * 3 + 4 * 18);
    // Per layer: conv1's GEMMs; the pool visits 4·3·4 outputs × 2·2 cells, forward and backward.
    expect(m.layers.map((l) => ('flopsPerSample' in l ? l.flopsPerSample : null))).toEqual([2 * 63 * 18 * 4 * 2, 48 * 4 * 2, 2 * 2 * 16 * 2 * 3, null, null]);
  });

  it('batch norm: Keras defaults, tfjs names and order, moving statistics not trained', () => {
    const m = compileModel({ inputShape: [6, 5, 2], layers: [{ type: 'conv2d', filters: 3, kernelSize: 2 }, { type: 'batch_norm' }, { type: 'flatten' }, { type: 'dense', units: 4 }, { type: 'batch_norm', center: false }, { type: 'dense', units: 2 }], loss: 'mse' });
    const bn = m.layers[1];
    expect(bn).toMatchObject({ type: 'batch_norm', momentum: 0.99, epsilon: 1e-3, channels: 3, positions: 20, dim: 60 });
    expect(m.params.filter((p) => p.name.startsWith('batch')).map((p) => [p.name, p.shape, p.trainable, p.decay, p.init])).toEqual([
      ['batch_normalization_1/gamma', [3], true, false, 'ones'],
      ['batch_normalization_1/beta', [3], true, false, 'zeros'],
      ['batch_normalization_1/moving_mean', [3], false, false, 'zeros'],
      ['batch_normalization_1/moving_variance', [3], false, false, 'ones'],
      ['batch_normalization_2/gamma', [4], true, false, 'ones'],
      ['batch_normalization_2/moving_mean', [4], false, false, 'zeros'],
      ['batch_normalization_2/moving_variance', [4], false, false, 'ones'],
    ]);
    // trainableCount leaves the moving statistics out: 2·2·2·3 + 3, 3 + 3, 60·4 + 4, 4, 4·2 + 2.
    expect(m.trainableCount).toBe(27 + 6 + 244 + 4 + 10);
  });

  it('refuses a softmax activation layer over a spatial input', () => {
    const e = specError(withLayers([{ type: 'activation', activation: 'softmax' }]));
    expect(e.message).toContain('layers[0].activation: a softmax activation layer needs a flat input');
  });

  it('reshape makes a flat or rank-2 input spatial', () => {
    expect(() => parseModelSpec({ inputShape: [12], layers: [{ type: 'reshape', targetShape: [4, 3, 1] }, { type: 'conv2d', filters: 2, kernelSize: 2 }, { type: 'global_avg_pool2d' }, { type: 'dense', units: 2 }], loss: 'mse' })).not.toThrow();
  });
});
