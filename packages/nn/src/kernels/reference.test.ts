// The TypeScript twin is the oracle of the WASM tests, so it is checked itself: gradients against
// central finite differences in float64, GEMM forms against each other, sums against naive sums.
import { describe, expect, it } from 'vitest';
import { convScratchFloats, windowGeometry } from '../geometry.ts';
import { Rng } from '../rng.ts';
import * as ref from './reference.ts';
import { ACTIVATION_CODES, type ElementwiseActivation } from './types.ts';

/** Deterministic values in [−1, 1), from the project's seeded Rng. */
function values(n: number, seed: number, scale = 1): Float64Array {
  const rng = Rng.fromSeed(seed);
  return Float64Array.from({ length: n }, () => rng.uniform(-1, 1) * scale);
}

/** Central difference of a scalar function of x at index i. */
function numericGrad(f: (x: Float64Array) => number, x: Float64Array, i: number, h = 1e-6): number {
  const xi = x[i] as number;
  x[i] = xi + h;
  const up = f(x);
  x[i] = xi - h;
  const down = f(x);
  x[i] = xi;
  return (up - down) / (2 * h);
}

const ACTIVATIONS = Object.keys(ACTIVATION_CODES) as ElementwiseActivation[];

describe('reference kernels (float64)', () => {
  it.each(ACTIVATIONS)('activationGrad(%s) is the derivative of activation', (kind) => {
    const n = 40;
    // Away from the kinks of relu/leaky_relu/elu at 0.
    const x = values(n, 3, 4).map((v) => (Math.abs(v) < 0.05 ? v + 0.1 : v));
    const y = new Float64Array(n);
    ref.activation(kind, x, 0, y, 0, n, 0.3);
    const dy = values(n, 4);
    const dx = new Float64Array(n);
    ref.activationGrad(kind, x, 0, y, 0, dy, 0, dx, 0, n, 0.3);
    for (let i = 0; i < n; i++) {
      const fd = numericGrad((v) => ref.activate(kind, v[i] as number, 0.3) * (dy[i] as number), x, i);
      expect(dx[i]).toBeCloseTo(fd, 7);
    }
  });

  it('gelu is x·Φ(x), with Φ within 1e-7 of the normal CDF', () => {
    // Φ at a few points, to 16 digits.
    const cdf: [number, number][] = [[-3, 0.0013498980316301], [-0.5, 0.3085375387259869], [0, 0.5], [0.7, 0.758036347776927], [2.5, 0.993790334674224]];
    for (const [x, phi] of cdf) {
      expect(Math.abs(ref.normalCdf(x) - phi)).toBeLessThan(1e-7);
      expect(ref.activate('gelu', x, 0)).toBeCloseTo(x * ref.normalCdf(x), 14);
    }
  });

  it('softmaxGrad is the vector-Jacobian product of softmax', () => {
    const rows = 3, cols = 7;
    const x = values(rows * cols, 5, 3);
    const dy = values(rows * cols, 6);
    const y = new Float64Array(rows * cols);
    ref.softmax(x, 0, y, 0, rows, cols);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += y[r * cols + c] as number;
      expect(s).toBeCloseTo(1, 14);
    }
    const dx = new Float64Array(rows * cols);
    ref.softmaxGrad(y, 0, dy, 0, dx, 0, rows, cols);
    const loss = (v: Float64Array): number => {
      const out = new Float64Array(rows * cols);
      ref.softmax(v, 0, out, 0, rows, cols);
      return out.reduce((acc, o, i) => acc + o * (dy[i] as number), 0);
    };
    for (let i = 0; i < rows * cols; i++) expect(dx[i]).toBeCloseTo(numericGrad(loss, x, i), 8);
  });

  it('softmaxXent returns the summed loss and its scaled gradient', () => {
    const rows = 4, cols = 5;
    const logits = values(rows * cols, 7, 5);
    const labels = Int32Array.from([0, 4, 2, 2]);
    const d = new Float64Array(rows * cols);
    const gs = 0.25;
    const loss = ref.softmaxXent(logits, 0, labels, 0, d, 0, rows, cols, gs);
    let manual = 0;
    for (let r = 0; r < rows; r++) {
      const row = Array.from(logits.subarray(r * cols, (r + 1) * cols));
      const lse = Math.log(row.reduce((a, v) => a + Math.exp(v), 0));
      manual += lse - (row[labels[r] as number] as number);
    }
    expect(loss).toBeCloseTo(manual, 12);
    const f = (v: Float64Array): number => ref.softmaxXent(v, 0, labels, 0, null, 0, rows, cols, 1);
    for (let i = 0; i < rows * cols; i++) expect(d[i]).toBeCloseTo(gs * numericGrad(f, logits, i), 8);
    expect(ref.softmaxXent(logits, 0, Int32Array.from([0, 5, 0, 0]), 0, null, 0, rows, cols, 1)).toBeNaN();
  });

  it('mse returns Σ(pred − target)² and 2(pred − target)·gradScale', () => {
    const n = 13;
    const p = values(n, 8), t = values(n, 9), d = new Float64Array(n);
    const loss = ref.mse(p, 0, t, 0, d, 0, n, 0.5);
    expect(loss).toBeCloseTo(p.reduce((a, v, i) => a + (v - (t[i] as number)) ** 2, 0), 14);
    const f = (v: Float64Array): number => ref.mse(v, 0, t, 0, null, 0, n, 1);
    for (let i = 0; i < n; i++) expect(d[i]).toBeCloseTo(0.5 * numericGrad(f, p, i), 8);
  });

  it('gemmNT and gemmTN equal gemmNN on explicitly transposed operands', () => {
    const m = 5, n = 7, k = 6;
    const A = values(m * k, 10), B = values(k * n, 11);
    const At = new Float64Array(k * m), Bt = new Float64Array(n * k);
    ref.transpose(A, 0, m, k, At, 0);
    ref.transpose(B, 0, k, n, Bt, 0);
    const nn = new Float64Array(m * n), nt = new Float64Array(m * n), tn = new Float64Array(m * n);
    ref.gemmNN(m, n, k, A, 0, k, B, 0, n, nn, 0, n, false);
    ref.gemmNT(m, n, k, A, 0, k, Bt, 0, k, nt, 0, n, false);
    ref.gemmTN(m, n, k, At, 0, m, B, 0, n, tn, 0, n, false);
    for (let i = 0; i < m * n; i++) {
      expect(nt[i]).toBeCloseTo(nn[i] as number, 13);
      expect(tn[i]).toBeCloseTo(nn[i] as number, 13);
    }
    const acc = nn.slice();
    ref.gemmNN(m, n, k, A, 0, k, B, 0, n, acc, 0, n, true);
    for (let i = 0; i < m * n; i++) expect(acc[i]).toBeCloseTo(2 * (nn[i] as number), 13);
  });

  it('fixedOrderSum is a sum, in the documented order', () => {
    for (const n of [0, 1, 7, 8, 9, 100]) {
      const x = values(n, 12);
      expect(ref.fixedOrderSum(n, (i) => x[i] as number)).toBeCloseTo(x.reduce((a, v) => a + v, 0), 12);
    }
    // Cancellation makes the order visible: 1e16 in partial 0, −1e16 in partial 4, 1 in partial 1.
    const x = [1e16, 1, 0, 0, -1e16, 0, 0, 0, 1];
    expect(ref.fixedOrderSum(x.length, (i) => x[i] as number)).toBe(2);
  });

  it('optimizer steps follow their documented formulas', () => {
    const p = Float64Array.of(1), g = Float64Array.of(0.5), vel = Float64Array.of(0.2);
    ref.sgd(1, p, 0, g, 0, vel, 0, 0.1, 0.9, true, 0.01, 2, 1, 0);
    const g1 = 0.5 * 2 + 0.01 * 1;
    const v = 0.9 * 0.2 + g1;
    expect(vel[0]).toBeCloseTo(v, 14);
    expect(p[0]).toBeCloseTo(1 - 0.1 * (g1 + 0.9 * v), 14);

    const pa = Float64Array.of(1), m = Float64Array.of(0), va = Float64Array.of(0);
    ref.adam(1, pa, 0, Float64Array.of(0.5), 0, m, 0, va, 0, 0.1, 0.9, 0.999, 1e-8, 0.01, true, 1, 1 / (1 - 0.9), 1 / (1 - 0.999), 1, 0);
    // First Adam step moves by ≈ lr·sign(g) (plus decoupled decay lr·wd·p).
    expect(pa[0]).toBeCloseTo(1 - 0.1 * (1 + 0.01), 6);

    // RMSprop, ε outside the root (PyTorch) and inside it (tfjs, Keras 3): ε = 0.1 tells them apart.
    const pr = Float64Array.of(1), sq = Float64Array.of(0);
    ref.rmsprop(1, pr, 0, Float64Array.of(0.5), 0, sq, 0, null, 0, null, 0, 0.01, 0.9, 0.1, 0, 0, 1, { epsilonInside: false, centered: false }, 1, 0);
    expect(sq[0]).toBeCloseTo(0.1 * 0.25, 14);
    expect(pr[0]).toBeCloseTo(1 - 0.01 * (0.5 / (Math.sqrt(0.025) + 0.1)), 12);
    const pi = Float64Array.of(1), sqi = Float64Array.of(0);
    ref.rmsprop(1, pi, 0, Float64Array.of(0.5), 0, sqi, 0, null, 0, null, 0, 0.01, 0.9, 0.1, 0, 0, 1, { epsilonInside: true, centered: false }, 1, 0);
    expect(pi[0]).toBeCloseTo(1 - (0.01 * 0.5) / Math.sqrt(0.025 + 0.1), 12);
    // Centred: the mean gradient 0.05 comes off the mean square, E[g²] − E[g]² = 0.025 − 0.0025.
    const pc = Float64Array.of(1), sqc = Float64Array.of(0), mg = Float64Array.of(0);
    ref.rmsprop(1, pc, 0, Float64Array.of(0.5), 0, sqc, 0, null, 0, mg, 0, 0.01, 0.9, 0.1, 0, 0, 1, { epsilonInside: true, centered: true }, 1, 0);
    expect(mg[0]).toBeCloseTo(0.05, 14);
    expect(pc[0]).toBeCloseTo(1 - (0.01 * 0.5) / Math.sqrt(0.025 - 0.0025 + 0.1), 12);
  });
  it('optimizers sum gradient slots in order, equal to axpy into slot 0 then one slot (f32, bit for bit)', () => {
    const n = 13, stride = 17, slots = 4;
    // Magnitudes far apart make f32 rounding depend on the summation order.
    const g0 = Float32Array.from(values(slots * stride, 31), (x, i) => x * 10 ** ((i % 5) - 2));
    // p, then two state blocks; the second one (Adam v, RMSprop sq) must be non-negative.
    const start = Float32Array.from(values(3 * n, 32), (x, i) => (i >= 2 * n ? Math.abs(x) : x));
    const fresh = (): { state: Float32Array; g: Float32Array } => ({ state: start.slice(), g: g0.slice() });
    type Step = (st: Float32Array, g: Float32Array, slots: number, stride: number) => void;
    const steps: Record<string, Step> = {
      sgd: (st, g, k, s) => ref.sgd(n, st, 0, g, 0, st, n, 0.1, 0.9, true, 0.01, 0.5, k, s),
      adam: (st, g, k, s) => ref.adam(n, st, 0, g, 0, st, n, st, 2 * n, 1e-3, 0.9, 0.999, 1e-8, 0.01, false, 0.25, 2, 3, k, s),
      rmsprop: (st, g, k, s) => ref.rmsprop(n, st, 0, g, 0, st, 2 * n, st, n, null, 0, 1e-3, 0.9, 1e-7, 0.9, 1e-4, 1, { epsilonInside: true, centered: false }, k, s),
    };
    for (const [name, step] of Object.entries(steps)) {
      const fused = fresh();
      step(fused.state, fused.g, slots, stride);
      expect(fused.g, `${name} leaves the slots alone`).toEqual(g0);
      const twoPass = fresh();
      for (let j = 1; j < slots; j++) ref.axpy(n, 1, twoPass.g, j * stride, twoPass.g, 0);
      step(twoPass.state, twoPass.g, 1, 0);
      expect(new Int32Array(fused.state.buffer), name).toEqual(new Int32Array(twoPass.state.buffer));
      // The sum must differ from a reordered one somewhere, or this test could not see the order.
      const reordered = fresh();
      for (let j = slots - 1; j >= 1; j--) ref.axpy(n, 1, reordered.g, j * stride, reordered.g, 0);
      expect(reordered.g.subarray(0, n), 'order-sensitive data').not.toEqual(twoPass.g.subarray(0, n));
    }
  });

  it('float64 slots are summed in float64', () => {
    const tiny = 2 ** -30; // lost in an f32 sum with 1, kept in f64
    const p = Float64Array.of(0, 0), g = Float64Array.of(1, 2, tiny, 0.5, 0.25, 3);
    // Three slots at stride 2: g = [1 + tiny + 0.25, 2 + 0.5 + 3]; plain SGD p −= lr·g.
    ref.sgd(2, p, 0, g, 0, null, 0, 1, 0, false, 0, 1, 3, 2);
    expect(Array.from(p)).toEqual([-(1.25 + tiny), -5.5]);
    expect(Array.from(g)).toEqual([1, 2, tiny, 0.5, 0.25, 3]);
  });
});

describe('window kernels (NHWC)', () => {
  // 3×3×1 input 1…9, a 2×2 pool, stride 1, same padding: tfjs pads one row and column after.
  const g = windowGeometry([3, 3, 1], [2, 2], [1, 1], [1, 1], 'same');
  const x = Float32Array.from({ length: 9 }, (_, i) => i + 1);

  it('average pooling counts only the elements inside the input, as tfjs', () => {
    const y = new Float32Array(9);
    ref.avgPool(x, 0, y, 0, 1, g);
    expect([...y]).toEqual([3, 4, 4.5, 6, 7, 7.5, 7.5, 8.5, 9]);
    const dx = new Float32Array(9);
    ref.avgPoolGrad(Float32Array.from([4, 0, 0, 0, 0, 0, 0, 0, 1]), 0, dx, 0, 1, g);
    expect([...dx]).toEqual([1, 1, 0, 1, 1, 0, 0, 0, 1]);
  });

  it('max pooling records the first maximum and scatters the gradient back to it', () => {
    const y = new Float32Array(9);
    const argmax = new Int32Array(9);
    ref.maxPool(Float32Array.from([1, 1, 0, 1, 1, 0, 0, 0, 2]), 0, y, 0, argmax, 0, 1, g);
    expect([...y]).toEqual([1, 1, 0, 1, 2, 2, 0, 2, 2]);
    expect([...argmax]).toEqual([0, 1, 2, 3, 8, 8, 6, 8, 8]);
    const dx = new Float32Array(9);
    ref.maxPoolGrad(Float32Array.from([1, 1, 1, 1, 1, 1, 1, 1, 1]), 0, argmax, 0, dx, 0, 1, g);
    expect([...dx]).toEqual([1, 1, 1, 1, 0, 0, 1, 0, 4]);
  });

  it('the conv gradients are the adjoints of convForward: <conv(x, w), c> = <x, dx(c)> = <w, dw(c)>', () => {
    const d = windowGeometry([5, 4, 2], [3, 2], [1, 2], [2, 1], 'same');
    const rows = 2;
    const filters = 3;
    const K = d.kh * d.kw * d.channels;
    const outputs = rows * d.outH * d.outW * filters;
    const xs = Float64Array.from({ length: rows * 5 * 4 * 2 }, (_, i) => Math.sin(i + 1));
    const ws = Float64Array.from({ length: K * filters }, (_, i) => Math.cos(i * 1.3));
    const cs = Float64Array.from({ length: outputs }, (_, i) => Math.cos(i * 0.7));
    const scratch = new Float64Array(convScratchFloats(d, filters));
    const z = new Float64Array(outputs);
    ref.convForward(xs, 0, ws, 0, null, 0, z, 0, rows, d, filters, scratch, 0);
    const dx = new Float64Array(xs.length);
    ref.convInputGrad(cs, 0, ws, 0, dx, 0, rows, d, filters, scratch, 0, new Float64Array(K * filters), 0);
    const dw = new Float64Array(ws.length);
    ref.convFilterGrad(xs, 0, cs, 0, dw, 0, rows, d, filters, false, scratch, 0);
    const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);
    expect(Math.abs(dot(z, cs))).toBeGreaterThan(0.1);
    expect(dot(z, cs)).toBeCloseTo(dot(xs, dx), 12);
    expect(dot(z, cs)).toBeCloseTo(dot(ws, dw), 12);
  });

});
