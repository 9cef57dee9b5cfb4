// GEMM throughput of the WASM kernels on every matrix product of one training step of an
// MLP 784-512-512-10 at batch 128, single thread, plain SIMD and relaxed-SIMD FMA, next to the
// f32x4 multiply-add ceiling measured in the same run.
//
// Usage: npm run bench -- gemm [--quick] [--only nn|nt|tn] [--unshared]
import { cpus } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { Rng } from '@hypersweep/nn';
import { compileKernelModuleSync, relaxedSimdSupported, WasmKernels } from '../packages/nn/src/kernels/wasm.ts';
import { measure, type MeasureOptions } from './lib/measure.ts';

// Must run before any kernel module is compiled (Node 20 ships relaxed SIMD behind a flag).
setFlagsFromString('--experimental-wasm-relaxed-simd');

type Form = 'nn' | 'nt' | 'tn';
interface Shape {
  readonly form: Form;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** Where the product occurs in the training step. */
  readonly role: string;
}

/** Every GEMM of one step of 784-512-512-10 at batch 128 (the first layer's dX is not needed). */
export const MLP_STEP_SHAPES: readonly Shape[] = [
  { form: 'nn', m: 128, n: 512, k: 784, role: 'forward layer 1' },
  { form: 'nn', m: 128, n: 512, k: 512, role: 'forward layer 2' },
  { form: 'nn', m: 128, n: 10, k: 512, role: 'forward layer 3' },
  { form: 'nt', m: 128, n: 512, k: 512, role: 'dX layer 2' },
  { form: 'nt', m: 128, n: 512, k: 10, role: 'dX layer 3' },
  { form: 'tn', m: 784, n: 512, k: 128, role: 'dW layer 1' },
  { form: 'tn', m: 512, n: 512, k: 128, role: 'dW layer 2' },
  { form: 'tn', m: 512, n: 10, k: 128, role: 'dW layer 3' },
];

const shapeKey = (s: Shape): string => `${s.form}_${s.m}x${s.n}x${s.k}`;

/** Operands uniform in [-1, 1), the same on every run (nn's seeded Rng). */
function fillRandom(view: Float32Array, seed: number): void {
  const rng = Rng.fromSeed(seed).split('gemm-operands');
  for (let i = 0; i < view.length; i++) view[i] = rng.float() * 2 - 1;
}

interface ShapeResult {
  readonly gflops: number;
  readonly msPerCall: number;
  readonly runsGflops: readonly number[];
}

function benchVariant(relaxed: boolean, shared: boolean, shapes: readonly Shape[], opts: MeasureOptions): {
  perShape: Map<string, ShapeResult>;
  ceiling: number;
} {
  const module = compileKernelModuleSync({ shared, relaxed });
  // Largest operands: A 784×128 / 128×784, B 784×512, C 784×512 floats; 64-byte aligned regions.
  const floats = 784 * 512;
  const pages = Math.ceil((3 * floats * 4 + 4096) / 65536);
  const memory = new WebAssembly.Memory(shared ? { initial: pages, maximum: pages, shared: true } : { initial: pages });
  const kernels = new WasmKernels(module, memory);
  if (kernels.relaxed !== relaxed) throw new Error(`asked relaxed=${relaxed}, module is relaxed=${kernels.relaxed}`);
  const a = 64;
  const b = a + floats * 4;
  const c = b + floats * 4;
  fillRandom(new Float32Array(memory.buffer, a, floats), 1);
  fillRandom(new Float32Array(memory.buffer, b, floats), 2);

  const perShape = new Map<string, ShapeResult>();
  for (const s of shapes) {
    const { m, n, k } = s;
    let call: () => void;
    if (s.form === 'nn') call = () => kernels.gemmNN(m, n, k, a, k, b, n, c, n, false);
    else if (s.form === 'nt') call = () => kernels.gemmNT(m, n, k, a, k, b, k, c, n, false);
    else call = () => kernels.gemmTN(m, n, k, a, m, b, n, c, n, false);
    const r = measure(call, opts);
    const flops = 2 * m * n * k;
    perShape.set(shapeKey(s), {
      gflops: flops / r.seconds / 1e9,
      msPerCall: r.seconds * 1e3,
      runsGflops: r.runs.map((t) => Math.round((flops / t / 1e9) * 10) / 10),
    });
  }
  // The ceiling: 12 independent chains × 4 lanes × 2 flops per iteration.
  const iters = 2_000_000;
  const peak = measure(() => kernels.peakMadd(iters), { ...opts, runSeconds: Math.max(0.05, (opts.runSeconds ?? 0.08) / 2) });
  return { perShape, ceiling: (iters * 12 * 8) / peak.seconds / 1e9 };
}

export async function run(args: string[]): Promise<{ metrics: Record<string, number>; details: unknown }> {
  const quick = args.includes('--quick');
  const onlyAt = args.indexOf('--only');
  const only = onlyAt >= 0 ? args[onlyAt + 1] : undefined;
  const shared = !args.includes('--unshared');
  const shapes = MLP_STEP_SHAPES.filter((s) => only === undefined || s.form === only);
  // ≥ 0.3 s timed per shape after a warm-up that lets V8 tier the kernels up to TurboFan.
  const opts: MeasureOptions = quick ? { warmupSeconds: 0.15, runSeconds: 0.03, runs: 5 } : { warmupSeconds: 0.4, runSeconds: 0.06, runs: 7 };
  if (!relaxedSimdSupported()) throw new Error('relaxed SIMD did not validate even with --experimental-wasm-relaxed-simd');

  const metrics: Record<string, number> = {};
  const details: Record<string, unknown> = {
    cpu: cpus()[0]?.model ?? 'unknown',
    memory: shared ? 'shared' : 'unshared',
    flopsPerCall: Object.fromEntries(shapes.map((s) => [shapeKey(s), 2 * s.m * s.n * s.k])),
    roles: Object.fromEntries(shapes.map((s) => [shapeKey(s), s.role])),
  };
  for (const relaxed of [false, true]) {
    const suffix = relaxed ? '_relaxed' : '';
    const { perShape, ceiling } = benchVariant(relaxed, shared, shapes, opts);
    let min = Infinity;
    for (const [key, r] of perShape) {
      metrics[`gflops_${key}${suffix}`] = Math.round(r.gflops * 100) / 100;
      min = Math.min(min, r.gflops);
    }
    metrics[`gflops_min${suffix}`] = Math.round(min * 100) / 100;
    metrics[`ceiling_gflops${suffix}`] = Math.round(ceiling * 100) / 100;
    details[relaxed ? 'relaxed' : 'simd'] = Object.fromEntries(
      [...perShape].map(([key, r]) => [key, { msPerCall: Math.round(r.msPerCall * 1e4) / 1e4, runsGflops: r.runsGflops }]),
    );
  }
  return { metrics, details };
}
