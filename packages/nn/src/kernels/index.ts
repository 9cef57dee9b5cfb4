// The kernel layer of @hypersweep/nn: the contract, its WASM SIMD implementation and the TypeScript twin.
export * from './types.ts';
export {
  WasmKernels,
  compileKernelModule,
  compileKernelModuleSync,
  relaxedSimdSupported,
  type KernelModuleOptions,
} from './wasm.ts';
export { ReferenceKernels } from './reference.ts';
export { FLUSH_THRESHOLD, flushToZero } from './flush.ts';
/** The reference math as generic functions over Float32Array | Float64Array (for float64 gradient checks). */
export * as referenceMath from './reference.ts';
