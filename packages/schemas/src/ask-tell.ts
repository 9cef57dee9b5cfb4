// Requests and answers of ask/tell (docs/ask-tell.md): a loop outside the workers leases trials of
// an external sweep, reports its steps and tells how they ended.
import { z } from 'zod';
import { Id, int, text, Timestamp, TrialParams } from './common.ts';
import { ReportMetrics } from './kinds.ts';
import { ObjectiveSpec } from './sweep.ts';
import { Trial } from './responses.ts';

export const AskResponse = z.strictObject({
  trial: z.strictObject({
    id: Id,
    number: int(0, 2_147_483_647),
    params: TrialParams,
    /** The claim's attempt; a lapsed lease starts the next one. */
    attempt: int(1, 1_000_000),
    /** Steps stored so far: report from startStep + 1. */
    startStep: int(0, 1_000_000),
    /** The sweep's external.maxSteps: the last step to report. */
    maxSteps: int(1, 1_000_000),
    /** The metric every report carries, and its direction. */
    objective: ObjectiveSpec,
  }),
  lease: z.strictObject({ id: Id, expiresAt: Timestamp, leaseSeconds: int(1, 86_400) }),
});
export type AskResponse = z.infer<typeof AskResponse>;

export const LeaseRequest = z.strictObject({ leaseId: Id });
export type LeaseRequest = z.infer<typeof LeaseRequest>;

export const LeaseResponse = z.strictObject({ expiresAt: Timestamp });
export type LeaseResponse = z.infer<typeof LeaseResponse>;

export const ReportRequest = z.strictObject({ leaseId: Id, step: int(1, 1_000_000), metrics: ReportMetrics });
export type ReportRequest = z.infer<typeof ReportRequest>;

export const ReportResponse = z.strictObject({ decision: z.enum(['continue', 'stop']), reason: z.string().optional() });
export type ReportResponse = z.infer<typeof ReportResponse>;

export const TellRequest = z.strictObject({ leaseId: Id, status: z.enum(['completed', 'failed']), error: text(2000).optional() });
export type TellRequest = z.infer<typeof TellRequest>;

export const TellResponse = z.strictObject({ trial: Trial });
export type TellResponse = z.infer<typeof TellResponse>;
