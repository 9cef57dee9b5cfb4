// Quasi-random search: trial n takes point n of a seeded, scrambled Sobol sequence, one fixed
// dimension per parameter, so a sweep covers the space more evenly than independent draws.
import { z } from 'zod';
import { assignParams, fromUnit, type SearchSpace } from '../space.ts';
import type { Sampler } from '../types.ts';
import { SeedSchema, parseOptions, trialStream, type SamplerOptions } from './common.ts';
import { SOBOL_MAX_DIMENSIONS, SobolSequence } from './sobol.ts';

const QuasiRandomOptionsSchema = z.strictObject({ seed: SeedSchema });
export type QuasiRandomSamplerOptions = SamplerOptions;

/**
 * Dimension d of the sequence belongs to parameter `space.params[d]` whether or not it is active
 * (conditional parameters keep their dimension). Parameters beyond the table of direction numbers
 * (SOBOL_MAX_DIMENSIONS) fall back to independent draws from the trial's stream.
 */
export function createQuasiRandomSampler(space: SearchSpace, options: QuasiRandomSamplerOptions): Sampler {
  const { seed } = parseOptions(QuasiRandomOptionsSchema, options, 'quasi-random');
  const sobol = new SobolSequence(Math.min(space.params.length, SOBOL_MAX_DIMENSIONS), seed);
  return {
    name: 'quasi-random',
    ask(_trials, number) {
      const rng = trialStream(seed, 'quasi-random', number);
      const params = assignParams(space, (def) => {
        const u = def.index < sobol.dimensions ? sobol.point(number, def.index) : rng.split(def.name).double();
        return fromUnit(def.spec, u);
      });
      return { params };
    },
  };
}
