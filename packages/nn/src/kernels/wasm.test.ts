// Every WASM kernel against its TypeScript twin, in all four module variants, on random shapes
// (1, odd, not multiples of 4), with sentinels proving that nothing outside the outputs changes.
import { setFlagsFromString } from 'node:v8';
import { beforeAll, describe, expect, it } from 'vitest';
import { convScratchFloats, windowGeometry, type WindowGeometry } from '../geometry.ts';
import { Rng as SeededRng } from '../rng.ts';
import * as ref from './reference.ts';
import { ReferenceKernels } from './reference.ts';
import { ACTIVATION_CODES, dropoutHash, dropoutThreshold, type ElementwiseActivation, type Kernels, type Ptr } from './types.ts';
import { compileKernelModule, compileKernelModuleSync, relaxedSimdSupported, WasmKernels } from './wasm.ts';

// Node 20 ships relaxed SIMD behind a flag; it must be set before any module is compiled.
setFlagsFromString('--experimental-wasm-relaxed-simd');

// ---------------------------------------------------------------------------------------------
// The helper: lay regions out in a memory, run the WASM kernel and the twin on identical copies,
// compare outputs within tolerance and everything else bit for bit.

/** Test-data draws (ranges, picks) on nn's seeded Rng. */
class Rng {
  private readonly r: SeededRng;
  constructor(seed: number) {
    this.r = SeededRng.fromSeed(seed);
  }
  u32(): number {
    return this.r.nextU32();
  }
  float(lo = -1, hi = 1): number {
    return lo + this.r.float() * (hi - lo);
  }
  int(lo: number, hi: number): number {
    return lo + this.r.int(hi - lo + 1);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.r.int(xs.length)] as T;
  }
}

/** Sizes that exercise every tail: 1, odd, around multiples of 4 and 16, and a few random. */
function sizeOf(rng: Rng, max = 40): number {
  return rng.u32() % 3 === 0 ? rng.int(1, max) : rng.pick([1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 15, 16, 17, 19, 31, 33]);
}

/** Absolute/relative tolerance, or a per-element bound computed from the twin's inputs. */
type Tolerance = 'exact' | { rel?: number; abs?: number; bound?: (i: number, expected: number) => number };

interface Region {
  readonly len: number;
  readonly kind?: 'f32' | 'i32' | 'u8';
  /** Generates element i (u8: a byte, i32: an int, f32: a float). Default: uniform in [−1, 1]. */
  readonly gen?: (rng: Rng, i: number) => number;
  /** Present if the kernel writes this region. */
  readonly out?: Tolerance;
}

interface KernelCase {
  readonly regions: Record<string, Region>;
  readonly run: (k: Kernels, p: Record<string, Ptr>) => number | void;
  /** What the twin runs instead of `run`, if different (e.g. an equivalent multi-kernel path). */
  readonly twinRun?: (k: Kernels, p: Record<string, Ptr>) => number | void;
  /** Tolerance on the returned number, if any. */
  readonly result?: Tolerance;
}

const SENTINEL = 0x7fa5a5a5; // a NaN: any over-read that reaches arithmetic poisons the result
const PAGES = 80;
const ULP = 2 ** -24;

interface Env {
  readonly name: string;
  wasm: WasmKernels;
  reference: ReferenceKernels;
  /** A second instance of the same WASM variant on its own memory: a twin for WASM-vs-WASM cases. */
  wasmTwin: WasmKernels;
  rng: Rng;
}

function within(actual: number, expected: number, tol: Tolerance, i: number): boolean {
  if (Number.isNaN(expected) || Number.isNaN(actual)) return Number.isNaN(expected) && Number.isNaN(actual);
  if (tol === 'exact') return Object.is(actual, expected) || actual === expected;
  if (!Number.isFinite(expected)) return actual === expected;
  const bound = (tol.abs ?? 0) + (tol.rel ?? 0) * Math.abs(expected) + (tol.bound ? tol.bound(i, expected) : 0);
  return Math.abs(actual - expected) <= bound;
}

/**
 * Runs one case on both implementations. Regions are placed with random 4-byte gaps (so vectors
 * start at any alignment) from the end of memory, a random one flush with the end, so a read
 * past it traps; gaps hold NaN sentinels. The twin is the reference unless `twin` says otherwise.
 */
function checkKernel(env: Env, c: KernelCase, label: string, twin: Kernels & { readonly memory: WebAssembly.Memory } = env.reference): number | void {
  const { rng } = env;
  const names = Object.keys(c.regions);
  const last = rng.pick(names);
  const order = [...names.filter((n) => n !== last), last];
  const words = (r: Region): number => (r.kind === 'u8' ? Math.ceil(r.len / 4) : r.len);
  const end = PAGES * 16384;
  let cursor = end;
  const ptrs: Record<string, Ptr> = {};
  const startOf: Record<string, number> = {};
  for (const name of order.reverse()) {
    const r = c.regions[name] as Region;
    cursor -= words(r);
    startOf[name] = cursor;
    // u8 regions end flush too: the kernel is given the first byte.
    ptrs[name] = r.kind === 'u8' ? cursor * 4 + (words(r) * 4 - r.len) : cursor * 4;
    cursor -= rng.int(1, 7);
  }
  const begin = cursor - 8;

  const init = new Int32Array(end - begin).fill(SENTINEL);
  const f32 = new Float32Array(init.buffer);
  const u8 = new Uint8Array(init.buffer);
  for (const name of names) {
    const r = c.regions[name] as Region;
    const base = (startOf[name] as number) - begin;
    for (let i = 0; i < r.len; i++) {
      if (r.kind === 'u8') u8[(ptrs[name] as number) - begin * 4 + i] = r.gen ? r.gen(rng, i) : rng.int(0, 255);
      else if (r.kind === 'i32') init[base + i] = r.gen ? r.gen(rng, i) : rng.int(-1000, 1000);
      else f32[base + i] = r.gen ? r.gen(rng, i) : rng.float();
    }
  }
  const load = (k: Kernels & { readonly memory: WebAssembly.Memory }): Int32Array => {
    const view = new Int32Array(k.memory.buffer, begin * 4, end - begin);
    view.set(init);
    return view;
  };
  const wasmView = load(env.wasm);
  const refView = load(twin);
  const got = c.run(env.wasm, ptrs);
  const want = (c.twinRun ?? c.run)(twin, ptrs);
  if (c.result !== undefined && !within(got as number, want as number, c.result, 0)) {
    expect.fail(`${label}: returned ${String(got)}, twin ${String(want)}`);
  }

  // Outputs within tolerance; every other word bit-identical to the initial contents.
  const outWords = new Map<number, [string, number]>();
  for (const name of names) {
    const r = c.regions[name] as Region;
    if (r.out) for (let i = 0; i < r.len; i++) outWords.set((startOf[name] as number) - begin + i, [name, i]);
  }
  const wf = new Float32Array(wasmView.buffer, wasmView.byteOffset, wasmView.length);
  const rf = new Float32Array(refView.buffer, refView.byteOffset, refView.length);
  for (let w = 0; w < init.length; w++) {
    const o = outWords.get(w);
    if (o) {
      const [name, i] = o;
      const tol = (c.regions[name] as Region).out as Tolerance;
      const ok = tol === 'exact' ? wasmView[w] === refView[w] : within(wf[w] as number, rf[w] as number, tol, i);
      if (!ok) expect.fail(`${label}: ${name}[${i}] = ${wf[w]}, twin ${rf[w]} (${JSON.stringify(c.regions[name]?.len)} elements)`);
    } else if (wasmView[w] !== init[w]) {
      expect.fail(`${label}: word ${w - ((startOf[last] as number) - begin)} relative to ${last} changed (${init[w]} → ${wasmView[w]})`);
    }
  }
  // Counted as an assertion: the case compared at least one output word (or a returned value).
  expect(outWords.size + (c.result === undefined ? 0 : 1), `${label}: nothing was compared`).toBeGreaterThan(0);
  return got;
}

// ---------------------------------------------------------------------------------------------

const VARIANTS = [
  { relaxed: false, shared: false },
  { relaxed: false, shared: true },
  { relaxed: true, shared: false },
  { relaxed: true, shared: true },
] as const;

function memoryFor(shared: boolean): WebAssembly.Memory {
  return new WebAssembly.Memory(shared ? { initial: PAGES, maximum: PAGES, shared: true } : { initial: PAGES });
}

/** Relative tolerance of results computed in a few f32 operations from exact-ish inputs. */
const ulps = (n: number, abs = 0): Tolerance => ({ rel: n * ULP, abs });

const ACTIVATIONS = Object.keys(ACTIVATION_CODES) as ElementwiseActivation[];

/** An optimizer configuration run over gradient slots (g is slot 0). */
interface OptimizerCase {
  readonly name: string;
  /** State regions; those not written must stay untouched. */
  readonly state: Readonly<Record<string, { readonly written: boolean; readonly gen?: (rng: Rng) => number }>>;
  readonly run: (k: Kernels, p: Record<string, Ptr>, n: number, gradSlots: number, slotStride: number) => void;
}

/** A stride one slot must ignore: used, it would read a gigabyte past the gradient and trap. */
const IGNORED_STRIDE = 1 << 30;
const variance = (r: Rng): number => r.float(0, 1e-2);
/** Centred RMSprop's mean gradient: small beside √variance, as E[g]² ≤ E[g²] keeps it in training. */
const meanGrad = (r: Rng): number => r.float(-1e-4, 1e-4);
const adamStep = 7;
const BC1 = 1 / (1 - 0.9 ** adamStep), BC2 = 1 / (1 - 0.999 ** adamStep);

const OPTIMIZER_CASES: readonly OptimizerCase[] = [
  {
    name: 'sgd',
    state: { vel: { written: false } },
    run: (k, p, n, s, st) => k.sgd(n, p.p as Ptr, p.g as Ptr, p.vel as Ptr, 0.1, 0, false, 0.01, 0.5, s, st),
  },
  {
    name: 'sgd momentum',
    state: { vel: { written: true } },
    run: (k, p, n, s, st) => k.sgd(n, p.p as Ptr, p.g as Ptr, p.vel as Ptr, 0.1, 0.9, false, 1e-4, 0.5, s, st),
  },
  {
    name: 'sgd nesterov',
    state: { vel: { written: true } },
    run: (k, p, n, s, st) => k.sgd(n, p.p as Ptr, p.g as Ptr, p.vel as Ptr, 0.05, 0.9, true, 0.01, 1 / 3, s, st),
  },
  {
    name: 'adam (coupled decay)',
    state: { m: { written: true }, v: { written: true, gen: variance } },
    run: (k, p, n, s, st) => k.adam(n, p.p as Ptr, p.g as Ptr, p.m as Ptr, p.v as Ptr, 1e-3, 0.9, 0.999, 1e-8, 0.01, false, 1 / 8, BC1, BC2, s, st),
  },
  {
    name: 'adamw (decoupled decay)',
    state: { m: { written: true }, v: { written: true, gen: variance } },
    run: (k, p, n, s, st) => k.adam(n, p.p as Ptr, p.g as Ptr, p.m as Ptr, p.v as Ptr, 1e-3, 0.9, 0.999, 1e-8, 0.01, true, 1 / 8, BC1, BC2, s, st),
  },
  ...([true, false] as const).flatMap((inside) => [
    {
      name: `rmsprop ε ${inside ? 'inside' : 'outside'}`,
      state: { sq: { written: true, gen: variance }, mom: { written: false }, mg: { written: false } },
      run: (k: Kernels, p: Record<string, Ptr>, n: number, s: number, st: number) =>
        k.rmsprop(n, p.p as Ptr, p.g as Ptr, p.sq as Ptr, p.mom as Ptr, p.mg as Ptr, 1e-3, 0.9, 1e-7, 0, 1e-4, 1, inside, false, s, st),
    },
    {
      name: `rmsprop ε ${inside ? 'inside' : 'outside'} momentum`,
      state: { sq: { written: true, gen: variance }, mom: { written: true }, mg: { written: false } },
      run: (k: Kernels, p: Record<string, Ptr>, n: number, s: number, st: number) =>
        k.rmsprop(n, p.p as Ptr, p.g as Ptr, p.sq as Ptr, p.mom as Ptr, p.mg as Ptr, 1e-3, 0.9, 1e-7, 0.9, 1e-4, 0.25, inside, false, s, st),
    },
    {
      name: `rmsprop ε ${inside ? 'inside' : 'outside'} centred momentum`,
      state: { sq: { written: true, gen: variance }, mom: { written: true }, mg: { written: true, gen: meanGrad } },
      run: (k: Kernels, p: Record<string, Ptr>, n: number, s: number, st: number) =>
        k.rmsprop(n, p.p as Ptr, p.g as Ptr, p.sq as Ptr, p.mom as Ptr, p.mg as Ptr, 1e-3, 0.9, 1e-7, 0.9, 1e-4, 0.25, inside, true, s, st),
    },
  ]),
];
/** Input ranges that cover every branch of each activation without overflowing. */
const ACTIVATION_RANGE: Record<ElementwiseActivation, number> = {
  linear: 10, relu: 10, leaky_relu: 10, elu: 10, gelu: 8, sigmoid: 20, tanh: 12,
};

describe('relaxed SIMD', () => {
  it('validates once the V8 flag is set, and compiles into a relaxed module', () => {
    expect(relaxedSimdSupported()).toBe(true);
    const k = new WasmKernels(compileKernelModuleSync({ shared: false, relaxed: true }), memoryFor(false));
    expect(k.relaxed).toBe(true);
  });
  it('is off unless asked for', async () => {
    const k = new WasmKernels(await compileKernelModule({ shared: true }), memoryFor(true));
    expect(k.relaxed).toBe(false);
  });
  it('instantiates asynchronously too', async () => {
    const memory = memoryFor(true);
    const k = await WasmKernels.instantiate(await compileKernelModule({ shared: true, relaxed: true }), memory);
    expect(k.relaxed).toBe(true);
    expect(k.memory).toBe(memory);
  });
  it('refuses a memory of the other kind', () => {
    expect(() => new WasmKernels(compileKernelModuleSync({ shared: true }), memoryFor(false))).toThrow(WebAssembly.LinkError);
  });
});

describe.each(VARIANTS)('WASM kernels (relaxed=$relaxed, shared=$shared)', ({ relaxed, shared }) => {
  const env = {} as Env;
  beforeAll(() => {
    env.wasm = new WasmKernels(compileKernelModuleSync({ shared, relaxed }), memoryFor(shared));
    env.reference = new ReferenceKernels(memoryFor(shared));
    env.wasmTwin = new WasmKernels(compileKernelModuleSync({ shared, relaxed }), memoryFor(shared));
    expect(env.wasm.relaxed).toBe(relaxed);
  });
  /** A fresh, seeded stream per test, so a failure reproduces in isolation. */
  const seeded = (seed: number): Env => {
    env.rng = new Rng(seed * 7919 + (relaxed ? 1 : 0) + (shared ? 2 : 0));
    return env;
  };

  // --- GEMM -----------------------------------------------------------------------------------

  type Form = 'NN' | 'NT' | 'TN';
  const gemmOf = (k: Kernels, form: Form): Kernels['gemmNN'] =>
    (form === 'NN' ? k.gemmNN : form === 'NT' ? k.gemmNT : k.gemmTN).bind(k);
  /** C (+)= op(A)·op(B) with random padding on every leading dimension. */
  function gemmCase(e: Env, form: Form, m: number, n: number, k: number, accumulate: boolean, label: string): void {
    const { rng } = e;
    const aRows = form === 'TN' ? k : m;
    const aCols = form === 'TN' ? m : k;
    const bRows = form === 'NT' ? n : k;
    const bCols = form === 'NT' ? k : n;
    const lda = aCols + rng.pick([0, 0, 1, 3, 5]);
    const ldb = bCols + rng.pick([0, 0, 1, 2, 7]);
    const ldc = n + rng.pick([0, 0, 1, 6]);
    // Elements of a padded matrix that are padding stay sentinels (never read or written).
    const padded = (rows: number, cols: number, ld: number): Region => ({
      len: Math.max(0, (rows - 1) * ld + cols),
      gen: (r, i) => (i % ld < cols ? r.float() : NaN),
    });
    const A = padded(aRows, aCols, lda);
    const B = padded(bRows, bCols, ldb);
    // The error bound of any summation order: (k + 2)·u·(Σ|a||b| + |c|), from the twin in f64.
    let absC: Float64Array | null = null;
    const C: Region = {
      len: Math.max(0, (m - 1) * ldc + n),
      // Finite padding: a stray write there differs from the twin's untouched value.
      gen: (r, i) => (i % ldc < n ? r.float() : 1234.5),
      out: { rel: 2 * ULP, bound: (i) => (k + 2) * ULP * (absC?.[i] ?? 0) },
    };
    checkKernel(e, {
      regions: { A, B, C },
      run: (kern, p) => {
        if (kern instanceof ReferenceKernels) {
          const f = new Float32Array(kern.memory.buffer);
          const abs = (ptr: Ptr, len: number): Float64Array => Float64Array.from(f.subarray(ptr >> 2, (ptr >> 2) + len), (x) => (Number.isNaN(x) ? 0 : Math.abs(x)));
          absC = abs(p.C as Ptr, C.len);
          const fn = form === 'NN' ? ref.gemmNN : form === 'NT' ? ref.gemmNT : ref.gemmTN;
          fn(m, n, k, abs(p.A as Ptr, A.len), 0, lda, abs(p.B as Ptr, B.len), 0, ldb, absC, 0, ldc, accumulate);
        }
        gemmOf(kern, form)(m, n, k, p.A as Ptr, lda, p.B as Ptr, ldb, p.C as Ptr, ldc, accumulate);
      },
    }, `${label} gemm${form} m=${m} n=${n} k=${k} lda=${lda} ldb=${ldb} ldc=${ldc} acc=${accumulate}`);
  }

  it.each(['NN', 'NT', 'TN'] as const)('gemm%s matches the twin on random shapes, with and without accumulate', (form) => {
    const e = seeded(form.charCodeAt(0) + form.charCodeAt(1));
    for (let t = 0; t < 60; t++) {
      gemmCase(e, form, sizeOf(e.rng, 45), sizeOf(e.rng, 45), e.rng.u32() % 10 === 0 ? 0 : sizeOf(e.rng, 45), t % 2 === 1, `#${t}`);
    }
  });

  it.each(['NN', 'NT', 'TN'] as const)('gemm%s handles the paths for large k, small k and narrow n', (form) => {
    const e = seeded(100 + form.charCodeAt(1));
    const shapes: [number, number, number][] = [
      [37, 21, 300], [5, 18, 520], [33, 10, 257], // k-blocks (NN/TN), dot products (NT)
      [40, 23, 10], [17, 9, 13], [35, 6, 16], [21, 33, 17], [3, 4, 12], // small-k NT path, row blocks
      [19, 10, 64], [70, 2, 9], [1, 1, 1], [2, 37, 1],
    ];
    for (const [m, n, k] of shapes) for (const acc of [false, true]) gemmCase(e, form, m, n, k, acc, 'fixed');
  });

  it('gemm results do not depend on placement or leading dimensions (bit-identical)', () => {
    const { wasm } = seeded(7);
    const f = new Float32Array(wasm.memory.buffer);
    const rng = new Rng(99);
    for (const [m, n, k] of [[13, 10, 300], [9, 17, 10], [8, 512 / 16, 33]] as const) {
      for (const form of ['NN', 'NT', 'TN'] as const) {
        const runAt = (base: number, pad: number): number[] => {
          const aR = form === 'TN' ? k : m, aC = form === 'TN' ? m : k, bR = form === 'NT' ? n : k, bC = form === 'NT' ? k : n;
          const lda = aC + pad, ldb = bC + pad, ldc = n + pad;
          const a = base, b = a + aR * lda + 3, c = b + bR * ldb + 5;
          const r2 = new Rng(5);
          for (let i = 0; i < aR; i++) for (let j = 0; j < aC; j++) f[a + i * lda + j] = r2.float();
          for (let i = 0; i < bR; i++) for (let j = 0; j < bC; j++) f[b + i * ldb + j] = r2.float();
          gemmOf(wasm, form)(m, n, k, a * 4, lda, b * 4, ldb, c * 4, ldc, false);
          const out: number[] = [];
          for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out.push(f[c + i * ldc + j] as number);
          return out;
        };
        expect(runAt(1 + rng.int(0, 3), 0)).toEqual(runAt(20000 + rng.int(0, 3), rng.int(1, 9)));
      }
    }
  });

  it('transpose moves every element exactly', () => {
    const e = seeded(11);
    for (let t = 0; t < 30; t++) {
      const rows = sizeOf(e.rng), cols = sizeOf(e.rng);
      checkKernel(e, {
        regions: { src: { len: rows * cols }, dst: { len: rows * cols, out: 'exact' } },
        run: (k, p) => k.transpose(p.src as Ptr, rows, cols, p.dst as Ptr),
      }, `transpose ${rows}x${cols}`);
    }
  });

  // --- Bias, activations, softmax ----------------------------------------------------------------

  it('biasAdd and biasGrad (with and without accumulate)', () => {
    const e = seeded(12);
    for (let t = 0; t < 30; t++) {
      const rows = sizeOf(e.rng), cols = sizeOf(e.rng, 70), acc = t % 2 === 0;
      checkKernel(e, {
        regions: { y: { len: rows * cols, out: ulps(1) }, bias: { len: cols } },
        run: (k, p) => k.biasAdd(p.y as Ptr, p.bias as Ptr, rows, cols),
      }, `biasAdd ${rows}x${cols}`);
      checkKernel(e, {
        // f32 running sums vs the twin's f64: bound by rows·u·Σ|dy|, with |dy| ≤ 1.
        regions: { dy: { len: rows * cols }, db: { len: cols, out: { abs: (rows + 2) * (rows + 1) * ULP } } },
        run: (k, p) => k.biasGrad(p.dy as Ptr, p.db as Ptr, rows, cols, acc),
      }, `biasGrad ${rows}x${cols} acc=${acc}`);
    }
  });

  it.each(ACTIVATIONS)('activation %s forward (also in place) within a few ulp', (kind) => {
    const e = seeded(20 + ACTIVATION_CODES[kind]);
    const range = ACTIVATION_RANGE[kind];
    for (let t = 0; t < 25; t++) {
      const n = sizeOf(e.rng, 200);
      const alpha = e.rng.pick([0.01, 0.2, 1, 1.7]);
      // Near 0 too: relative accuracy of expm1/tanh there is the point of the formulas.
      const xs: number[] = [];
      const gen = (r: Rng, i: number): number => (xs[i] = Math.fround(r.u32() % 4 === 0 ? r.float(-1e-3, 1e-3) : r.float(-range, range)));
      // GELU rounds z² = x²/2 in f32; e^(−z²) amplifies that relative error by z².
      const gelu = (i: number, y: number): number => {
        const x = xs[i] ?? 0;
        return 8 * ULP * Math.abs(y) * (1 + x * x);
      };
      const tol: Tolerance = { rel: 4 * ULP, abs: 1e-30, ...(kind === 'gelu' ? { bound: gelu } : {}) };
      checkKernel(e, {
        regions: { x: { len: n, gen }, y: { len: n, out: tol } },
        run: (k, p) => k.activation(kind, p.x as Ptr, p.y as Ptr, n, alpha),
      }, `${kind} n=${n}`);
      checkKernel(e, {
        regions: { x: { len: n, gen, out: tol } },
        run: (k, p) => k.activation(kind, p.x as Ptr, p.x as Ptr, n, alpha),
      }, `${kind} in place n=${n}`);
    }
  });

  it.each(ACTIVATIONS)('activation %s backward (also dx = dy)', (kind) => {
    const e = seeded(40 + ACTIVATION_CODES[kind]);
    const range = ACTIVATION_RANGE[kind];
    const alpha = 0.3;
    for (let t = 0; t < 25; t++) {
      const n = sizeOf(e.rng, 200);
      const xs: number[] = [];
      const genX = (r: Rng, i: number): number => (xs[i] = Math.fround(r.float(-range, range)));
      // y = f(x) as the forward kernel would give it.
      const genY = (_: Rng, i: number): number => ref.activate(kind, xs[i] as number, Math.fround(alpha));
      // GELU's derivative sums terms of opposite sign: bound the error by its terms' size.
      const tol: Tolerance = kind === 'gelu' ? { rel: 8 * ULP, abs: 4 * ULP } : ulps(4);
      const regions = { x: { len: n, gen: genX }, y: { len: n, gen: genY }, dy: { len: n } };
      checkKernel(e, {
        regions: { ...regions, dx: { len: n, out: tol } },
        run: (k, p) => k.activationGrad(kind, p.x as Ptr, p.y as Ptr, p.dy as Ptr, p.dx as Ptr, n, alpha),
      }, `${kind}' n=${n}`);
      checkKernel(e, {
        regions: { ...regions, dy: { len: n, out: tol } },
        run: (k, p) => k.activationGrad(kind, p.x as Ptr, p.y as Ptr, p.dy as Ptr, p.dy as Ptr, n, alpha),
      }, `${kind}' in place n=${n}`);
    }
  });

  it('exp-based activations are exact at the edges: saturation, ±0, NaN', () => {
    const e = seeded(60);
    const edge = [0, -0, 1e-30, -1e-30, 1e-8, -1e-8, 30, -30, 87, -87, 88, -88, 100, -100, 1e30, -1e30, Infinity, -Infinity, NaN];
    for (const kind of ['sigmoid', 'tanh', 'elu', 'gelu'] as const) {
      checkKernel(e, {
        regions: { x: { len: edge.length, gen: (_, i) => edge[i] as number }, y: { len: edge.length, out: ulps(4, 1e-37) } },
        run: (k, p) => k.activation(kind, p.x as Ptr, p.y as Ptr, edge.length, 1),
      }, `${kind} edges`);
    }
  });

  it('softmax and softmaxGrad', () => {
    const e = seeded(61);
    for (let t = 0; t < 30; t++) {
      const rows = sizeOf(e.rng, 9), cols = sizeOf(e.rng, 50);
      const gen = (r: Rng): number => r.float(-20, 20);
      // e^(x − max) with x − max rounded in f32: relative error grows with |x − max| ≈ |ln y|.
      const yTol: Tolerance = { rel: (4 + cols / 4) * ULP, abs: 1e-38, bound: (_, y) => (y > 0 ? 2 * ULP * Math.abs(y * Math.log(y)) : 0) };
      checkKernel(e, {
        regions: { x: { len: rows * cols, gen }, y: { len: rows * cols, out: yTol } },
        run: (k, p) => k.softmax(p.x as Ptr, p.y as Ptr, rows, cols),
      }, `softmax ${rows}x${cols}`);
      checkKernel(e, {
        regions: { x: { len: rows * cols, gen, out: yTol } },
        run: (k, p) => k.softmax(p.x as Ptr, p.x as Ptr, rows, cols),
      }, `softmax in place ${rows}x${cols}`);
      checkKernel(e, {
        // dot = Σ dy·y in f32 lanes: error ≤ (cols/4 + 2)·u·Σ|dy·y| ≤ (cols/4 + 2)·u·cols.
        regions: { y: { len: rows * cols, gen: (r) => r.float(0, 1) }, dy: { len: rows * cols }, dx: { len: rows * cols, out: { abs: (cols / 4 + 3) * cols * ULP, rel: 2 * ULP } } },
        run: (k, p) => k.softmaxGrad(p.y as Ptr, p.dy as Ptr, p.dx as Ptr, rows, cols),
      }, `softmaxGrad ${rows}x${cols}`);
    }
  });

  it('softmaxXent: loss, dlogits, no-grad mode, in place, invalid labels', () => {
    const e = seeded(62);
    for (let t = 0; t < 40; t++) {
      const rows = sizeOf(e.rng, 20), cols = sizeOf(e.rng, 30);
      const gs = e.rng.pick([1, 1 / rows, 0.37]);
      const invalid = t % 10 === 9;
      const labels: Region = { len: rows, kind: 'i32', gen: (r) => (invalid && r.u32() % 3 === 0 ? r.pick([-1, cols, cols + 5]) : r.int(0, cols - 1)) };
      const logits: Region = { len: rows * cols, gen: (r) => r.float(-15, 15) };
      // Loss: log of an f32 sum of exps, per row, plus the label logit; summed over rows in f64.
      const lossTol: Tolerance = { rel: 8 * ULP, abs: rows * 8 * ULP };
      const dTol: Tolerance = { abs: 4 * ULP * Math.abs(gs), rel: (4 + cols / 4) * ULP };
      checkKernel(e, {
        regions: { logits, labels, d: { len: rows * cols, out: dTol } },
        run: (k, p) => k.softmaxXent(p.logits as Ptr, p.labels as Ptr, p.d as Ptr, rows, cols, gs),
        result: lossTol,
      }, `softmaxXent ${rows}x${cols} gs=${gs}`);
      checkKernel(e, {
        regions: { logits, labels },
        run: (k, p) => k.softmaxXent(p.logits as Ptr, p.labels as Ptr, 0, rows, cols, gs),
        result: lossTol,
      }, `softmaxXent no grad ${rows}x${cols}`);
      checkKernel(e, {
        regions: { logits: { ...logits, out: dTol }, labels },
        run: (k, p) => k.softmaxXent(p.logits as Ptr, p.labels as Ptr, p.logits as Ptr, rows, cols, gs),
        result: lossTol,
      }, `softmaxXent in place ${rows}x${cols}`);
    }
  });

  it('countCorrect: first maximum wins, ties and NaN included', () => {
    const e = seeded(63);
    for (let t = 0; t < 30; t++) {
      const rows = sizeOf(e.rng, 40), cols = sizeOf(e.rng, 12);
      checkKernel(e, {
        // Few distinct values, so ties are common.
        regions: {
          logits: { len: rows * cols, gen: (r) => (r.u32() % 17 === 0 ? NaN : r.int(0, 3)) },
          labels: { len: rows, kind: 'i32', gen: (r) => r.int(0, cols - 1) },
        },
        run: (k, p) => k.countCorrect(p.logits as Ptr, p.labels as Ptr, rows, cols),
        result: 'exact',
      }, `countCorrect ${rows}x${cols}`);
    }
  });

  // --- Reductions: bit-identical to the twin's fixed order ------------------------------------------

  it('sum, sumSquares and mse are bit-identical to the fixed summation order', () => {
    const e = seeded(70);
    for (let t = 0; t < 40; t++) {
      const n = t < 20 ? t : sizeOf(e.rng, 300);
      const gen = (r: Rng): number => r.float(-1, 1) * 2 ** r.int(-20, 20);
      checkKernel(e, { regions: { x: { len: n, gen } }, run: (k, p) => k.sum(p.x as Ptr, n), result: 'exact' }, `sum n=${n}`);
      checkKernel(e, { regions: { x: { len: n, gen } }, run: (k, p) => k.sumSquares(p.x as Ptr, n), result: 'exact' }, `sumSquares n=${n}`);
      const gs = e.rng.pick([1, 0.5, 1 / 3]);
      checkKernel(e, {
        regions: { pred: { len: n }, target: { len: n }, d: { len: n, out: ulps(2) } },
        run: (k, p) => k.mse(p.pred as Ptr, p.target as Ptr, p.d as Ptr, n, gs),
        result: 'exact',
      }, `mse n=${n}`);
      checkKernel(e, {
        regions: { pred: { len: n }, target: { len: n } },
        run: (k, p) => k.mse(p.pred as Ptr, p.target as Ptr, 0, n, gs),
        result: 'exact',
      }, `mse no grad n=${n}`);
    }
  });

  it('reductions and row kernels give identical bits at any placement', () => {
    const { wasm } = seeded(71);
    const f = new Float32Array(wasm.memory.buffer);
    const i32 = new Int32Array(wasm.memory.buffer);
    const rng = new Rng(3);
    const data = Array.from({ length: 1003 }, () => rng.float(-3, 3));
    const results = [5, 1030, 7777].map((base) => {
      data.forEach((v, i) => (f[base + i] = v));
      for (let r = 0; r < 17; r++) i32[base + 2000 + r] = r % 10;
      const xent = wasm.softmaxXent(base * 4, (base + 2000) * 4, (base + 3000) * 4, 17, 59, 1 / 17);
      wasm.biasGrad(base * 4, (base + 5000) * 4, 17, 59, false);
      return [wasm.sum(base * 4, 1003), wasm.sumSquares(base * 4, 1003), xent, ...f.subarray(base + 3000, base + 3000 + 17 * 59), ...f.subarray(base + 5000, base + 5059)];
    });
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  });

  // --- Dropout, BLAS-1, gathers --------------------------------------------------------------------

  it('dropout masks equal the twin bit for bit', () => {
    const e = seeded(80);
    for (let t = 0; t < 30; t++) {
      const n = sizeOf(e.rng, 300);
      const rate = e.rng.pick([0, 0.1, 0.5, 0.9, 0.999]);
      const lo = e.rng.u32() | 0, hi = e.rng.u32() | 0;
      checkKernel(e, {
        regions: { x: { len: n }, y: { len: n, out: 'exact' }, mask: { len: n, out: 'exact' } },
        run: (k, p) => k.dropout(p.x as Ptr, p.y as Ptr, p.mask as Ptr, n, rate, lo, hi),
      }, `dropout n=${n} rate=${rate}`);
      checkKernel(e, {
        regions: { x: { len: n, out: 'exact' }, mask: { len: n, out: 'exact' } },
        run: (k, p) => k.dropout(p.x as Ptr, p.x as Ptr, p.mask as Ptr, n, rate, lo, hi),
      }, `dropout in place n=${n}`);
    }
  });

  it('dropout keeps element i iff dropoutHash(i) ≥ threshold, whatever the seed halves', () => {
    const { wasm } = seeded(81);
    const f = new Float32Array(wasm.memory.buffer);
    const n = 4099;
    for (const [lo, hi, rate] of [[0, 0, 0.5], [-1, 0x7fffffff, 0.25], [0x12345678, -0x789abcdf, 0.75]] as const) {
      f.fill(1, 0, n);
      wasm.dropout(0, n * 4, 2 * n * 4, n, rate, lo, hi);
      let kept = 0;
      for (let i = 0; i < n; i++) {
        const keep = dropoutHash(i, lo, hi) >= dropoutThreshold(rate);
        expect(f[2 * n + i]).toBe(keep ? Math.fround(1 / (1 - rate)) : 0);
        kept += keep ? 1 : 0;
      }
      expect(Math.abs(kept / n - (1 - rate))).toBeLessThan(0.05);
    }
  });

  it('mul, axpy, scale, fill, copy (also in place / overlapping)', () => {
    const e = seeded(82);
    for (let t = 0; t < 30; t++) {
      const n = sizeOf(e.rng, 100);
      const alpha = e.rng.float(-3, 3);
      checkKernel(e, {
        regions: { a: { len: n }, b: { len: n }, out: { len: n, out: 'exact' } },
        run: (k, p) => k.mul(p.a as Ptr, p.b as Ptr, p.out as Ptr, n),
      }, `mul n=${n}`);
      checkKernel(e, {
        regions: { a: { len: n, out: 'exact' }, b: { len: n } },
        run: (k, p) => k.mul(p.a as Ptr, p.b as Ptr, p.a as Ptr, n),
      }, `mul in place n=${n}`);
      checkKernel(e, {
        // f32(f32(α·x) + y) vs the twin's single rounding.
        regions: { x: { len: n }, y: { len: n, out: { rel: 2 * ULP, abs: 2 * ULP * Math.abs(alpha) } } },
        run: (k, p) => k.axpy(n, alpha, p.x as Ptr, p.y as Ptr),
      }, `axpy n=${n}`);
      checkKernel(e, {
        regions: { x: { len: n, out: 'exact' } },
        run: (k, p) => k.scale(n, alpha, p.x as Ptr),
      }, `scale n=${n}`);
      checkKernel(e, {
        regions: { x: { len: n, out: 'exact' } },
        run: (k, p) => k.fill(p.x as Ptr, n, alpha),
      }, `fill n=${n}`);
      checkKernel(e, {
        regions: { src: { len: n, gen: (r) => (r.u32() % 5 === 0 ? NaN : r.float()) }, dst: { len: n, out: 'exact' } },
        run: (k, p) => k.copy(p.src as Ptr, p.dst as Ptr, n),
      }, `copy n=${n}`);
      const shift = e.rng.int(-3, 3);
      checkKernel(e, {
        regions: { buf: { len: n + 3, out: 'exact' } },
        run: (k, p) => k.copy((p.buf as Ptr) + 4 * Math.max(0, -shift), (p.buf as Ptr) + 4 * Math.max(0, shift), n),
      }, `copy overlapping n=${n} shift=${shift}`);
    }
  });

  it('gatherU8 and gather32', () => {
    const e = seeded(83);
    for (let t = 0; t < 30; t++) {
      const rowLen = sizeOf(e.rng, 70), srcRows = e.rng.int(1, 9), count = sizeOf(e.rng, 20);
      const scale = e.rng.pick([1 / 255, 0.5, 1]), shift = e.rng.pick([0, -0.5, 0.1307]);
      const indices: Region = { len: count, kind: 'i32', gen: (r) => r.int(0, srcRows - 1) };
      checkKernel(e, {
        regions: { src: { len: rowLen * srcRows, kind: 'u8' }, indices, dst: { len: rowLen * count, out: ulps(1, 2 * ULP) } },
        run: (k, p) => k.gatherU8(p.src as Ptr, rowLen, p.indices as Ptr, count, p.dst as Ptr, scale, shift),
      }, `gatherU8 rowLen=${rowLen} count=${count}`);
      checkKernel(e, {
        regions: { src: { len: rowLen * srcRows }, indices, dst: { len: rowLen * count, out: 'exact' } },
        run: (k, p) => k.gather32(p.src as Ptr, rowLen, p.indices as Ptr, count, p.dst as Ptr),
      }, `gather32 rowLen=${rowLen} count=${count}`);
    }
  });

  // --- Convolution and pooling ------------------------------------------------------------------

  /** A random window over a small NHWC batch: odd and non-square sizes, strides, dilations, both paddings. */
  function randomWindow(e: Env, pool: boolean): { rows: number; g: WindowGeometry } {
    for (;;) {
      const rng = e.rng;
      const g = windowGeometry(
        [rng.int(1, 9), rng.int(1, 8), rng.pick([1, 2, 3, 4, 5, 8, 12])],
        [rng.int(1, 4), rng.int(1, 4)],
        [rng.int(1, 3), rng.int(1, 3)],
        pool ? [1, 1] : [rng.int(1, 2), rng.int(1, 2)],
        rng.pick(['valid', 'same'] as const),
      );
      if (g.outH >= 1 && g.outW >= 1) return { rows: rng.int(1, 3), g };
    }
  }
  const describeWindow = ({ rows, g }: { rows: number; g: WindowGeometry }): string =>
    `rows=${rows} in=${g.inH}x${g.inW}x${g.channels} k=${g.kh}x${g.kw} s=${g.strideH},${g.strideW} d=${g.dilationH},${g.dilationW} pad=${g.padTop},${g.padLeft} out=${g.outH}x${g.outW}`;

  it('conv2d forward, filter and input gradients equal the twin (bit for bit without FMA)', () => {
    const e = seeded(110);
    for (let t = 0; t < 48; t++) {
      const w = randomWindow(e, false);
      const { rows, g } = w;
      // Filters around the 16-wide panels and 4-lane vectors; tap counts K likewise (channels).
      const filters = t < 8 ? [16, 32, 17, 3, 33, 1, 20, 47][t] as number : sizeOf(e.rng, 40);
      const K = g.kh * g.kw * g.channels;
      const P = g.outH * g.outW;
      const inputs = rows * g.inH * g.inW * g.channels;
      const outputs = rows * P * filters;
      const scratchLen = convScratchFloats(g, filters);
      // Plain SIMD rounds like the twin; relaxed FMA keeps the product unrounded: the bound of
      // any order, (terms + 2)·u·Σ|a||b|, from the twin on absolute values.
      const bounded = (terms: number, abs: () => Float64Array | null): Tolerance => (relaxed ? { rel: 2 * ULP, bound: (i) => (terms + 2) * ULP * (abs()?.[i] ?? 0) } : 'exact');
      const scratchTol: Tolerance = relaxed ? { rel: 1e-3, abs: 1e-3 } : 'exact';
      const absOf = (k: Kernels, ptr: Ptr, len: number): Float64Array => {
        const f = new Float32Array((k as ReferenceKernels).memory.buffer);
        return Float64Array.from(f.subarray(ptr >> 2, (ptr >> 2) + len), (v) => (Number.isNaN(v) ? 0 : Math.abs(v)));
      };
      const xp = (): Float64Array => new Float64Array(scratchLen);
      let absZ: Float64Array | null = null;
      // Every other case without a bias (the kernels start the sums from 0 instead).
      const withBias = t % 3 !== 2;
      checkKernel(e, {
        regions: { x: { len: inputs }, w: { len: K * filters }, bias: { len: filters }, z: { len: outputs, out: bounded(K + 1, () => absZ) }, scratch: { len: scratchLen, out: scratchTol } },
        run: (k, p) => {
          if (k instanceof ReferenceKernels) {
            absZ = new Float64Array(outputs);
            ref.convForward(absOf(k, p.x as Ptr, inputs), 0, absOf(k, p.w as Ptr, K * filters), 0, withBias ? absOf(k, p.bias as Ptr, filters) : null, 0, absZ, 0, rows, g, filters, xp(), 0);
          }
          k.convForward(p.x as Ptr, p.w as Ptr, withBias ? (p.bias as Ptr) : 0, p.z as Ptr, rows, g, filters, p.scratch as Ptr);
        },
      }, `convForward f=${filters} bias=${withBias} ${describeWindow(w)}`);
      const accumulate = t % 2 === 1;
      let absW: Float64Array | null = null;
      checkKernel(e, {
        regions: { x: { len: inputs }, dz: { len: outputs }, dw: { len: K * filters, out: bounded(rows * P, () => absW) }, scratch: { len: scratchLen, out: scratchTol } },
        run: (k, p) => {
          if (k instanceof ReferenceKernels) {
            absW = absOf(k, p.dw as Ptr, K * filters);
            ref.convFilterGrad(absOf(k, p.x as Ptr, inputs), 0, absOf(k, p.dz as Ptr, outputs), 0, absW, 0, rows, g, filters, accumulate, xp(), 0);
          }
          k.convFilterGrad(p.x as Ptr, p.dz as Ptr, p.dw as Ptr, rows, g, filters, p.scratch as Ptr, accumulate);
        },
      }, `convFilterGrad f=${filters} acc=${accumulate} ${describeWindow(w)}`);
      let absX: Float64Array | null = null;
      checkKernel(e, {
        regions: { dz: { len: outputs }, w: { len: K * filters }, dx: { len: inputs, out: bounded(filters + g.kh * g.kw, () => absX) }, scratch: { len: scratchLen, out: scratchTol } },
        run: (k, p) => {
          if (k instanceof ReferenceKernels) {
            absX = new Float64Array(inputs);
            ref.convInputGrad(absOf(k, p.dz as Ptr, outputs), 0, absOf(k, p.w as Ptr, K * filters), 0, absX, 0, rows, g, filters, xp(), 0, new Float64Array(K * filters), 0);
          }
          k.convInputGrad(p.dz as Ptr, p.w as Ptr, p.dx as Ptr, rows, g, filters, p.scratch as Ptr);
        },
      }, `convInputGrad f=${filters} ${describeWindow(w)}`);
    }
  });

  it('max and average pooling, forward and backward, equal the twin bit for bit', () => {
    const e = seeded(111);
    for (let t = 0; t < 40; t++) {
      const w = randomWindow(e, true);
      const { rows, g } = w;
      const inputs = rows * g.inH * g.inW * g.channels;
      const outputs = rows * g.outH * g.outW * g.channels;
      // Few distinct values, so windows hold ties (the first maximum must win in both).
      const coarse: Region = { len: inputs, gen: (r) => r.int(-3, 3) / 2 };
      checkKernel(e, {
        regions: { x: coarse, y: { len: outputs, out: 'exact' }, argmax: { len: outputs, kind: 'i32', out: 'exact' } },
        run: (k, p) => k.maxPool(p.x as Ptr, p.y as Ptr, p.argmax as Ptr, rows, g),
      }, `maxPool ${describeWindow(w)}`);
      checkKernel(e, {
        regions: { dy: { len: outputs }, argmax: { len: outputs, kind: 'i32', gen: (r) => r.int(0, inputs - 1) }, dx: { len: inputs, out: 'exact' } },
        run: (k, p) => k.maxPoolGrad(p.dy as Ptr, p.argmax as Ptr, p.dx as Ptr, rows, g),
      }, `maxPoolGrad ${describeWindow(w)}`);
      checkKernel(e, {
        regions: { x: { len: inputs }, y: { len: outputs, out: 'exact' } },
        run: (k, p) => k.avgPool(p.x as Ptr, p.y as Ptr, rows, g),
      }, `avgPool ${describeWindow(w)}`);
      checkKernel(e, {
        regions: { dy: { len: outputs }, dx: { len: inputs, out: 'exact' } },
        run: (k, p) => k.avgPoolGrad(p.dy as Ptr, p.dx as Ptr, rows, g),
      }, `avgPoolGrad ${describeWindow(w)}`);
    }
  });

  it('global average pooling, forward and backward, equals the twin bit for bit', () => {
    const e = seeded(112);
    for (let t = 0; t < 30; t++) {
      const rows = e.rng.int(1, 4), positions = sizeOf(e.rng, 60), channels = sizeOf(e.rng, 20);
      checkKernel(e, {
        regions: { x: { len: rows * positions * channels }, y: { len: rows * channels, out: 'exact' } },
        run: (k, p) => k.globalAvgPool(p.x as Ptr, p.y as Ptr, rows, positions, channels),
      }, `globalAvgPool rows=${rows} positions=${positions} channels=${channels}`);
      checkKernel(e, {
        regions: { dy: { len: rows * channels }, dx: { len: rows * positions * channels, out: 'exact' } },
        run: (k, p) => k.globalAvgPoolGrad(p.dy as Ptr, p.dx as Ptr, rows, positions, channels),
      }, `globalAvgPoolGrad rows=${rows} positions=${positions} channels=${channels}`);
    }
  });

  it('batch normalisation statistics, forward and backward equal the twin bit for bit (with and without gamma, beta)', () => {
    const e = seeded(113);
    // Every remainder of the 8-channel blocks (then 4, 2, 1), and widths past several blocks.
    const widths = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 31, 64];
    for (let t = 0; t < 40; t++) {
      const count = sizeOf(e.rng, 70), channels = widths[t] ?? sizeOf(e.rng, 20);
      const affine = t % 3 !== 2;
      const eps = e.rng.pick([1e-3, 1e-5, 0.5]);
      const n = count * channels;
      // Offsets away from zero so the two passes of the variance matter; variances positive.
      const x: Region = { len: n, gen: (r) => r.float(-1, 1) * 3 + 2 };
      const variance: Region = { len: channels, gen: (r) => r.float(0, 2) };
      const label = `count=${count} channels=${channels} affine=${affine}`;
      checkKernel(e, {
        regions: { x, mean: { len: channels, out: 'exact' }, variance: { len: channels, out: 'exact' } },
        run: (k, p) => k.batchNormStats(p.x as Ptr, p.mean as Ptr, p.variance as Ptr, count, channels),
      }, `batchNormStats ${label}`);
      checkKernel(e, {
        regions: { x, y: { len: n, out: 'exact' }, mean: { len: channels }, variance, gamma: { len: channels }, beta: { len: channels } },
        run: (k, p) => k.batchNormForward(p.x as Ptr, p.y as Ptr, p.mean as Ptr, p.variance as Ptr, affine ? (p.gamma as Ptr) : 0, affine ? (p.beta as Ptr) : 0, count, channels, eps),
      }, `batchNormForward ${label}`);
      const acc = t % 2 === 1;
      checkKernel(e, {
        regions: {
          x,
          dy: { len: n },
          dx: { len: n, out: 'exact' },
          mean: { len: channels },
          variance,
          gamma: { len: channels },
          dgamma: { len: channels, out: 'exact' },
          dbeta: { len: channels, out: 'exact' },
        },
        run: (k, p) => k.batchNormBackward(p.x as Ptr, p.dy as Ptr, p.dx as Ptr, p.mean as Ptr, p.variance as Ptr, affine ? (p.gamma as Ptr) : 0, p.dgamma as Ptr, affine ? (p.dbeta as Ptr) : 0, count, channels, eps, acc),
      }, `batchNormBackward ${label} accumulate=${acc}`);
    }
  });

  // --- Optimizers -------------------------------------------------------------------------------

  /** A few f32 roundings of each term of an update: relative to the parameter's own size. */
  const stepTol: Tolerance = { rel: 8 * ULP, abs: 8 * ULP };

  it('sgd: plain, momentum, Nesterov, weight decay; vel untouched without momentum', () => {
    const e = seeded(90);
    for (let t = 0; t < 24; t++) {
      const n = sizeOf(e.rng, 100);
      const momentum = t % 3 === 0 ? 0 : 0.9;
      const nesterov = t % 3 === 2;
      const wd = e.rng.pick([0, 1e-4, 0.01]);
      checkKernel(e, {
        regions: { p: { len: n, out: stepTol }, g: { len: n }, vel: { len: n, ...(momentum ? { out: stepTol } : {}) } },
        run: (k, p) => k.sgd(n, p.p as Ptr, p.g as Ptr, p.vel as Ptr, 0.1, momentum, nesterov, wd, 0.5, 1, 0),
      }, `sgd n=${n} momentum=${momentum} nesterov=${nesterov}`);
    }
  });

  it('adam / adamw', () => {
    const e = seeded(91);
    for (let t = 0; t < 24; t++) {
      const n = sizeOf(e.rng, 100);
      const decoupled = t % 2 === 0;
      const step = e.rng.int(1, 50);
      const bc1 = 1 / (1 - 0.9 ** step), bc2 = 1 / (1 - 0.999 ** step);
      checkKernel(e, {
        regions: { p: { len: n, out: stepTol }, g: { len: n }, m: { len: n, out: stepTol }, v: { len: n, gen: (r) => r.float(0, 1e-2), out: stepTol } },
        run: (k, p) => k.adam(n, p.p as Ptr, p.g as Ptr, p.m as Ptr, p.v as Ptr, 1e-3, 0.9, 0.999, 1e-8, 0.01, decoupled, 1 / 8, bc1, bc2, 1, 0),
      }, `adam n=${n} decoupled=${decoupled}`);
    }
  });

  it('rmsprop: ε inside / outside the root, centred or not, with and without momentum; unused state untouched', () => {
    const e = seeded(92);
    for (let t = 0; t < 32; t++) {
      const n = sizeOf(e.rng, 100);
      const momentum = t % 2 === 0 ? 0 : 0.9;
      const inside = t % 4 < 2;
      const centered = t % 8 < 4;
      checkKernel(e, {
        regions: {
          p: { len: n, out: stepTol }, g: { len: n },
          sq: { len: n, gen: (r) => r.float(0, 1e-2), out: stepTol },
          mom: { len: n, ...(momentum ? { out: stepTol } : {}) },
          mg: { len: n, gen: meanGrad, ...(centered ? { out: stepTol } : {}) },
        },
        run: (k, p) => k.rmsprop(n, p.p as Ptr, p.g as Ptr, p.sq as Ptr, p.mom as Ptr, p.mg as Ptr, 1e-3, 0.9, 1e-7, momentum, 1e-4, 1, inside, centered, 1, 0),
      }, `rmsprop n=${n} momentum=${momentum} inside=${inside} centered=${centered}`);
    }
  });

  // Fused slot reduction: each optimizer reads its gradient as the sum of gradSlots blocks.
  it.each(OPTIMIZER_CASES)('$name over gradSlots 1, 2, 3, 5: matches the twin, bit-identical to axpy + one slot, slots read-only', (o) => {
    const e = seeded(93 + OPTIMIZER_CASES.indexOf(o));
    for (const slots of [1, 2, 3, 5]) {
      for (let t = 0; t < 6; t++) {
        const n = t === 0 ? 1 : sizeOf(e.rng, 100);
        // Slots contiguous or with gaps, so each slot starts at its own alignment.
        const strideEl = n + e.rng.pick([0, 0, 1, 2, 3, 6, 17]);
        const stride = 4 * strideEl;
        const label = `${o.name} n=${n} slots=${slots} stride=${stride}`;
        // Gaps between slots hold NaN, so reading one poisons the update. g is never an output, so
        // checkKernel also proves the fused kernel leaves every slot (and gap) bit-identical.
        const g: Region = { len: (slots - 1) * strideEl + n, gen: (r, i) => (i % strideEl < n ? r.float() : NaN) };
        const regions = (tol: Tolerance): Record<string, Region> => {
          const rs: Record<string, Region> = { p: { len: n, out: tol }, g };
          for (const [name, st] of Object.entries(o.state)) rs[name] = { len: n, ...(st.gen ? { gen: st.gen } : {}), ...(st.written ? { out: tol } : {}) };
          return rs;
        };
        checkKernel(e, { regions: regions(stepTol), run: (k, p) => o.run(k, p, n, slots, stride) }, `${label} vs twin`);
        // The determinism guarantee of the data-parallel trainer: one fused pass equals reducing
        // the slots into slot 0 with axpy (slot order), then updating from slot 0 alone.
        checkKernel(e, {
          regions: regions('exact'),
          run: (k, p) => o.run(k, p, n, slots, stride),
          twinRun: (k, p) => {
            for (let j = 1; j < slots; j++) k.axpy(n, 1, (p.g as Ptr) + j * stride, p.g as Ptr);
            o.run(k, p, n, 1, IGNORED_STRIDE);
          },
        }, `${label} vs axpy + one slot`, e.wasmTwin);
      }
    }
  });

  it('peakMadd runs and returns a finite value', () => {
    expect(Number.isFinite(env.wasm.peakMadd(1000))).toBe(true);
  });
});
