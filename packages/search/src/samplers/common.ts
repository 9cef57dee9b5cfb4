// What every sampler shares: options, the per-trial random stream, and a check of the trial number.
import { Rng } from '@hypersweep/nn';
import { z } from 'zod';
import { SearchError, type FrozenTrial } from '../types.ts';

/** A seed as users give it: a safe integer or a string. */
export const SeedSchema = z.union([z.int().refine(Number.isSafeInteger, 'must be a safe integer'), z.string()]);
export type Seed = z.infer<typeof SeedSchema>;

export interface SamplerOptions {
  readonly seed: Seed;
}

/** Parses sampler options with zod; errors name the option ("nEiCandidates: …"). */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, sampler: string): z.infer<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const key = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.map(String).join('.');
  throw new SearchError('INVALID_CONFIG', key, `${sampler} sampler option ${issue.code === 'unrecognized_keys' ? 'is unknown' : issue.message}`);
}

/**
 * The random stream of one trial: a pure function of (seed, sampler, trial number), so a
 * suggestion never depends on how many asks came before it or in which process.
 */
export function trialStream(seed: Seed, sampler: string, number: number): Rng {
  if (!Number.isInteger(number) || number < 0 || number > 0xffffffff) {
    throw new SearchError('INVALID_CONFIG', 'number', `a trial number is an integer in [0, 2^32), got ${number}`);
  }
  return Rng.fromSeed(seed).split(sampler).split(number);
}

/** Trials in number order, so the sampler's view does not depend on how storage listed them. */
export function byNumber(trials: readonly FrozenTrial[]): FrozenTrial[] {
  return [...trials].sort((a, b) => a.number - b.number);
}
