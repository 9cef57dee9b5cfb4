// The ask/tell contract of docs/ask-tell.md, as zod schemas of its answers. Loose on purpose
// (unknown keys are kept, not refused): the routes and their strict schemas in @hypersweep/schemas
// (ask-tell.ts) were still being written with this client, and a loop that runs for days should
// not break when an answer grows a field. Once those settle, the client parses with them instead.
import { Id, Timestamp, TrialParams, TrialStatus } from '@hypersweep/schemas';
import { z } from 'zod';

const count = () => z.number().int().min(0);

/** POST /sweeps/{id}/ask, 200: a trial claimed for the caller, under a lease. */
export const AskAnswer = z.looseObject({
  trial: z.looseObject({
    id: Id,
    number: count(),
    params: TrialParams,
    attempt: count(),
    /** Report steps from startStep + 1 (a retried trial keeps its reported steps). */
    startStep: count(),
    /** The sweep's external.maxSteps (the last step to report) and objective; optional until every API sends them. */
    maxSteps: z.number().int().min(1).optional(),
    objective: z.looseObject({ metric: z.string(), mode: z.enum(['minimize', 'maximize']) }).optional(),
  }),
  lease: z.looseObject({
    id: z.string().min(1),
    expiresAt: Timestamp,
    leaseSeconds: z.number().positive(),
  }),
});
export type AskedTrial = z.infer<typeof AskAnswer>;

/** What `ask` resolves to: a trial, or (204) nothing ready yet and when to ask again. */
export type AskResult = ({ readonly status: 'assigned' } & AskedTrial) | { readonly status: 'wait'; readonly retryAfterSeconds: number | null };

export const HeartbeatAnswer = z.looseObject({ expiresAt: Timestamp });
export type HeartbeatAnswer = z.infer<typeof HeartbeatAnswer>;

/** The sweep's scheduler on a report: go on, or stop (then `tell` completed; the trial ends stopped). */
export const ReportDecision = z.looseObject({
  decision: z.enum(['continue', 'stop']),
  reason: z.string().optional(),
});
export type ReportDecision = z.infer<typeof ReportDecision>;

export const TellAnswer = z.looseObject({
  trial: z.looseObject({ id: Id, status: TrialStatus }),
});
export type TellAnswer = z.infer<typeof TellAnswer>;

export interface ReportRequest {
  readonly leaseId: string;
  readonly step: number;
  /** Metric names `^[a-z][a-z0-9_]{0,63}$` to finite numbers; the objective in every report. */
  readonly metrics: Readonly<Record<string, number>>;
}

export interface TellRequest {
  readonly leaseId: string;
  readonly status: 'completed' | 'failed';
  readonly error?: string;
}
