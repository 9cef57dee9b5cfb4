// The plain-TypeScript twin of every WASM kernel: generic math over Float32Array | Float64Array
// (so gradient checks can run in float64), and `ReferenceKernels`, which applies it to a memory.
import {
  ACTIVATION_CODES,
  dropoutHash,
  dropoutThreshold,
  type ElementwiseActivation,
  type Kernels,
  type Ptr,
} from './types.ts';
import { FLUSH_THRESHOLD } from './flush.ts';
import { paddedExtent, tapOffsets, type WindowGeometry } from '../geometry.ts';

/** A float tensor view; offsets below are in elements, not bytes. */
export type FloatArray = Float32Array | Float64Array;
/** Any 4-byte-or-wider numeric view gather32 may move (features or labels). */
export type WordArray = Float32Array | Float64Array | Int32Array;

// Reads through noUncheckedIndexedAccess: every index below is in range by construction.
const at = (a: ArrayLike<number>, i: number): number => a[i] as number;

/**
 * The flush rule of flush.ts for a value stored into `a`: compared as `a` stores it (float32 for a
 * Float32Array), +0 when below tau. tau = 0 (the default of the generic functions, as float64
 * gradient checks use them) flushes nothing.
 */
function ftz(a: FloatArray, x: number, tau: number): number {
  if (tau === 0) return x;
  const stored = a instanceof Float32Array ? Math.fround(x) : x;
  return Math.abs(stored) < tau ? 0 : x;
}

// ---------------------------------------------------------------------------------------------
// GEMM: C[m×n] (+)= op(A)·op(B), row-major with leading dimensions.

export function gemmNN(m: number, n: number, k: number, A: FloatArray, aOff: number, lda: number, B: FloatArray, bOff: number, ldb: number, C: FloatArray, cOff: number, ldc: number, accumulate: boolean): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += at(A, aOff + i * lda + p) * at(B, bOff + p * ldb + j);
      const ci = cOff + i * ldc + j;
      C[ci] = accumulate ? at(C, ci) + s : s;
    }
  }
}

export function gemmNT(m: number, n: number, k: number, A: FloatArray, aOff: number, lda: number, B: FloatArray, bOff: number, ldb: number, C: FloatArray, cOff: number, ldc: number, accumulate: boolean): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += at(A, aOff + i * lda + p) * at(B, bOff + j * ldb + p);
      const ci = cOff + i * ldc + j;
      C[ci] = accumulate ? at(C, ci) + s : s;
    }
  }
}

export function gemmTN(m: number, n: number, k: number, A: FloatArray, aOff: number, lda: number, B: FloatArray, bOff: number, ldb: number, C: FloatArray, cOff: number, ldc: number, accumulate: boolean): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += at(A, aOff + p * lda + i) * at(B, bOff + p * ldb + j);
      const ci = cOff + i * ldc + j;
      C[ci] = accumulate ? at(C, ci) + s : s;
    }
  }
}

export function transpose(src: WordArray, sOff: number, rows: number, cols: number, dst: WordArray, dOff: number): void {
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) dst[dOff + c * rows + r] = at(src, sOff + r * cols + c);
}

// ---------------------------------------------------------------------------------------------
// Bias.

export function biasAdd(y: FloatArray, yOff: number, bias: FloatArray, bOff: number, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) y[yOff + r * cols + c] = at(y, yOff + r * cols + c) + at(bias, bOff + c);
}

/** db[c] (+)= Σ_r dy[r,c]; rows are summed in order from 0, then added to db. */
export function biasGrad(dy: FloatArray, dyOff: number, db: FloatArray, dbOff: number, rows: number, cols: number, accumulate: boolean): void {
  for (let c = 0; c < cols; c++) {
    let s = 0;
    for (let r = 0; r < rows; r++) s += at(dy, dyOff + r * cols + c);
    db[dbOff + c] = accumulate ? at(db, dbOff + c) + s : s;
  }
}

// ---------------------------------------------------------------------------------------------
// Activations.

// GELU x·Φ(x) with erfc by Abramowitz & Stegun 7.1.26, the same formula as the WASM kernel.
const ERFC_P = 0.3275911;
const ERFC_A = [0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429] as const;

/** Φ(x), the standard normal CDF, computed from erfc(|x|/√2) so the negative tail keeps precision. */
export function normalCdf(x: number): number {
  const z = Math.abs(x) * Math.SQRT1_2;
  const t = 1 / (1 + ERFC_P * z);
  const poly = t * (ERFC_A[0] + t * (ERFC_A[1] + t * (ERFC_A[2] + t * (ERFC_A[3] + t * ERFC_A[4]))));
  const q = 0.5 * poly * Math.exp(-z * z);
  return x > 0 ? 1 - q : q;
}

/** dΦ/dx of normalCdf's approximation itself, so GELU's gradient matches its forward pass exactly. */
export function normalCdfGrad(x: number): number {
  const z = Math.abs(x) * Math.SQRT1_2;
  const t = 1 / (1 + ERFC_P * z);
  const poly = t * (ERFC_A[0] + t * (ERFC_A[1] + t * (ERFC_A[2] + t * (ERFC_A[3] + t * ERFC_A[4]))));
  const dpoly = ERFC_A[0] + t * (2 * ERFC_A[1] + t * (3 * ERFC_A[2] + t * (4 * ERFC_A[3] + t * 5 * ERFC_A[4])));
  return (Math.exp(-z * z) * (dpoly * ERFC_P * t * t + 2 * z * poly)) / (2 * Math.SQRT2);
}

/** f(x) of one element. */
export function activate(kind: ElementwiseActivation, x: number, alpha: number): number {
  switch (kind) {
    case 'linear':
      return x;
    case 'relu':
      return x > 0 ? x : 0;
    case 'leaky_relu':
      return x > 0 ? x : alpha * x;
    case 'elu':
      return x > 0 ? x : alpha * Math.expm1(x);
    case 'gelu':
      return x * normalCdf(x);
    case 'sigmoid':
      return 1 / (1 + Math.exp(-x));
    case 'tanh':
      return Math.tanh(x);
  }
}

/** f'(x)·dy of one element, given x and y = f(x). */
export function activateGrad(kind: ElementwiseActivation, x: number, y: number, dy: number, alpha: number): number {
  switch (kind) {
    case 'linear':
      return dy;
    case 'relu':
      return x > 0 ? dy : 0;
    case 'leaky_relu':
      return x > 0 ? dy : alpha * dy;
    case 'elu':
      return x > 0 ? dy : dy * (y + alpha);
    case 'gelu':
      // d/dx x·Φ(x) = Φ(x) + x·Φ'(x).
      return dy * (normalCdf(x) + x * normalCdfGrad(x));
    case 'sigmoid':
      return dy * y * (1 - y);
    case 'tanh':
      return dy * (1 - y * y);
  }
}

/** Forward outputs are flushed for the activations with exponential tails (sigmoid, GELU). */
export function activation(kind: ElementwiseActivation, x: FloatArray, xOff: number, y: FloatArray, yOff: number, n: number, alpha: number, tau = 0): void {
  const t = kind === 'sigmoid' || kind === 'gelu' ? tau : 0;
  for (let i = 0; i < n; i++) y[yOff + i] = ftz(y, activate(kind, at(x, xOff + i), alpha), t);
}

export function activationGrad(kind: ElementwiseActivation, x: FloatArray, xOff: number, y: FloatArray, yOff: number, dy: FloatArray, dyOff: number, dx: FloatArray, dxOff: number, n: number, alpha: number, tau = 0): void {
  for (let i = 0; i < n; i++) dx[dxOff + i] = ftz(dx, activateGrad(kind, at(x, xOff + i), at(y, yOff + i), at(dy, dyOff + i), alpha), kind === 'linear' ? 0 : tau);
}

// ---------------------------------------------------------------------------------------------
// Softmax family.

/** Row maximum; NaNs never win (`v > m`), an all-NaN or empty row gives −∞. */
function rowMax(x: FloatArray, off: number, cols: number): number {
  let m = -Infinity;
  for (let c = 0; c < cols; c++) {
    const v = at(x, off + c);
    if (v > m) m = v;
  }
  return m;
}

/** e^(x − m) of one softmax term, flushed as the kernels store it. */
function softmaxTerm(store: FloatArray, x: number, m: number, tau: number): number {
  return ftz(store, Math.exp(x - m), tau);
}

export function softmax(x: FloatArray, xOff: number, y: FloatArray, yOff: number, rows: number, cols: number, tau = 0): void {
  for (let r = 0; r < rows; r++) {
    const xr = xOff + r * cols;
    const yr = yOff + r * cols;
    const m = rowMax(x, xr, cols);
    let s = 0;
    for (let c = 0; c < cols; c++) {
      const e = softmaxTerm(y, at(x, xr + c), m, tau);
      y[yr + c] = e;
      s += e;
    }
    for (let c = 0; c < cols; c++) y[yr + c] = ftz(y, at(y, yr + c) / s, tau);
  }
}

export function softmaxGrad(y: FloatArray, yOff: number, dy: FloatArray, dyOff: number, dx: FloatArray, dxOff: number, rows: number, cols: number, tau = 0): void {
  for (let r = 0; r < rows; r++) {
    let dot = 0;
    for (let c = 0; c < cols; c++) dot += at(dy, dyOff + r * cols + c) * at(y, yOff + r * cols + c);
    for (let c = 0; c < cols; c++) dx[dxOff + r * cols + c] = ftz(dx, at(y, yOff + r * cols + c) * (at(dy, dyOff + r * cols + c) - dot), tau);
  }
}

/**
 * Σ_rows −log softmax(logits)[label] (rows in order); a label outside [0, cols) makes that row's
 * loss NaN. Writes dlogits = (softmax − onehot)·gradScale when dlogits is given.
 */
export function softmaxXent(logits: FloatArray, lOff: number, labels: Int32Array, labOff: number, dlogits: FloatArray | null, dOff: number, rows: number, cols: number, gradScale: number, tau = 0): number {
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const xr = lOff + r * cols;
    const label = at(labels, labOff + r);
    const valid = label >= 0 && label < cols;
    const m = rowMax(logits, xr, cols);
    const xl = valid ? at(logits, xr + label) : NaN;
    let s = 0;
    for (let c = 0; c < cols; c++) s += softmaxTerm(logits, at(logits, xr + c), m, tau);
    total += Math.log(s) - (xl - m);
    if (dlogits) {
      for (let c = 0; c < cols; c++) {
        const p = softmaxTerm(logits, at(logits, xr + c), m, tau) / s;
        dlogits[dOff + r * cols + c] = ftz(dlogits, (p - (c === label ? 1 : 0)) * gradScale, tau);
      }
    }
  }
  return total;
}

/** Rows whose argmax (first maximum wins; NaN never wins over column 0) equals the label. */
export function countCorrect(logits: FloatArray, lOff: number, labels: Int32Array, labOff: number, rows: number, cols: number): number {
  let count = 0;
  for (let r = 0; r < rows; r++) {
    if (cols === 0) continue;
    const xr = lOff + r * cols;
    let best = 0;
    let bv = at(logits, xr);
    for (let c = 1; c < cols; c++) {
      const v = at(logits, xr + c);
      if (v > bv) {
        bv = v;
        best = c;
      }
    }
    if (best === at(labels, labOff + r)) count++;
  }
  return count;
}

// ---------------------------------------------------------------------------------------------
// Reductions.

/**
 * The fixed f64 summation order of every reduction kernel: term i < n − n%8 goes to partial
 * i%8, partials combine as ((s0+s4) + (s2+s6)) + ((s1+s5) + (s3+s7)), then the last n%8 terms
 * are added in order. The WASM kernels follow it exactly, so results are bit-identical.
 */
export function fixedOrderSum(n: number, term: (i: number) => number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
  const n8 = n - (n % 8);
  for (let i = 0; i < n8; i += 8) {
    s0 += term(i);
    s1 += term(i + 1);
    s2 += term(i + 2);
    s3 += term(i + 3);
    s4 += term(i + 4);
    s5 += term(i + 5);
    s6 += term(i + 6);
    s7 += term(i + 7);
  }
  let total = (s0 + s4 + (s2 + s6)) + (s1 + s5 + (s3 + s7));
  for (let i = n8; i < n; i++) total += term(i);
  return total;
}

export function sum(x: FloatArray, xOff: number, n: number): number {
  return fixedOrderSum(n, (i) => at(x, xOff + i));
}

export function sumSquares(x: FloatArray, xOff: number, n: number): number {
  return fixedOrderSum(n, (i) => at(x, xOff + i) * at(x, xOff + i));
}

/** Σ (pred − target)² in the fixed order; dpred = 2·(pred − target)·gradScale when given. */
export function mse(pred: FloatArray, pOff: number, target: FloatArray, tOff: number, dpred: FloatArray | null, dOff: number, n: number, gradScale: number, tau = 0): number {
  if (dpred) for (let i = 0; i < n; i++) dpred[dOff + i] = ftz(dpred, 2 * (at(pred, pOff + i) - at(target, tOff + i)) * gradScale, tau);
  return fixedOrderSum(n, (i) => {
    const d = at(pred, pOff + i) - at(target, tOff + i);
    return d * d;
  });
}

// ---------------------------------------------------------------------------------------------
// Element-wise and data movement.

/**
 * Inverted dropout with the counter-based mask of types.ts. The keep scale is rounded to f32,
 * as the mask is defined in f32 memory, so float32 and float64 callers see the same mask.
 */
export function dropout(x: FloatArray, xOff: number, y: FloatArray, yOff: number, mask: FloatArray, mOff: number, n: number, rate: number, seedLo: number, seedHi: number): void {
  const thr = dropoutThreshold(rate);
  const scale = Math.fround(1 / (1 - rate));
  for (let i = 0; i < n; i++) {
    const keep = dropoutHash(i, seedLo, seedHi) >= thr ? scale : 0;
    mask[mOff + i] = keep;
    y[yOff + i] = at(x, xOff + i) * keep;
  }
}

export function mul(a: FloatArray, aOff: number, b: FloatArray, bOff: number, out: FloatArray, oOff: number, n: number): void {
  for (let i = 0; i < n; i++) out[oOff + i] = at(a, aOff + i) * at(b, bOff + i);
}

export function axpy(n: number, alpha: number, x: FloatArray, xOff: number, y: FloatArray, yOff: number): void {
  for (let i = 0; i < n; i++) y[yOff + i] = at(y, yOff + i) + alpha * at(x, xOff + i);
}

export function scale(n: number, alpha: number, x: FloatArray, xOff: number): void {
  for (let i = 0; i < n; i++) x[xOff + i] = at(x, xOff + i) * alpha;
}

export function fill(x: FloatArray, xOff: number, n: number, value: number): void {
  x.fill(value, xOff, xOff + n);
}

/** Copies n elements; overlapping ranges behave like memmove. */
export function copy(src: WordArray, sOff: number, dst: WordArray, dOff: number, n: number): void {
  if (src === dst) {
    dst.copyWithin(dOff, sOff, sOff + n);
    return;
  }
  // Through a copy, in case the two views share (and overlap in) one buffer.
  const tmp = src.slice(sOff, sOff + n);
  for (let i = 0; i < n; i++) dst[dOff + i] = at(tmp, i);
}

export function gatherU8(src: Uint8Array, sOff: number, rowLen: number, indices: Int32Array, iOff: number, count: number, dst: FloatArray, dOff: number, scale: number, shift: number): void {
  for (let r = 0; r < count; r++) {
    const s = sOff + at(indices, iOff + r) * rowLen;
    for (let j = 0; j < rowLen; j++) dst[dOff + r * rowLen + j] = at(src, s + j) * scale + shift;
  }
}

export function gather32(src: WordArray, sOff: number, rowLen: number, indices: Int32Array, iOff: number, count: number, dst: WordArray, dOff: number): void {
  for (let r = 0; r < count; r++) {
    const s = sOff + at(indices, iOff + r) * rowLen;
    for (let j = 0; j < rowLen; j++) dst[dOff + r * rowLen + j] = at(src, s + j);
  }
}

// ---------------------------------------------------------------------------------------------
// Optimizers (formulas exactly as documented on `Kernels`). The gradient is the sum of gradSlots
// slots, slot j at gOff + j·slotStride (in elements here, not bytes).

const identity = (x: number): number => x;

/**
 * Element i of the slot sum: slot 0, then slots 1 … gradSlots−1 added in order. Each add is rounded
 * to the array's precision, exactly as axpy(1, slot_j, slot0) stores it, so the fused sum equals
 * the two-pass one bit for bit (an f64 add rounded to f32 is the f32 add: 53 ≥ 2·24 + 2 bits).
 */
function slotSum(g: FloatArray, gOff: number, i: number, gradSlots: number, slotStride: number, round: (x: number) => number): number {
  let s = at(g, gOff + i);
  for (let j = 1; j < gradSlots; j++) s = round(s + at(g, gOff + j * slotStride + i));
  return s;
}

/** The rounding of one stored element of g: f32 for Float32Array, none for Float64Array. */
const roundingOf = (g: FloatArray): ((x: number) => number) => (g instanceof Float32Array ? Math.fround : identity);

export function sgd(n: number, p: FloatArray, pOff: number, g: FloatArray, gOff: number, vel: FloatArray | null, vOff: number, lr: number, momentum: number, nesterov: boolean, weightDecay: number, gradScale: number, gradSlots: number, slotStride: number, tau = 0): void {
  const round = roundingOf(g);
  for (let i = 0; i < n; i++) {
    const pi = at(p, pOff + i);
    const g1 = ftz(g, slotSum(g, gOff, i, gradSlots, slotStride, round) * gradScale + weightDecay * pi, tau);
    if (momentum === 0 || !vel) {
      p[pOff + i] = pi - lr * g1;
      continue;
    }
    const v = ftz(vel, momentum * at(vel, vOff + i) + g1, tau);
    vel[vOff + i] = v;
    p[pOff + i] = pi - lr * (nesterov ? g1 + momentum * v : v);
  }
}

export function adam(n: number, p: FloatArray, pOff: number, g: FloatArray, gOff: number, m: FloatArray, mOff: number, v: FloatArray, vOff: number, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, decoupled: boolean, gradScale: number, bc1: number, bc2: number, gradSlots: number, slotStride: number, tau = 0): void {
  const round = roundingOf(g);
  for (let i = 0; i < n; i++) {
    const pi = at(p, pOff + i);
    const g1 = ftz(g, slotSum(g, gOff, i, gradSlots, slotStride, round) * gradScale + (decoupled ? 0 : weightDecay * pi), tau);
    const mi = ftz(m, beta1 * at(m, mOff + i) + (1 - beta1) * g1, tau);
    const vi = ftz(v, beta2 * at(v, vOff + i) + (1 - beta2) * g1 * g1, tau * tau);
    m[mOff + i] = mi;
    v[vOff + i] = vi;
    p[pOff + i] = pi - lr * ((mi * bc1) / (Math.sqrt(vi * bc2) + eps) + (decoupled ? weightDecay * pi : 0));
  }
}

/** RMSprop's two forms and centring (see `Kernels.rmsprop`). */
export interface RmspropForm {
  /** ε inside the square root, learning rate inside the momentum buffer (tfjs, Keras 3). */
  readonly epsilonInside: boolean;
  readonly centered: boolean;
}

export function rmsprop(n: number, p: FloatArray, pOff: number, g: FloatArray, gOff: number, sq: FloatArray, sqOff: number, mom: FloatArray | null, momOff: number, mg: FloatArray | null, mgOff: number, lr: number, rho: number, eps: number, momentum: number, weightDecay: number, gradScale: number, form: RmspropForm, gradSlots: number, slotStride: number, tau = 0): void {
  const round = roundingOf(g);
  for (let i = 0; i < n; i++) {
    const pi = at(p, pOff + i);
    const g1 = ftz(g, slotSum(g, gOff, i, gradSlots, slotStride, round) * gradScale + weightDecay * pi, tau);
    const s = ftz(sq, rho * at(sq, sqOff + i) + (1 - rho) * g1 * g1, tau * tau);
    sq[sqOff + i] = s;
    let variance = s;
    if (form.centered && mg) {
      const a = ftz(mg, rho * at(mg, mgOff + i) + (1 - rho) * g1, tau);
      mg[mgOff + i] = a;
      variance = Math.max(s - a * a, 0);
    }
    const withMomentum = momentum !== 0 && mom !== null;
    if (form.epsilonInside) {
      const step = (g1 * lr) / Math.sqrt(variance + eps);
      if (!withMomentum) {
        p[pOff + i] = pi - step;
        continue;
      }
      const mv = ftz(mom, momentum * at(mom, momOff + i) + step, tau);
      mom[momOff + i] = mv;
      p[pOff + i] = pi - mv;
    } else {
      const step = g1 / (Math.sqrt(variance) + eps);
      if (!withMomentum) {
        p[pOff + i] = pi - lr * step;
        continue;
      }
      const mv = ftz(mom, momentum * at(mom, momOff + i) + step, tau);
      mom[momOff + i] = mv;
      p[pOff + i] = pi - lr * mv;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Convolution and pooling (NHWC, geometry.ts), in the fixed orders of the WASM loops. Sums are
// rounded to the storage's precision at every add, as the f32 kernels do.

/**
 * Calls visit(iy, ix) for every cell (ky, kx) of the window of output (oy, ox), in order, with
 * the input row and column (possibly in the padding).
 */
function forWindow(g: WindowGeometry, oy: number, ox: number, visit: (iy: number, ix: number) => void): void {
  for (let ky = 0; ky < g.kh; ky++) {
    const iy = oy * g.strideH - g.padTop + ky * g.dilationH;
    for (let kx = 0; kx < g.kw; kx++) visit(iy, ox * g.strideW - g.padLeft + kx * g.dilationW);
  }
}
const inside = (g: WindowGeometry, iy: number, ix: number): boolean => iy >= 0 && iy < g.inH && ix >= 0 && ix < g.inW;
/** Element index of (n, iy, ix, 0) in the input batch. */
const inputAt = (g: WindowGeometry, n: number, iy: number, ix: number): number => ((n * g.inH + iy) * g.inW + ix) * g.channels;
const inputSize = (g: WindowGeometry, rows: number): number => rows * g.inH * g.inW * g.channels;

/** Width of the conv kernels' column panels and height of their row tiles (build-wasm.ts). */
export const CONV_PANEL = 16;
export const CONV_ROWS = 2;

/** Copies example n of x into xp (hp × wp × C), zeros where the window reaches outside x. */
function padExample(x: FloatArray, xOff: number, n: number, xp: FloatArray, xpOff: number, g: WindowGeometry): void {
  const { hp, wp } = paddedExtent(g);
  for (let y = 0; y < hp; y++) {
    for (let xx = 0; xx < wp; xx++) {
      const iy = y - g.padTop;
      const ix = xx - g.padLeft;
      const d = xpOff + (y * wp + xx) * g.channels;
      const base = xOff + inputAt(g, n, iy, ix);
      for (let c = 0; c < g.channels; c++) xp[d + c] = inside(g, iy, ix) ? at(x, base + c) : 0;
    }
  }
}

/** Element offset of each output position's window origin in the padded example, positions in order. */
function windowOrigins(g: WindowGeometry): number[] {
  const { wp } = paddedExtent(g);
  const out: number[] = [];
  for (let oy = 0; oy < g.outH; oy++) for (let ox = 0; ox < g.outW; ox++) out.push((oy * g.strideH * wp + ox * g.strideW) * g.channels);
  return out;
}

/**
 * z[n, p, f] = bias[f] + Σ_k xp_n[org(p) + tap(k)] · w[k, f], added in k order from the bias (0
 * without one: bias null); xp is scratch (hp·wp·C).
 */
export function convForward(x: FloatArray, xOff: number, w: FloatArray, wOff: number, bias: FloatArray | null, bOff: number, z: FloatArray, zOff: number, rows: number, g: WindowGeometry, filters: number, xp: FloatArray, xpOff: number): void {
  const round = roundingOf(z);
  const taps = tapOffsets(g);
  const origins = windowOrigins(g);
  for (let n = 0; n < rows; n++) {
    padExample(x, xOff, n, xp, xpOff, g);
    for (let p = 0; p < origins.length; p++) {
      const a = xpOff + (origins[p] as number);
      for (let f = 0; f < filters; f++) {
        let s = bias ? at(bias, bOff + f) : 0;
        for (let k = 0; k < taps.length; k++) s = round(s + round(at(xp, a + (taps[k] as number)) * at(w, wOff + k * filters + f)));
        z[zOff + (n * origins.length + p) * filters + f] = s;
      }
    }
  }
}

/** dw[k, f] (+)= Σ_n Σ_p xp_n[org(p) + tap(k)] · dz[n, p, f], one running sum from dw (or 0). */
export function convFilterGrad(x: FloatArray, xOff: number, dz: FloatArray, dzOff: number, dw: FloatArray, dwOff: number, rows: number, g: WindowGeometry, filters: number, accumulate: boolean, xp: FloatArray, xpOff: number): void {
  const round = roundingOf(dw);
  const taps = tapOffsets(g);
  const origins = windowOrigins(g);
  for (let n = 0; n < rows; n++) {
    padExample(x, xOff, n, xp, xpOff, g);
    for (let k = 0; k < taps.length; k++) {
      for (let f = 0; f < filters; f++) {
        const i = dwOff + k * filters + f;
        let s = accumulate || n > 0 ? at(dw, i) : 0;
        for (let p = 0; p < origins.length; p++) {
          s = round(s + round(at(xp, xpOff + (origins[p] as number) + (taps[k] as number)) * at(dz, dzOff + (n * origins.length + p) * filters + f)));
        }
        dw[i] = s;
      }
    }
  }
}

/**
 * dx = the adjoint of convForward. Per example, dcol[p, k] = Σ_f dz[p, f]·w[k, f] (f in order,
 * read from wt = Wᵀ) is added to the padded dx (xp, zeroed first) by tap panels of CONV_PANEL,
 * then position pairs, then row, then tap; the inside of xp is dx_n.
 */
export function convInputGrad(dz: FloatArray, dzOff: number, w: FloatArray, wOff: number, dx: FloatArray, dxOff: number, rows: number, g: WindowGeometry, filters: number, xp: FloatArray, xpOff: number, wt: FloatArray, wtOff: number): void {
  const round = roundingOf(dx);
  const taps = tapOffsets(g);
  const origins = windowOrigins(g);
  const K = taps.length;
  const P = origins.length;
  const { hp, wp } = paddedExtent(g);
  for (let k = 0; k < K; k++) for (let f = 0; f < filters; f++) wt[wtOff + f * K + k] = at(w, wOff + k * filters + f);
  const dcol = new Float64Array(CONV_ROWS * CONV_PANEL);
  for (let n = 0; n < rows; n++) {
    xp.fill(0, xpOff, xpOff + hp * wp * g.channels);
    for (let j = 0; j < K; j += CONV_PANEL) {
      const width = Math.min(CONV_PANEL, K - j);
      for (let p0 = 0; p0 < P; p0 += CONV_ROWS) {
        const tile = Math.min(CONV_ROWS, P - p0);
        for (let r = 0; r < tile; r++) {
          for (let kk = 0; kk < width; kk++) {
            let s = 0;
            for (let f = 0; f < filters; f++) s = round(s + round(at(dz, dzOff + (n * P + p0 + r) * filters + f) * at(wt, wtOff + f * K + j + kk)));
            dcol[r * CONV_PANEL + kk] = s;
          }
        }
        for (let r = 0; r < tile; r++) {
          const a = xpOff + (origins[p0 + r] as number);
          for (let kk = 0; kk < width; kk++) {
            const i = a + (taps[j + kk] as number);
            xp[i] = round(at(xp, i) + (dcol[r * CONV_PANEL + kk] as number));
          }
        }
      }
    }
    for (let iy = 0; iy < g.inH; iy++) {
      for (let ix = 0; ix < g.inW; ix++) {
        const y = iy + g.padTop;
        const xx = ix + g.padLeft;
        const d = dxOff + inputAt(g, n, iy, ix);
        const src = xpOff + (y * wp + xx) * g.channels;
        for (let c = 0; c < g.channels; c++) dx[d + c] = y < hp && xx < wp ? at(xp, src + c) : 0;
      }
    }
  }
}

/** Calls visit(o, n, oy, ox, c) for every pooling output in order (o counts from 0). */
function forOutputs(g: WindowGeometry, rows: number, visit: (o: number, n: number, oy: number, ox: number, c: number) => void): void {
  let o = 0;
  for (let n = 0; n < rows; n++) for (let oy = 0; oy < g.outH; oy++) for (let ox = 0; ox < g.outW; ox++) for (let c = 0; c < g.channels; c++) visit(o++, n, oy, ox, c);
}

export function maxPool(x: FloatArray, xOff: number, y: FloatArray, yOff: number, argmax: Int32Array, aOff: number, rows: number, g: WindowGeometry): void {
  forOutputs(g, rows, (o, n, oy, ox, c) => {
    let best = 0;
    let bestAt = -1;
    forWindow(g, oy, ox, (iy, ix) => {
      if (!inside(g, iy, ix)) return;
      const i = inputAt(g, n, iy, ix) + c;
      const v = at(x, xOff + i);
      if (bestAt < 0 || v > best) {
        best = v;
        bestAt = i;
      }
    });
    y[yOff + o] = best;
    argmax[aOff + o] = bestAt;
  });
}

export function maxPoolGrad(dy: FloatArray, dyOff: number, argmax: Int32Array, aOff: number, dx: FloatArray, dxOff: number, rows: number, g: WindowGeometry): void {
  const round = roundingOf(dx);
  dx.fill(0, dxOff, dxOff + inputSize(g, rows));
  const outputs = rows * g.outH * g.outW * g.channels;
  for (let o = 0; o < outputs; o++) {
    const i = dxOff + at(argmax, aOff + o);
    dx[i] = round(at(dx, i) + at(dy, dyOff + o));
  }
}

/** Elements of the window of (oy, ox) inside the input. */
function windowCount(g: WindowGeometry, oy: number, ox: number): number {
  let count = 0;
  forWindow(g, oy, ox, (iy, ix) => {
    if (inside(g, iy, ix)) count++;
  });
  return count;
}

export function avgPool(x: FloatArray, xOff: number, y: FloatArray, yOff: number, rows: number, g: WindowGeometry): void {
  const round = roundingOf(y);
  forOutputs(g, rows, (o, n, oy, ox, c) => {
    let s = 0;
    forWindow(g, oy, ox, (iy, ix) => {
      if (inside(g, iy, ix)) s = round(s + at(x, xOff + inputAt(g, n, iy, ix) + c));
    });
    y[yOff + o] = s / windowCount(g, oy, ox);
  });
}

export function avgPoolGrad(dy: FloatArray, dyOff: number, dx: FloatArray, dxOff: number, rows: number, g: WindowGeometry): void {
  const round = roundingOf(dx);
  dx.fill(0, dxOff, dxOff + inputSize(g, rows));
  forOutputs(g, rows, (o, n, oy, ox, c) => {
    const v = round(at(dy, dyOff + o) / windowCount(g, oy, ox));
    forWindow(g, oy, ox, (iy, ix) => {
      if (!inside(g, iy, ix)) return;
      const i = dxOff + inputAt(g, n, iy, ix) + c;
      dx[i] = round(at(dx, i) + v);
    });
  });
}

export function globalAvgPool(x: FloatArray, xOff: number, y: FloatArray, yOff: number, rows: number, positions: number, channels: number): void {
  const round = roundingOf(y);
  for (let n = 0; n < rows; n++) {
    for (let c = 0; c < channels; c++) {
      let s = 0;
      for (let p = 0; p < positions; p++) s = round(s + at(x, xOff + (n * positions + p) * channels + c));
      y[yOff + n * channels + c] = s / positions;
    }
  }
}

export function globalAvgPoolGrad(dy: FloatArray, dyOff: number, dx: FloatArray, dxOff: number, rows: number, positions: number, channels: number): void {
  const round = roundingOf(dx);
  for (let n = 0; n < rows; n++) {
    for (let c = 0; c < channels; c++) {
      const v = round(at(dy, dyOff + n * channels + c) / positions);
      for (let p = 0; p < positions; p++) dx[dxOff + (n * positions + p) * channels + c] = v;
    }
  }
}

// Batch normalisation: float64 sums in row order, one rounding per store (types.ts).

export function batchNormStats(x: FloatArray, xOff: number, mean: FloatArray, mOff: number, variance: FloatArray, vOff: number, count: number, channels: number): void {
  for (let c = 0; c < channels; c++) {
    let s = 0;
    for (let i = 0; i < count; i++) s += at(x, xOff + i * channels + c);
    const m = s / count;
    let q = 0;
    for (let i = 0; i < count; i++) {
      const d = at(x, xOff + i * channels + c) - m;
      q += d * d;
    }
    mean[mOff + c] = m;
    variance[vOff + c] = q / count;
  }
}

/** gamma / beta null: scale 1, offset 0. */
export function batchNormForward(x: FloatArray, xOff: number, y: FloatArray, yOff: number, mean: FloatArray, mOff: number, variance: FloatArray, vOff: number, gamma: FloatArray | null, gOff: number, beta: FloatArray | null, bOff: number, count: number, channels: number, epsilon: number): void {
  for (let c = 0; c < channels; c++) {
    const inv = 1 / Math.sqrt(at(variance, vOff + c) + epsilon);
    const mu = at(mean, mOff + c);
    const g = gamma ? at(gamma, gOff + c) : 1;
    const b = beta ? at(beta, bOff + c) : 0;
    for (let i = 0; i < count; i++) y[yOff + i * channels + c] = (at(x, xOff + i * channels + c) - mu) * inv * g + b;
  }
}

export function batchNormBackward(x: FloatArray, xOff: number, dy: FloatArray, dyOff: number, dx: FloatArray, dxOff: number, mean: FloatArray, mOff: number, variance: FloatArray, vOff: number, gamma: FloatArray | null, gOff: number, dgamma: FloatArray | null, dgOff: number, dbeta: FloatArray | null, dbOff: number, count: number, channels: number, epsilon: number, accumulate: boolean, tau = 0): void {
  for (let c = 0; c < channels; c++) {
    const inv = 1 / Math.sqrt(at(variance, vOff + c) + epsilon);
    const mu = at(mean, mOff + c);
    let sdy = 0;
    let sdyx = 0;
    for (let i = 0; i < count; i++) {
      const d = at(dy, dyOff + i * channels + c);
      sdy += d;
      sdyx += d * ((at(x, xOff + i * channels + c) - mu) * inv);
    }
    if (dbeta) {
      const round = roundingOf(dbeta);
      dbeta[dbOff + c] = accumulate ? round(at(dbeta, dbOff + c) + round(sdy)) : sdy;
    }
    if (dgamma) {
      const round = roundingOf(dgamma);
      dgamma[dgOff + c] = accumulate ? round(at(dgamma, dgOff + c) + round(sdyx)) : sdyx;
    }
    const k = (gamma ? at(gamma, gOff + c) : 1) * inv;
    const mdy = sdy / count;
    const mdyx = sdyx / count;
    for (let i = 0; i < count; i++) {
      const xh = (at(x, xOff + i * channels + c) - mu) * inv;
      dx[dxOff + i * channels + c] = ftz(dx, k * (at(dy, dyOff + i * channels + c) - mdy - xh * mdyx), tau);
    }
  }
}

// ---------------------------------------------------------------------------------------------

const f32 = Math.fround;
const ACTIVATIONS = new Set(Object.keys(ACTIVATION_CODES));

/**
 * `Kernels` in plain TypeScript on a WebAssembly.Memory. Views are re-created on every call
 * because the memory may grow. Scalar arguments that the WASM kernels receive as f32 are
 * rounded to f32 here too, so both implementations see the same hyperparameters.
 */
export class ReferenceKernels implements Kernels {
  private tau = FLUSH_THRESHOLD;
  constructor(readonly memory: WebAssembly.Memory) {}

  get flushThreshold(): number {
    return this.tau;
  }
  setFlushThreshold(tau: number): void {
    this.tau = f32(tau);
  }

  private f(): Float32Array {
    return new Float32Array(this.memory.buffer);
  }
  private i(): Int32Array {
    return new Int32Array(this.memory.buffer);
  }

  gemmNN(m: number, n: number, k: number, a: Ptr, lda: number, b: Ptr, ldb: number, c: Ptr, ldc: number, accumulate: boolean): void {
    const f = this.f();
    gemmNN(m, n, k, f, a >>> 2, lda, f, b >>> 2, ldb, f, c >>> 2, ldc, accumulate);
  }
  gemmNT(m: number, n: number, k: number, a: Ptr, lda: number, b: Ptr, ldb: number, c: Ptr, ldc: number, accumulate: boolean): void {
    const f = this.f();
    gemmNT(m, n, k, f, a >>> 2, lda, f, b >>> 2, ldb, f, c >>> 2, ldc, accumulate);
  }
  gemmTN(m: number, n: number, k: number, a: Ptr, lda: number, b: Ptr, ldb: number, c: Ptr, ldc: number, accumulate: boolean): void {
    const f = this.f();
    gemmTN(m, n, k, f, a >>> 2, lda, f, b >>> 2, ldb, f, c >>> 2, ldc, accumulate);
  }
  transpose(src: Ptr, rows: number, cols: number, dst: Ptr): void {
    const w = this.i();
    transpose(w, src >>> 2, rows, cols, w, dst >>> 2);
  }
  biasAdd(y: Ptr, bias: Ptr, rows: number, cols: number): void {
    const f = this.f();
    biasAdd(f, y >>> 2, f, bias >>> 2, rows, cols);
  }
  biasGrad(dy: Ptr, db: Ptr, rows: number, cols: number, accumulate: boolean): void {
    const f = this.f();
    biasGrad(f, dy >>> 2, f, db >>> 2, rows, cols, accumulate);
  }
  activation(kind: ElementwiseActivation, x: Ptr, y: Ptr, n: number, alpha: number): void {
    if (!ACTIVATIONS.has(kind)) throw new RangeError(`unknown activation ${String(kind)}`);
    const f = this.f();
    activation(kind, f, x >>> 2, f, y >>> 2, n, f32(alpha), this.tau);
  }
  activationGrad(kind: ElementwiseActivation, x: Ptr, y: Ptr, dy: Ptr, dx: Ptr, n: number, alpha: number): void {
    if (!ACTIVATIONS.has(kind)) throw new RangeError(`unknown activation ${String(kind)}`);
    const f = this.f();
    activationGrad(kind, f, x >>> 2, f, y >>> 2, f, dy >>> 2, f, dx >>> 2, n, f32(alpha), this.tau);
  }
  softmax(x: Ptr, y: Ptr, rows: number, cols: number): void {
    const f = this.f();
    softmax(f, x >>> 2, f, y >>> 2, rows, cols, this.tau);
  }
  softmaxGrad(y: Ptr, dy: Ptr, dx: Ptr, rows: number, cols: number): void {
    const f = this.f();
    softmaxGrad(f, y >>> 2, f, dy >>> 2, f, dx >>> 2, rows, cols, this.tau);
  }
  softmaxXent(logits: Ptr, labels: Ptr, dlogits: Ptr, rows: number, cols: number, gradScale: number): number {
    const f = this.f();
    return softmaxXent(f, logits >>> 2, this.i(), labels >>> 2, dlogits === 0 ? null : f, dlogits >>> 2, rows, cols, f32(gradScale), this.tau);
  }
  countCorrect(logits: Ptr, labels: Ptr, rows: number, cols: number): number {
    return countCorrect(this.f(), logits >>> 2, this.i(), labels >>> 2, rows, cols);
  }
  mse(pred: Ptr, target: Ptr, dpred: Ptr, n: number, gradScale: number): number {
    const f = this.f();
    return mse(f, pred >>> 2, f, target >>> 2, dpred === 0 ? null : f, dpred >>> 2, n, f32(gradScale), this.tau);
  }
  dropout(x: Ptr, y: Ptr, mask: Ptr, n: number, rate: number, seedLo: number, seedHi: number): void {
    const f = this.f();
    dropout(f, x >>> 2, f, y >>> 2, f, mask >>> 2, n, rate, seedLo, seedHi);
  }
  mul(a: Ptr, b: Ptr, out: Ptr, n: number): void {
    const f = this.f();
    mul(f, a >>> 2, f, b >>> 2, f, out >>> 2, n);
  }
  axpy(n: number, alpha: number, x: Ptr, y: Ptr): void {
    const f = this.f();
    axpy(n, f32(alpha), f, x >>> 2, f, y >>> 2);
  }
  scale(n: number, alpha: number, x: Ptr): void {
    scale(n, f32(alpha), this.f(), x >>> 2);
  }
  sum(x: Ptr, n: number): number {
    return sum(this.f(), x >>> 2, n);
  }
  sumSquares(x: Ptr, n: number): number {
    return sumSquares(this.f(), x >>> 2, n);
  }
  fill(x: Ptr, n: number, value: number): void {
    fill(this.f(), x >>> 2, n, value);
  }
  copy(src: Ptr, dst: Ptr, n: number): void {
    // Through int32 views: a bit copy, like memory.copy (NaN payloads survive).
    const w = this.i();
    copy(w, src >>> 2, w, dst >>> 2, n);
  }
  convForward(x: Ptr, w: Ptr, bias: Ptr, z: Ptr, rows: number, g: WindowGeometry, filters: number, scratch: Ptr): void {
    const f = this.f();
    convForward(f, x >>> 2, f, w >>> 2, bias === 0 ? null : f, bias >>> 2, f, z >>> 2, rows, g, filters, f, this.tapTable(scratch, g));
  }
  convFilterGrad(x: Ptr, dz: Ptr, dw: Ptr, rows: number, g: WindowGeometry, filters: number, scratch: Ptr, accumulate: boolean): void {
    const f = this.f();
    convFilterGrad(f, x >>> 2, f, dz >>> 2, f, dw >>> 2, rows, g, filters, accumulate, f, this.tapTable(scratch, g));
  }
  convInputGrad(dz: Ptr, w: Ptr, dx: Ptr, rows: number, g: WindowGeometry, filters: number, scratch: Ptr): void {
    const f = this.f();
    const xp = this.tapTable(scratch, g);
    const { hp, wp } = paddedExtent(g);
    convInputGrad(f, dz >>> 2, f, w >>> 2, f, dx >>> 2, rows, g, filters, f, xp, f, xp + hp * wp * g.channels);
  }
  /** Writes the tap and origin tables (byte offsets, as the WASM kernels do) at scratch; returns the padded example's word index. */
  private tapTable(scratch: Ptr, g: WindowGeometry): number {
    const tables = [...tapOffsets(g), ...windowOrigins(g)];
    const words = this.i();
    for (let k = 0; k < tables.length; k++) words[(scratch >>> 2) + k] = (tables[k] as number) * 4;
    return (scratch >>> 2) + tables.length;
  }
  maxPool(x: Ptr, y: Ptr, argmax: Ptr, rows: number, g: WindowGeometry): void {
    const f = this.f();
    maxPool(f, x >>> 2, f, y >>> 2, this.i(), argmax >>> 2, rows, g);
  }
  maxPoolGrad(dy: Ptr, argmax: Ptr, dx: Ptr, rows: number, g: WindowGeometry): void {
    const f = this.f();
    maxPoolGrad(f, dy >>> 2, this.i(), argmax >>> 2, f, dx >>> 2, rows, g);
  }
  avgPool(x: Ptr, y: Ptr, rows: number, g: WindowGeometry): void {
    const f = this.f();
    avgPool(f, x >>> 2, f, y >>> 2, rows, g);
  }
  avgPoolGrad(dy: Ptr, dx: Ptr, rows: number, g: WindowGeometry): void {
    const f = this.f();
    avgPoolGrad(f, dy >>> 2, f, dx >>> 2, rows, g);
  }
  globalAvgPool(x: Ptr, y: Ptr, rows: number, positions: number, channels: number): void {
    const f = this.f();
    globalAvgPool(f, x >>> 2, f, y >>> 2, rows, positions, channels);
  }
  globalAvgPoolGrad(dy: Ptr, dx: Ptr, rows: number, positions: number, channels: number): void {
    const f = this.f();
    globalAvgPoolGrad(f, dy >>> 2, f, dx >>> 2, rows, positions, channels);
  }
  batchNormStats(x: Ptr, mean: Ptr, variance: Ptr, count: number, channels: number): void {
    const f = this.f();
    batchNormStats(f, x >>> 2, f, mean >>> 2, f, variance >>> 2, count, channels);
  }
  batchNormForward(x: Ptr, y: Ptr, mean: Ptr, variance: Ptr, gamma: Ptr, beta: Ptr, count: number, channels: number, epsilon: number): void {
    const f = this.f();
    batchNormForward(f, x >>> 2, f, y >>> 2, f, mean >>> 2, f, variance >>> 2, gamma === 0 ? null : f, gamma >>> 2, beta === 0 ? null : f, beta >>> 2, count, channels, f32(epsilon));
  }
  batchNormBackward(x: Ptr, dy: Ptr, dx: Ptr, mean: Ptr, variance: Ptr, gamma: Ptr, dgamma: Ptr, dbeta: Ptr, count: number, channels: number, epsilon: number, accumulate: boolean): void {
    const f = this.f();
    const or = (p: Ptr) => (p === 0 ? null : f);
    batchNormBackward(f, x >>> 2, f, dy >>> 2, f, dx >>> 2, f, mean >>> 2, f, variance >>> 2, or(gamma), gamma >>> 2, or(dgamma), dgamma >>> 2, or(dbeta), dbeta >>> 2, count, channels, f32(epsilon), accumulate, this.tau);
  }
  gatherU8(src: Ptr, rowLen: number, indices: Ptr, count: number, dst: Ptr, scale: number, shift: number): void {
    gatherU8(new Uint8Array(this.memory.buffer), src, rowLen, this.i(), indices >>> 2, count, this.f(), dst >>> 2, f32(scale), f32(shift));
  }
  gather32(src: Ptr, rowLen: number, indices: Ptr, count: number, dst: Ptr): void {
    const w = this.i();
    gather32(w, src >>> 2, rowLen, w, indices >>> 2, count, w, dst >>> 2);
  }
  // Slot counts and strides are i32 in the WASM kernels: `| 0` and `>> 2` convert them the same way.
  sgd(n: number, p: Ptr, g: Ptr, vel: Ptr, lr: number, momentum: number, nesterov: boolean, weightDecay: number, gradScale: number, gradSlots: number, slotStride: number): void {
    const f = this.f();
    sgd(n, f, p >>> 2, f, g >>> 2, f32(momentum) === 0 ? null : f, vel >>> 2, f32(lr), f32(momentum), nesterov, f32(weightDecay), f32(gradScale), gradSlots | 0, slotStride >> 2, this.tau);
  }
  adam(n: number, p: Ptr, g: Ptr, m: Ptr, v: Ptr, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, decoupled: boolean, gradScale: number, bc1: number, bc2: number, gradSlots: number, slotStride: number): void {
    const f = this.f();
    adam(n, f, p >>> 2, f, g >>> 2, f, m >>> 2, f, v >>> 2, f32(lr), f32(beta1), f32(beta2), f32(eps), f32(weightDecay), decoupled, f32(gradScale), f32(bc1), f32(bc2), gradSlots | 0, slotStride >> 2, this.tau);
  }
  rmsprop(n: number, p: Ptr, g: Ptr, sq: Ptr, mom: Ptr, mg: Ptr, lr: number, rho: number, eps: number, momentum: number, weightDecay: number, gradScale: number, epsilonInside: boolean, centered: boolean, gradSlots: number, slotStride: number): void {
    const f = this.f();
    const form = { epsilonInside, centered };
    rmsprop(n, f, p >>> 2, f, g >>> 2, f, sq >>> 2, f32(momentum) === 0 ? null : f, mom >>> 2, centered ? f : null, mg >>> 2, f32(lr), f32(rho), f32(eps), f32(momentum), f32(weightDecay), f32(gradScale), form, gradSlots | 0, slotStride >> 2, this.tau);
  }

}
