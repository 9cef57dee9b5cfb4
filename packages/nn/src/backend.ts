// Chooses the kernel implementation for a memory: WASM SIMD (default), relaxed-SIMD FMA when
// asked for and the runtime validates it, or the plain TypeScript reference twin.
import { compileKernelModule, relaxedSimdSupported, WasmKernels } from './kernels/wasm.ts';
import { ReferenceKernels } from './kernels/reference.ts';
import type { Kernels } from './kernels/types.ts';

export interface KernelOptions {
  /** 'wasm' (default) or 'reference' (plain TypeScript, slow; for tests and debugging). */
  readonly backend?: 'wasm' | 'reference';
  /** Use f32x4.relaxed_madd when the runtime validates it (Node 20 needs --experimental-wasm-relaxed-simd). */
  readonly relaxedSimd?: boolean;
  /**
   * Flush tiny gradients and optimizer state to zero (kernels/flush.ts; default true). Off, long
   * runs slow down on subnormal floats: only for measuring what the flush changes.
   */
  readonly flushToZero?: boolean;
}

const modules = new Map<string, Promise<WebAssembly.Module>>();

/** The compiled kernel module for a memory kind, compiled once per process and cached. */
export function kernelModule(shared: boolean, relaxed: boolean): Promise<WebAssembly.Module> {
  const key = `${shared}-${relaxed}`;
  const cached = modules.get(key);
  if (cached) return cached;
  const compiled = compileKernelModule({ shared, relaxed });
  modules.set(key, compiled);
  return compiled;
}

export function isSharedMemory(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

export async function createKernels(memory: WebAssembly.Memory, options: KernelOptions = {}): Promise<Kernels> {
  const relaxed = options.relaxedSimd === true && relaxedSimdSupported();
  const kernels = options.backend === 'reference' ? new ReferenceKernels(memory) : new WasmKernels(await kernelModule(isSharedMemory(memory), relaxed), memory);
  if (options.flushToZero === false) kernels.setFlushThreshold(0);
  return kernels;
}
