// The kernel contract: every hot loop of training, addressed by byte offsets into one
// WebAssembly.Memory. Two implementations exist: WASM SIMD (wasm.ts) and the plain
// TypeScript reference twin (reference.ts) used by tests.
import type { WindowGeometry } from '../geometry.ts';

/** A byte offset into the kernel memory. f32 / i32 data is 4-byte aligned. */
export type Ptr = number;

/** Element-wise activations with a fused forward/backward pair. Softmax is separate. */
export const ACTIVATION_CODES = {
  linear: 0,
  relu: 1,
  leaky_relu: 2,
  elu: 3,
  gelu: 4,
  sigmoid: 5,
  tanh: 6,
} as const;
export type ElementwiseActivation = keyof typeof ACTIVATION_CODES;

export interface Kernels {
  /** τ of the flush-to-zero rule (flush.ts); 0 means off. */
  readonly flushThreshold: number;
  /** Changes τ (tests: 0 turns the flush off to measure what it changes). Rounded to float32. */
  setFlushThreshold(tau: number): void;

  /** C[m×n] (+)= A[m×k]·B[k×n]. Row-major with leading dimensions (row strides, in elements). */
  gemmNN(m: number, n: number, k: number, a: Ptr, lda: number, b: Ptr, ldb: number, c: Ptr, ldc: number, accumulate: boolean): void;
  /** C[m×n] (+)= A[m×k]·B[n×k]ᵀ. */
  gemmNT(m: number, n: number, k: number, a: Ptr, lda: number, b: Ptr, ldb: number, c: Ptr, ldc: number, accumulate: boolean): void;
  /** C[m×n] (+)= A[k×m]ᵀ·B[k×n]. */
  gemmTN(m: number, n: number, k: number, a: Ptr, lda: number, b: Ptr, ldb: number, c: Ptr, ldc: number, accumulate: boolean): void;
  /** dst[cols×rows] = src[rows×cols]ᵀ (dense, no leading dimensions). */
  transpose(src: Ptr, rows: number, cols: number, dst: Ptr): void;

  /** y[r,c] += bias[c]. */
  biasAdd(y: Ptr, bias: Ptr, rows: number, cols: number): void;
  /** db[c] (+)= Σ_r dy[r,c]. */
  biasGrad(dy: Ptr, db: Ptr, rows: number, cols: number, accumulate: boolean): void;

  /** y = f(x) element-wise; x may equal y. alpha: leaky_relu slope, elu alpha. */
  activation(kind: ElementwiseActivation, x: Ptr, y: Ptr, n: number, alpha: number): void;
  /** dx = dy · f'(x), given x (pre-activation) and y = f(x); dx may equal dy. */
  activationGrad(kind: ElementwiseActivation, x: Ptr, y: Ptr, dy: Ptr, dx: Ptr, n: number, alpha: number): void;
  /** Row-wise softmax, numerically stable (subtracts the row max). */
  softmax(x: Ptr, y: Ptr, rows: number, cols: number): void;
  /** dx[r,:] = y[r,:] ⊙ (dy[r,:] − Σ_c dy[r,c]·y[r,c]). */
  softmaxGrad(y: Ptr, dy: Ptr, dx: Ptr, rows: number, cols: number): void;

  /**
   * Fused softmax cross-entropy on logits with int32 class labels. Returns Σ_rows loss (f64).
   * Writes dlogits = (softmax(logits) − onehot(label)) · gradScale unless dlogits is 0.
   */
  softmaxXent(logits: Ptr, labels: Ptr, dlogits: Ptr, rows: number, cols: number, gradScale: number): number;
  /** Number of rows whose argmax (first maximum wins) equals the int32 label. */
  countCorrect(logits: Ptr, labels: Ptr, rows: number, cols: number): number;
  /** Returns Σ (pred − target)² (f64); writes dpred = 2·(pred − target)·gradScale unless dpred is 0. */
  mse(pred: Ptr, target: Ptr, dpred: Ptr, n: number, gradScale: number): number;

  /**
   * Inverted dropout with a counter-based mask: element i is kept iff
   * dropoutHash(i, seedLo, seedHi) ≥ floor(rate·2³²) (unsigned). mask[i] = kept ? 1/(1−rate) : 0;
   * y = x ⊙ mask. Deterministic in (seed, i) alone, so any thread computes the same mask.
   */
  dropout(x: Ptr, y: Ptr, mask: Ptr, n: number, rate: number, seedLo: number, seedHi: number): void;
  /** out = a ⊙ b (out may alias a or b). */
  mul(a: Ptr, b: Ptr, out: Ptr, n: number): void;

  /** y += alpha·x. */
  axpy(n: number, alpha: number, x: Ptr, y: Ptr): void;
  /** x *= alpha. */
  scale(n: number, alpha: number, x: Ptr): void;
  /** Σ x (f64 result; fixed summation order). */
  sum(x: Ptr, n: number): number;
  /** Σ x² (f64 result; fixed summation order). */
  sumSquares(x: Ptr, n: number): number;
  fill(x: Ptr, n: number, value: number): void;
  copy(src: Ptr, dst: Ptr, n: number): void;

  // Convolution and pooling over `rows` NHWC examples of g.inH × g.inW × g.channels (geometry.ts).
  // A gradient into dx overwrites it: dx = 0, then each contribution added in a fixed order.

  /**
   * conv2d as implicit GEMM: z[n, oy, ox, f] = bias[f] + Σ_k xp_n[origin(oy, ox) + tap(k)] · w[k, f],
   * added over k = (ky, kx, c) in order from the bias (bias = 0: none), where xp_n is example n
   * zero-padded into `scratch` (geometry.ts convScratchFloats). w is HWIO (K × filters).
   */
  convForward(x: Ptr, w: Ptr, bias: Ptr, z: Ptr, rows: number, g: WindowGeometry, filters: number, scratch: Ptr): void;
  /** dw (+)= Σ_n Σ_p patch_n(p)ᵀ·dz[n, p]: one running sum per weight from dw (or 0), examples then positions in order. */
  convFilterGrad(x: Ptr, dz: Ptr, dw: Ptr, rows: number, g: WindowGeometry, filters: number, scratch: Ptr, accumulate: boolean): void;
  /** dx = the adjoint of convForward (reference.ts convInputGrad gives the order of the adds). */
  convInputGrad(dz: Ptr, w: Ptr, dx: Ptr, rows: number, g: WindowGeometry, filters: number, scratch: Ptr): void;
  /**
   * y[n, oy, ox, c] = the window's maximum over elements inside the input (first maximum wins);
   * argmax (int32) = its element index in the batch.
   */
  maxPool(x: Ptr, y: Ptr, argmax: Ptr, rows: number, g: WindowGeometry): void;
  /** dx = 0, then dy[o] added to dx[argmax[o]] for each output o in order. */
  maxPoolGrad(dy: Ptr, argmax: Ptr, dx: Ptr, rows: number, g: WindowGeometry): void;
  /** y = the window's mean over the elements inside the input (padding not counted, as tfjs). */
  avgPool(x: Ptr, y: Ptr, rows: number, g: WindowGeometry): void;
  /** dx = 0, then f32(dy[o] / count) added to each element of o's window, outputs in order. */
  avgPoolGrad(dy: Ptr, dx: Ptr, rows: number, g: WindowGeometry): void;
  /** y[n, c] = (Σ_p x[n, p, c]) / positions, positions in order. */
  globalAvgPool(x: Ptr, y: Ptr, rows: number, positions: number, channels: number): void;
  /** dx[n, p, c] = dy[n, c] / positions. */
  globalAvgPoolGrad(dy: Ptr, dx: Ptr, rows: number, positions: number, channels: number): void;

  // Batch normalisation over the last axis of `count` rows of `channels` values (rows × spatial
  // positions of NHWC outputs). Arithmetic is float64 from the float32 loads, each channel's rows
  // summed in order, rounded to float32 once at each store: the twin gives the same bits.

  /**
   * Per channel c: mean[c] = f32(Σ_i x[i,c] / count), variance[c] = f32(Σ_i (x[i,c] − m)² / count)
   * with m the float64 mean (biased variance, as tf.moments).
   */
  batchNormStats(x: Ptr, mean: Ptr, variance: Ptr, count: number, channels: number): void;
  /**
   * y[i,c] = ((x[i,c] − mean[c])·inv)·gamma[c] + beta[c], inv = 1/√(variance[c] + epsilon);
   * gamma 0 means 1, beta 0 means 0. y may equal x.
   */
  batchNormForward(x: Ptr, y: Ptr, mean: Ptr, variance: Ptr, gamma: Ptr, beta: Ptr, count: number, channels: number, epsilon: number): void;
  /**
   * The batch-statistics gradient, with x̂ = (x − mean)·inv: dbeta[c] (+)= f32(Σ dy),
   * dgamma[c] (+)= f32(Σ dy·x̂) (each skipped when 0), and (flushed, dx ≠ dy)
   * dx = f32(gamma·inv·((dy − Σdy/count) − x̂·Σ(dy·x̂)/count)).
   */
  batchNormBackward(x: Ptr, dy: Ptr, dx: Ptr, mean: Ptr, variance: Ptr, gamma: Ptr, dgamma: Ptr, dbeta: Ptr, count: number, channels: number, epsilon: number, accumulate: boolean): void;

  /** dst[r,j] = f32(src[idx[r]·rowLen + j])·scale + shift, src uint8, idx int32. */
  gatherU8(src: Ptr, rowLen: number, indices: Ptr, count: number, dst: Ptr, scale: number, shift: number): void;
  /** dst[r,j] = src[idx[r]·rowLen + j] for 4-byte elements (f32 features, i32 labels). */
  gather32(src: Ptr, rowLen: number, indices: Ptr, count: number, dst: Ptr): void;

  // Gradient slots (all three optimizers). The gradient g of element i is the sum of `gradSlots`
  // (≥ 1) blocks `slotStride` bytes apart, starting at g: g = g[i], then g = g + slot_j[i] for
  // j = 1 … gradSlots−1, in that order, in f32. That is bit-identical to first reducing the slots
  // into slot 0 with `axpy(n, 1, slot_j, g)` for j = 1, 2, … and then updating with one slot, but
  // reads memory once; the slots themselves are never written. slotStride is ignored for one slot.

  /**
   * SGD with optional (Nesterov) momentum. g' = g·gradScale + weightDecay·p;
   * vel = momentum·vel + g'; p −= lr·(nesterov ? g' + momentum·vel : vel). vel unused if momentum = 0.
   * g is the sum of gradSlots slots slotStride bytes apart (see above).
   */
  sgd(n: number, p: Ptr, g: Ptr, vel: Ptr, lr: number, momentum: number, nesterov: boolean, weightDecay: number, gradScale: number, gradSlots: number, slotStride: number): void;
  /**
   * Adam / AdamW. g' = g·gradScale (+ weightDecay·p unless decoupled);
   * m = β1·m + (1−β1)·g'; v = β2·v + (1−β2)·g'²;
   * p −= lr·( (m·bc1) / (sqrt(v·bc2) + eps) + (decoupled ? weightDecay·p : 0) ),
   * where bc1 = 1/(1−β1ᵗ), bc2 = 1/(1−β2ᵗ) are computed by the caller.
   * g is the sum of gradSlots slots slotStride bytes apart (see above).
   */
  adam(n: number, p: Ptr, g: Ptr, m: Ptr, v: Ptr, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, decoupled: boolean, gradScale: number, bc1: number, bc2: number, gradSlots: number, slotStride: number): void;
  /**
   * RMSprop. g' = g·gradScale + weightDecay·p; sq = ρ·sq + (1−ρ)·g'²; centred: mg = ρ·mg + (1−ρ)·g'
   * and var = max(sq − mg², 0), else var = sq.
   * ε inside (tfjs, Keras 3): step = lr·g' / √(var + ε); with momentum mom = momentum·mom + step,
   * p −= mom; else p −= step.
   * ε outside (PyTorch, Keras ≤ 2.3): step = g' / (√var + ε); with momentum
   * mom = momentum·mom + step, p −= lr·mom; else p −= lr·step.
   * mom is unused if momentum = 0, mg unless centred. g is the sum of gradSlots slots (see above).
   */
  rmsprop(n: number, p: Ptr, g: Ptr, sq: Ptr, mom: Ptr, mg: Ptr, lr: number, rho: number, eps: number, momentum: number, weightDecay: number, gradScale: number, epsilonInside: boolean, centered: boolean, gradSlots: number, slotStride: number): void;
}

/** lowbias32 (Chris Wellons): a strong 32-bit integer hash, cheap in i32x4 SIMD. */
export function lowbias32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The dropout mask hash of element i; shared by both kernel implementations. */
export function dropoutHash(i: number, seedLo: number, seedHi: number): number {
  return lowbias32(lowbias32((Math.imul(i, 0x9e3779b1) + seedLo) | 0) ^ seedHi);
}

/** Unsigned keep-threshold of a dropout rate in [0, 1). */
export function dropoutThreshold(rate: number): number {
  return Math.min(0xffffffff, Math.floor(rate * 4294967296)) >>> 0;
}
