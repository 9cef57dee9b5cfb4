// Finite-difference gradient checks in float64: the real Replica (forward, loss, backward) runs on
// the reference kernels over a Float64Array, so every layer, activation and loss is checked
// against central differences with a tight tolerance.
import { describe, expect, it } from 'vitest';
import * as R from '../src/kernels/reference.ts';
import type { ElementwiseActivation, Kernels, Ptr } from '../src/kernels/types.ts';
import { paddedExtent, type WindowGeometry } from '../src/geometry.ts';
import { Arena, planActivations, planParameters } from '../src/memory.ts';
import { compileModel } from '../src/model.ts';
import { Replica } from '../src/replica.ts';
import { keyFromSeed, Rng } from '../src/rng.ts';

/** The reference math on float64 storage; a pointer p addresses element p >> 2. */
class Float64Kernels implements Kernels {
  // Float64 storage has no subnormal problem, and a flush would bias finite differences.
  readonly flushThreshold = 0;
  setFlushThreshold(): void {
    throw new Error('the float64 gradient-check kernels never flush');
  }
  readonly f: Float64Array;
  readonly i: Int32Array;
  constructor(bytes: number) {
    this.f = new Float64Array(bytes >> 2);
    this.i = new Int32Array(bytes >> 2);
  }
  gemmNN(m: number, n: number, k: number, a: Ptr, lda: number, b: Ptr, ldb: number, c: Ptr, ldc: number, acc: boolean) {
    R.gemmNN(m, n, k, this.f, a >> 2, lda, this.f, b >> 2, ldb, this.f, c >> 2, ldc, acc);
  }
  gemmNT(m: number, n: number, k: number, a: Ptr, lda: number, b: Ptr, ldb: number, c: Ptr, ldc: number, acc: boolean) {
    R.gemmNT(m, n, k, this.f, a >> 2, lda, this.f, b >> 2, ldb, this.f, c >> 2, ldc, acc);
  }
  gemmTN(m: number, n: number, k: number, a: Ptr, lda: number, b: Ptr, ldb: number, c: Ptr, ldc: number, acc: boolean) {
    R.gemmTN(m, n, k, this.f, a >> 2, lda, this.f, b >> 2, ldb, this.f, c >> 2, ldc, acc);
  }
  biasAdd(y: Ptr, bias: Ptr, rows: number, cols: number) {
    R.biasAdd(this.f, y >> 2, this.f, bias >> 2, rows, cols);
  }
  biasGrad(dy: Ptr, db: Ptr, rows: number, cols: number, acc: boolean) {
    R.biasGrad(this.f, dy >> 2, this.f, db >> 2, rows, cols, acc);
  }
  activation(kind: ElementwiseActivation, x: Ptr, y: Ptr, n: number, alpha: number) {
    R.activation(kind, this.f, x >> 2, this.f, y >> 2, n, alpha);
  }
  activationGrad(kind: ElementwiseActivation, x: Ptr, y: Ptr, dy: Ptr, dx: Ptr, n: number, alpha: number) {
    R.activationGrad(kind, this.f, x >> 2, this.f, y >> 2, this.f, dy >> 2, this.f, dx >> 2, n, alpha);
  }
  softmax(x: Ptr, y: Ptr, rows: number, cols: number) {
    R.softmax(this.f, x >> 2, this.f, y >> 2, rows, cols);
  }
  softmaxGrad(y: Ptr, dy: Ptr, dx: Ptr, rows: number, cols: number) {
    R.softmaxGrad(this.f, y >> 2, this.f, dy >> 2, this.f, dx >> 2, rows, cols);
  }
  softmaxXent(logits: Ptr, labels: Ptr, dl: Ptr, rows: number, cols: number, gs: number) {
    return R.softmaxXent(this.f, logits >> 2, this.i, labels >> 2, dl === 0 ? null : this.f, dl >> 2, rows, cols, gs);
  }
  countCorrect(logits: Ptr, labels: Ptr, rows: number, cols: number) {
    return R.countCorrect(this.f, logits >> 2, this.i, labels >> 2, rows, cols);
  }
  mse(pred: Ptr, target: Ptr, dpred: Ptr, n: number, gs: number) {
    return R.mse(this.f, pred >> 2, this.f, target >> 2, dpred === 0 ? null : this.f, dpred >> 2, n, gs);
  }
  dropout(x: Ptr, y: Ptr, mask: Ptr, n: number, rate: number, lo: number, hi: number) {
    R.dropout(this.f, x >> 2, this.f, y >> 2, this.f, mask >> 2, n, rate, lo, hi);
  }
  mul(a: Ptr, b: Ptr, out: Ptr, n: number) {
    R.mul(this.f, a >> 2, this.f, b >> 2, this.f, out >> 2, n);
  }
  convForward(x: Ptr, w: Ptr, bias: Ptr, z: Ptr, rows: number, g: WindowGeometry, filters: number, scratch: Ptr) {
    R.convForward(this.f, x >> 2, this.f, w >> 2, bias === 0 ? null : this.f, bias >> 2, this.f, z >> 2, rows, g, filters, this.f, scratch >> 2);
  }
  convFilterGrad(x: Ptr, dz: Ptr, dw: Ptr, rows: number, g: WindowGeometry, filters: number, scratch: Ptr, accumulate: boolean) {
    R.convFilterGrad(this.f, x >> 2, this.f, dz >> 2, this.f, dw >> 2, rows, g, filters, accumulate, this.f, scratch >> 2);
  }
  convInputGrad(dz: Ptr, w: Ptr, dx: Ptr, rows: number, g: WindowGeometry, filters: number, scratch: Ptr) {
    // The scratch holds the padded example, then Wᵀ (geometry.ts convScratchFloats; no tap table here).
    const { hp, wp } = paddedExtent(g);
    R.convInputGrad(this.f, dz >> 2, this.f, w >> 2, this.f, dx >> 2, rows, g, filters, this.f, scratch >> 2, this.f, (scratch >> 2) + hp * wp * g.channels);
  }
  maxPool(x: Ptr, y: Ptr, argmax: Ptr, rows: number, g: WindowGeometry) {
    R.maxPool(this.f, x >> 2, this.f, y >> 2, this.i, argmax >> 2, rows, g);
  }
  maxPoolGrad(dy: Ptr, argmax: Ptr, dx: Ptr, rows: number, g: WindowGeometry) {
    R.maxPoolGrad(this.f, dy >> 2, this.i, argmax >> 2, this.f, dx >> 2, rows, g);
  }
  avgPool(x: Ptr, y: Ptr, rows: number, g: WindowGeometry) {
    R.avgPool(this.f, x >> 2, this.f, y >> 2, rows, g);
  }
  avgPoolGrad(dy: Ptr, dx: Ptr, rows: number, g: WindowGeometry) {
    R.avgPoolGrad(this.f, dy >> 2, this.f, dx >> 2, rows, g);
  }
  globalAvgPool(x: Ptr, y: Ptr, rows: number, positions: number, channels: number) {
    R.globalAvgPool(this.f, x >> 2, this.f, y >> 2, rows, positions, channels);
  }
  globalAvgPoolGrad(dy: Ptr, dx: Ptr, rows: number, positions: number, channels: number) {
    R.globalAvgPoolGrad(this.f, dy >> 2, this.f, dx >> 2, rows, positions, channels);
  }
  batchNormStats(x: Ptr, mean: Ptr, variance: Ptr, count: number, channels: number) {
    R.batchNormStats(this.f, x >> 2, this.f, mean >> 2, this.f, variance >> 2, count, channels);
  }
  batchNormForward(x: Ptr, y: Ptr, mean: Ptr, variance: Ptr, gamma: Ptr, beta: Ptr, count: number, channels: number, eps: number) {
    R.batchNormForward(this.f, x >> 2, this.f, y >> 2, this.f, mean >> 2, this.f, variance >> 2, gamma === 0 ? null : this.f, gamma >> 2, beta === 0 ? null : this.f, beta >> 2, count, channels, eps);
  }
  batchNormBackward(x: Ptr, dy: Ptr, dx: Ptr, mean: Ptr, variance: Ptr, gamma: Ptr, dgamma: Ptr, dbeta: Ptr, count: number, channels: number, eps: number, acc: boolean) {
    const or = (p: Ptr) => (p === 0 ? null : this.f);
    R.batchNormBackward(this.f, x >> 2, this.f, dy >> 2, this.f, dx >> 2, this.f, mean >> 2, this.f, variance >> 2, or(gamma), gamma >> 2, or(dgamma), dgamma >> 2, or(dbeta), dbeta >> 2, count, channels, eps, acc);
  }
  // The rest is not used by a forward/backward pass.
  transpose(): void {
    throw new Error('unused');
  }
  axpy(): void {
    throw new Error('unused');
  }
  scale(): void {
    throw new Error('unused');
  }
  sum(): number {
    throw new Error('unused');
  }
  sumSquares(): number {
    throw new Error('unused');
  }
  fill(): void {
    throw new Error('unused');
  }
  copy(src: Ptr, dst: Ptr, n: number) {
    // Batch norm records its microbatch statistics in the gradient block.
    this.f.copyWithin(dst >> 2, src >> 2, (src >> 2) + n);
  }
  gatherU8(): void {
    throw new Error('unused');
  }
  gather32(): void {
    throw new Error('unused');
  }
  sgd(): void {
    throw new Error('unused');
  }
  adam(): void {
    throw new Error('unused');
  }
  rmsprop(): void {
    throw new Error('unused');
  }
}

/** Analytic gradient of every parameter against central differences of the float64 loss. */
function gradCheck(layers: object[], loss: 'softmax_cross_entropy' | 'mse', seed: number): number {
  return gradCheckModel({ inputShape: [2, 3], layers: [{ type: 'flatten' }, { type: 'dense', units: 5, activation: 'tanh' }, ...layers, { type: 'dense', units: 4 }], loss }, 3, seed);
}

/** The check on any model ending in 4 outputs, over `rows` random examples. */
function gradCheckModel(spec: { inputShape: number[]; layers: object[]; loss: 'softmax_cross_entropy' | 'mse' }, rows: number, seed: number): number {
  const loss = spec.loss;
  const model = compileModel(spec);
  const arena = new Arena();
  const plan = planParameters(arena, model, 0);
  const acts = planActivations(arena, model, rows);
  const k = new Float64Kernels(arena.size);
  const replica = new Replica(k, model, acts, plan.params);
  const rng = Rng.fromSeed(seed);
  const p0 = plan.params >> 2;
  for (const t of model.params) for (let j = 0; j < t.size; j++) k.f[p0 + t.offset + j] = rng.normal() * 0.7;
  for (let j = 0; j < rows * model.inputSize; j++) k.f[(acts.input >> 2) + j] = rng.normal();
  for (let r = 0; r < rows; r++) k.i[(acts.targets >> 2) + r] = rng.int(4);
  if (loss === 'mse') for (let j = 0; j < rows * 4; j++) k.f[(acts.targets >> 2) + j] = rng.normal();
  const dropoutKey = keyFromSeed(seed);

  const lossAt = () => {
    replica.forward(rows, { training: true, dropoutKey });
    return replica.loss(1 / rows, false).lossSum / rows;
  };
  replica.forward(rows, { training: true, dropoutKey });
  replica.loss(1 / rows);
  replica.backward(plan.grads, false);
  let worst = 0;
  const h = 1e-6;
  for (const t of model.params) {
    // Batch norm's moving statistics are not used by a training pass and have no gradient.
    if (!t.trainable) continue;
    for (let j = 0; j < t.size; j++) {
      const at = p0 + t.offset + j;
      const v = k.f[at]!;
      k.f[at] = v + h;
      const up = lossAt();
      k.f[at] = v - h;
      const down = lossAt();
      k.f[at] = v;
      const numeric = (up - down) / (2 * h);
      const analytic = k.f[(plan.grads >> 2) + t.offset + j]!;
      worst = Math.max(worst, Math.abs(numeric - analytic) / Math.max(1e-4, Math.abs(numeric) + Math.abs(analytic)));
    }
  }
  return worst;
}

const ACTS = ['linear', 'relu', 'leaky_relu', 'elu', 'gelu', 'sigmoid', 'tanh', 'softmax'] as const;

describe('finite-difference gradient checks (float64)', () => {
  describe.each(['softmax_cross_entropy', 'mse'] as const)('loss %s', (loss) => {
    it.each(ACTS)('dense with %s', (activation) => {
      const alpha = activation === 'leaky_relu' ? { alpha: 0.1 } : activation === 'elu' ? { alpha: 0.7 } : {};
      expect(gradCheck([{ type: 'dense', units: 6, activation, ...alpha }], loss, 1)).toBeLessThan(1e-5);
    });
    it.each(ACTS.filter((a) => a !== 'linear'))('activation layer %s', (activation) => {
      expect(gradCheck([{ type: 'activation', activation }], loss, 2)).toBeLessThan(1e-5);
    });
    it('dropout (training mode, fixed mask)', () => {
      expect(gradCheck([{ type: 'dropout', rate: 0.4 }, { type: 'dense', units: 6, activation: 'relu' }], loss, 3)).toBeLessThan(1e-5);
    });
    it('flatten and a dense without bias', () => {
      expect(gradCheck([{ type: 'flatten' }, { type: 'dense', units: 3, useBias: false, activation: 'sigmoid' }], loss, 4)).toBeLessThan(1e-5);
    });
  });

  // Odd shapes: non-square images, stride 2, dilation 2, same padding with even kernels, 1 and 3
  // channels, batch 1. Each pooling layer sits after a conv2d, so its backward pass is exercised.
  describe.each(['softmax_cross_entropy', 'mse'] as const)('spatial layers, loss %s', (loss) => {
    const cases: [string, number[], object[], number][] = [
      ['conv2d stride 2, same, even kernel; conv2d dilation 2; batch 1', [7, 5, 1], [
        { type: 'conv2d', filters: 3, kernelSize: [3, 2], strides: 2, padding: 'same', activation: 'tanh' },
        { type: 'conv2d', filters: 2, kernelSize: 2, dilation: 2, padding: 'same', activation: 'elu' },
        { type: 'flatten' },
      ], 1],
      ['conv2d → max_pool2d (same, stride 2) → conv2d dilation 2 → global_avg_pool2d', [6, 7, 3], [
        { type: 'conv2d', filters: 4, kernelSize: [2, 4], padding: 'same', activation: 'tanh' },
        { type: 'max_pool2d', poolSize: [2, 3], strides: 2, padding: 'same' },
        { type: 'conv2d', filters: 3, kernelSize: 2, dilation: 2, padding: 'same', activation: 'sigmoid' },
        { type: 'global_avg_pool2d' },
      ], 2],
      ['conv2d valid → avg_pool2d (same, [3, 2] over strides [2, 1]) → conv2d stride 2 without bias → reshape', [8, 5, 3], [
        { type: 'conv2d', filters: 3, kernelSize: 3, activation: 'gelu' },
        { type: 'avg_pool2d', poolSize: [3, 2], strides: [2, 1], padding: 'same' },
        { type: 'conv2d', filters: 2, kernelSize: 2, strides: 2, padding: 'same', useBias: false },
        { type: 'reshape', targetShape: [4, 2] },
        { type: 'flatten' },
      ], 3],
      ['reshape of a flat input → conv2d same 4×2 → max_pool2d valid 3 stride 1 → dropout → avg_pool2d', [30], [
        { type: 'reshape', targetShape: [5, 6, 1] },
        { type: 'conv2d', filters: 2, kernelSize: [4, 2], padding: 'same', activation: 'tanh' },
        { type: 'max_pool2d', poolSize: 3, strides: 1 },
        { type: 'dropout', rate: 0.3 },
        { type: 'conv2d', filters: 2, kernelSize: 1 },
        { type: 'avg_pool2d', poolSize: 2, strides: 1, padding: 'same' },
        { type: 'flatten' },
      ], 2],
    ];
    it.each(cases)('%s', (_name, inputShape, layers, rows) => {
      const spec = { inputShape, layers: [...layers, { type: 'dense', units: 4 }], loss };
      expect(gradCheckModel(spec, rows, 7)).toBeLessThan(1e-5);
    });
  });

  // Batch norm normalises each training pass by its own rows' statistics, so the loss couples the
  // rows: the check differentiates the whole microbatch's loss.
  describe.each(['softmax_cross_entropy', 'mse'] as const)('batch_norm, loss %s', (loss) => {
    it('after dense (defaults), then relu', () => {
      expect(gradCheck([{ type: 'batch_norm' }, { type: 'dense', units: 6, activation: 'relu' }], loss, 11)).toBeLessThan(1e-5);
    });
    it('after dense without center, then without scale, epsilon 0.01', () => {
      expect(gradCheck([{ type: 'batch_norm', center: false, epsilon: 0.01 }, { type: 'dense', units: 3, activation: 'tanh' }, { type: 'batch_norm', scale: false }], loss, 12)).toBeLessThan(1e-5);
    });
    const cases: [string, number[], object[], number][] = [
      ['conv2d valid 3×2 → batch_norm → relu (odd 5×4×3 images, 2 rows)', [5, 4, 3], [
        { type: 'conv2d', filters: 3, kernelSize: [3, 2] },
        { type: 'batch_norm' },
        { type: 'activation', activation: 'tanh' },
        { type: 'flatten' },
      ], 2],
      ['conv2d stride 2 same → batch_norm (no gamma) → max_pool2d → batch 1 (spatial positions only)', [7, 5, 1], [
        { type: 'conv2d', filters: 2, kernelSize: 2, strides: 2, padding: 'same', useBias: false },
        { type: 'batch_norm', scale: false, momentum: 0.9 },
        { type: 'max_pool2d', poolSize: [2, 1], padding: 'same' },
        { type: 'flatten' },
        { type: 'batch_norm' },
      ], 1],
    ];
    it.each(cases)('%s', (_name, inputShape, layers, rows) => {
      const spec = { inputShape, layers: [...layers, { type: 'dense', units: 4 }], loss };
      expect(gradCheckModel(spec, rows, 13)).toBeLessThan(1e-5);
    });
  });

  it('batch_norm of one row: the variance is 0, the output is beta and nothing flows back', () => {
    // One example after a dense layer: x − mean = 0 exactly. Keras gives the same (beta); the
    // gradient is 0, not NaN, because epsilon keeps 1/√(0 + ε) finite.
    const spec = { inputShape: [3], layers: [{ type: 'dense', units: 4, activation: 'tanh' }, { type: 'batch_norm' }, { type: 'dense', units: 4 }], loss: 'mse' as const };
    expect(gradCheckModel(spec, 1, 14)).toBeLessThan(1e-5);
  });

  it('detects a wrong batch_norm gradient (the check can fail)', () => {
    const spec = { inputShape: [4], layers: [{ type: 'dense', units: 3, activation: 'tanh' }, { type: 'batch_norm' }, { type: 'dense', units: 4 }], loss: 'mse' as const };
    const proto = Float64Kernels.prototype;
    const saved = proto.batchNormBackward;
    proto.batchNormBackward = function (this: Float64Kernels, ...args: Parameters<Kernels['batchNormBackward']>) {
      saved.apply(this, args);
      // The simple (wrong) gradient: dx = gamma·inv·dy, dropping the terms of the batch statistics.
      const [x, dy, dx, mean, variance, gamma, , , count, channels, eps] = args;
      void x;
      void mean;
      for (let i = 0; i < count * channels; i++) {
        const c = i % channels;
        this.f[(dx >> 2) + i] = this.f[(gamma >> 2) + c]! * this.f[(dy >> 2) + i]! / Math.sqrt(this.f[(variance >> 2) + c]! + eps);
      }
    };
    try {
      expect(gradCheckModel(spec, 3, 15)).toBeGreaterThan(1e-3);
    } finally {
      proto.batchNormBackward = saved;
    }
  });

  it('detects a wrong conv or pooling gradient (the check can fail)', () => {
    const spec = { inputShape: [5, 4, 2], layers: [{ type: 'conv2d', filters: 2, kernelSize: 2, padding: 'same' }, { type: 'avg_pool2d', padding: 'same' }, { type: 'conv2d', filters: 2, kernelSize: 2 }, { type: 'flatten' }, { type: 'dense', units: 4 }], loss: 'mse' as const };
    const proto = Float64Kernels.prototype;
    // Each breaks one kernel: the first element of its gradient output is dropped.
    const breaks: [string, () => () => void][] = [
      ['convInputGrad', () => {
        const saved = proto.convInputGrad;
        proto.convInputGrad = function (this: Float64Kernels, dz: Ptr, w: Ptr, dx: Ptr, rows: number, g: WindowGeometry, filters: number, scratch: Ptr) {
          saved.call(this, dz, w, dx, rows, g, filters, scratch);
          this.f[dx >> 2] = 0;
        };
        return () => (proto.convInputGrad = saved);
      }],
      ['convFilterGrad', () => {
        const saved = proto.convFilterGrad;
        proto.convFilterGrad = function (this: Float64Kernels, x: Ptr, dz: Ptr, dw: Ptr, rows: number, g: WindowGeometry, filters: number, scratch: Ptr, acc: boolean) {
          saved.call(this, x, dz, dw, rows, g, filters, scratch, acc);
          this.f[dw >> 2] = 0;
        };
        return () => (proto.convFilterGrad = saved);
      }],
      ['avgPoolGrad', () => {
        const saved = proto.avgPoolGrad;
        proto.avgPoolGrad = function (this: Float64Kernels, dy: Ptr, dx: Ptr, rows: number, g: WindowGeometry) {
          saved.call(this, dy, dx, rows, g);
          this.f[dx >> 2] = 0;
        };
        return () => (proto.avgPoolGrad = saved);
      }],
    ];
    for (const [name, apply] of breaks) {
      const restore = apply();
      try {
        expect(gradCheckModel(spec, 2, 5), name).toBeGreaterThan(1e-3);
      } finally {
        restore();
      }
    }
  });

  it('detects a wrong gradient (the check can fail)', () => {
    // Break the relu derivative in the float64 kernels and expect the check to notice.
    const original = R.activationGrad;
    const k = Float64Kernels.prototype;
    const saved = k.activationGrad;
    k.activationGrad = function (kind, x, y, dy, dx, n, alpha) {
      original(kind, this.f, x >> 2, this.f, y >> 2, this.f, dy >> 2, this.f, dx >> 2, n, alpha);
      for (let i = 0; i < n; i++) this.f[(dx >> 2) + i]! *= 1.01;
    };
    try {
      expect(gradCheck([{ type: 'dense', units: 6, activation: 'relu' }], 'mse', 1)).toBeGreaterThan(1e-3);
    } finally {
      k.activationGrad = saved;
    }
  });
});
