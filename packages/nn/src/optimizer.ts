// Optimizer updates over the flat parameter block, tensor by tensor (weight decay is per tensor),
// optionally restricted to an element range so a data-parallel trainer can shard the update.
import type { Kernels, Ptr } from './kernels/types.ts';
import type { CompiledModel } from './model.ts';
import type { OptimizerSpec } from './spec.ts';

/** Float blocks of optimizer state per parameter (e.g. Adam keeps m and v). */
export function optimizerStateSlots(spec: OptimizerSpec): number {
  switch (spec.type) {
    case 'sgd':
      return spec.momentum > 0 ? 1 : 0;
    case 'adam':
    case 'adamw':
      return 2;
    case 'rmsprop':
      return rmspropSlots(spec).count;
  }
}

/** RMSprop's state slots: mean square always, then the momentum buffer and the mean gradient when used. */
function rmspropSlots(spec: Extract<OptimizerSpec, { type: 'rmsprop' }>): { count: number; mom: number; mg: number } {
  const mom = spec.momentum > 0 ? 1 : -1;
  const mg = spec.centered ? (mom > 0 ? 2 : 1) : -1;
  return { count: 1 + (mom > 0 ? 1 : 0) + (spec.centered ? 1 : 0), mom, mg };
}

export interface UpdateArgs {
  readonly params: Ptr;
  readonly grads: Ptr;
  readonly state: readonly Ptr[];
  /** 1-based count of updates including this one (Adam's bias correction). */
  readonly t: number;
  readonly learningRate: number;
  /** Multiplies every gradient first: 1/microbatches, global-norm clipping. */
  readonly gradScale: number;
  /** Element range [start, end) of the parameter block to update; all of it by default. */
  readonly range?: readonly [number, number];
  /**
   * Gradient blocks to sum, slot order, in the same pass as the update (default 1): `grads` is
   * slot 0, slot j starts j·slotStride bytes after it. Bit-identical to reducing them into slot 0
   * with axpy first; the slots are only read.
   */
  readonly gradSlots?: number;
  /** Bytes between consecutive gradient slots (ignored for one slot; default 0). */
  readonly slotStride?: number;
}

export function applyUpdate(k: Kernels, model: CompiledModel, spec: OptimizerSpec, a: UpdateArgs): void {
  const [start, end] = a.range ?? [0, model.paramCount];
  const slots = a.gradSlots ?? 1;
  const stride = a.slotStride ?? 0;
  for (const tensor of model.params) {
    if (!tensor.trainable) continue;
    const lo = Math.max(start, tensor.offset);
    const hi = Math.min(end, tensor.offset + tensor.size);
    if (hi <= lo) continue;
    const n = hi - lo;
    const off = lo * 4;
    const wd = tensor.decay || spec.decayBiases ? spec.weightDecay : 0;
    const p = a.params + off;
    const g = a.grads + off;
    const s0 = (a.state[0] ?? 0) === 0 ? 0 : a.state[0]! + off;
    const s1 = (a.state[1] ?? 0) === 0 ? 0 : a.state[1]! + off;
    const at = (slot: number) => (slot < 0 || (a.state[slot] ?? 0) === 0 ? 0 : a.state[slot]! + off);
    switch (spec.type) {
      case 'sgd':
        k.sgd(n, p, g, s0, a.learningRate, spec.momentum, spec.nesterov, wd, a.gradScale, slots, stride);
        break;
      case 'adam':
      case 'adamw': {
        const bc1 = 1 / (1 - Math.pow(spec.beta1, a.t));
        const bc2 = 1 / (1 - Math.pow(spec.beta2, a.t));
        k.adam(n, p, g, s0, s1, a.learningRate, spec.beta1, spec.beta2, spec.epsilon, wd, spec.type === 'adamw', a.gradScale, bc1, bc2, slots, stride);
        break;
      }
      case 'rmsprop': {
        const { mom, mg } = rmspropSlots(spec);
        const inside = spec.epsilonPlacement === 'inside_sqrt';
        k.rmsprop(n, p, g, s0, at(mom), at(mg), a.learningRate, spec.rho, spec.epsilon, spec.momentum, wd, a.gradScale, inside, spec.centered, slots, stride);
        break;
      }
    }
  }
}

/** Scale that brings the global gradient norm down to clipNorm (1 when already below it). */
export function clipScale(k: Kernels, grads: Ptr, count: number, gradScale: number, clipNorm: number | undefined): number {
  if (clipNorm === undefined) return 1;
  const norm = Math.sqrt(k.sumSquares(grads, count)) * gradScale;
  return norm > clipNorm ? clipNorm / norm : 1;
}
