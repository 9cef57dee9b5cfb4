// The scheduler's verdict on a trial's latest report, with the reason stored on a stopped trial:
// asked by the worker after each epoch (or a trainable's report) and by the API for ask/tell.
import type { Decision, FrozenTrial, Scheduler } from './types.ts';

/** Schedulers that can say why (ASHA, Hyperband, median) offer `explain`, with the value to beat. */
type ExplainingScheduler = Scheduler & { explain?(...args: Parameters<Scheduler['onReport']>): { reason?: string; cutoff?: number } };

export interface Verdict {
  decision: Decision;
  /** Why it stops: the scheduler, the objective, the trial's value and the cutoff it missed ('' to continue). */
  reason: string;
}

/**
 * The verdict for trial `number` of `trials` (the whole sweep as stored); `continue` when the trial
 * is not among them yet. Values at full precision, so a stop can be checked against the stored rows.
 */
export function schedulerVerdict(scheduler: Scheduler, trials: readonly FrozenTrial[], number: number, objective: string): Verdict {
  const me = trials.find((t) => t.number === number);
  if (!me) return { decision: 'continue', reason: '' };
  const decision = scheduler.onReport(me, trials);
  if (decision !== 'stop') return { decision, reason: '' };
  const last = me.reports.at(-1);
  const verdict = (scheduler as ExplainingScheduler).explain?.(me, trials);
  const values = last ? ` (${objective} ${last.value}${verdict?.cutoff === undefined ? '' : `, cutoff ${verdict.cutoff}`})` : '';
  return { decision, reason: `${scheduler.name} stopped it after epoch ${last?.step ?? 0}${verdict?.reason ? `: ${verdict.reason}` : ''}${values}` };
}
