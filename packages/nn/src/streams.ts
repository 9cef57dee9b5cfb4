// The named random streams of a training run. Every trainer (single-thread or data-parallel)
// derives shuffles, dropout masks and initial weights here, so they agree bit for bit.
import { deriveKey, Rng, type RngKey } from './rng.ts';

/** The order of the training examples in epoch `epoch` (0-based). */
export function epochPermutation(root: RngKey, epoch: number, count: number): Int32Array {
  return Rng.fromKey(deriveKey(deriveKey(deriveKey(root, 'epoch'), epoch), 'shuffle')).permutation(count);
}

/** The dropout key of microbatch `microbatch` of step `step` (0-based) in epoch `epoch`. */
export function dropoutKey(root: RngKey, epoch: number, step: number, microbatch: number): RngKey {
  return deriveKey(deriveKey(deriveKey(deriveKey(deriveKey(root, 'epoch'), epoch), 'dropout'), step), microbatch);
}

/** The stream that initialises the parameters. */
export function initRng(root: RngKey): Rng {
  return Rng.fromKey(deriveKey(root, 'init'));
}

/**
 * Rows [start, end) of microbatch j when a step of `rows` examples is split into `microbatches`
 * parts; the split depends on the step alone, never on the number of threads.
 */
export function microbatchRows(rows: number, microbatches: number, j: number): [number, number] {
  return [Math.floor((j * rows) / microbatches), Math.floor(((j + 1) * rows) / microbatches)];
}
