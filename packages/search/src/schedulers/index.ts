// Public API of the schedulers: factories for FIFO, median stopping, ASHA and Hyperband, and one for stored configs.
import { SearchError } from '../types.ts';
import { createAshaScheduler, type AshaOptions, type AshaScheduler } from './asha.ts';
import type { ExplainingScheduler } from './common.ts';
import { createFifoScheduler, type FifoScheduler } from './fifo.ts';
import { createHyperbandScheduler, type HyperbandOptions, type HyperbandScheduler } from './hyperband.ts';
import { createMedianStoppingScheduler, type MedianStoppingOptions, type MedianStoppingScheduler } from './median.ts';

export type { SchedulerVerdict, ExplainingScheduler } from './common.ts';
export { createFifoScheduler, type FifoOptions, type FifoScheduler } from './fifo.ts';
export { createMedianStoppingScheduler, type MedianStoppingOptions, type MedianStoppingScheduler } from './median.ts';
export { createAshaScheduler, type AshaOptions, type AshaScheduler } from './asha.ts';
export { createHyperbandScheduler, type Bracket, type BracketAssignment, type HyperbandOptions, type HyperbandScheduler } from './hyperband.ts';

/** A scheduler as stored in a sweep's config (JSON): the type plus that scheduler's options. */
export type SchedulerConfig =
  | { readonly type: 'fifo' }
  | ({ readonly type: 'median' } & MedianStoppingOptions)
  | ({ readonly type: 'asha' } & AshaOptions)
  | ({ readonly type: 'hyperband' } & HyperbandOptions);

export type AnyScheduler = FifoScheduler | MedianStoppingScheduler | AshaScheduler | HyperbandScheduler;

/** Builds a scheduler from a stored config; validates it at run time too (it may come from user JSON/YAML). */
export function createScheduler(config: SchedulerConfig): AnyScheduler & ExplainingScheduler {
  if (typeof config !== 'object' || config === null) throw new SearchError('INVALID_CONFIG', '', 'scheduler config must be an object');
  const { type, ...options } = config;
  switch (type) {
    case 'fifo':
      return createFifoScheduler(options as Record<string, never>);
    case 'median':
      return createMedianStoppingScheduler(options as MedianStoppingOptions);
    case 'asha':
      return createAshaScheduler(options as AshaOptions);
    case 'hyperband':
      return createHyperbandScheduler(options as HyperbandOptions);
    default:
      throw new SearchError('INVALID_CONFIG', 'type', `unknown scheduler ${JSON.stringify(type)} (fifo, median, asha, hyperband)`);
  }
}
