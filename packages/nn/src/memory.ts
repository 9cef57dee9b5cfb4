// The memory plan: every tensor of training is a fixed byte offset in one WebAssembly.Memory,
// laid out once, so a training step allocates nothing.
import type { Ptr } from './kernels/types.ts';
import type { CompiledModel } from './model.ts';
import { NnError } from './errors.ts';

export const PAGE_BYTES = 65536;
/** WebAssembly memory32 holds at most 65536 pages (4 GiB). */
export const MAX_PAGES = 65536;

/** A bump allocator over byte offsets; it only computes a layout, it touches no memory. */
export class Arena {
  private top: number;
  constructor(base = 64) {
    // Offset 0 stays unused so a zero pointer can mean "none" in kernel calls.
    this.top = base;
  }
  alloc(bytes: number, align = 64): Ptr {
    if (!Number.isInteger(bytes) || bytes < 0) throw new RangeError(`bad allocation size ${bytes}`);
    const ptr = Math.ceil(this.top / align) * align;
    this.top = ptr + bytes;
    if (this.top > MAX_PAGES * PAGE_BYTES) {
      throw new NnError('OUT_OF_MEMORY', `the memory plan needs ${this.top} bytes, more than WebAssembly's 4 GiB`);
    }
    return ptr;
  }
  allocF32(count: number): Ptr {
    return this.alloc(count * 4);
  }
  get size(): number {
    return this.top;
  }
  get pages(): number {
    return Math.ceil(this.top / PAGE_BYTES);
  }
}

/** Where one replica keeps a forward/backward pass for up to `rows` examples. */
export interface ActivationPlan {
  readonly rows: number;
  /** rows × inputSize model inputs (float32). */
  readonly input: Ptr;
  /** Class ids (int32, rows) or regression targets (float32, rows × outputSize). */
  readonly targets: Ptr;
  /** Example indices of the current batch (int32, rows). */
  readonly indices: Ptr;
  /**
   * Per layer: the output buffer(s). Flatten and reshape have none; dropout has a mask; max_pool2d
   * has the int32 input index of each output's maximum (argmax); batch_norm has its microbatch's
   * statistics (stats: channels means, then channels variances).
   */
  readonly layers: readonly { readonly z: Ptr; readonly y: Ptr; readonly mask: Ptr; readonly argmax: Ptr; readonly stats: Ptr }[];
  /** The conv2d kernels' scratch (geometry.ts convScratchFloats), shared by every conv2d layer (0 without conv2d). */
  readonly convScratch: Ptr;
  /** Two rows × maxDim gradient buffers used alternately by the backward pass. */
  readonly gradA: Ptr;
  readonly gradB: Ptr;
}

export function planActivations(arena: Arena, model: CompiledModel, rows: number): ActivationPlan {
  if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`rows must be a positive integer, got ${rows}`);
  const input = arena.allocF32(rows * model.inputSize);
  const targets = arena.allocF32(rows * Math.max(1, model.spec.loss === 'mse' ? model.outputSize : 1));
  const indices = arena.allocF32(rows);
  // What a conv2d layer adds to a replica, in bytes (the README states it too):
  //   4·rows·outH·outW·filters·(linear ? 1 : 2)       its output z (and y = f(z))
  //   4·(K + hp·wp·cin + filters·K), K = kh·kw·cin     the kernel scratch: tap table, one zero-
  //                                                    padded example (hp × wp, geometry.ts) and
  //                                                    Wᵀ; the largest over the conv layers, once
  //   + the growth of gradA and gradB to 4·rows·maxDim each when it is the widest layer.
  // max_pool2d adds 8·rows·outH·outW·c (output and int32 argmax), avg_pool2d 4·rows·outH·outW·c,
  // global_avg_pool2d 4·rows·c. batch_norm adds 4·rows·dim (its output) + 8·channels (the
  // microbatch's mean and variance).
  const layers = model.layers.map((layer) => {
    switch (layer.type) {
      case 'dense':
      case 'conv2d': {
        const z = arena.allocF32(rows * layer.outDim);
        const y = layer.activation === 'linear' ? z : arena.allocF32(rows * layer.outDim);
        return { z, y, mask: 0, argmax: 0, stats: 0 };
      }
      case 'dropout': {
        const mask = arena.allocF32(rows * layer.dim);
        return { z: 0, y: arena.allocF32(rows * layer.dim), mask, argmax: 0, stats: 0 };
      }
      case 'activation':
        return { z: 0, y: arena.allocF32(rows * layer.dim), mask: 0, argmax: 0, stats: 0 };
      case 'max_pool2d': {
        const y = arena.allocF32(rows * layer.outDim);
        return { z: 0, y, mask: 0, argmax: arena.allocF32(rows * layer.outDim), stats: 0 };
      }
      case 'avg_pool2d':
      case 'global_avg_pool2d':
        return { z: 0, y: arena.allocF32(rows * layer.outDim), mask: 0, argmax: 0, stats: 0 };
      case 'batch_norm':
        return { z: 0, y: arena.allocF32(rows * layer.dim), mask: 0, argmax: 0, stats: arena.allocF32(2 * layer.channels) };
      case 'flatten':
      case 'reshape':
        return { z: 0, y: 0, mask: 0, argmax: 0, stats: 0 };
    }
  });
  const convScratch = model.convScratchFloats > 0 ? arena.allocF32(model.convScratchFloats) : 0;
  const gradA = arena.allocF32(rows * model.maxDim);
  const gradB = arena.allocF32(rows * model.maxDim);
  return { rows, input, targets, indices, layers, convScratch, gradA, gradB };
}

/** Parameters, one gradient block and the optimizer's state slots. */
export interface ParameterPlan {
  readonly params: Ptr;
  readonly grads: Ptr;
  /** One block of paramCount floats per optimizer state slot (momentum, Adam m and v, ...). */
  readonly state: readonly Ptr[];
  readonly paramCount: number;
}

export function planParameters(arena: Arena, model: CompiledModel, stateSlots: number): ParameterPlan {
  const params = arena.allocF32(model.paramCount);
  const grads = arena.allocF32(model.paramCount);
  const state = Array.from({ length: stateSlots }, () => arena.allocF32(model.paramCount));
  return { params, grads, state, paramCount: model.paramCount };
}

export function createMemory(bytes: number, shared: boolean): WebAssembly.Memory {
  const pages = Math.max(1, Math.ceil(bytes / PAGE_BYTES));
  return new WebAssembly.Memory({ initial: pages, maximum: shared ? MAX_PAGES : MAX_PAGES, shared });
}

/** Float32 view of [ptr, ptr + count) — re-created per use because memory growth detaches buffers. */
export function f32View(memory: WebAssembly.Memory, ptr: Ptr, count: number): Float32Array {
  return new Float32Array(memory.buffer, ptr, count);
}
export function i32View(memory: WebAssembly.Memory, ptr: Ptr, count: number): Int32Array {
  return new Int32Array(memory.buffer, ptr, count);
}
