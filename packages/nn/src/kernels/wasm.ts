// The WASM SIMD implementation of `Kernels`: a thin typed shell over the generated module's exports.
import { FEATURE_RELAXED_WASM, KERNEL_WASM } from '../generated/kernels-wasm.ts';
import type { WindowGeometry } from '../geometry.ts';
import { ACTIVATION_CODES, dropoutThreshold, type ElementwiseActivation, type Kernels, type Ptr } from './types.ts';

export interface KernelModuleOptions {
  /** The memory the module will run on is a shared WebAssembly.Memory. */
  readonly shared: boolean;
  /** Use f32x4.relaxed_madd in GEMM, if the runtime validates relaxed SIMD; plain SIMD otherwise. */
  readonly relaxed?: boolean;
}

function decodeBase64(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

let relaxedSupport: boolean | undefined;

/**
 * Whether this runtime accepts relaxed SIMD. On Node 20 the caller must first run
 * `v8.setFlagsFromString('--experimental-wasm-relaxed-simd')`; the answer is cached after the
 * first `true`, so enabling the flag later is still picked up.
 */
export function relaxedSimdSupported(): boolean {
  if (relaxedSupport === true) return true;
  relaxedSupport = WebAssembly.validate(decodeBase64(FEATURE_RELAXED_WASM));
  return relaxedSupport;
}

const bytesCache = new Map<string, Uint8Array<ArrayBuffer>>();

/** The module bytes for the options; relaxed falls back to plain SIMD when not validated. */
function moduleBytes(opts: KernelModuleOptions): Uint8Array<ArrayBuffer> {
  const family = opts.relaxed === true && relaxedSimdSupported() ? 'relaxed' : 'simd';
  const memory = opts.shared ? 'shared' : 'unshared';
  const key = `${family}/${memory}`;
  let bytes = bytesCache.get(key);
  if (!bytes) {
    bytes = decodeBase64(KERNEL_WASM[family][memory]);
    bytesCache.set(key, bytes);
  }
  return bytes;
}

/** Compiles the kernel module (browser-safe). The module can be posted to workers and instantiated there. */
export function compileKernelModule(opts: KernelModuleOptions): Promise<WebAssembly.Module> {
  return WebAssembly.compile(moduleBytes(opts));
}

/** Synchronous compile (Node, or browser workers; main browser threads limit synchronous compiles to 4 KiB). */
export function compileKernelModuleSync(opts: KernelModuleOptions): WebAssembly.Module {
  return new WebAssembly.Module(moduleBytes(opts));
}

type I = number;
type F = number;

/** The module's exports; names and signatures are fixed by scripts/build-wasm.ts. */
interface KernelExports {
  gemm_nn(m: I, n: I, k: I, a: I, lda: I, b: I, ldb: I, c: I, ldc: I, acc: I): void;
  gemm_nt(m: I, n: I, k: I, a: I, lda: I, b: I, ldb: I, c: I, ldc: I, acc: I): void;
  gemm_tn(m: I, n: I, k: I, a: I, lda: I, b: I, ldb: I, c: I, ldc: I, acc: I): void;
  transpose(src: I, rows: I, cols: I, dst: I): void;
  bias_add(y: I, bias: I, rows: I, cols: I): void;
  bias_grad(dy: I, db: I, rows: I, cols: I, acc: I): void;
  softmax(x: I, y: I, rows: I, cols: I): void;
  softmax_grad(y: I, dy: I, dx: I, rows: I, cols: I): void;
  softmax_xent(x: I, labels: I, dl: I, rows: I, cols: I, gs: F): number;
  count_correct(x: I, labels: I, rows: I, cols: I): number;
  mse(pred: I, target: I, dpred: I, n: I, gs: F): number;
  dropout(x: I, y: I, mask: I, n: I, thr: I, scale: F, lo: I, hi: I): void;
  mul(a: I, b: I, out: I, n: I): void;
  axpy(n: I, alpha: F, x: I, y: I): void;
  scale(n: I, alpha: F, x: I): void;
  sum(x: I, n: I): number;
  sum_squares(x: I, n: I): number;
  fill(x: I, n: I, value: F): void;
  copy(src: I, dst: I, n: I): void;
  gather_u8(src: I, rowLen: I, indices: I, count: I, dst: I, scale: F, shift: F): void;
  gather32(src: I, rowLen: I, indices: I, count: I, dst: I): void;
  sgd(n: I, p: I, g: I, vel: I, lr: F, momentum: F, nesterov: I, wd: F, gs: F, slots: I, stride: I): void;
  adam(n: I, p: I, g: I, m: I, v: I, lr: F, b1: F, omb1: F, b2: F, omb2: F, eps: F, wd: F, decoupled: I, gs: F, bc1: F, bc2: F, slots: I, stride: I): void;
  rmsprop(n: I, p: I, g: I, sq: I, mom: I, mg: I, lr: F, rho: F, omrho: F, eps: F, momentum: F, wd: F, gs: F, flags: I, slots: I, stride: I): void;
  conv_forward(x: I, w: I, bias: I, z: I, rows: I, ...g: [...WindowArgs, filters: I, scratch: I]): void;
  conv_filter_grad(x: I, dz: I, dw: I, rows: I, ...g: [...WindowArgs, filters: I, scratch: I, acc: I]): void;
  conv_input_grad(dz: I, w: I, dx: I, rows: I, ...g: [...WindowArgs, filters: I, scratch: I]): void;
  max_pool(x: I, y: I, argmax: I, rows: I, ...g: WindowArgs): void;
  max_pool_grad(dy: I, argmax: I, dx: I, rows: I, ...g: WindowArgs): void;
  avg_pool(x: I, y: I, rows: I, ...g: WindowArgs): void;
  avg_pool_grad(dy: I, dx: I, rows: I, ...g: WindowArgs): void;
  global_avg_pool(x: I, y: I, rows: I, positions: I, channels: I): void;
  global_avg_pool_grad(dy: I, dx: I, rows: I, positions: I, channels: I): void;
  batch_norm_stats(x: I, mean: I, variance: I, count: I, ch: I): void;
  batch_norm_forward(x: I, y: I, mean: I, variance: I, gamma: I, beta: I, count: I, ch: I, eps: F): void;
  batch_norm_backward(x: I, dy: I, dx: I, mean: I, variance: I, gamma: I, dgamma: I, dbeta: I, count: I, ch: I, eps: F, acc: I): void;
  set_flush(tau: F): void;
  flush_threshold(): number;
  peak_madd(iters: I): number;
  variant(): number;
}
/** A WindowGeometry as the window kernels take it (scripts/build-wasm.ts: WINDOW_PARAMS). */
type WindowArgs = [inH: I, inW: I, channels: I, kh: I, kw: I, sh: I, sw: I, dh: I, dw: I, padTop: I, padLeft: I, outH: I, outW: I];
const windowArgs = (g: WindowGeometry): WindowArgs => [g.inH, g.inW, g.channels, g.kh, g.kw, g.strideH, g.strideW, g.dilationH, g.dilationW, g.padTop, g.padLeft, g.outH, g.outW];

type ActivationFn = (x: I, y: I, n: I, alpha: F) => void;
type ActivationGradFn = (x: I, y: I, dy: I, dx: I, n: I, alpha: F) => void;

const ACTIVATION_NAMES = Object.keys(ACTIVATION_CODES) as ElementwiseActivation[];

/** `Kernels` on WebAssembly SIMD. Construction instantiates synchronously (the module is already compiled). */
export class WasmKernels implements Kernels {
  readonly memory: WebAssembly.Memory;
  /** GEMM uses relaxed-SIMD FMA (chosen at compile time). */
  readonly relaxed: boolean;
  private readonly x: KernelExports;
  private readonly act: ActivationFn[];
  private readonly actGrad: ActivationGradFn[];

  /**
   * Instantiates `module` on `memory` synchronously (cheap: the module is compiled). `instance`
   * is for `WasmKernels.instantiate`, the path for browser main threads, which may refuse
   * synchronous instantiation of large modules.
   */
  constructor(module: WebAssembly.Module, memory: WebAssembly.Memory, instance = new WebAssembly.Instance(module, { env: { memory } })) {
    this.memory = memory;
    // The export object is typed by the generator's contract, which TypeScript cannot see.
    const exports = instance.exports as unknown as KernelExports & Record<string, ActivationFn | ActivationGradFn>;
    this.x = exports;
    this.relaxed = (exports.variant() & 1) === 1;
    const pick = <T>(name: string): T => {
      const fn = exports[name];
      if (typeof fn !== 'function') throw new Error(`kernel module lacks export ${name}`);
      return fn as T;
    };
    // Indexed by ACTIVATION_CODES.
    this.act = ACTIVATION_NAMES.map((k) => pick<ActivationFn>(`act_${k}`));
    this.actGrad = ACTIVATION_NAMES.map((k) => pick<ActivationGradFn>(`actgrad_${k}`));
  }

  /** Asynchronous construction, allowed everywhere (including browser main threads). */
  static async instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<WasmKernels> {
    return new WasmKernels(module, memory, await WebAssembly.instantiate(module, { env: { memory } }));
  }

  /** Runs `iters` iterations of 12 independent f32x4 multiply-adds (8 flops each per lane group). */
  peakMadd(iters: number): number {
    return this.x.peak_madd(iters);
  }

  gemmNN(m: number, n: number, k: number, a: Ptr, lda: number, b: Ptr, ldb: number, c: Ptr, ldc: number, accumulate: boolean): void {
    this.x.gemm_nn(m, n, k, a, lda, b, ldb, c, ldc, accumulate ? 1 : 0);
  }
  gemmNT(m: number, n: number, k: number, a: Ptr, lda: number, b: Ptr, ldb: number, c: Ptr, ldc: number, accumulate: boolean): void {
    this.x.gemm_nt(m, n, k, a, lda, b, ldb, c, ldc, accumulate ? 1 : 0);
  }
  gemmTN(m: number, n: number, k: number, a: Ptr, lda: number, b: Ptr, ldb: number, c: Ptr, ldc: number, accumulate: boolean): void {
    this.x.gemm_tn(m, n, k, a, lda, b, ldb, c, ldc, accumulate ? 1 : 0);
  }
  transpose(src: Ptr, rows: number, cols: number, dst: Ptr): void {
    this.x.transpose(src, rows, cols, dst);
  }
  biasAdd(y: Ptr, bias: Ptr, rows: number, cols: number): void {
    this.x.bias_add(y, bias, rows, cols);
  }
  biasGrad(dy: Ptr, db: Ptr, rows: number, cols: number, accumulate: boolean): void {
    this.x.bias_grad(dy, db, rows, cols, accumulate ? 1 : 0);
  }
  activation(kind: ElementwiseActivation, x: Ptr, y: Ptr, n: number, alpha: number): void {
    const fn = this.act[ACTIVATION_CODES[kind]];
    if (!fn) throw new RangeError(`unknown activation ${String(kind)}`);
    fn(x, y, n, alpha);
  }
  activationGrad(kind: ElementwiseActivation, x: Ptr, y: Ptr, dy: Ptr, dx: Ptr, n: number, alpha: number): void {
    const fn = this.actGrad[ACTIVATION_CODES[kind]];
    if (!fn) throw new RangeError(`unknown activation ${String(kind)}`);
    fn(x, y, dy, dx, n, alpha);
  }
  softmax(x: Ptr, y: Ptr, rows: number, cols: number): void {
    this.x.softmax(x, y, rows, cols);
  }
  softmaxGrad(y: Ptr, dy: Ptr, dx: Ptr, rows: number, cols: number): void {
    this.x.softmax_grad(y, dy, dx, rows, cols);
  }
  softmaxXent(logits: Ptr, labels: Ptr, dlogits: Ptr, rows: number, cols: number, gradScale: number): number {
    return this.x.softmax_xent(logits, labels, dlogits, rows, cols, gradScale);
  }
  countCorrect(logits: Ptr, labels: Ptr, rows: number, cols: number): number {
    return this.x.count_correct(logits, labels, rows, cols);
  }
  mse(pred: Ptr, target: Ptr, dpred: Ptr, n: number, gradScale: number): number {
    return this.x.mse(pred, target, dpred, n, gradScale);
  }
  dropout(x: Ptr, y: Ptr, mask: Ptr, n: number, rate: number, seedLo: number, seedHi: number): void {
    this.x.dropout(x, y, mask, n, dropoutThreshold(rate) | 0, 1 / (1 - rate), seedLo, seedHi);
  }
  mul(a: Ptr, b: Ptr, out: Ptr, n: number): void {
    this.x.mul(a, b, out, n);
  }
  axpy(n: number, alpha: number, x: Ptr, y: Ptr): void {
    this.x.axpy(n, alpha, x, y);
  }
  scale(n: number, alpha: number, x: Ptr): void {
    this.x.scale(n, alpha, x);
  }
  sum(x: Ptr, n: number): number {
    return this.x.sum(x, n);
  }
  sumSquares(x: Ptr, n: number): number {
    return this.x.sum_squares(x, n);
  }
  fill(x: Ptr, n: number, value: number): void {
    this.x.fill(x, n, value);
  }
  copy(src: Ptr, dst: Ptr, n: number): void {
    this.x.copy(src, dst, n);
  }
  gatherU8(src: Ptr, rowLen: number, indices: Ptr, count: number, dst: Ptr, scale: number, shift: number): void {
    this.x.gather_u8(src, rowLen, indices, count, dst, scale, shift);
  }
  gather32(src: Ptr, rowLen: number, indices: Ptr, count: number, dst: Ptr): void {
    this.x.gather32(src, rowLen, indices, count, dst);
  }
  sgd(n: number, p: Ptr, g: Ptr, vel: Ptr, lr: number, momentum: number, nesterov: boolean, weightDecay: number, gradScale: number, gradSlots: number, slotStride: number): void {
    this.x.sgd(n, p, g, vel, lr, momentum, nesterov ? 1 : 0, weightDecay, gradScale, gradSlots, slotStride);
  }
  adam(n: number, p: Ptr, g: Ptr, m: Ptr, v: Ptr, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, decoupled: boolean, gradScale: number, bc1: number, bc2: number, gradSlots: number, slotStride: number): void {
    this.x.adam(n, p, g, m, v, lr, beta1, 1 - beta1, beta2, 1 - beta2, eps, weightDecay, decoupled ? 1 : 0, gradScale, bc1, bc2, gradSlots, slotStride);
  }
  rmsprop(n: number, p: Ptr, g: Ptr, sq: Ptr, mom: Ptr, mg: Ptr, lr: number, rho: number, eps: number, momentum: number, weightDecay: number, gradScale: number, epsilonInside: boolean, centered: boolean, gradSlots: number, slotStride: number): void {
    const flags = (epsilonInside ? 1 : 0) | (centered ? 2 : 0);
    this.x.rmsprop(n, p, g, sq, mom, mg, lr, rho, 1 - rho, eps, momentum, weightDecay, gradScale, flags, gradSlots, slotStride);
  }
  convForward(x: Ptr, w: Ptr, bias: Ptr, z: Ptr, rows: number, g: WindowGeometry, filters: number, scratch: Ptr): void {
    this.x.conv_forward(x, w, bias, z, rows, ...windowArgs(g), filters, scratch);
  }
  convFilterGrad(x: Ptr, dz: Ptr, dw: Ptr, rows: number, g: WindowGeometry, filters: number, scratch: Ptr, accumulate: boolean): void {
    this.x.conv_filter_grad(x, dz, dw, rows, ...windowArgs(g), filters, scratch, accumulate ? 1 : 0);
  }
  convInputGrad(dz: Ptr, w: Ptr, dx: Ptr, rows: number, g: WindowGeometry, filters: number, scratch: Ptr): void {
    this.x.conv_input_grad(dz, w, dx, rows, ...windowArgs(g), filters, scratch);
  }
  maxPool(x: Ptr, y: Ptr, argmax: Ptr, rows: number, g: WindowGeometry): void {
    this.x.max_pool(x, y, argmax, rows, ...windowArgs(g));
  }
  maxPoolGrad(dy: Ptr, argmax: Ptr, dx: Ptr, rows: number, g: WindowGeometry): void {
    this.x.max_pool_grad(dy, argmax, dx, rows, ...windowArgs(g));
  }
  avgPool(x: Ptr, y: Ptr, rows: number, g: WindowGeometry): void {
    this.x.avg_pool(x, y, rows, ...windowArgs(g));
  }
  avgPoolGrad(dy: Ptr, dx: Ptr, rows: number, g: WindowGeometry): void {
    this.x.avg_pool_grad(dy, dx, rows, ...windowArgs(g));
  }
  globalAvgPool(x: Ptr, y: Ptr, rows: number, positions: number, channels: number): void {
    this.x.global_avg_pool(x, y, rows, positions, channels);
  }
  globalAvgPoolGrad(dy: Ptr, dx: Ptr, rows: number, positions: number, channels: number): void {
    this.x.global_avg_pool_grad(dy, dx, rows, positions, channels);
  }
  batchNormStats(x: Ptr, mean: Ptr, variance: Ptr, count: number, channels: number): void {
    this.x.batch_norm_stats(x, mean, variance, count, channels);
  }
  batchNormForward(x: Ptr, y: Ptr, mean: Ptr, variance: Ptr, gamma: Ptr, beta: Ptr, count: number, channels: number, epsilon: number): void {
    this.x.batch_norm_forward(x, y, mean, variance, gamma, beta, count, channels, epsilon);
  }
  batchNormBackward(x: Ptr, dy: Ptr, dx: Ptr, mean: Ptr, variance: Ptr, gamma: Ptr, dgamma: Ptr, dbeta: Ptr, count: number, channels: number, epsilon: number, accumulate: boolean): void {
    this.x.batch_norm_backward(x, dy, dx, mean, variance, gamma, dgamma, dbeta, count, channels, epsilon, accumulate ? 1 : 0);
  }
  get flushThreshold(): number {
    return this.x.flush_threshold();
  }
  setFlushThreshold(tau: number): void {
    this.x.set_flush(tau);
  }

}
