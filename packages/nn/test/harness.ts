// Test harness: a compiled model with its parameters, one replica and kernel access on one memory.
import { createKernels, type KernelOptions } from '../src/backend.ts';
import type { Kernels } from '../src/kernels/types.ts';
import { Arena, createMemory, f32View, planActivations, planParameters, type ActivationPlan, type ParameterPlan } from '../src/memory.ts';
import { compileModel, type CompiledModel } from '../src/model.ts';
import { Replica } from '../src/replica.ts';
import { initializeParams } from '../src/init.ts';
import { Rng } from '../src/rng.ts';
export { blobs, quadrants, waves } from '../src/testing.ts';

export interface Harness {
  model: CompiledModel;
  memory: WebAssembly.Memory;
  kernels: Kernels;
  plan: ParameterPlan;
  acts: ActivationPlan;
  replica: Replica;
  params(): Float32Array;
  grads(): Float32Array;
  input(): Float32Array;
  labels(): Int32Array;
  targets(): Float32Array;
}

export async function harness(spec: unknown, rows: number, kernels: KernelOptions = {}, seed = 1, stateSlots = 0): Promise<Harness> {
  const model = compileModel(spec);
  const arena = new Arena();
  const plan = planParameters(arena, model, stateSlots);
  const acts = planActivations(arena, model, rows);
  const memory = createMemory(arena.size, false);
  const k = await createKernels(memory, kernels);
  const h: Harness = {
    model,
    memory,
    kernels: k,
    plan,
    acts,
    replica: new Replica(k, model, acts, plan.params),
    params: () => new Float32Array(memory.buffer, plan.params, model.paramCount),
    grads: () => new Float32Array(memory.buffer, plan.grads, model.paramCount),
    input: () => new Float32Array(memory.buffer, acts.input, rows * model.inputSize),
    labels: () => new Int32Array(memory.buffer, acts.targets, rows),
    targets: () => new Float32Array(memory.buffer, acts.targets, rows * model.outputSize),
  };
  initializeParams(model, Rng.fromSeed(seed), h.params());
  return h;
}

/** max|a − b| / max|b|: the error relative to the tensor's scale (robust to entries near 0). */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}

export function randomFill(out: { length: number; [i: number]: number }, rng: Rng, scale = 1): void {
  for (let i = 0; i < out.length; i++) out[i] = (rng.float() * 2 - 1) * scale;
}

/**
 * One training pass of the harness on random labels (cross-entropy) or targets (mse) drawn from
 * `rng`: the outputs, the summed loss and the gradients, with the labels and targets used.
 */
export function trainingPass(h: Harness, rows: number, loss: string, rng: Rng) {
  const outputs = h.model.outputSize;
  const labels = new Int32Array(rows).map(() => rng.int(outputs));
  const targets = new Float32Array(rows * outputs);
  randomFill(targets, rng);
  if (loss === 'mse') h.targets().set(targets);
  else h.labels().set(labels);
  const out = h.replica.forward(rows, { training: true });
  const outputsSeen = f32View(h.memory, out, rows * outputs).slice();
  const lossSum = h.replica.loss(1 / rows).lossSum;
  h.replica.backward(h.plan.grads, false);
  return { labels, targets, outputs: outputsSeen, lossSum, grads: h.grads().slice() };
}
