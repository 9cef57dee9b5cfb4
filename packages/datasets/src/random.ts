// Seeds and named random streams of the loaders, drawn from nn's seeded Rng (xoshiro128** keyed
// by (seed, path)): a dataset built with a seed is the same on every machine, and the same
// generator serves training, splits and synthetic data.
import { deriveKey, keyFromSeed, Rng } from '@hypersweep/nn';
import { DatasetError } from './errors.ts';

/** Checks a user seed; any safe integer (negative too) is accepted. */
export function assertSeed(seed: number, what = 'seed'): void {
  if (!Number.isSafeInteger(seed)) {
    throw new DatasetError('INVALID_OPTION', `${what} must be a safe integer, got ${String(seed)}`);
  }
}

/**
 * The Rng of a named sub-stream of a seed, e.g. streamRng(seed, 'validation-split'). Sub-streams
 * keep independent draws independent: limiting the test set never changes which training
 * examples go to validation.
 */
export function streamRng(seed: number, label: string): Rng {
  assertSeed(seed);
  return Rng.fromKey(deriveKey(keyFromSeed(seed), label));
}

/**
 * A 32-bit seed for a named sub-stream, e.g. a trial's training seed: the first draw of
 * `streamRng(seed, label)` (a draw mixes both words of the stream's key, so seeds that differ
 * only above bit 32 still get different values).
 */
export function deriveSeed(seed: number, label: string): number {
  return streamRng(seed, label).nextU32();
}
