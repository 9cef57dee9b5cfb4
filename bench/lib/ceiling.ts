// The f32x4 multiply-add ceiling of this machine, measured with the kernel module's peak_madd loop.
import { compileKernelModuleSync, createMemory, WasmKernels } from '@hypersweep/nn';

/** GFLOP/s of 12 independent f32x4 multiply-add chains (96 flops per iteration), best of several runs. */
export function maddCeilingGflops(relaxed: boolean, seconds = 1): number {
  const k = new WasmKernels(compileKernelModuleSync({ shared: false, relaxed }), createMemory(65536, false));
  if (relaxed && !k.relaxed) throw new Error('relaxed SIMD is not available in this runtime');
  const iters = 2_000_000;
  k.peakMadd(iters); // warm-up: tier up to the optimising compiler
  let best = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const t0 = performance.now();
    k.peakMadd(iters);
    const dt = (performance.now() - t0) / 1000;
    best = Math.max(best, (iters * 96) / dt / 1e9);
  }
  return best;
}
