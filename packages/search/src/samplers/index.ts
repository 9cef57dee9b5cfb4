// Public API of the samplers: grid, random, quasi-random (Sobol) and TPE, plus a factory by name.
import type { SearchSpace } from '../space.ts';
import { SearchError, type Sampler } from '../types.ts';
import { createGridSampler, type GridSamplerOptions } from './grid.ts';
import { createQuasiRandomSampler, type QuasiRandomSamplerOptions } from './quasi-random.ts';
import { createRandomSampler, type RandomSamplerOptions } from './random.ts';
import { createTpeSampler, type TpeSamplerOptions } from './tpe.ts';

export type { Seed, SamplerOptions } from './common.ts';
export { createGridSampler, gridCells, gridPoints, type GridCell, type GridSamplerOptions } from './grid.ts';
export { createRandomSampler, sampleUniformly, type RandomSamplerOptions } from './random.ts';
export { createQuasiRandomSampler, type QuasiRandomSamplerOptions } from './quasi-random.ts';
export { SobolSequence, SOBOL_MAX_DIMENSIONS } from './sobol.ts';
export { createTpeSampler, rankTrials, type TpeSamplerOptions } from './tpe.ts';
export { ParzenEstimator, defaultGamma, defaultWeights, type ParzenOptions } from './parzen.ts';

/** A sampler as a sweep's configuration names it (plain data, e.g. from the API). */
export type SamplerConfig =
  | ({ type: 'grid' } & GridSamplerOptions)
  | ({ type: 'random' } & RandomSamplerOptions)
  | ({ type: 'quasi-random' } & QuasiRandomSamplerOptions)
  | ({ type: 'tpe' } & TpeSamplerOptions);

export const SAMPLER_TYPES = ['grid', 'random', 'quasi-random', 'tpe'] as const;

/** Builds the sampler a configuration names; options are validated by the sampler's factory. */
export function createSampler(space: SearchSpace, config: SamplerConfig): Sampler {
  // Destructuring loses the narrowing of `options` by `type`, hence the casts below.
  const { type, ...options } = config;
  switch (type) {
    case 'grid':
      return createGridSampler(space, options);
    case 'random':
      return createRandomSampler(space, options as RandomSamplerOptions);
    case 'quasi-random':
      return createQuasiRandomSampler(space, options as QuasiRandomSamplerOptions);
    case 'tpe':
      return createTpeSampler(space, options as TpeSamplerOptions);
    default:
      throw new SearchError('INVALID_CONFIG', 'type', `unknown sampler "${String(type)}"; expected one of ${SAMPLER_TYPES.join(', ')}`);
  }
}
