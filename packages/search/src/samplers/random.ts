// Random search: every active parameter drawn independently and uniformly in its internal scale.
import type { Rng } from '@hypersweep/nn';
import { z } from 'zod';
import { assignParams, fromUnit, type SearchSpace } from '../space.ts';
import type { Params, Sampler } from '../types.ts';
import { SeedSchema, parseOptions, trialStream, type SamplerOptions } from './common.ts';

const RandomOptionsSchema = z.strictObject({ seed: SeedSchema });
export type RandomSamplerOptions = SamplerOptions;

/**
 * One independent draw per active parameter. Each parameter has its own child stream (named by
 * the parameter), so a draw does not shift when a different branch of the space is taken.
 */
export function sampleUniformly(space: SearchSpace, rng: Rng): Params {
  return assignParams(space, (def) => fromUnit(def.spec, rng.split(def.name).double()));
}

export function createRandomSampler(space: SearchSpace, options: RandomSamplerOptions): Sampler {
  const { seed } = parseOptions(RandomOptionsSchema, options, 'random');
  return {
    name: 'random',
    ask(_trials, number) {
      return { params: sampleUniformly(space, trialStream(seed, 'random', number)) };
    },
  };
}
