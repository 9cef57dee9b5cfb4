// Generates the WebAssembly SIMD kernels of packages/nn as WAT text (GEMM micro-kernels unrolled
// here, in TypeScript), compiles four variants with wabt and writes src/generated/kernels-wasm.ts.
//
// Variants: {simd, relaxed} × {shared, unshared} memory. "relaxed" only swaps the GEMM (and
// peak_madd) multiply-add for f32x4.relaxed_madd; every other kernel is identical, so the
// reference twin and the determinism guarantees hold for both.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';
import { FLUSH_THRESHOLD } from '../src/kernels/flush.ts';

export interface Variant {
  readonly relaxed: boolean;
  readonly shared: boolean;
}

type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128';

// ---------------------------------------------------------------------------------------------
// A tiny WAT DSL: expressions are strings in folded S-expression form.

const get = (name: string): string => `(local.get $${name})`;
const set = (name: string, value: string): string => `(local.set $${name} ${value})`;
const i32 = (v: number): string => `(i32.const ${v | 0})`;
const add = (a: string, b: string): string => `(i32.add ${a} ${b})`;
const sub = (a: string, b: string): string => `(i32.sub ${a} ${b})`;
const mul = (a: string, b: string): string => `(i32.mul ${a} ${b})`;
const shl = (a: string, bits: number): string => `(i32.shl ${a} (i32.const ${bits}))`;
const addTo = (name: string, delta: string): string => set(name, add(get(name), delta));

/** Exact f32 literal (hex float), so generated constants never depend on decimal parsing. */
function f32lit(x: number): string {
  const v = Math.fround(x);
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  if (v === 0) return Object.is(v, -0) ? '-0x0p+0' : '0x0p+0';
  const buf = new DataView(new ArrayBuffer(4));
  buf.setFloat32(0, v);
  const bits = buf.getUint32(0);
  const sign = bits >>> 31 ? '-' : '';
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  // Normal: 1.mant × 2^(exp−127); the 23 mantissa bits are shifted to 24 for whole hex digits.
  if (exp === 0) return `${sign}0x0.${(mant << 1).toString(16).padStart(6, '0')}p-126`;
  return `${sign}0x1.${(mant << 1).toString(16).padStart(6, '0')}p${exp - 127}`;
}
const f32 = (x: number): string => `(f32.const ${f32lit(x)})`;
const f64 = (x: number): string => `(f64.const ${Number.isFinite(x) ? x.toString() : x > 0 ? 'inf' : '-inf'})`;
/** A constant f32x4 with the same value in every lane. */
const vf = (x: number): string => `(v128.const f32x4 ${f32lit(x)} ${f32lit(x)} ${f32lit(x)} ${f32lit(x)})`;
const vi = (x: number): string => `(v128.const i32x4 ${x | 0} ${x | 0} ${x | 0} ${x | 0})`;
const vzero = '(v128.const i32x4 0 0 0 0)';

const fadd = (a: string, b: string): string => `(f32x4.add ${a} ${b})`;
const fsub = (a: string, b: string): string => `(f32x4.sub ${a} ${b})`;
const fmul = (a: string, b: string): string => `(f32x4.mul ${a} ${b})`;
const fdiv = (a: string, b: string): string => `(f32x4.div ${a} ${b})`;
const vand = (a: string, b: string): string => `(v128.and ${a} ${b})`;
/** Lane-wise a·b + c with one rounding per op (the plain form used outside GEMM). */
const fmadd = (a: string, b: string, c: string): string => fadd(fmul(a, b), c);
/** bits ? a : b, lane by lane (mask lanes are all-ones or all-zeros). */
const select = (a: string, b: string, mask: string): string => `(v128.bitselect ${a} ${b} ${mask})`;
const vload = (ptr: string, offset = 0): string => `(v128.load offset=${offset} align=4 ${ptr})`;
const vstore = (ptr: string, value: string, offset = 0): string => `(v128.store offset=${offset} align=4 ${ptr} ${value})`;
const splatLoad = (ptr: string, offset = 0): string => `(v128.load32_splat offset=${offset} align=4 ${ptr})`;

// Flush to zero (see src/kernels/flush.ts): a lane whose magnitude is below the threshold becomes
// +0; NaN and ±inf pass (|NaN| < τ is false). τ and τ² live in module globals so tests can turn
// the flush off (`set_flush(0)`); every kernel reads them once at entry.
/** Declares $vtau = splat(τ) and $vtau2 = splat(τ²), set at the current point of `f`. */
function flushSetup(f: Func): void {
  f.declare('v128', 'vtau', 'vtau2');
  f.emit(set('vtau', '(f32x4.splat (global.get $tau))'), set('vtau2', '(f32x4.splat (f32.mul (global.get $tau) (global.get $tau)))'));
}
/** v with every lane |v| < τ (or τ² for second moments) set to +0; v must be a local read. */
const ftz = (v: string, tau: 'vtau' | 'vtau2' = 'vtau'): string => `(v128.andnot ${v} (f32x4.lt (f32x4.abs ${v}) ${get(tau)}))`;
/** The scalar rule on an f32 expression (evaluated once: select reads it as its first operand). */
const ftzScalar = (x: string): string => `(call $ftz_f32 ${x})`;
/** Flushes a v128 local in place. */
function ftzLocal(f: Func, name: string, tau: 'vtau' | 'vtau2' = 'vtau'): void {
  f.emit(set(name, ftz(get(name), tau)));
}

/** Loads `lanes` (1..4) f32 at ptr+offset into the low lanes, zeroing the rest; reads nothing beyond. */
function loadLanes(ptr: string, offset: number, lanes: number): string {
  switch (lanes) {
    case 4:
      return vload(ptr, offset);
    case 3:
      return `(v128.load32_lane offset=${offset + 8} align=4 2 ${ptr} (v128.load64_zero offset=${offset} align=4 ${ptr}))`;
    case 2:
      return `(v128.load64_zero offset=${offset} align=4 ${ptr})`;
    case 1:
      return `(v128.load32_zero offset=${offset} align=4 ${ptr})`;
    default:
      throw new Error(`loadLanes: ${lanes} lanes`);
  }
}

/** Stores the low `lanes` (1..4) f32 of value at ptr+offset; writes nothing beyond. */
function storeLanes(ptr: string, offset: number, lanes: number, value: string): string[] {
  switch (lanes) {
    case 4:
      return [vstore(ptr, value, offset)];
    case 3:
      // The value is used twice, so callers pass a local.get.
      return [
        `(v128.store64_lane offset=${offset} align=4 0 ${ptr} ${value})`,
        `(v128.store32_lane offset=${offset + 8} align=4 2 ${ptr} ${value})`,
      ];
    case 2:
      return [`(v128.store64_lane offset=${offset} align=4 0 ${ptr} ${value})`];
    case 1:
      return [`(v128.store32_lane offset=${offset} align=4 0 ${ptr} ${value})`];
    default:
      throw new Error(`storeLanes: ${lanes} lanes`);
  }
}

/** i8x16.shuffle over f32 lanes: indices 0..3 pick from a, 4..7 from b. */
function shuffle32(a: string, b: string, lanes: readonly [number, number, number, number]): string {
  const bytes = lanes.flatMap((l) => [l * 4, l * 4 + 1, l * 4 + 2, l * 4 + 3]);
  return `(i8x16.shuffle ${bytes.join(' ')} ${a} ${b})`;
}

/** One WAT function under construction: params, deduplicated locals, body lines. */
class Func {
  private readonly locals = new Map<string, ValType>();
  private readonly lines: string[] = [];
  private labels = 0;

  constructor(
    readonly name: string,
    private readonly params: readonly (readonly [string, ValType])[],
    private readonly result: ValType | null,
    private readonly exported: boolean,
  ) {}

  local(name: string, type: ValType): string {
    const known = this.locals.get(name) ?? this.params.find(([p]) => p === name)?.[1];
    if (known !== undefined && known !== type) throw new Error(`${this.name}: local ${name} is ${known}, not ${type}`);
    if (known === undefined) this.locals.set(name, type);
    return name;
  }

  /** Declares several locals of one type. */
  declare(type: ValType, ...names: string[]): void {
    for (const n of names) this.local(n, type);
  }

  label(prefix: string): string {
    return `${prefix}${this.labels++}`;
  }

  emit(...lines: string[]): void {
    this.lines.push(...lines);
  }

  /** A counted loop: runs body while `cond` (checked first) holds. */
  whileLoop(cond: string, body: () => void): void {
    const l = this.label('L');
    this.emit(`(if ${cond} (then (loop $${l}`);
    body();
    this.emit(`(br_if $${l} ${cond}))))`);
  }

  text(): string {
    const params = this.params.map(([n, t]) => `(param $${n} ${t})`).join(' ');
    const result = this.result ? ` (result ${this.result})` : '';
    const exp = this.exported ? ` (export "${this.name}")` : '';
    const locals = [...this.locals].map(([n, t]) => `(local $${n} ${t})`).join(' ');
    return `(func $${this.name}${exp} ${params}${result}\n  ${locals}\n  ${this.lines.join('\n  ')})`;
  }
}

/** dst = [Σa, Σb, Σc, Σd] from four vectors, in a fixed pairing order. */
function emitHsum4(f: Func, dst: string, a: string, b: string, c: string, d: string): void {
  f.declare('v128', 'hs_ab', 'hs_cd');
  f.emit(set('hs_ab', fadd(shuffle32(a, b, [0, 2, 4, 6]), shuffle32(a, b, [1, 3, 5, 7]))));
  f.emit(set('hs_cd', fadd(shuffle32(c, d, [0, 2, 4, 6]), shuffle32(c, d, [1, 3, 5, 7]))));
  const ab = get('hs_ab');
  const cd = get('hs_cd');
  f.emit(set(dst, fadd(shuffle32(ab, cd, [0, 2, 4, 6]), shuffle32(ab, cd, [1, 3, 5, 7]))));
}

/** Horizontal sum of one vector in a fixed order: (l0 + l2) + (l1 + l3). */
function hsumExpr(f: Func, v: string): string {
  f.local('hs_t', 'v128');
  f.emit(set('hs_t', fadd(v, shuffle32(v, v, [2, 3, 2, 3]))));
  return `(f32.add (f32x4.extract_lane 0 ${get('hs_t')}) (f32x4.extract_lane 1 ${get('hs_t')}))`;
}

/** 4×4 transpose of locals r0..r3 into t0..t3 (t_j = [r0_j, r1_j, r2_j, r3_j]). */
function emitTranspose4(f: Func, r: readonly string[], t: readonly (string | undefined)[]): void {
  f.declare('v128', 'tr_x0', 'tr_x1', 'tr_x2', 'tr_x3');
  const [r0, r1, r2, r3] = r.map(get) as [string, string, string, string];
  f.emit(set('tr_x0', shuffle32(r0, r1, [0, 4, 1, 5])));
  f.emit(set('tr_x1', shuffle32(r2, r3, [0, 4, 1, 5])));
  f.emit(set('tr_x2', shuffle32(r0, r1, [2, 6, 3, 7])));
  f.emit(set('tr_x3', shuffle32(r2, r3, [2, 6, 3, 7])));
  const [x0, x1, x2, x3] = ['tr_x0', 'tr_x1', 'tr_x2', 'tr_x3'].map(get) as [string, string, string, string];
  const outs: [string, string, [number, number, number, number]][] = [
    [x0, x1, [0, 1, 4, 5]],
    [x0, x1, [2, 3, 6, 7]],
    [x2, x3, [0, 1, 4, 5]],
    [x2, x3, [2, 3, 6, 7]],
  ];
  outs.forEach(([a, b, lanes], j) => {
    const name = t[j];
    if (name !== undefined) f.emit(set(name, shuffle32(a, b, lanes)));
  });
}

// ---------------------------------------------------------------------------------------------
// Module assembly.

class ModuleBuilder {
  readonly funcs: Func[] = [];
  constructor(readonly variant: Variant) {}

  func(name: string, params: readonly (readonly [string, ValType])[], result: ValType | null, exported = true): Func {
    const f = new Func(name, params, result, exported);
    this.funcs.push(f);
    return f;
  }

  /** GEMM multiply-add: fused (relaxed) or mul then add, per variant. */
  madd(a: string, b: string, c: string): string {
    return this.variant.relaxed ? `(f32x4.relaxed_madd ${a} ${b} ${c})` : fadd(fmul(a, b), c);
  }

  text(): string {
    const mem = this.variant.shared ? '(memory 1 65536 shared)' : '(memory 1)';
    const tau = `(global $tau (mut f32) (f32.const ${f32lit(FLUSH_THRESHOLD)}))`;
    const setter = '(func $set_flush (export "set_flush") (param $t f32) (global.set $tau (local.get $t)))';
    const getter = '(func $flush_threshold (export "flush_threshold") (result f32) (global.get $tau))';
    return `(module\n(import "env" "memory" ${mem})\n${tau}\n${setter}\n${getter}\n${this.funcs.map((f) => f.text()).join('\n')}\n)`;
  }
}

const GEMM_PARAMS = [
  ['m', 'i32'], ['n', 'i32'], ['k', 'i32'],
  ['a', 'i32'], ['lda', 'i32'], ['b', 'i32'], ['ldb', 'i32'], ['c', 'i32'], ['ldc', 'i32'],
  ['acc', 'i32'],
] as const;

/** xmm registers V8 (x64) can allocate to wasm SIMD values (xmm15 is its scratch register). */
const SIMD_REGS = 15;

/** Register-tile shapes. */
interface GemmTiles {
  /** Rows × f32x4 vectors of the broadcast (NN/TN) micro-kernel. */
  readonly mr: number;
  readonly nv: number;
  /** Rows of the narrow micro-kernels used for the last < 4·nv columns, per vector count. */
  readonly tailRows: (vectors: number) => number;
  /** k-block of NN/TN: B panels of kBlock rows are reused from cache by all row tiles. */
  readonly kBlock: number;
  /** Rows of the NT dot-product micro-kernel (× 4 columns of B). */
  readonly dotRows: number;
  /** NT for small k (≤ smallK): p-chunk held as transposed B registers. */
  readonly smallK: number;
  readonly chunk: number;
  /** Rows per block of the small-k NT path. */
  readonly smallKRows: number;
}

function gemmTiles(v: Variant): GemmTiles {
  // Live vectors: accumulators + B vectors + splat (+ a product temp without FMA) ≤ SIMD_REGS.
  const spare = SIMD_REGS - 1 - (v.relaxed ? 0 : 1);
  return {
    // 3×3: 9 accumulators + 3 B vectors + splat (+ product temp). Measured faster than 2×4
    // (8 + 4 + 1 + 1) for every MLP shape, with and without FMA.
    mr: 3,
    nv: 3,
    tailRows: (vectors) => Math.max(1, Math.min(4, Math.floor((spare - vectors) / vectors))),
    kBlock: 256,
    dotRows: 2,
    smallK: 48,
    chunk: 6,
    smallKRows: 16,
  };
}

// ---------------------------------------------------------------------------------------------
// GEMM, broadcast form (NN and TN): C tile [rows × (4q + rem)] accumulated over k with one
// A element splatted per row and f32x4 vectors of one B row.

type BcastLayout = 'nn' | 'tn';

function bcastKernelName(layout: BcastLayout, rows: number, q: number, rem: number): string {
  return `mk_${layout}_${rows}_${q}_${rem}`;
}

/**
 * Micro-kernel (k, a, as, b, ldb4, c, ldc4, acc). NN: A row r at a + r·as, next k at +4.
 * TN: A row r at a + 4r, next k at +as. B row p at b + p·ldb4; C row r at c + r·ldc4.
 */
function bcastKernel(mb: ModuleBuilder, layout: BcastLayout, rows: number, q: number, rem: number): void {
  const f = mb.func(bcastKernelName(layout, rows, q, rem), [
    ['k', 'i32'], ['a', 'i32'], ['as', 'i32'], ['b', 'i32'], ['ldb4', 'i32'], ['c', 'i32'], ['ldc4', 'i32'], ['acc', 'i32'],
  ], null, false);
  const nvt = q + (rem > 0 ? 1 : 0);
  const width = (v: number): number => (v < q ? 4 : rem);
  const accName = (r: number, v: number): string => `c${r}_${v}`;
  f.declare('i32', 'bp', 'kk', 'cp', 'ap');
  for (let r = 0; r < rows; r++) {
    for (let v = 0; v < nvt; v++) f.local(accName(r, v), 'v128');
    if (layout === 'nn') f.local(`a${r}`, 'i32');
  }
  for (let v = 0; v < nvt; v++) f.local(`b${v}`, 'v128');
  f.local('s', 'v128');

  // Accumulators start from C (accumulate) or zero.
  const initLines: string[] = [];
  const zeroLines: string[] = [];
  for (let r = 0; r < rows; r++) {
    for (let v = 0; v < nvt; v++) {
      initLines.push(set(accName(r, v), loadLanes(get('cp'), 16 * v, width(v))));
      zeroLines.push(set(accName(r, v), vzero));
    }
    initLines.push(addTo('cp', get('ldc4')));
  }
  f.emit(set('cp', get('c')));
  f.emit(`(if ${get('acc')} (then ${initLines.join(' ')}) (else ${zeroLines.join(' ')}))`);

  if (layout === 'nn') {
    f.emit(set('a0', get('a')));
    for (let r = 1; r < rows; r++) f.emit(set(`a${r}`, add(get(`a${r - 1}`), get('as'))));
  } else {
    f.emit(set('ap', get('a')));
  }
  f.emit(set('bp', get('b')), set('kk', get('k')));

  // One k-step per iteration: TurboFan keeps wasm loads in program order but sinks arithmetic
  // to its uses, so unrolled steps would issue all their loads first and spill.
  f.whileLoop(get('kk'), () => {
    for (let v = 0; v < nvt; v++) f.emit(set(`b${v}`, loadLanes(get('bp'), 16 * v, width(v))));
    f.emit(addTo('bp', get('ldb4')));
    for (let r = 0; r < rows; r++) {
      f.emit(set('s', layout === 'nn' ? splatLoad(get(`a${r}`)) : splatLoad(get('ap'), 4 * r)));
      for (let v = 0; v < nvt; v++) f.emit(set(accName(r, v), mb.madd(get('s'), get(`b${v}`), get(accName(r, v)))));
    }
    if (layout === 'nn') for (let r = 0; r < rows; r++) f.emit(addTo(`a${r}`, i32(4)));
    else f.emit(addTo('ap', get('as')));
    f.emit(set('kk', sub(get('kk'), i32(1))));
  });

  f.emit(set('cp', get('c')));
  for (let r = 0; r < rows; r++) {
    for (let v = 0; v < nvt; v++) f.emit(...storeLanes(get('cp'), 16 * v, width(v), get(accName(r, v))));
    if (r + 1 < rows) f.emit(addTo('cp', get('ldc4')));
  }
}

/** Driver for NN / TN: column panels of 4·nv, then one narrow panel; rows in tiles, then a row tail. */
function bcastGemm(mb: ModuleBuilder, layout: BcastLayout, t: GemmTiles): void {
  const panels: { q: number; rem: number; rows: number }[] = [];
  for (let w = 1; w < 4 * t.nv; w++) {
    const q = w >> 2;
    const rem = w & 3;
    panels.push({ q, rem, rows: t.tailRows(q + (rem > 0 ? 1 : 0)) });
  }
  const main = { q: t.nv, rem: 0, rows: t.mr };
  // Each panel has its full-height kernel and a 1-row kernel that mops up the last rows.
  for (const p of [main, ...panels]) {
    bcastKernel(mb, layout, p.rows, p.q, p.rem);
    if (p.rows > 1) bcastKernel(mb, layout, 1, p.q, p.rem);
  }

  const f = mb.func(`gemm_${layout}`, GEMM_PARAMS, null);
  f.declare('i32', 'i', 'j', 'w', 'lda4', 'ldb4', 'ldc4', 'bj', 'cj', 'kb', 'kc', 'kblk', 'ak', 'bk', 'acck');
  f.emit(set('lda4', shl(get('lda'), 2)), set('ldb4', shl(get('ldb'), 2)), set('ldc4', shl(get('ldc'), 2)));
  // A tile of rows i starts at ak + i·lda4 (NN) or ak + 4i (TN); the kernel gets the other stride.
  const aTile = layout === 'nn' ? add(get('ak'), mul(get('i'), get('lda4'))) : add(get('ak'), shl(get('i'), 2));
  const rowsOf = (p: { q: number; rem: number; rows: number }): void => {
    const call = (r: number): string =>
      `(call $${bcastKernelName(layout, r, p.q, p.rem)} ${get('kc')} ${aTile} ${get('lda4')} ${get('bj')} ${get('ldb4')} ` +
      `${add(get('cj'), mul(get('i'), get('ldc4')))} ${get('ldc4')} ${get('acck')})`;
    f.emit(set('i', i32(0)));
    f.whileLoop(`(i32.le_u ${add(get('i'), i32(p.rows))} ${get('m')})`, () => {
      f.emit(call(p.rows), addTo('i', i32(p.rows)));
    });
    f.whileLoop(`(i32.lt_u ${get('i')} ${get('m')})`, () => f.emit(call(1), addTo('i', i32(1))));
  };
  // k in blocks of kBlock, so a B panel (kBlock rows × one tile width) stays in cache while
  // every row tile of A streams past it; blocks after the first accumulate into C.
  // Equal blocks (784 → 4 × 196, not 3 × 256 + 16); the split depends on k alone.
  f.emit(set('kblk', `(i32.div_u ${add(get('k'), i32(t.kBlock - 1))} ${i32(t.kBlock)})`));
  f.emit(set('kblk', `(i32.div_u ${add(get('k'), sub(get('kblk'), i32(1)))} (select ${get('kblk')} (i32.const 1) ${get('kblk')}))`));
  f.emit(set('kb', i32(0)));
  f.emit(`(loop $kblocks`);
  f.emit(set('kc', sub(get('k'), get('kb'))));
  f.emit(`(if (i32.gt_u ${get('kc')} ${get('kblk')}) (then ${set('kc', get('kblk'))}))`);
  f.emit(set('acck', `(i32.or ${get('acc')} (i32.ne ${get('kb')} (i32.const 0)))`));
  f.emit(set('ak', add(get('a'), layout === 'nn' ? shl(get('kb'), 2) : mul(get('kb'), get('lda4')))));
  f.emit(set('bk', add(get('b'), mul(get('kb'), get('ldb4')))));
  f.emit(set('j', i32(0)));
  f.whileLoop(`(i32.le_u ${add(get('j'), i32(4 * t.nv))} ${get('n')})`, () => {
    f.emit(set('bj', add(get('bk'), shl(get('j'), 2))), set('cj', add(get('c'), shl(get('j'), 2))));
    rowsOf(main);
    f.emit(addTo('j', i32(4 * t.nv)));
  });
  f.emit(set('w', sub(get('n'), get('j'))));
  f.emit(set('bj', add(get('bk'), shl(get('j'), 2))), set('cj', add(get('c'), shl(get('j'), 2))));
  for (const p of panels) {
    f.emit(`(if (i32.eq ${get('w')} ${i32(4 * p.q + p.rem)}) (then`);
    rowsOf(p);
    f.emit('))');
  }
  f.emit(addTo('kb', get('kc')));
  f.emit(`(br_if $kblocks (i32.lt_u ${get('kb')} ${get('k')})))`);
}

// ---------------------------------------------------------------------------------------------
// GEMM NT, dot-product form: C(i,j) = A row i · B row j, vectorised along k, then a
// horizontal sum that turns 4 accumulators (4 columns) into one C vector.

function dotKernel(mb: ModuleBuilder, rows: number, cols: number): void {
  const f = mb.func(`mk_nt_${rows}_${cols}`, [
    ['k', 'i32'], ['a', 'i32'], ['lda4', 'i32'], ['b', 'i32'], ['ldb4', 'i32'], ['c', 'i32'], ['ldc4', 'i32'], ['acc', 'i32'],
  ], null, false);
  const acc = (r: number, q: number): string => `c${r}_${q}`;
  f.declare('i32', 'kk', 'rem', 'cp');
  for (let r = 0; r < rows; r++) {
    f.declare('i32', `a${r}`);
    f.local(`va${r}`, 'v128');
    for (let q = 0; q < cols; q++) f.local(acc(r, q), 'v128');
  }
  for (let q = 0; q < cols; q++) f.local(`b${q}`, 'i32');
  f.declare('v128', 'vb', 'out');
  f.emit(set('a0', get('a')), set('b0', get('b')));
  for (let r = 1; r < rows; r++) f.emit(set(`a${r}`, add(get(`a${r - 1}`), get('lda4'))));
  for (let q = 1; q < cols; q++) f.emit(set(`b${q}`, add(get(`b${q - 1}`), get('ldb4'))));
  for (let r = 0; r < rows; r++) for (let q = 0; q < cols; q++) f.emit(set(acc(r, q), vzero));

  const step = (lanes: number): void => {
    for (let r = 0; r < rows; r++) f.emit(set(`va${r}`, loadLanes(get(`a${r}`), 0, lanes)));
    for (let q = 0; q < cols; q++) {
      f.emit(set('vb', loadLanes(get(`b${q}`), 0, lanes)));
      for (let r = 0; r < rows; r++) f.emit(set(acc(r, q), mb.madd(get(`va${r}`), get('vb'), get(acc(r, q)))));
    }
  };
  const advance = (bytes: number): void => {
    for (let r = 0; r < rows; r++) f.emit(addTo(`a${r}`, i32(bytes)));
    for (let q = 0; q < cols; q++) f.emit(addTo(`b${q}`, i32(bytes)));
  };
  // One 4-wide k-step per iteration (see bcastKernel on unrolling).
  f.emit(set('kk', `(i32.shr_u ${get('k')} (i32.const 2))`));
  f.whileLoop(get('kk'), () => {
    step(4);
    advance(16);
    f.emit(set('kk', sub(get('kk'), i32(1))));
  });
  f.emit(set('rem', `(i32.and ${get('k')} (i32.const 3))`));
  for (let lanes = 1; lanes <= 3; lanes++) {
    f.emit(`(if (i32.eq ${get('rem')} ${i32(lanes)}) (then`);
    step(lanes);
    f.emit('))');
  }
  f.emit(set('cp', get('c')));
  for (let r = 0; r < rows; r++) {
    const col = (q: number): string => (q < cols ? get(acc(r, q)) : vzero);
    emitHsum4(f, 'out', col(0), col(1), col(2), col(3));
    f.emit(`(if ${get('acc')} (then ${set('out', fadd(get('out'), loadLanes(get('cp'), 0, cols)))}))`);
    f.emit(...storeLanes(get('cp'), 0, cols, get('out')));
    if (r + 1 < rows) f.emit(addTo('cp', get('ldc4')));
  }
}

/**
 * NT for small k: for each group of 4 B rows (4 columns of C), a chunk of ≤ `chunk` k-steps is
 * transposed into registers once, then `rows` rows of A stream through it in broadcast form.
 * Signature (rows, quads, a, lda4, b, ldb4, c, ldc4, first): `quads` consecutive groups of w
 * columns; `first` means C is overwritten rather than accumulated.
 */
function smallKBlock(mb: ModuleBuilder, w: number, kc: number): string {
  const name = `nt_small_${w}_${kc}`;
  const f = mb.func(name, [
    ['rows', 'i32'], ['quads', 'i32'], ['a', 'i32'], ['lda4', 'i32'], ['b', 'i32'], ['ldb4', 'i32'], ['c', 'i32'], ['ldc4', 'i32'], ['first', 'i32'],
  ], null, false);
  f.declare('i32', 'i', 'ap', 'cp');
  f.declare('v128', 's', 'r0', 'r1', 'r2', 'r3');
  const bt = (pp: number): string => `bt${pp}`;
  // Each row's sum is a chain of kc dependent adds: independent partial sums shorten it.
  // (TurboFan issues a row's kc broadcasts before its arithmetic, so kc + kc + partial sums
  // must fit the 15 registers: this is what bounds the chunk length.)
  const parts = Math.max(1, Math.min(3, Math.floor(kc / 3)));
  const accName = (part: number): string => f.local(`acc${part}`, 'v128');
  const rowLoop = (first: boolean): void => {
    f.emit(set('ap', get('a')), set('cp', get('c')), set('i', get('rows')));
    f.whileLoop(get('i'), () => {
      f.emit(set(accName(0), first ? vzero : loadLanes(get('cp'), 0, w)));
      for (let part = 1; part < parts; part++) f.emit(set(accName(part), vzero));
      for (let pp = 0; pp < kc; pp++) {
        f.emit(set('s', splatLoad(get('ap'), 4 * pp)));
        const acc = accName(pp % parts);
        f.emit(set(acc, mb.madd(get('s'), get(bt(pp)), get(acc))));
      }
      let total = get(accName(0));
      for (let part = 1; part < parts; part++) total = fadd(total, get(accName(part)));
      f.local('st_v', 'v128');
      f.emit(set('st_v', total), ...storeLanes(get('cp'), 0, w, get('st_v')));
      f.emit(addTo('ap', get('lda4')), addTo('cp', get('ldc4')), set('i', sub(get('i'), i32(1))));
    });
  };
  f.whileLoop(get('quads'), () => {
    // Load w B rows at kc lanes (missing rows are zero) and transpose into bt[0..kc).
    for (let h = 0; h < kc; h += 4) {
      const lanes = Math.min(4, kc - h);
      for (let r = 0; r < 4; r++) {
        f.emit(set(`r${r}`, r < w ? loadLanes(add(get('b'), mul(i32(r), get('ldb4'))), 4 * h, lanes) : vzero));
      }
      const outs: (string | undefined)[] = [];
      for (let pp = 0; pp < 4; pp++) outs.push(h + pp < kc ? f.local(bt(h + pp), 'v128') : undefined);
      emitTranspose4(f, ['r0', 'r1', 'r2', 'r3'], outs);
    }
    f.emit(`(if ${get('first')} (then`);
    rowLoop(true);
    f.emit(') (else');
    rowLoop(false);
    f.emit('))');
    f.emit(addTo('b', shl(get('ldb4'), 2)), addTo('c', i32(16)), set('quads', sub(get('quads'), i32(1))));
  });
  return name;
}

function ntGemm(mb: ModuleBuilder, t: GemmTiles): void {
  for (let r = 1; r <= t.dotRows; r++) for (let q = 1; q <= 4; q++) dotKernel(mb, r, q);
  // Full 4-column groups only; the last n % 4 columns take the dot-product path.
  const smallNames = new Map<number, string>();
  for (let kc = 1; kc <= t.chunk; kc++) smallNames.set(kc, smallKBlock(mb, 4, kc));

  const f = mb.func('gemm_nt', GEMM_PARAMS, null);
  f.declare('i32', 'i', 'j', 'j0', 'p', 'kc', 'rows', 'lda4', 'ldb4', 'ldc4', 'first', 'ai', 'ci');
  f.emit(set('lda4', shl(get('lda'), 2)), set('ldb4', shl(get('ldb'), 2)), set('ldc4', shl(get('ldc'), 2)));

  // Small k (but not 0, which the dot path turns into C = 0 / C unchanged), on the columns of
  // whole 4-column groups. Row blocks of `smallKRows` keep their C lines in L1 while all column
  // groups pass (rows of C may be 2 KiB apart, which maps them onto two L1 sets).
  f.emit(set('j0', i32(0)));
  f.emit(`(if (i32.and (i32.and (i32.ne ${get('k')} (i32.const 0)) (i32.le_u ${get('k')} ${i32(t.smallK)})) (i32.ge_u ${get('n')} (i32.const 4))) (then`);
  f.emit(set('i', i32(0)));
  f.whileLoop(`(i32.lt_u ${get('i')} ${get('m')})`, () => {
    f.emit(set('rows', sub(get('m'), get('i'))));
    f.emit(`(if (i32.gt_u ${get('rows')} ${i32(t.smallKRows)}) (then ${set('rows', i32(t.smallKRows))}))`);
    f.emit(set('ai', add(get('a'), mul(get('i'), get('lda4')))), set('ci', add(get('c'), mul(get('i'), get('ldc4')))));
    f.emit(set('p', i32(0)));
    f.whileLoop(`(i32.lt_u ${get('p')} ${get('k')})`, () => {
      f.emit(set('kc', sub(get('k'), get('p'))));
      f.emit(`(if (i32.gt_u ${get('kc')} ${i32(t.chunk)}) (then ${set('kc', i32(t.chunk))}))`);
      f.emit(set('first', `(i32.and (i32.eqz ${get('p')}) (i32.eqz ${get('acc')}))`));
      for (let kc = 1; kc <= t.chunk; kc++) {
        f.emit(`(if (i32.eq ${get('kc')} ${i32(kc)}) (then (call $${smallNames.get(kc) ?? ''} ${get('rows')} (i32.shr_u ${get('n')} (i32.const 2)) ` +
          `${add(get('ai'), shl(get('p'), 2))} ${get('lda4')} ${add(get('b'), shl(get('p'), 2))} ${get('ldb4')} ${get('ci')} ${get('ldc4')} ${get('first')})))`);
      }
      f.emit(addTo('p', get('kc')));
    });
    f.emit(addTo('i', get('rows')));
  });
  f.emit(set('j0', `(i32.and ${get('n')} (i32.const -4))`));
  f.emit('))');

  // Dot path for columns j0..n: row tiles outer (A rows stay in L1), 4-column groups inner.
  const call = (r: number, q: number): string =>
    `(call $mk_nt_${r}_${q} ${get('k')} ${add(get('a'), mul(get('i'), get('lda4')))} ${get('lda4')} ` +
    `${add(get('b'), mul(get('j'), get('ldb4')))} ${get('ldb4')} ${add(add(get('c'), mul(get('i'), get('ldc4'))), shl(get('j'), 2))} ${get('ldc4')} ${get('acc')})`;
  const colsOf = (r: number): void => {
    f.emit(set('j', get('j0')));
    f.whileLoop(`(i32.le_u ${add(get('j'), i32(4))} ${get('n')})`, () => {
      f.emit(call(r, 4), addTo('j', i32(4)));
    });
    for (let q = 1; q < 4; q++) f.emit(`(if (i32.eq ${sub(get('n'), get('j'))} ${i32(q)}) (then ${call(r, q)}))`);
  };
  f.emit(set('i', i32(0)));
  f.whileLoop(`(i32.le_u ${add(get('i'), i32(t.dotRows))} ${get('m')})`, () => {
    colsOf(t.dotRows);
    f.emit(addTo('i', i32(t.dotRows)));
  });
  for (let r = 1; r < t.dotRows; r++) {
    f.emit(`(if (i32.eq ${sub(get('m'), get('i'))} ${i32(r)}) (then`);
    colsOf(r);
    f.emit('))');
  }
}

/** 12 independent multiply-add chains: the f32x4 throughput ceiling of this variant. */
function peakMadd(mb: ModuleBuilder): void {
  const f = mb.func('peak_madd', [['iters', 'i32']], 'f32');
  const n = 12;
  for (let j = 0; j < n; j++) f.emit(set(f.local(`x${j}`, 'v128'), vf(1 + j / 16)));
  f.local('s', 'v128');
  f.whileLoop(get('iters'), () => {
    // x ← x·0.999 + 0.001 stays near 1: no overflow, no denormals.
    for (let j = 0; j < n; j++) f.emit(set(`x${j}`, mb.madd(get(`x${j}`), vf(0.999), vf(0.001))));
    f.emit(set('iters', sub(get('iters'), i32(1))));
  });
  f.emit(set('s', get('x0')));
  for (let j = 1; j < n; j++) f.emit(set('s', fadd(get('s'), get(`x${j}`))));
  f.emit(`(f32x4.extract_lane 0 ${get('s')})`);
}

// ---------------------------------------------------------------------------------------------
// Element-wise streaming: a body run over full f32x4 vectors, then once more on the last
// 1..3 elements with exact-width loads and stores.

interface StreamIO {
  load(ptr: string): string;
  store(ptr: string, value: string): void;
  /** Number of live lanes (4 in the main loop). */
  readonly lanes: number;
}

function stream(f: Func, n: string, ptrs: readonly string[], body: (io: StreamIO) => void, perIter?: () => void): void {
  f.declare('i32', 'st_n', 'st_rem');
  const run = (lanes: number): void => {
    body({
      lanes,
      load: (p) => loadLanes(get(p), 0, lanes),
      store: (p, value) => {
        if (lanes === 3) {
          f.local('st_v', 'v128');
          f.emit(set('st_v', value), ...storeLanes(get(p), 0, 3, get('st_v')));
        } else {
          f.emit(...storeLanes(get(p), 0, lanes, value));
        }
      },
    });
  };
  f.emit(set('st_n', `(i32.shr_u ${get(n)} (i32.const 2))`));
  f.whileLoop(get('st_n'), () => {
    run(4);
    for (const p of ptrs) f.emit(addTo(p, i32(16)));
    perIter?.();
    f.emit(set('st_n', sub(get('st_n'), i32(1))));
  });
  f.emit(set('st_rem', `(i32.and ${get(n)} (i32.const 3))`));
  for (let lanes = 1; lanes <= 3; lanes++) {
    f.emit(`(if (i32.eq ${get('st_rem')} ${i32(lanes)}) (then`);
    run(lanes);
    // Leave every pointer just past the data, as callers iterating rows rely on.
    for (const p of ptrs) f.emit(addTo(p, i32(4 * lanes)));
    f.emit('))');
  }
}

/** A lane mask with the low `lanes` lanes set. */
function laneMask(lanes: number): string {
  const l = [0, 1, 2, 3].map((i) => (i < lanes ? -1 : 0));
  return `(v128.const i32x4 ${l.join(' ')})`;
}

// ---------------------------------------------------------------------------------------------
// Vectorised exp: x = n·ln2 + r with |r| ≤ ln2/2, e^r − 1 by a degree-8 Taylor polynomial
// (truncation < 0.1 ulp), 2^n added into the exponent bits. Inputs are clamped to
// [−87, 88] so 2^n·(1 + p) is always a normal float; NaN propagates.

const EXP_LO = -87;
const EXP_HI = 88;
const LN2_HI = 0.693359375; // 9 significant bits: n·LN2_HI is exact for |n| ≤ 2^15
const LN2_LO = -2.12194440e-4;

/** Emits e^x − 1 = 2^n·(1 + p) − 1 as locals {tag}_n (i32x4 n<<23) and {tag}_p. */
function expParts(f: Func, x: string, tag: string): { n: string; p: string } {
  const xc = f.local(`${tag}_x`, 'v128');
  const fn = f.local(`${tag}_fn`, 'v128');
  const r = f.local(`${tag}_r`, 'v128');
  const p = f.local(`${tag}_p`, 'v128');
  const n = f.local(`${tag}_n`, 'v128');
  // pmax/pmin keep a NaN first operand (a < b is false), so NaN flows through.
  f.emit(set(xc, `(f32x4.pmin (f32x4.pmax ${x} ${vf(EXP_LO)}) ${vf(EXP_HI)})`));
  f.emit(set(fn, `(f32x4.nearest ${fmul(get(xc), vf(Math.LOG2E))})`));
  f.emit(set(r, fsub(fsub(get(xc), fmul(get(fn), vf(LN2_HI))), fmul(get(fn), vf(LN2_LO)))));
  // p = r + r²·(1/2! + r/3! + … + r⁶/8!)
  const c = [1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720, 1 / 5040, 1 / 40320];
  let poly = vf(c[c.length - 1] ?? 0);
  for (let j = c.length - 2; j >= 0; j--) poly = fmadd(poly, get(r), vf(c[j] ?? 0));
  f.emit(set(p, fmadd(fmul(get(r), get(r)), poly, get(r))));
  f.emit(set(n, `(i32x4.shl (i32x4.trunc_sat_f32x4_s ${get(fn)}) (i32.const 23))`));
  return { n, p };
}

/** e^x (few ulp). */
function vexp(f: Func, x: string, tag: string): string {
  const { n, p } = expParts(f, x, tag);
  return `(i32x4.add ${fadd(vf(1), get(p))} ${get(n)})`;
}

/** e^x − 1 with full relative accuracy near 0: 2^n·p + (2^n − 1). */
function vexpm1(f: Func, x: string, tag: string): string {
  const { n, p } = expParts(f, x, tag);
  const t = f.local(`${tag}_t`, 'v128');
  f.emit(set(t, `(i32x4.add ${vf(1)} ${get(n)})`));
  return fmadd(get(t), get(p), fsub(get(t), vf(1)));
}

/** tanh(x) = sign(x)·(−e)/(e + 2) with e = expm1(−2|x|): no cancellation anywhere. */
function vtanh(f: Func, x: string, tag: string): string {
  const xs = f.local(`${tag}_xs`, 'v128');
  const e = f.local(`${tag}_e`, 'v128');
  f.emit(set(xs, x));
  f.emit(set(e, vexpm1(f, fmul(`(f32x4.abs ${get(xs)})`, vf(-2)), tag)));
  const mag = fdiv(`(f32x4.neg ${get(e)})`, fadd(get(e), vf(2)));
  return `(v128.or ${mag} ${vand(get(xs), vi(0x80000000 | 0))})`;
}

/** 1 / (1 + e^−x). */
function vsigmoid(f: Func, x: string, tag: string): string {
  return fdiv(vf(1), fadd(vf(1), vexp(f, `(f32x4.neg ${x})`, tag)));
}

// GELU in its exact form x·Φ(x) (Keras' and PyTorch's default, tfjs' "gelu"), with the
// complementary error function by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, the formula tfjs
// uses): erfc(z) ≈ t·(a1 + t(a2 + t(a3 + t(a4 + t·a5))))·e^(−z²), t = 1/(1 + p·z), z ≥ 0.
const ERFC_P = 0.3275911;
const ERFC_A = [0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429] as const;

/**
 * GELU parts of x: phi = Φ(x) and, for the backward pass, dphi = dΦ/dx — the exact derivative of
 * this approximation (not of the true Φ), so gradients are consistent with the forward pass.
 * Φ is 1 − q or q by the sign of x with q = erfc(|x|/√2)/2, so the tail x → −∞ keeps its
 * relative precision (no 1 + erf cancellation).
 */
function geluParts(f: Func, x: string, tag: string, withGrad: boolean): { phi: string; dphi: string } {
  const xx = f.local(`${tag}_xx`, 'v128');
  const z = f.local(`${tag}_z`, 'v128');
  const t = f.local(`${tag}_t`, 'v128');
  const g = f.local(`${tag}_g`, 'v128');
  const poly = f.local(`${tag}_P`, 'v128');
  const phi = f.local(`${tag}_phi`, 'v128');
  const dphi = f.local(`${tag}_dphi`, 'v128');
  f.emit(set(xx, x));
  f.emit(set(z, fmul(`(f32x4.abs ${get(xx)})`, vf(Math.SQRT1_2))));
  f.emit(set(t, fdiv(vf(1), fmadd(get(z), vf(ERFC_P), vf(1)))));
  let inner = vf(ERFC_A[4]);
  for (let j = 3; j >= 0; j--) inner = fmadd(inner, get(t), vf(ERFC_A[j]!));
  f.emit(set(poly, fmul(get(t), inner)));
  f.emit(set(g, vexp(f, `(f32x4.neg ${fmul(get(z), get(z))})`, tag)));
  // q = P(t)·e^(−z²)/2
  const q = fmul(fmul(get(poly), get(g)), vf(0.5));
  f.emit(set(phi, select(fsub(vf(1), q), q, `(f32x4.gt ${get(xx)} ${vzero})`)));
  if (withGrad) {
    // dΦ/dx = −q'(z)/√2 on both sides = e^(−z²)·(P'(t)·p·t² + 2z·P(t)) / (2√2).
    let dp = vf(5 * ERFC_A[4]);
    for (let j = 3; j >= 0; j--) dp = fmadd(dp, get(t), vf((j + 1) * ERFC_A[j]!));
    const bracket = fmadd(fmul(dp, vf(ERFC_P)), fmul(get(t), get(t)), fmul(fmul(get(z), vf(2)), get(poly)));
    f.emit(set(dphi, fmul(fmul(get(g), bracket), vf(1 / (2 * Math.SQRT2)))));
  }
  return { phi, dphi };
}

// ---------------------------------------------------------------------------------------------
// Activations.

type Activation = 'linear' | 'relu' | 'leaky_relu' | 'elu' | 'gelu' | 'sigmoid' | 'tanh';
const ACTIVATIONS: readonly Activation[] = ['linear', 'relu', 'leaky_relu', 'elu', 'gelu', 'sigmoid', 'tanh'];

function activationForward(mb: ModuleBuilder, kind: Activation): void {
  const f = mb.func(`act_${kind}`, [['x', 'i32'], ['y', 'i32'], ['n', 'i32'], ['alpha', 'f32']], null);
  if (kind === 'linear') {
    f.emit(`(memory.copy ${get('y')} ${get('x')} ${shl(get('n'), 2)})`);
    return;
  }
  f.declare('v128', 'xv', 'va', 'yv');
  f.emit(set('va', `(f32x4.splat ${get('alpha')})`));
  // The exponential tails of sigmoid and GELU reach below the normal range.
  const flush = kind === 'sigmoid' || kind === 'gelu';
  if (flush) flushSetup(f);
  const pos = `(f32x4.gt ${get('xv')} ${vzero})`;
  stream(f, 'n', ['x', 'y'], (io) => {
    f.emit(set('xv', io.load('x')));
    let y: string;
    switch (kind) {
      case 'relu':
        y = vand(get('xv'), pos);
        break;
      case 'leaky_relu':
        y = select(get('xv'), fmul(get('xv'), get('va')), pos);
        break;
      case 'elu':
        y = select(get('xv'), fmul(vexpm1(f, get('xv'), 'e'), get('va')), pos);
        break;
      case 'gelu':
        y = fmul(get('xv'), get(geluParts(f, get('xv'), 'g', false).phi));
        break;
      case 'sigmoid':
        y = vsigmoid(f, get('xv'), 's');
        break;
      case 'tanh':
        y = vtanh(f, get('xv'), 't');
        break;
    }
    if (flush) {
      f.emit(set('yv', y));
      ftzLocal(f, 'yv');
      y = get('yv');
    }
    io.store('y', y);
  });
}

function activationBackward(mb: ModuleBuilder, kind: Activation): void {
  const f = mb.func(`actgrad_${kind}`, [['x', 'i32'], ['y', 'i32'], ['dy', 'i32'], ['dx', 'i32'], ['n', 'i32'], ['alpha', 'f32']], null);
  if (kind === 'linear') {
    f.emit(`(memory.copy ${get('dx')} ${get('dy')} ${shl(get('n'), 2)})`);
    return;
  }
  f.declare('v128', 'xv', 'yv', 'dyv', 'va', 'dxv');
  f.emit(set('va', `(f32x4.splat ${get('alpha')})`));
  flushSetup(f);
  const pos = `(f32x4.gt ${get('xv')} ${vzero})`;
  stream(f, 'n', ['x', 'y', 'dy', 'dx'], (io) => {
    f.emit(set('dyv', io.load('dy')));
    let dx: string;
    switch (kind) {
      case 'relu':
        f.emit(set('xv', io.load('x')));
        dx = vand(get('dyv'), pos);
        break;
      case 'leaky_relu':
        f.emit(set('xv', io.load('x')));
        dx = select(get('dyv'), fmul(get('dyv'), get('va')), pos);
        break;
      case 'elu':
        // y = α(eˣ − 1) ⇒ y' = y + α for x ≤ 0.
        f.emit(set('xv', io.load('x')), set('yv', io.load('y')));
        dx = select(get('dyv'), fmul(get('dyv'), fadd(get('yv'), get('va'))), pos);
        break;
      case 'gelu': {
        // d/dx[x·Φ(x)] = Φ(x) + x·Φ'(x).
        f.emit(set('xv', io.load('x')));
        const parts = geluParts(f, get('xv'), 'g', true);
        dx = fmul(get('dyv'), fmadd(get('xv'), get(parts.dphi), get(parts.phi)));
        break;
      }
      case 'sigmoid':
        f.emit(set('yv', io.load('y')));
        dx = fmul(get('dyv'), fmul(get('yv'), fsub(vf(1), get('yv'))));
        break;
      case 'tanh':
        f.emit(set('yv', io.load('y')));
        // (1 − y)(1 + y): 1 − y is exact near |y| = 1, where 1 − y² would cancel.
        dx = fmul(get('dyv'), fmul(fsub(vf(1), get('yv')), fadd(vf(1), get('yv'))));
        break;
    }
    f.emit(set('dxv', dx));
    ftzLocal(f, 'dxv');
    io.store('dx', get('dxv'));
  });
}

// ---------------------------------------------------------------------------------------------
// Row-wise kernels: bias, softmax, softmax cross-entropy, accuracy.

/** Emits a loop over the columns of one row: full vectors, then the masked/partial tail. */
function rowVectors(f: Func, cols: string, ptrs: readonly string[], body: (io: StreamIO & { mask: string }) => void): void {
  stream(f, cols, ptrs, (io) => body({ ...io, mask: laneMask(io.lanes) }));
}

function biasKernels(mb: ModuleBuilder): void {
  {
    const f = mb.func('bias_add', [['y', 'i32'], ['bias', 'i32'], ['rows', 'i32'], ['cols', 'i32']], null);
    f.declare('i32', 'r', 'yp', 'bp');
    f.emit(set('yp', get('y')), set('r', get('rows')));
    f.whileLoop(get('r'), () => {
      f.emit(set('bp', get('bias')));
      stream(f, 'cols', ['yp', 'bp'], (io) => io.store('yp', fadd(io.load('yp'), io.load('bp'))));
      f.emit(set('r', sub(get('r'), i32(1))));
    });
  }
  {
    // db[c] (+)= Σ_r dy[r,c], rows summed in order from 0 in f32, then added to db.
    const f = mb.func('bias_grad', [['dy', 'i32'], ['db', 'i32'], ['rows', 'i32'], ['cols', 'i32'], ['acc', 'i32']], null);
    f.declare('i32', 'c0', 'r', 'p', 'cols4', 'rem');
    f.declare('v128', 's0', 's1', 's2', 's3');
    f.emit(set('cols4', shl(get('cols'), 2)), set('c0', i32(0)));
    const block = (vectors: number, lanes: number): void => {
      for (let v = 0; v < vectors; v++) f.emit(set(`s${v}`, vzero));
      f.emit(set('p', add(get('dy'), shl(get('c0'), 2))), set('r', get('rows')));
      f.whileLoop(get('r'), () => {
        for (let v = 0; v < vectors; v++) {
          const l = v === vectors - 1 ? lanes : 4;
          f.emit(set(`s${v}`, fadd(get(`s${v}`), loadLanes(get('p'), 16 * v, l))));
        }
        f.emit(addTo('p', get('cols4')), set('r', sub(get('r'), i32(1))));
      });
      f.emit(set('p', add(get('db'), shl(get('c0'), 2))));
      for (let v = 0; v < vectors; v++) {
        const l = v === vectors - 1 ? lanes : 4;
        f.emit(`(if ${get('acc')} (then ${set(`s${v}`, fadd(get(`s${v}`), loadLanes(get('p'), 16 * v, l)))}))`);
        f.local('st_v', 'v128');
        f.emit(set('st_v', get(`s${v}`)), ...storeLanes(get('p'), 16 * v, l, get('st_v')));
      }
    };
    f.whileLoop(`(i32.le_u ${add(get('c0'), i32(16))} ${get('cols')})`, () => {
      block(4, 4);
      f.emit(addTo('c0', i32(16)));
    });
    f.whileLoop(`(i32.le_u ${add(get('c0'), i32(4))} ${get('cols')})`, () => {
      block(1, 4);
      f.emit(addTo('c0', i32(4)));
    });
    f.emit(set('rem', sub(get('cols'), get('c0'))));
    for (let lanes = 1; lanes <= 3; lanes++) {
      f.emit(`(if (i32.eq ${get('rem')} ${i32(lanes)}) (then`);
      block(1, lanes);
      f.emit('))');
    }
  }
}

/** Emits the row maximum of `cols` f32 at `row` into f32 local `mx` (NaNs are skipped, as `v > m`). */
function rowMax(f: Func, row: string, cols: string): void {
  f.declare('i32', 'mx_p', 'mx_n');
  f.declare('v128', 'mx_v');
  f.local('mx', 'f32');
  f.local('mx_x', 'f32');
  f.emit(set('mx_p', get(row)), set('mx_v', vf(-Infinity)));
  f.emit(set('mx_n', `(i32.shr_u ${get(cols)} (i32.const 2))`));
  f.whileLoop(get('mx_n'), () => {
    // pmax(m, v) = m < v ? v : m — exactly the scalar rule, lane by lane.
    f.emit(set('mx_v', `(f32x4.pmax ${get('mx_v')} ${vload(get('mx_p'))})`));
    f.emit(addTo('mx_p', i32(16)), set('mx_n', sub(get('mx_n'), i32(1))));
  });
  f.emit(set('mx_v', `(f32x4.pmax ${get('mx_v')} ${shuffle32(get('mx_v'), get('mx_v'), [2, 3, 0, 1])})`));
  f.emit(set('mx_v', `(f32x4.pmax ${get('mx_v')} ${shuffle32(get('mx_v'), get('mx_v'), [1, 0, 3, 2])})`));
  f.emit(set('mx', `(f32x4.extract_lane 0 ${get('mx_v')})`));
  f.emit(set('mx_n', `(i32.and ${get(cols)} (i32.const 3))`));
  f.whileLoop(get('mx_n'), () => {
    f.emit(set('mx_x', `(f32.load ${get('mx_p')})`));
    f.emit(`(if (f32.gt ${get('mx_x')} ${get('mx')}) (then ${set('mx', get('mx_x'))}))`);
    f.emit(addTo('mx_p', i32(4)), set('mx_n', sub(get('mx_n'), i32(1))));
  });
}

/** ln(x) in f64 for the loss: x = 2^e·m, m ∈ [√½, √2), atanh series (error < 1e-12). */
function logF64(mb: ModuleBuilder): void {
  const f = mb.func('log_f64', [['x', 'f64']], 'f64', false);
  f.declare('i64', 'bits');
  f.declare('f64', 'm', 'e', 't', 's', 'poly');
  // NaN, ±inf, 0 and negatives: only s ≥ 1 reaches here in practice; keep IEEE-ish answers.
  f.emit(`(if (f64.ne ${get('x')} ${get('x')}) (then (return ${get('x')})))`);
  f.emit(`(if (f64.eq ${get('x')} ${f64(Infinity)}) (then (return ${get('x')})))`);
  f.emit(`(if (f64.le ${get('x')} ${f64(0)}) (then (return (f64.div ${f64(0)} ${f64(0)}))))`);
  f.emit(set('bits', `(i64.reinterpret_f64 ${get('x')})`));
  f.emit(set('e', `(f64.convert_i64_s (i64.sub (i64.shr_u ${get('bits')} (i64.const 52)) (i64.const 1023)))`));
  f.emit(set('m', `(f64.reinterpret_i64 (i64.or (i64.and ${get('bits')} (i64.const 0x000fffffffffffff)) (i64.const 0x3ff0000000000000)))`));
  f.emit(`(if (f64.gt ${get('m')} ${f64(Math.SQRT2)}) (then ${set('m', `(f64.mul ${get('m')} ${f64(0.5)})`)} ${set('e', `(f64.add ${get('e')} ${f64(1)})`)}))`);
  f.emit(set('t', `(f64.div (f64.sub ${get('m')} ${f64(1)}) (f64.add ${get('m')} ${f64(1)}))`));
  f.emit(set('s', `(f64.mul ${get('t')} ${get('t')})`));
  let poly = f64(1 / 15);
  for (const c of [1 / 13, 1 / 11, 1 / 9, 1 / 7, 1 / 5, 1 / 3, 1]) poly = `(f64.add (f64.mul ${poly} ${get('s')}) ${f64(c)})`;
  f.emit(set('poly', poly));
  f.emit(`(f64.add (f64.mul ${get('e')} ${f64(Math.LN2)}) (f64.mul (f64.mul ${f64(2)} ${get('t')}) ${get('poly')}))`);
}

/** The scalar flush rule (see ftz): +0 when |x| < τ. */
function ftzF32(mb: ModuleBuilder): void {
  const f = mb.func('ftz_f32', [['x', 'f32']], 'f32', false);
  f.emit(`(select ${f32(0)} ${get('x')} (f32.lt (f32.abs ${get('x')}) (global.get $tau)))`);
}

function softmaxKernels(mb: ModuleBuilder): void {
  {
    const f = mb.func('softmax', [['x', 'i32'], ['y', 'i32'], ['rows', 'i32'], ['cols', 'i32']], null);
    f.declare('i32', 'r', 'xr', 'yr', 'xp', 'yp', 'cols4');
    f.declare('v128', 'vm', 'sum', 'ev', 'vs', 'yv');
    flushSetup(f);
    f.emit(set('cols4', shl(get('cols'), 2)), set('xr', get('x')), set('yr', get('y')), set('r', get('rows')));
    f.whileLoop(get('r'), () => {
      rowMax(f, 'xr', 'cols');
      f.emit(set('vm', `(f32x4.splat ${get('mx')})`), set('sum', vzero), set('xp', get('xr')), set('yp', get('yr')));
      rowVectors(f, 'cols', ['xp', 'yp'], (io) => {
        f.emit(set('ev', vand(vexp(f, fsub(io.load('xp'), get('vm')), 'e'), io.mask)));
        ftzLocal(f, 'ev');
        io.store('yp', get('ev'));
        f.emit(set('sum', fadd(get('sum'), get('ev'))));
      });
      f.emit(set('vs', `(f32x4.splat ${hsumExpr(f, get('sum'))})`), set('yp', get('yr')));
      rowVectors(f, 'cols', ['yp'], (io) => {
        f.emit(set('yv', fdiv(io.load('yp'), get('vs'))));
        ftzLocal(f, 'yv');
        io.store('yp', get('yv'));
      });
      f.emit(addTo('xr', get('cols4')), addTo('yr', get('cols4')), set('r', sub(get('r'), i32(1))));
    });
  }
  {
    const f = mb.func('softmax_grad', [['y', 'i32'], ['dy', 'i32'], ['dx', 'i32'], ['rows', 'i32'], ['cols', 'i32']], null);
    f.declare('i32', 'r', 'yr', 'dyr', 'dxr', 'yp', 'dyp', 'dxp', 'cols4');
    f.declare('v128', 'dot', 'vd', 'dxv');
    flushSetup(f);
    f.emit(set('cols4', shl(get('cols'), 2)), set('yr', get('y')), set('dyr', get('dy')), set('dxr', get('dx')), set('r', get('rows')));
    f.whileLoop(get('r'), () => {
      f.emit(set('dot', vzero), set('yp', get('yr')), set('dyp', get('dyr')));
      // Zero-filled tail lanes contribute 0·0.
      rowVectors(f, 'cols', ['yp', 'dyp'], (io) => f.emit(set('dot', fmadd(io.load('yp'), io.load('dyp'), get('dot')))));
      f.emit(set('vd', `(f32x4.splat ${hsumExpr(f, get('dot'))})`));
      f.emit(set('yp', get('yr')), set('dyp', get('dyr')), set('dxp', get('dxr')));
      rowVectors(f, 'cols', ['yp', 'dyp', 'dxp'], (io) => {
        f.emit(set('dxv', fmul(io.load('yp'), fsub(io.load('dyp'), get('vd')))));
        ftzLocal(f, 'dxv');
        io.store('dxp', get('dxv'));
      });
      f.emit(addTo('yr', get('cols4')), addTo('dyr', get('cols4')), addTo('dxr', get('cols4')), set('r', sub(get('r'), i32(1))));
    });
  }
  {
    const f = mb.func('softmax_xent', [['x', 'i32'], ['labels', 'i32'], ['dl', 'i32'], ['rows', 'i32'], ['cols', 'i32'], ['gs', 'f32']], 'f64');
    f.declare('i32', 'r', 'xr', 'dr', 'xp', 'dp', 'cols4', 'label', 'valid');
    f.declare('v128', 'vm', 'sum', 'ev', 'vs', 'vg', 'dv');
    f.declare('f32', 's', 'xl', 'el');
    f.declare('f64', 'loss', 'total');
    flushSetup(f);
    f.emit(set('cols4', shl(get('cols'), 2)), set('xr', get('x')), set('dr', get('dl')), set('r', i32(0)), set('total', f64(0)));
    f.emit(set('vg', `(f32x4.splat ${get('gs')})`));
    f.whileLoop(`(i32.lt_u ${get('r')} ${get('rows')})`, () => {
      f.emit(set('label', `(i32.load ${add(get('labels'), shl(get('r'), 2))})`));
      f.emit(set('valid', `(i32.lt_u ${get('label')} ${get('cols')})`));
      rowMax(f, 'xr', 'cols');
      // Read x[label] before dlogits (which may alias the logits) is written.
      f.emit(set('xl', `(if (result f32) ${get('valid')} (then (f32.load ${add(get('xr'), shl(get('label'), 2))})) (else ${f32(NaN)}))`));
      f.emit(set('vm', `(f32x4.splat ${get('mx')})`), set('sum', vzero), set('xp', get('xr')), set('dp', get('dr')));
      f.emit(`(if ${get('dl')} (then`);
      rowVectors(f, 'cols', ['xp', 'dp'], (io) => {
        f.emit(set('ev', vand(vexp(f, fsub(io.load('xp'), get('vm')), 'e'), io.mask)));
        ftzLocal(f, 'ev');
        io.store('dp', get('ev'));
        f.emit(set('sum', fadd(get('sum'), get('ev'))));
      });
      f.emit(') (else');
      // The same flushed terms as with a gradient, so a loss never depends on the mode.
      rowVectors(f, 'cols', ['xp'], (io) => {
        f.emit(set('ev', vand(vexp(f, fsub(io.load('xp'), get('vm')), 'e'), io.mask)));
        ftzLocal(f, 'ev');
        f.emit(set('sum', fadd(get('sum'), get('ev'))));
      });
      f.emit('))');
      f.emit(set('s', hsumExpr(f, get('sum'))));
      f.emit(set('loss', `(f64.sub (call $log_f64 (f64.promote_f32 ${get('s')})) (f64.sub (f64.promote_f32 ${get('xl')}) (f64.promote_f32 ${get('mx')})))`));
      f.emit(set('total', `(f64.add ${get('total')} ${get('loss')})`));
      f.emit(`(if ${get('dl')} (then`);
      f.emit(`(if ${get('valid')} (then ${set('el', `(f32.load ${add(get('dr'), shl(get('label'), 2))})`)}))`);
      f.emit(set('vs', `(f32x4.splat ${get('s')})`), set('dp', get('dr')));
      rowVectors(f, 'cols', ['dp'], (io) => {
        f.emit(set('dv', fmul(fdiv(io.load('dp'), get('vs')), get('vg'))));
        ftzLocal(f, 'dv');
        io.store('dp', get('dv'));
      });
      f.emit(`(if ${get('valid')} (then (f32.store ${add(get('dr'), shl(get('label'), 2))} ${ftzScalar(`(f32.mul (f32.sub (f32.div ${get('el')} ${get('s')}) ${f32(1)}) ${get('gs')})`)})))`);
      f.emit('))');
      f.emit(addTo('xr', get('cols4')), addTo('dr', get('cols4')), addTo('r', i32(1)));
    });
    f.emit(get('total'));
  }
  {
    const f = mb.func('count_correct', [['x', 'i32'], ['labels', 'i32'], ['rows', 'i32'], ['cols', 'i32']], 'i32');
    f.declare('i32', 'r', 'c', 'best', 'count', 'xr', 'cols4');
    f.declare('f32', 'bv', 'v');
    f.emit(set('cols4', shl(get('cols'), 2)), set('xr', get('x')), set('r', i32(0)), set('count', i32(0)));
    f.whileLoop(`(i32.lt_u ${get('r')} ${get('rows')})`, () => {
      f.emit(`(if ${get('cols')} (then`);
      f.emit(set('best', i32(0)), set('bv', `(f32.load ${get('xr')})`), set('c', i32(1)));
      f.whileLoop(`(i32.lt_u ${get('c')} ${get('cols')})`, () => {
        f.emit(set('v', `(f32.load ${add(get('xr'), shl(get('c'), 2))})`));
        f.emit(`(if (f32.gt ${get('v')} ${get('bv')}) (then ${set('bv', get('v'))} ${set('best', get('c'))}))`);
        f.emit(addTo('c', i32(1)));
      });
      f.emit(`(if (i32.eq ${get('best')} (i32.load ${add(get('labels'), shl(get('r'), 2))})) (then ${addTo('count', i32(1))}))`);
      f.emit('))');
      f.emit(addTo('xr', get('cols4')), addTo('r', i32(1)));
    });
    f.emit(get('count'));
  }
}

// ---------------------------------------------------------------------------------------------
// Reductions in f64 with a fixed order (mirrored exactly by reference.ts `fixedOrderSum`):
// element i < n − n%8 goes to partial i%8; partials combine as
// ((s0+s4) + (s2+s6)) + ((s1+s5) + (s3+s7)); the last n%8 terms are then added in order.

type ReduceKind = 'sum' | 'sum_squares' | 'mse';

function reduction(mb: ModuleBuilder, kind: ReduceKind): void {
  const params: [string, ValType][] =
    kind === 'mse'
      ? [['x', 'i32'], ['t', 'i32'], ['d', 'i32'], ['n', 'i32'], ['gs', 'f32']]
      : [['x', 'i32'], ['n', 'i32']];
  const f = mb.func(kind, params, 'f64');
  f.declare('i32', 'blocks', 'rem');
  f.declare('v128', 'A', 'B', 'C', 'D', 'v0', 'v1', 'w0', 'w1', 'g2', 'd0');
  f.declare('f64', 'total', 'e');
  if (kind === 'mse') flushSetup(f);
  const hi = (v: string): string => shuffle32(v, v, [2, 3, 2, 3]);
  const promo = (v: string): string => `(f64x2.promote_low_f32x4 ${v})`;
  /** f64x2 term of two promoted lanes. */
  const term = (xv: string, tv: string | null): string => {
    if (kind === 'sum') return promo(xv);
    if (kind === 'sum_squares') return `(f64x2.mul ${promo(xv)} ${promo(xv)})`;
    const d = `(f64x2.sub ${promo(xv)} ${promo(tv ?? '')})`;
    return `(f64x2.mul ${d} ${d})`;
  };
  for (const s of ['A', 'B', 'C', 'D']) f.emit(set(s, vzero));
  if (kind === 'mse') f.emit(set('g2', `(f32x4.splat (f32.mul ${get('gs')} ${f32(2)}))`));
  f.emit(set('blocks', `(i32.shr_u ${get('n')} (i32.const 3))`));
  const body = (withGrad: boolean): void => {
    f.whileLoop(get('blocks'), () => {
      f.emit(set('v0', vload(get('x'))), set('v1', vload(get('x'), 16)));
      if (kind === 'mse') {
        f.emit(set('w0', vload(get('t'))), set('w1', vload(get('t'), 16)));
        f.emit(set('A', `(f64x2.add ${get('A')} ${term(get('v0'), get('w0'))})`));
        f.emit(set('B', `(f64x2.add ${get('B')} ${term(hi(get('v0')), hi(get('w0')))})`));
        f.emit(set('C', `(f64x2.add ${get('C')} ${term(get('v1'), get('w1'))})`));
        f.emit(set('D', `(f64x2.add ${get('D')} ${term(hi(get('v1')), hi(get('w1')))})`));
        if (withGrad) {
          f.emit(set('d0', fmul(fsub(get('v0'), get('w0')), get('g2'))));
          ftzLocal(f, 'd0');
          f.emit(vstore(get('d'), get('d0')));
          f.emit(set('d0', fmul(fsub(get('v1'), get('w1')), get('g2'))));
          ftzLocal(f, 'd0');
          f.emit(vstore(get('d'), get('d0'), 16));
          f.emit(addTo('d', i32(32)));
        }
        f.emit(addTo('t', i32(32)));
      } else {
        f.emit(set('A', `(f64x2.add ${get('A')} ${term(get('v0'), null)})`));
        f.emit(set('B', `(f64x2.add ${get('B')} ${term(hi(get('v0')), null)})`));
        f.emit(set('C', `(f64x2.add ${get('C')} ${term(get('v1'), null)})`));
        f.emit(set('D', `(f64x2.add ${get('D')} ${term(hi(get('v1')), null)})`));
      }
      f.emit(addTo('x', i32(32)), set('blocks', sub(get('blocks'), i32(1))));
    });
  };
  if (kind === 'mse') {
    f.emit(`(if ${get('d')} (then`);
    body(true);
    f.emit(') (else');
    body(false);
    f.emit('))');
  } else {
    body(false);
  }
  f.emit(set('A', `(f64x2.add (f64x2.add ${get('A')} ${get('C')}) (f64x2.add ${get('B')} ${get('D')}))`));
  f.emit(set('total', `(f64.add (f64x2.extract_lane 0 ${get('A')}) (f64x2.extract_lane 1 ${get('A')}))`));
  f.emit(set('rem', `(i32.and ${get('n')} (i32.const 7))`));
  f.whileLoop(get('rem'), () => {
    const xs = `(f64.promote_f32 (f32.load ${get('x')}))`;
    if (kind === 'sum') f.emit(set('e', xs));
    else if (kind === 'sum_squares') f.emit(set('e', `(f64.mul ${xs} ${xs})`));
    else {
      f.emit(set('e', `(f64.sub ${xs} (f64.promote_f32 (f32.load ${get('t')})))`));
      f.emit(`(if ${get('d')} (then (f32.store ${get('d')} ${ftzScalar(`(f32.mul (f32.sub (f32.load ${get('x')}) (f32.load ${get('t')})) (f32x4.extract_lane 0 ${get('g2')}))`)}) ${addTo('d', i32(4))}))`);
      f.emit(set('e', `(f64.mul ${get('e')} ${get('e')})`), addTo('t', i32(4)));
    }
    f.emit(set('total', `(f64.add ${get('total')} ${get('e')})`));
    f.emit(addTo('x', i32(4)), set('rem', sub(get('rem'), i32(1))));
  });
  f.emit(get('total'));
}

// ---------------------------------------------------------------------------------------------
// BLAS-1, dropout, gathers, transpose.

function vectorOps(mb: ModuleBuilder): void {
  {
    const f = mb.func('mul', [['a', 'i32'], ['b', 'i32'], ['out', 'i32'], ['n', 'i32']], null);
    stream(f, 'n', ['a', 'b', 'out'], (io) => io.store('out', fmul(io.load('a'), io.load('b'))));
  }
  {
    const f = mb.func('axpy', [['n', 'i32'], ['alpha', 'f32'], ['x', 'i32'], ['y', 'i32']], null);
    f.local('va', 'v128');
    f.emit(set('va', `(f32x4.splat ${get('alpha')})`));
    stream(f, 'n', ['x', 'y'], (io) => io.store('y', fmadd(get('va'), io.load('x'), io.load('y'))));
  }
  {
    const f = mb.func('scale', [['n', 'i32'], ['alpha', 'f32'], ['x', 'i32']], null);
    f.local('va', 'v128');
    f.emit(set('va', `(f32x4.splat ${get('alpha')})`));
    stream(f, 'n', ['x'], (io) => io.store('x', fmul(io.load('x'), get('va'))));
  }
  {
    const f = mb.func('fill', [['x', 'i32'], ['n', 'i32'], ['value', 'f32']], null);
    f.local('vv', 'v128');
    f.emit(set('vv', `(f32x4.splat ${get('value')})`));
    stream(f, 'n', ['x'], (io) => io.store('x', get('vv')));
  }
  {
    const f = mb.func('copy', [['src', 'i32'], ['dst', 'i32'], ['n', 'i32']], null);
    f.emit(`(memory.copy ${get('dst')} ${get('src')} ${shl(get('n'), 2)})`);
  }
  {
    // Keep element i iff lowbias32(lowbias32(i·0x9e3779b1 + seedLo) ^ seedHi) ≥ thr (unsigned).
    const f = mb.func('dropout', [['x', 'i32'], ['y', 'i32'], ['mask', 'i32'], ['n', 'i32'], ['thr', 'i32'], ['scale', 'f32'], ['lo', 'i32'], ['hi', 'i32']], null);
    f.declare('v128', 'idx', 'h', 'vm', 'vlo', 'vhi', 'vthr', 'vscale');
    f.emit(set('idx', '(v128.const i32x4 0 1 2 3)'));
    f.emit(set('vlo', `(i32x4.splat ${get('lo')})`), set('vhi', `(i32x4.splat ${get('hi')})`));
    f.emit(set('vthr', `(i32x4.splat ${get('thr')})`), set('vscale', `(f32x4.splat ${get('scale')})`));
    const lowbias = (): void => {
      f.emit(set('h', `(v128.xor ${get('h')} (i32x4.shr_u ${get('h')} (i32.const 16)))`));
      f.emit(set('h', `(i32x4.mul ${get('h')} ${vi(0x7feb352d)})`));
      f.emit(set('h', `(v128.xor ${get('h')} (i32x4.shr_u ${get('h')} (i32.const 15)))`));
      f.emit(set('h', `(i32x4.mul ${get('h')} ${vi(0x846ca68b | 0)})`));
      f.emit(set('h', `(v128.xor ${get('h')} (i32x4.shr_u ${get('h')} (i32.const 16)))`));
    };
    stream(
      f,
      'n',
      ['x', 'y', 'mask'],
      (io) => {
        f.emit(set('h', `(i32x4.add (i32x4.mul ${get('idx')} ${vi(0x9e3779b1 | 0)}) ${get('vlo')})`));
        lowbias();
        f.emit(set('h', `(v128.xor ${get('h')} ${get('vhi')})`));
        lowbias();
        f.emit(set('vm', vand(`(i32x4.ge_u ${get('h')} ${get('vthr')})`, get('vscale'))));
        io.store('mask', get('vm'));
        io.store('y', fmul(io.load('x'), get('vm')));
      },
      () => f.emit(set('idx', `(i32x4.add ${get('idx')} ${vi(4)})`)),
    );
  }
  {
    const f = mb.func('gather_u8', [['src', 'i32'], ['rowLen', 'i32'], ['indices', 'i32'], ['count', 'i32'], ['dst', 'i32'], ['scale', 'f32'], ['shift', 'f32']], null);
    f.declare('i32', 'r', 'sp', 'j');
    f.declare('v128', 'vs', 'vb', 'raw', 'h16');
    f.emit(set('vs', `(f32x4.splat ${get('scale')})`), set('vb', `(f32x4.splat ${get('shift')})`), set('r', get('count')));
    const conv = (words: string): string => fmadd(`(f32x4.convert_i32x4_u ${words})`, get('vs'), get('vb'));
    f.whileLoop(get('r'), () => {
      f.emit(set('sp', add(get('src'), mul(`(i32.load ${get('indices')})`, get('rowLen')))));
      f.emit(set('j', `(i32.shr_u ${get('rowLen')} (i32.const 4))`));
      f.whileLoop(get('j'), () => {
        f.emit(set('raw', vload(get('sp'))));
        f.emit(set('h16', `(i16x8.extend_low_i8x16_u ${get('raw')})`));
        f.emit(vstore(get('dst'), conv(`(i32x4.extend_low_i16x8_u ${get('h16')})`)));
        f.emit(vstore(get('dst'), conv(`(i32x4.extend_high_i16x8_u ${get('h16')})`), 16));
        f.emit(set('h16', `(i16x8.extend_high_i8x16_u ${get('raw')})`));
        f.emit(vstore(get('dst'), conv(`(i32x4.extend_low_i16x8_u ${get('h16')})`), 32));
        f.emit(vstore(get('dst'), conv(`(i32x4.extend_high_i16x8_u ${get('h16')})`), 48));
        f.emit(addTo('sp', i32(16)), addTo('dst', i32(64)), set('j', sub(get('j'), i32(1))));
      });
      f.emit(set('j', `(i32.and ${get('rowLen')} (i32.const 15))`));
      f.whileLoop(`(i32.ge_u ${get('j')} (i32.const 4))`, () => {
        f.emit(vstore(get('dst'), conv(`(i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (v128.load32_zero align=1 ${get('sp')})))`)));
        f.emit(addTo('sp', i32(4)), addTo('dst', i32(16)), set('j', sub(get('j'), i32(4))));
      });
      f.whileLoop(get('j'), () => {
        f.emit(`(f32.store ${get('dst')} (f32.add (f32.mul (f32.convert_i32_u (i32.load8_u ${get('sp')})) ${get('scale')}) ${get('shift')}))`);
        f.emit(addTo('sp', i32(1)), addTo('dst', i32(4)), set('j', sub(get('j'), i32(1))));
      });
      f.emit(addTo('indices', i32(4)), set('r', sub(get('r'), i32(1))));
    });
  }
  {
    const f = mb.func('gather32', [['src', 'i32'], ['rowLen', 'i32'], ['indices', 'i32'], ['count', 'i32'], ['dst', 'i32']], null);
    f.declare('i32', 'r', 'bytes');
    f.emit(set('bytes', shl(get('rowLen'), 2)), set('r', get('count')));
    f.whileLoop(get('r'), () => {
      f.emit(`(memory.copy ${get('dst')} ${add(get('src'), mul(`(i32.load ${get('indices')})`, get('bytes')))} ${get('bytes')})`);
      f.emit(addTo('dst', get('bytes')), addTo('indices', i32(4)), set('r', sub(get('r'), i32(1))));
    });
  }
  {
    // dst[c·rows + r] = src[r·cols + c]: 4×4 register blocks, scalar edges.
    const f = mb.func('transpose', [['src', 'i32'], ['rows', 'i32'], ['cols', 'i32'], ['dst', 'i32']], null);
    f.declare('i32', 'r', 'c', 'rows4', 'cols4', 'sp', 'dp', 'r4', 'c4');
    f.declare('v128', 'q0', 'q1', 'q2', 'q3', 't0', 't1', 't2', 't3');
    f.emit(set('rows4', shl(get('rows'), 2)), set('cols4', shl(get('cols'), 2)));
    f.emit(set('r4', `(i32.and ${get('rows')} (i32.const -4))`), set('c4', `(i32.and ${get('cols')} (i32.const -4))`));
    f.emit(set('r', i32(0)));
    f.whileLoop(`(i32.lt_u ${get('r')} ${get('r4')})`, () => {
      f.emit(set('c', i32(0)));
      f.whileLoop(`(i32.lt_u ${get('c')} ${get('c4')})`, () => {
        f.emit(set('sp', add(get('src'), shl(add(mul(get('r'), get('cols')), get('c')), 2))));
        for (let j = 0; j < 4; j++) f.emit(set(`q${j}`, vload(get('sp'))), addTo('sp', get('cols4')));
        emitTranspose4(f, ['q0', 'q1', 'q2', 'q3'], ['t0', 't1', 't2', 't3']);
        f.emit(set('dp', add(get('dst'), shl(add(mul(get('c'), get('rows')), get('r')), 2))));
        for (let j = 0; j < 4; j++) f.emit(vstore(get('dp'), get(`t${j}`)), addTo('dp', get('rows4')));
        f.emit(addTo('c', i32(4)));
      });
      f.emit(addTo('r', i32(4)));
    });
    const scalarCopy = `(f32.store ${add(get('dst'), shl(add(mul(get('c'), get('rows')), get('r')), 2))} (f32.load ${add(get('src'), shl(add(mul(get('r'), get('cols')), get('c')), 2))}))`;
    // Right edge of the blocked rows, then the last rows % 4 rows entirely.
    f.emit(set('r', i32(0)));
    f.whileLoop(`(i32.lt_u ${get('r')} ${get('r4')})`, () => {
      f.emit(set('c', get('c4')));
      f.whileLoop(`(i32.lt_u ${get('c')} ${get('cols')})`, () => f.emit(scalarCopy, addTo('c', i32(1))));
      f.emit(addTo('r', i32(1)));
    });
    f.whileLoop(`(i32.lt_u ${get('r')} ${get('rows')})`, () => {
      f.emit(set('c', i32(0)));
      f.whileLoop(`(i32.lt_u ${get('c')} ${get('cols')})`, () => f.emit(scalarCopy, addTo('c', i32(1))));
      f.emit(addTo('r', i32(1)));
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Optimizers. Branches on flags sit outside the loops; unused state pointers are never touched.
// The gradient may be the sum of several slots (params $slots, $stride): each optimizer branches
// once on the slot count, so one slot runs exactly the plain streaming loop it always had.

/** The params every optimizer ends with: gradient slot count and their distance in bytes. */
const SLOT_PARAMS = [['slots', 'i32'], ['stride', 'i32']] as const;

/**
 * The gradient vector at the stream position. One slot: slot 0 itself. Several: slot 0, then
 * slot_j (j = 1 … slots−1, each `stride` bytes further) added in slot order, each add being
 * f32(slot_j + acc) like axpy's f32(1·x + y) with 1·x exact, so the sum is bit-identical to
 * reducing the slots with axpy first. The slots are only read.
 */
function slotGrad(f: Func, io: StreamIO, multi: SlotMode): string {
  if (multi === 1) return io.load('g');
  // Two slots (one thread pair, the common case): no inner loop.
  if (multi === 2) return fadd(loadLanes(`(i32.add ${get('g')} ${get('stride')})`, 0, io.lanes), io.load('g'));
  f.declare('v128', 'gsum');
  f.declare('i32', 'gs_p', 'gs_k');
  f.emit(set('gsum', io.load('g')), set('gs_p', get('g')), set('gs_k', sub(get('slots'), i32(1))));
  // Entered with slots ≥ 2, so a do-while: at least one more slot.
  const l = f.label('S');
  f.emit(`(loop $${l}`);
  f.emit(addTo('gs_p', get('stride')));
  f.emit(set('gsum', fadd(io.load('gs_p'), get('gsum'))));
  f.emit(`(br_if $${l} (local.tee $gs_k ${sub(get('gs_k'), i32(1))})))`);
  return get('gsum');
}

/** How a loop reads the gradient: one slot, exactly two, or any number ≥ 2 (an inner loop). */
type SlotMode = 1 | 2 | 'many';

/** Emits the kernel's loops for one slot, two slots and more, chosen once at entry. */
function bySlots(f: Func, loops: (multi: SlotMode) => void): void {
  f.emit(`(if (i32.gt_s ${get('slots')} ${i32(2)}) (then`);
  loops('many');
  f.emit(`) (else (if (i32.eq ${get('slots')} ${i32(2)}) (then`);
  loops(2);
  f.emit(') (else');
  loops(1);
  f.emit('))))');
}

function optimizers(mb: ModuleBuilder): void {
  {
    const f = mb.func('sgd', [['n', 'i32'], ['p', 'i32'], ['g', 'i32'], ['vel', 'i32'], ['lr', 'f32'], ['momentum', 'f32'], ['nesterov', 'i32'], ['wd', 'f32'], ['gs', 'f32'], ...SLOT_PARAMS], null);
    f.declare('v128', 'vlr', 'vmom', 'vwd', 'vgs', 'pv', 'g1', 'vv');
    flushSetup(f);
    f.emit(set('vlr', `(f32x4.splat ${get('lr')})`), set('vmom', `(f32x4.splat ${get('momentum')})`));
    f.emit(set('vwd', `(f32x4.splat ${get('wd')})`), set('vgs', `(f32x4.splat ${get('gs')})`));
    bySlots(f, (multi) => {
      const grad = (io: StreamIO): void => {
        const gv = slotGrad(f, io, multi);
        f.emit(set('pv', io.load('p')));
        f.emit(set('g1', fmadd(gv, get('vgs'), fmul(get('vwd'), get('pv')))));
        ftzLocal(f, 'g1');
      };
      const velocity = (io: StreamIO): void => {
        f.emit(set('vv', fmadd(get('vmom'), io.load('vel'), get('g1'))));
        ftzLocal(f, 'vv');
        io.store('vel', get('vv'));
      };
      f.emit(`(if (f32.eq ${get('momentum')} ${f32(0)}) (then`);
      stream(f, 'n', ['p', 'g'], (io) => {
        grad(io);
        io.store('p', fsub(get('pv'), fmul(get('vlr'), get('g1'))));
      });
      f.emit(') (else (if (i32.eqz (local.get $nesterov)) (then');
      stream(f, 'n', ['p', 'g', 'vel'], (io) => {
        grad(io);
        velocity(io);
        io.store('p', fsub(get('pv'), fmul(get('vlr'), get('vv'))));
      });
      f.emit(') (else');
      stream(f, 'n', ['p', 'g', 'vel'], (io) => {
        grad(io);
        velocity(io);
        io.store('p', fsub(get('pv'), fmul(get('vlr'), fmadd(get('vmom'), get('vv'), get('g1')))));
      });
      f.emit('))))');
    });
  }
  {
    const f = mb.func('adam', [
      ['n', 'i32'], ['p', 'i32'], ['g', 'i32'], ['m', 'i32'], ['v', 'i32'], ['lr', 'f32'], ['b1', 'f32'], ['omb1', 'f32'],
      ['b2', 'f32'], ['omb2', 'f32'], ['eps', 'f32'], ['wd', 'f32'], ['decoupled', 'i32'], ['gs', 'f32'], ['bc1', 'f32'], ['bc2', 'f32'],
      ...SLOT_PARAMS,
    ], null);
    const vars = ['lr', 'b1', 'omb1', 'b2', 'omb2', 'eps', 'wd', 'gs', 'bc1', 'bc2'];
    for (const v of vars) f.emit(set(f.local(`v${v}`, 'v128'), `(f32x4.splat ${get(v)})`));
    f.declare('v128', 'pv', 'g1', 'mv', 'vv', 'upd');
    flushSetup(f);
    const loop = (decoupled: boolean, multi: SlotMode): void => {
      stream(f, 'n', ['p', 'g', 'm', 'v'], (io) => {
        const gv = slotGrad(f, io, multi);
        f.emit(set('pv', io.load('p')));
        f.emit(set('g1', decoupled ? fmul(gv, get('vgs')) : fmadd(gv, get('vgs'), fmul(get('vwd'), get('pv')))));
        ftzLocal(f, 'g1');
        f.emit(set('mv', fmadd(get('vb1'), io.load('m'), fmul(get('vomb1'), get('g1')))));
        ftzLocal(f, 'mv');
        f.emit(set('vv', fmadd(get('vb2'), io.load('v'), fmul(get('vomb2'), fmul(get('g1'), get('g1'))))));
        ftzLocal(f, 'vv', 'vtau2');
        io.store('m', get('mv'));
        io.store('v', get('vv'));
        f.emit(set('upd', fdiv(fmul(get('mv'), get('vbc1')), fadd(`(f32x4.sqrt ${fmul(get('vv'), get('vbc2'))})`, get('veps')))));
        if (decoupled) f.emit(set('upd', fmadd(get('vwd'), get('pv'), get('upd'))));
        io.store('p', fsub(get('pv'), fmul(get('vlr'), get('upd'))));
      });
    };
    bySlots(f, (multi) => {
      f.emit(`(if ${get('decoupled')} (then`);
      loop(true, multi);
      f.emit(') (else');
      loop(false, multi);
      f.emit('))');
    });
  }
  {
    // flags: bit 0 = ε inside the square root (tfjs, Keras 3), bit 1 = centred.
    const f = mb.func('rmsprop', [
      ['n', 'i32'], ['p', 'i32'], ['g', 'i32'], ['sq', 'i32'], ['mom', 'i32'], ['mg', 'i32'], ['lr', 'f32'], ['rho', 'f32'], ['omrho', 'f32'],
      ['eps', 'f32'], ['momentum', 'f32'], ['wd', 'f32'], ['gs', 'f32'], ['flags', 'i32'], ...SLOT_PARAMS,
    ], null);
    for (const v of ['lr', 'rho', 'omrho', 'eps', 'momentum', 'wd', 'gs']) f.emit(set(f.local(`v${v}`, 'v128'), `(f32x4.splat ${get(v)})`));
    f.declare('v128', 'pv', 'g1', 'sv', 'gv2', 'var', 'step', 'mv');
    flushSetup(f);
    const loop = (inside: boolean, centered: boolean, withMomentum: boolean, multi: SlotMode): void => {
      const ptrs = ['p', 'g', 'sq', ...(withMomentum ? ['mom'] : []), ...(centered ? ['mg'] : [])];
      stream(f, 'n', ptrs, (io) => {
        const gv = slotGrad(f, io, multi);
        f.emit(set('pv', io.load('p')));
        f.emit(set('g1', fmadd(gv, get('vgs'), fmul(get('vwd'), get('pv')))));
        ftzLocal(f, 'g1');
        f.emit(set('sv', fmadd(get('vrho'), io.load('sq'), fmul(get('vomrho'), fmul(get('g1'), get('g1'))))));
        ftzLocal(f, 'sv', 'vtau2');
        io.store('sq', get('sv'));
        if (centered) {
          // Variance estimate E[g²] − E[g]², clamped at 0 where rounding would make it negative.
          f.emit(set('gv2', fmadd(get('vrho'), io.load('mg'), fmul(get('vomrho'), get('g1')))));
          ftzLocal(f, 'gv2');
          io.store('mg', get('gv2'));
          f.emit(set('var', `(f32x4.max ${fsub(get('sv'), fmul(get('gv2'), get('gv2')))} ${vzero})`));
        } else {
          f.emit(set('var', get('sv')));
        }
        if (inside) {
          // tfjs / Keras 3: lr·g/√(v + ε), the learning rate inside the momentum buffer.
          f.emit(set('step', fdiv(fmul(get('g1'), get('vlr')), `(f32x4.sqrt ${fadd(get('var'), get('veps'))})`)));
          if (withMomentum) {
            f.emit(set('mv', fmadd(get('vmomentum'), io.load('mom'), get('step'))));
            ftzLocal(f, 'mv');
            io.store('mom', get('mv'));
            io.store('p', fsub(get('pv'), get('mv')));
          } else {
            io.store('p', fsub(get('pv'), get('step')));
          }
        } else {
          // PyTorch / Keras ≤ 2.3: g/(√v + ε), the learning rate applied after the momentum buffer.
          f.emit(set('step', fdiv(get('g1'), fadd(`(f32x4.sqrt ${get('var')})`, get('veps')))));
          if (withMomentum) {
            f.emit(set('mv', fmadd(get('vmomentum'), io.load('mom'), get('step'))));
            ftzLocal(f, 'mv');
            io.store('mom', get('mv'));
            io.store('p', fsub(get('pv'), fmul(get('vlr'), get('mv'))));
          } else {
            io.store('p', fsub(get('pv'), fmul(get('vlr'), get('step'))));
          }
        }
      });
    };
    bySlots(f, (multi) => {
      for (const inside of [true, false]) {
        f.emit(`(if (i32.${inside ? 'ne' : 'eq'} (i32.and ${get('flags')} ${i32(1)}) ${i32(0)}) (then`);
        for (const centered of [true, false]) {
          f.emit(`(if (i32.${centered ? 'ne' : 'eq'} (i32.and ${get('flags')} ${i32(2)}) ${i32(0)}) (then`);
          f.emit(`(if (f32.eq ${get('momentum')} ${f32(0)}) (then`);
          loop(inside, centered, false, multi);
          f.emit(') (else');
          loop(inside, centered, true, multi);
          f.emit('))');
          f.emit('))');
        }
        f.emit('))');
      }
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Pooling, channels-last (NHWC) (the layout of src/geometry.ts). Every sum runs in one fixed
// order, the order of the reference twin, so WASM and twin agree bit for bit.

/** WindowGeometry's fields, in its order: every window kernel ends with them. */
const WINDOW_PARAMS = [
  ['inH', 'i32'], ['inW', 'i32'], ['ch', 'i32'], ['kh', 'i32'], ['kw', 'i32'],
  ['sh', 'i32'], ['sw', 'i32'], ['dh', 'i32'], ['dw', 'i32'], ['pt', 'i32'], ['pl', 'i32'],
  ['oh', 'i32'], ['ow', 'i32'],
] as const;

/** for (v = 0; v < bound; v++) body — the bound is read at every test. */
function forRange(f: Func, v: string, bound: string, body: () => void, step = 1): void {
  f.local(v, 'i32');
  f.emit(set(v, i32(0)));
  f.whileLoop(`(i32.lt_s ${get(v)} ${bound})`, () => {
    body();
    f.emit(addTo(v, i32(step)));
  });
}

/** Element index of (n, iy, ix, 0) in the input batch. */
const inputBase = (): string => mul(add(mul(add(mul(get('n'), get('inH')), get('iy')), get('inW')), get('ix')), get('ch'));

function windowKernels(mb: ModuleBuilder): void {
  // Pooling visits the window of one output channel at a time: (n, oy, ox, c), then (ky, kx).
  // lanes = 4 steps c by 4 (channels a multiple of 4): one f32x4 per window cell.
  const poolLoops = (f: Func, before: () => void, cell: () => void, after: () => void, lanes = 1): void => {
    f.declare('i32', 'iy', 'ix', 'i');
    forRange(f, 'n', get('rows'), () =>
      forRange(f, 'oy', get('oh'), () =>
        forRange(f, 'ox', get('ow'), () =>
          forRange(f, 'c', get('ch'), () => {
            before();
            forRange(f, 'ky', get('kh'), () => {
              f.emit(set('iy', add(sub(mul(get('oy'), get('sh')), get('pt')), mul(get('ky'), get('dh')))));
              f.emit(`(if (i32.lt_u ${get('iy')} ${get('inH')}) (then`);
              forRange(f, 'kx', get('kw'), () => {
                f.emit(set('ix', add(sub(mul(get('ox'), get('sw')), get('pl')), mul(get('kx'), get('dw')))));
                f.emit(`(if (i32.lt_u ${get('ix')} ${get('inW')}) (then`);
                f.emit(set('i', add(inputBase(), get('c'))));
                cell();
                f.emit('))');
              });
              f.emit('))');
            });
            after();
          }, lanes),
        ),
      ),
    );
  };
  {
    // The first maximum of the window wins (a later equal value does not); argmax is the element
    // index in the batch.
    const f = mb.func('max_pool', [['x', 'i32'], ['y', 'i32'], ['argmax', 'i32'], ['rows', 'i32'], ...WINDOW_PARAMS], null);
    f.declare('i32', 'best_i');
    f.declare('f32', 'best', 'v');
    f.declare('v128', 'vbest', 'vbi', 'vv', 'vi', 'gt');
    // Four channels at once where they are a multiple of 4: the same first-wins rule lane by lane
    // (a greater value replaces; NaN never compares greater).
    f.emit(`(if (i32.eqz (i32.and ${get('ch')} (i32.const 3))) (then`);
    poolLoops(
      f,
      () => f.emit(set('best_i', i32(-1)), set('vbest', vzero), set('vbi', vi(-1))),
      () => {
        f.emit(set('vv', vload(add(get('x'), shl(get('i'), 2)))));
        f.emit(set('vi', `(i32x4.add (i32x4.splat ${get('i')}) (v128.const i32x4 0 1 2 3))`));
        f.emit(`(if (i32.lt_s ${get('best_i')} (i32.const 0)) (then ${set('vbest', get('vv'))} ${set('vbi', get('vi'))} ${set('best_i', get('i'))}) (else`);
        f.emit(set('gt', `(f32x4.gt ${get('vv')} ${get('vbest')})`));
        f.emit(set('vbest', select(get('vv'), get('vbest'), get('gt'))), set('vbi', select(get('vi'), get('vbi'), get('gt'))), '))');
      },
      () => {
        f.emit(vstore(get('y'), get('vbest')), vstore(get('argmax'), get('vbi')));
        f.emit(addTo('y', i32(16)), addTo('argmax', i32(16)));
      },
      4,
    );
    f.emit(') (else');
    poolLoops(
      f,
      () => f.emit(set('best_i', i32(-1)), set('best', f32(0))),
      () => {
        f.emit(set('v', `(f32.load ${add(get('x'), shl(get('i'), 2))})`));
        f.emit(`(if (i32.or (i32.lt_s ${get('best_i')} (i32.const 0)) (f32.gt ${get('v')} ${get('best')})) (then ${set('best', get('v'))} ${set('best_i', get('i'))}))`);
      },
      () => {
        f.emit(`(f32.store ${get('y')} ${get('best')})`, `(i32.store ${get('argmax')} ${get('best_i')})`);
        f.emit(addTo('y', i32(4)), addTo('argmax', i32(4)));
      },
    );
    f.emit('))');
  }
  {
    // dx = 0, then dy[o] added at argmax[o] in output order.
    const f = mb.func('max_pool_grad', [['dy', 'i32'], ['argmax', 'i32'], ['dx', 'i32'], ['rows', 'i32'], ...WINDOW_PARAMS], null);
    f.declare('i32', 'p', 'count');
    f.emit(`(memory.fill ${get('dx')} (i32.const 0) ${shl(mul(mul(mul(get('rows'), get('inH')), get('inW')), get('ch')), 2)})`);
    f.emit(set('count', mul(mul(mul(get('rows'), get('oh')), get('ow')), get('ch'))));
    forRange(f, 'o', get('count'), () => {
      f.emit(set('p', add(get('dx'), shl(`(i32.load ${get('argmax')})`, 2))));
      f.emit(`(f32.store ${get('p')} (f32.add (f32.load ${get('p')}) (f32.load ${get('dy')})))`);
      f.emit(addTo('dy', i32(4)), addTo('argmax', i32(4)));
    });
  }
  {
    // The mean over the window's elements inside the input (tfjs: padding is not counted).
    const f = mb.func('avg_pool', [['x', 'i32'], ['y', 'i32'], ['rows', 'i32'], ...WINDOW_PARAMS], null);
    f.declare('i32', 'cnt');
    f.declare('f32', 's');
    f.declare('v128', 'vs');
    f.emit(`(if (i32.eqz (i32.and ${get('ch')} (i32.const 3))) (then`);
    poolLoops(
      f,
      () => f.emit(set('vs', vzero), set('cnt', i32(0))),
      () => f.emit(set('vs', fadd(get('vs'), vload(add(get('x'), shl(get('i'), 2))))), addTo('cnt', i32(1))),
      () => f.emit(vstore(get('y'), fdiv(get('vs'), `(f32x4.splat (f32.convert_i32_s ${get('cnt')}))`)), addTo('y', i32(16))),
      4,
    );
    f.emit(') (else');
    poolLoops(
      f,
      () => f.emit(set('s', f32(0)), set('cnt', i32(0))),
      () => f.emit(set('s', `(f32.add ${get('s')} (f32.load ${add(get('x'), shl(get('i'), 2))}))`), addTo('cnt', i32(1))),
      () => f.emit(`(f32.store ${get('y')} (f32.div ${get('s')} (f32.convert_i32_s ${get('cnt')})))`, addTo('y', i32(4))),
    );
    f.emit('))');
  }
  {
    // dx = 0, then dy[o]/count added to each element of o's window, in output order.
    const f = mb.func('avg_pool_grad', [['dy', 'i32'], ['dx', 'i32'], ['rows', 'i32'], ...WINDOW_PARAMS], null);
    f.declare('i32', 'cnt', 'cy', 'cx', 'p');
    f.declare('f32', 'v');
    f.emit(`(memory.fill ${get('dx')} (i32.const 0) ${shl(mul(mul(mul(get('rows'), get('inH')), get('inW')), get('ch')), 2)})`);
    poolLoops(
      f,
      () => {
        // The window's valid rows × valid columns.
        f.emit(set('cy', i32(0)), set('cx', i32(0)));
        forRange(f, 'ky', get('kh'), () => f.emit(`(if (i32.lt_u ${add(sub(mul(get('oy'), get('sh')), get('pt')), mul(get('ky'), get('dh')))} ${get('inH')}) (then ${addTo('cy', i32(1))}))`));
        forRange(f, 'kx', get('kw'), () => f.emit(`(if (i32.lt_u ${add(sub(mul(get('ox'), get('sw')), get('pl')), mul(get('kx'), get('dw')))} ${get('inW')}) (then ${addTo('cx', i32(1))}))`));
        f.emit(set('cnt', mul(get('cy'), get('cx'))));
        f.emit(set('v', `(f32.div (f32.load ${get('dy')}) (f32.convert_i32_s ${get('cnt')}))`));
      },
      () => {
        f.emit(set('p', add(get('dx'), shl(get('i'), 2))));
        f.emit(`(f32.store ${get('p')} (f32.add (f32.load ${get('p')}) ${get('v')}))`);
      },
      () => f.emit(addTo('dy', i32(4))),
    );
  }
  {
    // y[n, c] = (Σ_p x[n, p, c]) / positions, p in order.
    const f = mb.func('global_avg_pool', [['x', 'i32'], ['y', 'i32'], ['rows', 'i32'], ['positions', 'i32'], ['ch', 'i32']], null);
    f.declare('f32', 's');
    forRange(f, 'n', get('rows'), () =>
      forRange(f, 'c', get('ch'), () => {
        f.emit(set('s', f32(0)));
        forRange(f, 'p', get('positions'), () => f.emit(set('s', `(f32.add ${get('s')} (f32.load ${add(get('x'), shl(add(mul(add(mul(get('n'), get('positions')), get('p')), get('ch')), get('c')), 2))}))`)));
        f.emit(`(f32.store ${get('y')} (f32.div ${get('s')} (f32.convert_i32_s ${get('positions')})))`, addTo('y', i32(4)));
      }),
    );
  }
  {
    // dx[n, p, c] = dy[n, c] / positions.
    const f = mb.func('global_avg_pool_grad', [['dy', 'i32'], ['dx', 'i32'], ['rows', 'i32'], ['positions', 'i32'], ['ch', 'i32']], null);
    f.declare('f32', 'v');
    forRange(f, 'n', get('rows'), () =>
      forRange(f, 'c', get('ch'), () => {
        f.emit(set('v', `(f32.div (f32.load ${add(get('dy'), shl(add(mul(get('n'), get('ch')), get('c')), 2))}) (f32.convert_i32_s ${get('positions')}))`));
        forRange(f, 'p', get('positions'), () => f.emit(`(f32.store ${add(get('dx'), shl(add(mul(add(mul(get('n'), get('positions')), get('p')), get('ch')), get('c')), 2))} ${get('v')})`));
      }),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Convolution as implicit GEMM over a zero-padded copy of one example (no im2col matrix).
//
// Scratch (src/geometry.ts convScratchFloats): the tap table (K int32 byte offsets of
// k = (ky, kx, c) from a window's origin), the origin table (P int32 byte offsets of each output
// position's window in xp), the padded example xp (hp × wp × C: every window reads inside it, so
// the loops carry no bounds checks), then Wᵀ (filters × K) for the input gradient. Register tiles
// are 2 rows × 4 f32x4 (8 accumulators + 4 B vectors + splat + product temp ≤ SIMD_REGS), with
// narrower kernels for the last filters (or taps) and a 1-row tail; each micro-kernel runs a
// whole column panel, so calls are few. Each output sums k (or p, or f) in order from zero (or
// from dW), as the twin (kernels/reference.ts) does.

const CONV_ROWS = 2;
const CONV_NV = 4;
const convPanels = (): { q: number; rem: number }[] => {
  const out: { q: number; rem: number }[] = [];
  for (let w = 1; w < 4 * CONV_NV; w++) out.push({ q: w >> 2, rem: w & 3 });
  return out;
};

/** Declares the derived sizes every conv kernel starts from and writes the two tables. */
function convPrologue(f: Func): void {
  f.declare('i32', 'K', 'hp', 'wp', 'tab', 'otab', 'xp', 'xpBytes', 'colStep', 'rowStep', 'P', 't');
  f.emit(set('K', mul(mul(get('kh'), get('kw')), get('ch'))));
  f.emit(set('P', mul(get('oh'), get('ow'))));
  f.emit(set('hp', add(add(mul(sub(get('oh'), i32(1)), get('sh')), mul(sub(get('kh'), i32(1)), get('dh'))), i32(1))));
  f.emit(set('wp', add(add(mul(sub(get('ow'), i32(1)), get('sw')), mul(sub(get('kw'), i32(1)), get('dw'))), i32(1))));
  f.emit(set('tab', get('scratch')), set('otab', add(get('tab'), shl(get('K'), 2))), set('xp', add(get('otab'), shl(get('P'), 2))));
  f.emit(set('xpBytes', shl(mul(mul(get('hp'), get('wp')), get('ch')), 2)));
  f.emit(set('colStep', shl(mul(get('sw'), get('ch')), 2)));
  f.emit(set('rowStep', shl(mul(mul(get('sh'), get('wp')), get('ch')), 2)));
  // Taps k = (ky, kx, c) in order.
  f.emit(set('t', get('tab')));
  forRange(f, 'ky', get('kh'), () =>
    forRange(f, 'kx', get('kw'), () =>
      forRange(f, 'c', get('ch'), () => {
        f.emit(`(i32.store ${get('t')} ${shl(add(mul(add(mul(mul(get('ky'), get('dh')), get('wp')), mul(get('kx'), get('dw'))), get('ch')), get('c')), 2)})`);
        f.emit(addTo('t', i32(4)));
      }),
    ),
  );
  // Window origins of positions (oy, ox) in order.
  f.emit(set('t', get('otab')));
  forRange(f, 'oy', get('oh'), () =>
    forRange(f, 'ox', get('ow'), () => {
      f.emit(`(i32.store ${get('t')} ${add(mul(get('oy'), get('rowStep')), mul(get('ox'), get('colStep')))})`);
      f.emit(addTo('t', i32(4)));
    }),
  );
}

/**
 * Emits an inline copy of `count` floats from src to dst (or zeros when src is null): f32x4 steps,
 * then single floats. The rows of a padded example are short (tens of floats): inline loops beat
 * memory.copy / memory.fill, which V8 runs as calls out of the module.
 */
function emitCopyFloats(f: Func, dst: string, src: string | null, count: string): void {
  f.declare('i32', 'cf_d', 'cf_s', 'cf_n');
  f.emit(set('cf_d', dst), set('cf_n', count));
  if (src !== null) f.emit(set('cf_s', src));
  f.whileLoop(`(i32.ge_s ${get('cf_n')} (i32.const 4))`, () => {
    f.emit(vstore(get('cf_d'), src === null ? vzero : vload(get('cf_s'))), addTo('cf_d', i32(16)), set('cf_n', sub(get('cf_n'), i32(4))));
    if (src !== null) f.emit(addTo('cf_s', i32(16)));
  });
  f.whileLoop(`(i32.gt_s ${get('cf_n')} (i32.const 0))`, () => {
    f.emit(`(f32.store ${get('cf_d')} ${src === null ? f32(0) : `(f32.load ${get('cf_s')})`})`, addTo('cf_d', i32(4)), set('cf_n', sub(get('cf_n'), i32(1))));
    if (src !== null) f.emit(addTo('cf_s', i32(4)));
  });
}

/**
 * Row y of xp ↔ input row y − pt, column x ↔ input column x − pl. `toPadded` copies example
 * `src` into xp (zeros outside the input); otherwise copies xp's inside back to example `src`
 * after zeroing it (columns and rows no window reaches stay 0).
 */
function convPadLoops(f: Func, src: string, toPadded: boolean): void {
  f.declare('i32', 'x0', 'x1', 'sy', 'rowIn', 'rowPad', 'span');
  // Columns x0..x1 of xp hold input columns x0 − pl .. x1 − pl − 1.
  f.emit(set('x0', `(select ${get('pl')} ${get('wp')} (i32.lt_s ${get('pl')} ${get('wp')}))`));
  f.emit(set('x1', add(get('pl'), get('inW'))));
  f.emit(`(if (i32.gt_s ${get('x1')} ${get('wp')}) (then ${set('x1', get('wp'))}))`);
  f.emit(set('span', mul(sub(get('x1'), get('x0')), get('ch'))));
  if (!toPadded) f.emit(`(memory.fill ${get(src)} (i32.const 0) ${shl(mul(mul(get('inH'), get('inW')), get('ch')), 2)})`);
  forRange(f, 'y', get('hp'), () => {
    f.emit(set('sy', sub(get('y'), get('pt'))));
    f.emit(set('rowPad', add(get('xp'), shl(mul(mul(get('y'), get('wp')), get('ch')), 2))));
    f.emit(set('rowIn', add(get(src), shl(mul(add(mul(get('sy'), get('inW')), sub(get('x0'), get('pl'))), get('ch')), 2))));
    const inside = `(i32.lt_u ${get('sy')} ${get('inH')})`;
    f.emit(`(if ${inside} (then`);
    if (toPadded) {
      emitCopyFloats(f, get('rowPad'), null, mul(get('x0'), get('ch')));
      emitCopyFloats(f, add(get('rowPad'), shl(mul(get('x0'), get('ch')), 2)), get('rowIn'), get('span'));
      emitCopyFloats(f, add(get('rowPad'), shl(mul(get('x1'), get('ch')), 2)), null, mul(sub(get('wp'), get('x1')), get('ch')));
      f.emit(') (else');
      emitCopyFloats(f, get('rowPad'), null, mul(get('wp'), get('ch')));
      f.emit('))');
    } else {
      emitCopyFloats(f, get('rowIn'), add(get('rowPad'), shl(mul(get('x0'), get('ch')), 2)), get('span'));
      f.emit('))');
    }
  });
}

const cfName = (rows: number, q: number, rem: number): string => `cf_${rows}_${q}_${rem}`;
const cwName = (rows: number, q: number, rem: number): string => `cw_${rows}_${q}_${rem}`;
const cxName = (rows: number, q: number, rem: number): string => `cx_${rows}_${q}_${rem}`;

/** Accumulator locals and lane widths of a rows × (4q + rem) tile. */
function convTile(f: Func, rows: number, q: number, rem: number): { nvt: number; width: (v: number) => number; acc: (r: number, v: number) => string } {
  const nvt = q + (rem > 0 ? 1 : 0);
  const acc = (r: number, v: number): string => `c${r}_${v}`;
  for (let r = 0; r < rows; r++) for (let v = 0; v < nvt; v++) f.local(acc(r, v), 'v128');
  for (let v = 0; v < nvt; v++) f.local(`b${v}`, 'v128');
  f.local('s', 'v128');
  return { nvt, width: (v) => (v < q ? 4 : rem), acc };
}

/** acc_rv += splat(row r's element) · b_v for one reduction step: B vectors loaded at $bp, then $bp += ldb4. */
function convStep(mb: ModuleBuilder, f: Func, t: ReturnType<typeof convTile>, rows: number, element: (r: number) => string): void {
  for (let v = 0; v < t.nvt; v++) f.emit(set(`b${v}`, loadLanes(get('bp'), 16 * v, t.width(v))));
  f.emit(addTo('bp', get('ldb4')));
  for (let r = 0; r < rows; r++) {
    f.emit(set('s', splatLoad(element(r))));
    for (let v = 0; v < t.nvt; v++) f.emit(set(t.acc(r, v), mb.madd(get('s'), get(`b${v}`), get(t.acc(r, v)))));
  }
}

/**
 * One filter panel of z for `count` tiles of rows positions, origins read from $ot:
 * z[p_r, panel] = bias[panel] (0 when bias = 0) + Σ_k xp[org(p_r) + tab[k]] · W[k, panel], added
 * in k order from the bias. The taps come in `runs`
 * runs of L contiguous ones (a kernel row of kw·C with dilation 1, else one pixel's C), so the
 * inner loop steps a pointer instead of reading the table.
 * (count, ot, xp, tab, runs, L, b, ldb4, bias, c, ldc4)
 */
function convForwardKernel(mb: ModuleBuilder, rows: number, q: number, rem: number): void {
  const f = mb.func(cfName(rows, q, rem), [
    ['count', 'i32'], ['ot', 'i32'], ['xp', 'i32'], ['tab', 'i32'], ['runs', 'i32'], ['L', 'i32'], ['b', 'i32'], ['ldb4', 'i32'], ['bias', 'i32'], ['c', 'i32'], ['ldc4', 'i32'],
  ], null, false);
  const t = convTile(f, rows, q, rem);
  f.declare('i32', 'rr', 'tp', 'bp', 'tabStep', 'o', 'end');
  for (let r = 0; r < rows; r++) f.declare('i32', `a${r}`);
  f.emit(set('tabStep', shl(get('L'), 2)));
  f.whileLoop(get('count'), () => {
    for (let r = 0; r < rows; r++) f.emit(set(`a${r}`, add(get('xp'), `(i32.load offset=${4 * r} ${get('ot')})`)));
    f.emit(addTo('ot', i32(4 * rows)));
    const fromBias: string[] = [];
    const zero: string[] = [];
    for (let r = 0; r < rows; r++) {
      for (let v = 0; v < t.nvt; v++) {
        fromBias.push(set(t.acc(r, v), r === 0 ? loadLanes(get('bias'), 16 * v, t.width(v)) : get(t.acc(0, v))));
        zero.push(set(t.acc(r, v), vzero));
      }
    }
    f.emit(`(if ${get('bias')} (then ${fromBias.join(' ')}) (else ${zero.join(' ')}))`);
    f.emit(set('tp', get('tab')), set('bp', get('b')), set('rr', get('runs')));
    f.whileLoop(get('rr'), () => {
      // One offset $o steps through the run for every row: a_r + o.
      f.emit(set('o', `(i32.load ${get('tp')})`), addTo('tp', get('tabStep')), set('end', add(get('o'), get('tabStep'))));
      f.whileLoop(`(i32.lt_u ${get('o')} ${get('end')})`, () => {
        convStep(mb, f, t, rows, (r) => add(get(`a${r}`), get('o')));
        f.emit(addTo('o', i32(4)));
      });
      f.emit(set('rr', sub(get('rr'), i32(1))));
    });
    for (let r = 0; r < rows; r++) {
      for (let v = 0; v < t.nvt; v++) f.emit(...storeLanes(get('c'), 16 * v, t.width(v), get(t.acc(r, v))));
      f.emit(addTo('c', get('ldc4')));
    }
    f.emit(set('count', sub(get('count'), i32(1))));
  });
}

/**
 * dW tile (+)= Σ_p xp[a_r + org(p)] · dz[p, panel], p in order: a_r = xp + tab[k_r], stepped
 * by colStep along a row of outputs and rowJump to the next.
 * (a0.., b, ldb4, c, ldc4, acc, oh, ow, colStep, rowJump)
 */
function convFilterKernel(mb: ModuleBuilder, rows: number, q: number, rem: number): void {
  const params: [string, ValType][] = [];
  for (let r = 0; r < rows; r++) params.push([`a${r}`, 'i32']);
  params.push(['b', 'i32'], ['ldb4', 'i32'], ['c', 'i32'], ['ldc4', 'i32'], ['acc', 'i32'], ['oh', 'i32'], ['ow', 'i32'], ['colStep', 'i32'], ['rowJump', 'i32']);
  const f = mb.func(cwName(rows, q, rem), params, null, false);
  const t = convTile(f, rows, q, rem);
  f.declare('i32', 'yy', 'xx', 'cp', 'bp');
  const init: string[] = [];
  const zero: string[] = [];
  f.emit(set('cp', get('c')), set('bp', get('b')));
  for (let r = 0; r < rows; r++) {
    for (let v = 0; v < t.nvt; v++) {
      init.push(set(t.acc(r, v), loadLanes(get('cp'), 16 * v, t.width(v))));
      zero.push(set(t.acc(r, v), vzero));
    }
    init.push(addTo('cp', get('ldc4')));
  }
  f.emit(`(if ${get('acc')} (then ${init.join(' ')}) (else ${zero.join(' ')}))`);
  f.emit(set('yy', get('oh')));
  f.whileLoop(get('yy'), () => {
    f.emit(set('xx', get('ow')));
    f.whileLoop(get('xx'), () => {
      convStep(mb, f, t, rows, (r) => get(`a${r}`));
      for (let r = 0; r < rows; r++) f.emit(addTo(`a${r}`, get('colStep')));
      f.emit(set('xx', sub(get('xx'), i32(1))));
    });
    for (let r = 0; r < rows; r++) f.emit(addTo(`a${r}`, get('rowJump')));
    f.emit(set('yy', sub(get('yy'), i32(1))));
  });
  f.emit(set('cp', get('c')));
  for (let r = 0; r < rows; r++) {
    for (let v = 0; v < t.nvt; v++) f.emit(...storeLanes(get('cp'), 16 * v, t.width(v), get(t.acc(r, v))));
    if (r + 1 < rows) f.emit(addTo('cp', get('ldc4')));
  }
}

/**
 * One tap panel of the input gradient for `count` tiles of rows positions (origins from $ot):
 * dcol[p_r, panel] = Σ_f dz[p_r, f] · Wᵀ[f, panel], f in order, then each element added to the
 * padded dx at org(p_r) + tab[k]: rows, then vectors, then lanes in order (a whole vector at
 * once when its 4 taps are 4 channels of one pixel, `vec`).
 * (count, ot, xp, a, lda4, F, b, ldb4, tab, vec)
 */
function convInputKernel(mb: ModuleBuilder, rows: number, q: number, rem: number): void {
  const f = mb.func(cxName(rows, q, rem), [
    ['count', 'i32'], ['ot', 'i32'], ['xp', 'i32'], ['a', 'i32'], ['lda4', 'i32'], ['F', 'i32'], ['b', 'i32'], ['ldb4', 'i32'], ['tab', 'i32'], ['vec', 'i32'],
  ], null, false);
  const t = convTile(f, rows, q, rem);
  f.declare('i32', 'kk', 'pa', 'bp', 'ap');
  for (let r = 0; r < rows; r++) f.local(`d${r}`, 'i32');
  const laneAdds = (r: number, v: number, lanes: number): string[] => {
    const out: string[] = [];
    for (let l = 0; l < lanes; l++) {
      out.push(set('pa', add(get(`d${r}`), `(i32.load offset=${16 * v + 4 * l} ${get('tab')})`)));
      out.push(`(f32.store ${get('pa')} (f32.add (f32.load ${get('pa')}) (f32x4.extract_lane ${l} ${get(t.acc(r, v))})))`);
    }
    return out;
  };
  f.whileLoop(get('count'), () => {
    for (let r = 0; r < rows; r++) f.emit(set(`d${r}`, add(get('xp'), `(i32.load offset=${4 * r} ${get('ot')})`)));
    f.emit(addTo('ot', i32(4 * rows)));
    for (let r = 0; r < rows; r++) for (let v = 0; v < t.nvt; v++) f.emit(set(t.acc(r, v), vzero));
    f.emit(set('ap', get('a')), set('bp', get('b')), set('kk', get('F')));
    f.whileLoop(get('kk'), () => {
      convStep(mb, f, t, rows, (r) => (r === 0 ? get('ap') : add(get('ap'), r === 1 ? get('lda4') : mul(get('lda4'), i32(r)))));
      f.emit(addTo('ap', i32(4)), set('kk', sub(get('kk'), i32(1))));
    });
    for (let r = 0; r < rows; r++) {
      for (let v = 0; v < t.nvt; v++) {
        if (t.width(v) === 4) {
          const vector = [set('pa', add(get(`d${r}`), `(i32.load offset=${16 * v} ${get('tab')})`)), vstore(get('pa'), fadd(vload(get('pa')), get(t.acc(r, v))))];
          f.emit(`(if ${get('vec')} (then ${vector.join(' ')}) (else ${laneAdds(r, v, 4).join(' ')}))`);
        } else {
          f.emit(...laneAdds(r, v, t.width(v)));
        }
      }
    }
    f.emit(addTo('a', mul(get('lda4'), i32(rows))));
    f.emit(set('count', sub(get('count'), i32(1))));
  });
}

/** Emits call(q, rem) for the panel of width `w` (1..15): one if per width. */
function convTailDispatch(f: Func, w: string, call: (q: number, rem: number) => string): void {
  for (const p of convPanels()) f.emit(`(if (i32.eq ${w} ${i32(4 * p.q + p.rem)}) (then ${call(p.q, p.rem)}))`);
}

/** Full panels of 16 columns over [0, width), then the narrower last one: $j is the panel's first column. */
function convPanelLoop(f: Func, width: string, call: (q: number, rem: number) => string): void {
  f.emit(set('j', i32(0)));
  f.whileLoop(`(i32.le_u ${add(get('j'), i32(4 * CONV_NV))} ${width})`, () => f.emit(call(CONV_NV, 0), addTo('j', i32(4 * CONV_NV))));
  f.emit(set('rest', sub(width, get('j'))));
  convTailDispatch(f, get('rest'), call);
}

const CONV_PARAMS = [...WINDOW_PARAMS, ['filters', 'i32'], ['scratch', 'i32']] as const;

function convKernels(mb: ModuleBuilder): void {
  for (const rows of [CONV_ROWS, 1]) {
    for (const p of [{ q: CONV_NV, rem: 0 }, ...convPanels()]) {
      convForwardKernel(mb, rows, p.q, p.rem);
      convFilterKernel(mb, rows, p.q, p.rem);
      convInputKernel(mb, rows, p.q, p.rem);
    }
  }
  const exampleBytes = (dims: string): string => shl(dims, 2);
  const inputOf = (base: string): string => add(get(base), exampleBytes(mul(mul(mul(get('n'), get('inH')), get('inW')), get('ch'))));
  const outputOf = (base: string): string => add(get(base), exampleBytes(mul(mul(get('n'), get('P')), get('filters'))));
  // Position tiles: P / 2 pairs, then one single position if P is odd (its origin at otab + 4·(P − 1)).
  const pairs = (): string => `(i32.shr_u ${get('P')} (i32.const 1))`;
  const lastOrigin = (): string => add(get('otab'), shl(sub(get('P'), i32(1)), 2));
  const lastRow = (base: string, ld4: string): string => add(get(base), mul(sub(get('P'), i32(1)), get(ld4)));
  const odd = (): string => `(i32.and ${get('P')} (i32.const 1))`;
  {
    // z[n] = bias + conv(x[n], W) (bias = 0: none).
    const f = mb.func('conv_forward', [['x', 'i32'], ['w', 'i32'], ['bias', 'i32'], ['z', 'i32'], ['rows', 'i32'], ...CONV_PARAMS], null);
    convPrologue(f);
    f.declare('i32', 'src', 'zp', 'j', 'ldb4', 'rest', 'L', 'runs');
    f.emit(set('ldb4', shl(get('filters'), 2)));
    f.emit(set('L', `(select ${mul(get('kw'), get('ch'))} ${get('ch')} (i32.eq ${get('dw')} (i32.const 1)))`));
    f.emit(set('runs', `(i32.div_u ${get('K')} ${get('L')})`));
    forRange(f, 'n', get('rows'), () => {
      f.emit(set('src', inputOf('x')));
      convPadLoops(f, 'src', true);
      f.emit(set('zp', outputOf('z')));
      const taps = `${get('tab')} ${get('runs')} ${get('L')}`;
      const biasAt = `(select ${add(get('bias'), shl(get('j'), 2))} (i32.const 0) ${get('bias')})`;
      convPanelLoop(f, get('filters'), (q, rem) =>
        `(call $${cfName(CONV_ROWS, q, rem)} ${pairs()} ${get('otab')} ${get('xp')} ${taps} ${add(get('w'), shl(get('j'), 2))} ${get('ldb4')} ${biasAt} ${add(get('zp'), shl(get('j'), 2))} ${get('ldb4')})` +
        `(if ${odd()} (then (call $${cfName(1, q, rem)} (i32.const 1) ${lastOrigin()} ${get('xp')} ${taps} ${add(get('w'), shl(get('j'), 2))} ${get('ldb4')} ${biasAt} ${add(lastRow('zp', 'ldb4'), shl(get('j'), 2))} ${get('ldb4')})))`,
      );
    });
  }
  {
    // dW (+)= Σ_n Σ_p xp_n[org(p) + tab[k]] · dz[n, p, f]: examples in order, positions in order.
    const f = mb.func('conv_filter_grad', [['x', 'i32'], ['dz', 'i32'], ['gw', 'i32'], ['rows', 'i32'], ...CONV_PARAMS, ['acc', 'i32']], null);
    convPrologue(f);
    f.declare('i32', 'src', 'dzp', 'k', 'j', 'ldb4', 'rest', 'accn', 'rowJump', 'cw');
    f.emit(set('ldb4', shl(get('filters'), 2)));
    f.emit(set('rowJump', sub(get('rowStep'), mul(get('ow'), get('colStep')))));
    forRange(f, 'n', get('rows'), () => {
      f.emit(set('src', inputOf('x')));
      convPadLoops(f, 'src', true);
      f.emit(set('dzp', outputOf('dz')));
      f.emit(set('accn', `(i32.or ${get('acc')} (i32.ne ${get('n')} (i32.const 0)))`));
      f.emit(set('k', i32(0)));
      const tapRows = (rows: number): void => {
        const anchors = rows === 2
          ? `${add(get('xp'), `(i32.load ${add(get('tab'), shl(get('k'), 2))})`)} ${add(get('xp'), `(i32.load offset=4 ${add(get('tab'), shl(get('k'), 2))})`)}`
          : add(get('xp'), `(i32.load ${add(get('tab'), shl(get('k'), 2))})`);
        f.emit(set('cw', add(get('gw'), mul(get('k'), get('ldb4')))));
        convPanelLoop(f, get('filters'), (q, rem) =>
          `(call $${cwName(rows, q, rem)} ${anchors} ${add(get('dzp'), shl(get('j'), 2))} ${get('ldb4')} ${add(get('cw'), shl(get('j'), 2))} ${get('ldb4')} ${get('accn')} ${get('oh')} ${get('ow')} ${get('colStep')} ${get('rowJump')})`,
        );
      };
      f.whileLoop(`(i32.le_u ${add(get('k'), i32(2))} ${get('K')})`, () => {
        tapRows(2);
        f.emit(addTo('k', i32(2)));
      });
      f.emit(`(if (i32.lt_u ${get('k')} ${get('K')}) (then`);
      tapRows(1);
      f.emit('))');
    });
  }
  {
    // dx[n] = the adjoint: Wᵀ into scratch once, then per example the padded dx accumulated in
    // (tap panel, position pair, row, tap) order and copied back inside the input.
    const f = mb.func('conv_input_grad', [['dz', 'i32'], ['w', 'i32'], ['dx', 'i32'], ['rows', 'i32'], ...CONV_PARAMS], null);
    convPrologue(f);
    f.declare('i32', 'dst', 'dzp', 'wt', 'j', 'ldz4', 'ldt4', 'rest', 'vec', 'fi', 'kq');
    f.emit(set('wt', add(get('xp'), get('xpBytes'))));
    f.emit(set('ldz4', shl(get('filters'), 2)), set('ldt4', shl(get('K'), 2)));
    f.emit(set('vec', `(i32.eqz (i32.and ${get('ch')} (i32.const 3)))`));
    // Wᵀ[f, k] = W[k, f].
    forRange(f, 'kq', get('K'), () =>
      forRange(f, 'fi', get('filters'), () =>
        f.emit(`(f32.store ${add(get('wt'), shl(add(mul(get('fi'), get('K')), get('kq')), 2))} (f32.load ${add(get('w'), shl(add(mul(get('kq'), get('filters')), get('fi')), 2))}))`),
      ),
    );
    forRange(f, 'n', get('rows'), () => {
      f.emit(`(memory.fill ${get('xp')} (i32.const 0) ${get('xpBytes')})`);
      f.emit(set('dzp', outputOf('dz')));
      convPanelLoop(f, get('K'), (q, rem) =>
        `(call $${cxName(CONV_ROWS, q, rem)} ${pairs()} ${get('otab')} ${get('xp')} ${get('dzp')} ${get('ldz4')} ${get('filters')} ${add(get('wt'), shl(get('j'), 2))} ${get('ldt4')} ${add(get('tab'), shl(get('j'), 2))} ${get('vec')})` +
        `(if ${odd()} (then (call $${cxName(1, q, rem)} (i32.const 1) ${lastOrigin()} ${get('xp')} ${lastRow('dzp', 'ldz4')} ${get('ldz4')} ${get('filters')} ${add(get('wt'), shl(get('j'), 2))} ${get('ldt4')} ${add(get('tab'), shl(get('j'), 2))} ${get('vec')})))`,
      );
      f.emit(set('dst', inputOf('dx')));
      convPadLoops(f, 'dst', false);
    });
  }
}

/**
 * Batch normalisation over the last axis (src/kernels/types.ts): float64 arithmetic from float32
 * loads, rows in order per channel, one rounding per store — the twin's exact sequence. Rows run
 * in the outer loop and blocks of up to 8 channels (four f64x2 pairs) in the inner one, so each
 * pass reads the batch in memory order (a column walk touched a new cache line per element); every
 * channel's sums still take its rows in order, in its own lane.
 */
function batchNormKernels(mb: ModuleBuilder): void {
  const promoLo = (v: string): string => `(f64x2.promote_low_f32x4 ${v})`;
  const promoHi = (v: string): string => promoLo(shuffle32(v, v, [2, 3, 2, 3]));
  const demote = (v: string): string => `(f32x4.demote_f64x2_zero ${v})`;
  const pairsOf = (w: number): number => Math.ceil(w / 2);
  const vectorsOf = (w: number): number => Math.ceil(w / 4);
  const lanesOf = (w: number, v: number): number => Math.min(4, w - 4 * v);
  const atChannel = (base: string): string => add(get(base), shl(get('c'), 2));
  /** Loads channels c..c+w−1 at `ptr` into f64x2 locals `${name}0..`; lanes past w read as 0. */
  const loadPairs = (f: Func, ptr: string, w: number, name: string): void => {
    for (let v = 0; v < vectorsOf(w); v++) f.emit(set(`${name}_f${v}`, loadLanes(ptr, 16 * v, lanesOf(w, v))));
    for (let p = 0; p < pairsOf(w); p++) {
      const vec = get(`${name}_f${p >> 1}`);
      f.emit(set(`${name}${p}`, p & 1 ? promoHi(vec) : promoLo(vec)));
    }
  };
  /** The f32x4 of pairs 2v, 2v+1 (each f64x2 expression rounded once). */
  const packed = (w: number, v: number, pair: (p: number) => string): string =>
    pairsOf(w) > 2 * v + 1 ? shuffle32(demote(pair(2 * v)), demote(pair(2 * v + 1)), [0, 1, 4, 5]) : demote(pair(2 * v));
  const storePairs = (f: Func, ptr: string, w: number, pair: (p: number) => string): void => {
    for (let v = 0; v < vectorsOf(w); v++) f.emit(...storeLanes(ptr, 16 * v, lanesOf(w, v), packed(w, v, pair)));
  };
  /** All the locals a block of 8 channels needs, under each name. */
  const declarePairs = (f: Func, ...names: string[]): void => {
    for (const name of names) f.declare('v128', `${name}_f0`, `${name}_f1`, ...Array.from({ length: 4 }, (_, p) => `${name}${p}`));
  };
  /** Runs `block(w)` over channels c = 0, 8, … in blocks of 8, then one block each of 4, 2 and 1 as they fit. */
  const channelBlocks = (f: Func, block: (w: number) => void): void => {
    f.declare('i32', 'c', 'row4');
    f.emit(set('c', i32(0)), set('row4', shl(get('ch'), 2)));
    f.whileLoop(`(i32.le_s ${add(get('c'), i32(8))} ${get('ch')})`, () => {
      block(8);
      f.emit(addTo('c', i32(8)));
    });
    for (const w of [4, 2, 1]) {
      f.emit(`(if (i32.le_s ${add(get('c'), i32(w))} ${get('ch')}) (then`);
      block(w);
      f.emit(addTo('c', i32(w)), '))');
    }
  };
  /** Rows 0..count−1: each pointer local starts at its base's channel c and steps one row. */
  const rows = (f: Func, pointers: readonly (readonly [string, string])[], body: () => void): void => {
    for (const [p, base] of pointers) {
      f.local(p, 'i32');
      f.emit(set(p, atChannel(base)));
    }
    forRange(f, 'i', get('count'), () => {
      body();
      for (const [p] of pointers) f.emit(addTo(p, get('row4')));
    });
  };
  const range = (w: number): number[] => Array.from({ length: pairsOf(w) }, (_, p) => p);
  const f64splat = (x: string): string => `(f64x2.splat ${x})`;
  /** $mu0.., $inv0.. = mean[c..], 1/√(variance[c..] + ε). */
  const channelSetup = (f: Func, w: number): void => {
    loadPairs(f, atChannel('mean'), w, 'mu');
    loadPairs(f, atChannel('variance'), w, 'va');
    for (const p of range(w)) f.emit(set(`inv${p}`, `(f64x2.div ${get('one')} (f64x2.sqrt (f64x2.add ${get(`va${p}`)} ${get('veps')})))`));
  };
  /** $name0.. = ptr[c..] when ptr ≠ 0, else `otherwise` in every lane. */
  const optionalPairs = (f: Func, ptr: string, w: number, name: string, otherwise: string): void => {
    f.emit(`(if ${get(ptr)} (then`);
    loadPairs(f, atChannel(ptr), w, name);
    f.emit(') (else', ...range(w).map((p) => set(`${name}${p}`, otherwise)), '))');
  };
  const common = (f: Func): void => {
    declarePairs(f, 'x', 'mu', 'va', 'inv');
    f.declare('v128', 'one', 'veps', 'vn');
    f.emit(set('one', f64splat(f64(1))), set('vn', f64splat(`(f64.convert_i32_s ${get('count')})`)));
  };
  {
    const f = mb.func('batch_norm_stats', [['x', 'i32'], ['mean', 'i32'], ['variance', 'i32'], ['count', 'i32'], ['ch', 'i32']], null);
    common(f);
    declarePairs(f, 's', 'm', 'q', 'd');
    channelBlocks(f, (w) => {
      f.emit(...range(w).map((p) => set(`s${p}`, vzero)));
      rows(f, [['px', 'x']], () => {
        loadPairs(f, get('px'), w, 'x');
        f.emit(...range(w).map((p) => set(`s${p}`, `(f64x2.add ${get(`s${p}`)} ${get(`x${p}`)})`)));
      });
      f.emit(...range(w).map((p) => set(`m${p}`, `(f64x2.div ${get(`s${p}`)} ${get('vn')})`)));
      f.emit(...range(w).map((p) => set(`q${p}`, vzero)));
      rows(f, [['px', 'x']], () => {
        loadPairs(f, get('px'), w, 'x');
        for (const p of range(w)) {
          f.emit(set(`d${p}`, `(f64x2.sub ${get(`x${p}`)} ${get(`m${p}`)})`));
          f.emit(set(`q${p}`, `(f64x2.add ${get(`q${p}`)} (f64x2.mul ${get(`d${p}`)} ${get(`d${p}`)}))`));
        }
      });
      storePairs(f, atChannel('mean'), w, (p) => get(`m${p}`));
      storePairs(f, atChannel('variance'), w, (p) => `(f64x2.div ${get(`q${p}`)} ${get('vn')})`);
    });
  }
  {
    const f = mb.func('batch_norm_forward', [['x', 'i32'], ['y', 'i32'], ['mean', 'i32'], ['variance', 'i32'], ['gamma', 'i32'], ['beta', 'i32'], ['count', 'i32'], ['ch', 'i32'], ['eps', 'f32']], null);
    common(f);
    declarePairs(f, 'g', 'b');
    f.emit(set('veps', f64splat(`(f64.promote_f32 ${get('eps')})`)));
    channelBlocks(f, (w) => {
      channelSetup(f, w);
      optionalPairs(f, 'gamma', w, 'g', get('one'));
      optionalPairs(f, 'beta', w, 'b', vzero);
      rows(f, [['px', 'x'], ['py', 'y']], () => {
        loadPairs(f, get('px'), w, 'x');
        storePairs(f, get('py'), w, (p) => `(f64x2.add (f64x2.mul (f64x2.mul (f64x2.sub ${get(`x${p}`)} ${get(`mu${p}`)}) ${get(`inv${p}`)}) ${get(`g${p}`)}) ${get(`b${p}`)})`);
      });
    });
  }
  {
    const f = mb.func(
      'batch_norm_backward',
      [['x', 'i32'], ['dy', 'i32'], ['dx', 'i32'], ['mean', 'i32'], ['variance', 'i32'], ['gamma', 'i32'], ['dgamma', 'i32'], ['dbeta', 'i32'], ['count', 'i32'], ['ch', 'i32'], ['eps', 'f32'], ['acc', 'i32']],
      null,
    );
    common(f);
    declarePairs(f, 'dv', 'g', 'sdy', 'sdyx', 'k', 'mdy', 'mdyx', 'xh');
    f.declare('v128', 'o0', 'o1');
    flushSetup(f);
    f.emit(set('veps', f64splat(`(f64.promote_f32 ${get('eps')})`)));
    const xhat = (p: number): string => `(f64x2.mul (f64x2.sub ${get(`x${p}`)} ${get(`mu${p}`)}) ${get(`inv${p}`)})`;
    /** dst[c..] = f32(sum), or dst[c..] + f32(sum) when accumulating; nothing when dst is 0. */
    const storeSums = (w: number, dst: string, sum: string): void => {
      const stores = (accumulate: boolean): string[] =>
        Array.from({ length: vectorsOf(w) }, (_, v) => {
          const value = packed(w, v, (p) => get(`${sum}${p}`));
          const ptr = atChannel(dst);
          return storeLanes(ptr, 16 * v, lanesOf(w, v), accumulate ? fadd(loadLanes(ptr, 16 * v, lanesOf(w, v)), value) : value);
        }).flat();
      f.emit(`(if ${get(dst)} (then (if ${get('acc')} (then`, ...stores(true), ') (else', ...stores(false), '))))');
    };
    channelBlocks(f, (w) => {
      channelSetup(f, w);
      f.emit(...range(w).flatMap((p) => [set(`sdy${p}`, vzero), set(`sdyx${p}`, vzero)]));
      rows(f, [['px', 'x'], ['pr', 'dy']], () => {
        loadPairs(f, get('px'), w, 'x');
        loadPairs(f, get('pr'), w, 'dv');
        for (const p of range(w)) {
          f.emit(set(`sdy${p}`, `(f64x2.add ${get(`sdy${p}`)} ${get(`dv${p}`)})`));
          f.emit(set(`sdyx${p}`, `(f64x2.add ${get(`sdyx${p}`)} (f64x2.mul ${get(`dv${p}`)} ${xhat(p)}))`));
        }
      });
      storeSums(w, 'dbeta', 'sdy');
      storeSums(w, 'dgamma', 'sdyx');
      optionalPairs(f, 'gamma', w, 'g', get('one'));
      for (const p of range(w)) {
        f.emit(set(`k${p}`, `(f64x2.mul ${get(`g${p}`)} ${get(`inv${p}`)})`));
        f.emit(set(`mdy${p}`, `(f64x2.div ${get(`sdy${p}`)} ${get('vn')})`), set(`mdyx${p}`, `(f64x2.div ${get(`sdyx${p}`)} ${get('vn')})`));
      }
      rows(f, [['px', 'x'], ['pr', 'dy'], ['pq', 'dx']], () => {
        loadPairs(f, get('px'), w, 'x');
        loadPairs(f, get('pr'), w, 'dv');
        for (const p of range(w)) f.emit(set(`xh${p}`, xhat(p)));
        const grad = (p: number): string =>
          `(f64x2.mul ${get(`k${p}`)} (f64x2.sub (f64x2.sub ${get(`dv${p}`)} ${get(`mdy${p}`)}) (f64x2.mul ${get(`xh${p}`)} ${get(`mdyx${p}`)})))`;
        for (let v = 0; v < vectorsOf(w); v++) {
          f.emit(set(`o${v}`, packed(w, v, grad)));
          ftzLocal(f, `o${v}`);
          f.emit(...storeLanes(get('pq'), 16 * v, lanesOf(w, v), get(`o${v}`)));
        }
      });
    });
  }
}

// ---------------------------------------------------------------------------------------------

/** WAT text of one kernel module variant. */
export function kernelModuleText(v: Variant): string {
  const mb = new ModuleBuilder(v);
  const tiles = gemmTiles(v);
  bcastGemm(mb, 'nn', tiles);
  bcastGemm(mb, 'tn', tiles);
  ntGemm(mb, tiles);
  peakMadd(mb);
  for (const kind of ACTIVATIONS) {
    activationForward(mb, kind);
    activationBackward(mb, kind);
  }
  biasKernels(mb);
  logF64(mb);
  ftzF32(mb);
  softmaxKernels(mb);
  reduction(mb, 'sum');
  reduction(mb, 'sum_squares');
  reduction(mb, 'mse');
  vectorOps(mb);
  windowKernels(mb);
  convKernels(mb);
  batchNormKernels(mb);
  optimizers(mb);
  const flags = mb.func('variant', [], 'i32');
  flags.emit(i32((v.relaxed ? 1 : 0) | (v.shared ? 2 : 0)));
  return mb.text();
}

/** A minimal module that validates only where relaxed SIMD is enabled. */
export const FEATURE_RELAXED_WAT =
  '(module (func (param v128 v128 v128) (result v128) (f32x4.relaxed_madd (local.get 0) (local.get 1) (local.get 2))))';

async function main(): Promise<void> {
  // `--dump-wat <prefix>` writes the WAT text beside the build, for reading the generated code.
  const dumpAt = process.argv.indexOf('--dump-wat');
  const dumpPrefix = dumpAt >= 0 ? process.argv[dumpAt + 1] : undefined;
  const wabt = await wabtInit();
  const features = { simd: true, relaxed_simd: true, threads: true, bulk_memory: true };
  const compile = (name: string, text: string): Uint8Array => {
    const mod = wabt.parseWat(name, text, features);
    try {
      // wabt.js's validate() takes the feature set too, though its index.d.ts omits the parameter.
      (mod.validate as (features: object) => void).call(mod, features);
      return mod.toBinary({}).buffer;
    } finally {
      mod.destroy();
    }
  };
  const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
  const out: Record<string, Record<string, string>> = {};
  const sizes: string[] = [];
  for (const relaxed of [false, true]) {
    const key = relaxed ? 'relaxed' : 'simd';
    out[key] = {};
    for (const shared of [true, false]) {
      const text = kernelModuleText({ relaxed, shared });
      const bin = compile(`kernels-${key}-${shared ? 'shared' : 'unshared'}.wat`, text);
      (out[key] as Record<string, string>)[shared ? 'shared' : 'unshared'] = b64(bin);
      sizes.push(`${key}/${shared ? 'shared' : 'unshared'} ${(bin.length / 1024).toFixed(0)} KiB`);
      if (dumpPrefix) writeFileSync(`${dumpPrefix}-${key}-${shared ? 'shared' : 'unshared'}.wat`, text);
    }
  }
  const feature = b64(compile('feature-relaxed.wat', FEATURE_RELAXED_WAT));
  const here = dirname(fileURLToPath(import.meta.url));
  const outDir = join(here, '..', 'src', 'generated');
  mkdirSync(outDir, { recursive: true });
  const ts =
    '// Generated by packages/nn/scripts/build-wasm.ts — do not edit; run `npm run build -w @hypersweep/nn`.\n' +
    `export const KERNEL_WASM = ${JSON.stringify(out, null, 2)} as const;\n` +
    `export const FEATURE_RELAXED_WASM = '${feature}';\n`;
  writeFileSync(join(outDir, 'kernels-wasm.ts'), ts);
  console.log(`kernels-wasm.ts: ${sizes.join(', ')}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
