// Payloads of the BullMQ jobs (queue names and connections live in @hypersweep/queue). Jobs carry
// ids only: Postgres holds the truth, so a payload never goes stale.
import { z } from 'zod';
import { Id, int } from './common.ts';

/** Train (or resume) one trial. `attempt` is the Trial row's attempt at enqueue time. */
export const TrialJob = z.strictObject({
  sweepId: Id,
  trialId: Id,
  attempt: int(0, 10_000),
});
export type TrialJob = z.infer<typeof TrialJob>;

export const SWEEP_ADVANCE_REASONS = [
  'sweep.created',
  'trial.completed',
  'trial.stopped',
  'trial.failed',
  'trial.cancelled',
  'sweep.cancelled',
  'reconcile',
] as const;

/** Advance a sweep (sample new trials, finish it); serialised per sweep by the consumer. */
export const SweepAdvanceJob = z.strictObject({
  sweepId: Id,
  reason: z.enum(SWEEP_ADVANCE_REASONS),
  /** The trial whose end triggered it, when one did. */
  trialId: Id.optional(),
});
export type SweepAdvanceJob = z.infer<typeof SweepAdvanceJob>;
