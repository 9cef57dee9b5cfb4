// FIFO: never stops a trial; it trains until the orchestrator's per-trial maximum resource.
import type { FrozenTrial } from '../types.ts';
import type { ExplainingScheduler, SchedulerVerdict } from './common.ts';
import { optionsObject } from './validate.ts';

/** FIFO takes no options; the empty object is accepted so configs can be uniform. */
export type FifoOptions = Record<string, never>;

export interface FifoScheduler extends ExplainingScheduler {
  readonly name: 'fifo';
}

const CONTINUE: SchedulerVerdict = { decision: 'continue', reason: 'fifo never stops a trial' };

export function createFifoScheduler(options?: FifoOptions): FifoScheduler {
  optionsObject(options, [], 'fifo');
  const explain = (_trial: FrozenTrial, _trials: readonly FrozenTrial[]): SchedulerVerdict => CONTINUE;
  return { name: 'fifo', explain, onReport: (trial, trials) => explain(trial, trials).decision };
}
