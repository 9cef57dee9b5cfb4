// Zod schemas and types of the job payloads and results carried by the queues (packages/schemas may re-export them).
import { z } from 'zod';

/** One attempt at training one trial. `attempt` is Postgres' attempt counter and part of the job id. */
export const TrialJobSchema = z.strictObject({
  sweepId: z.uuid(),
  trialId: z.uuid(),
  attempt: z.int().min(1).max(1_000_000),
  /** The worker-defined trainable that runs it (its own queue); absent: the built-in engine. */
  trainable: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/).optional(),
});
export type TrialJob = z.infer<typeof TrialJobSchema>;

export const SweepAdvanceReasonSchema = z.enum(['started', 'trial-ended', 'reconcile', 'cancelled']);
export type SweepAdvanceReason = z.infer<typeof SweepAdvanceReasonSchema>;

/**
 * Asks the orchestrator to advance a sweep. `reason` is a hint for logs and metrics only: advances
 * are deduplicated per sweep, so the handler must derive what to do from Postgres.
 */
export const SweepAdvanceJobSchema = z.strictObject({
  sweepId: z.uuid(),
  reason: SweepAdvanceReasonSchema,
});
export type SweepAdvanceJob = z.infer<typeof SweepAdvanceJobSchema>;

/** What a finished trial job stores in BullMQ (the real results live in Postgres). */
export const TrialJobResultSchema = z.discriminatedUnion('outcome', [
  z.strictObject({ outcome: z.literal('completed') }),
  z.strictObject({ outcome: z.literal('cancelled'), reason: z.string() }),
]);
export type TrialJobResult = z.infer<typeof TrialJobResultSchema>;

/** A cancellation signal on the pub/sub channel: a whole sweep or a single trial. */
export const CancelSignalSchema = z.discriminatedUnion('scope', [
  z.strictObject({ scope: z.literal('sweep'), sweepId: z.uuid() }),
  z.strictObject({ scope: z.literal('trial'), sweepId: z.uuid(), trialId: z.uuid() }),
]);
export type CancelSignal = z.infer<typeof CancelSignalSchema>;

/** True when `signal` targets this trial job. */
export function cancelSignalMatches(signal: CancelSignal, job: TrialJob): boolean {
  if (signal.scope === 'sweep') return signal.sweepId === job.sweepId;
  return signal.trialId === job.trialId;
}
