// Server-sent events of a sweep. Every event has an id that increases monotonically per sweep
// (stored with it), so a client reconnecting with Last-Event-ID misses nothing.
import { z } from 'zod';
import { Id, MetricName, Timestamp, TrialParams, finite, int } from './common.ts';
import { BestTrial, SweepProgress, SweepStatus, TrialCounts } from './responses.ts';

const envelope = <T extends string, D extends z.ZodType>(type: T, data: D) =>
  z.strictObject({
    /** Per sweep, strictly increasing, starting at 1. */
    id: int(1, Number.MAX_SAFE_INTEGER),
    type: z.literal(type),
    sweepId: Id,
    at: Timestamp,
    data,
  });

const trialRef = { trialId: Id, number: int(0, Number.MAX_SAFE_INTEGER) };

export const SweepUpdatedEvent = envelope(
  'sweep.updated',
  z.strictObject({ status: SweepStatus, counts: TrialCounts, progress: SweepProgress, best: BestTrial.nullable() }),
);
export const TrialCreatedEvent = envelope('trial.created', z.strictObject({ ...trialRef, params: TrialParams }));
export const TrialStartedEvent = envelope(
  'trial.started',
  z.strictObject({ ...trialRef, attempt: int(0, 10_000), workerId: z.string(), resumedFromEpoch: int(0, 1_000_000) }),
);
/** A trial back in the queue: released by its worker (pause, shutdown, takeover) or a failed one retried; its epochs are kept. */
export const TrialQueuedEvent = envelope(
  'trial.queued',
  z.strictObject({ ...trialRef, attempt: int(0, 10_000), epochsDone: int(0, 1_000_000) }),
);
export const TrialEpochEvent = envelope(
  'trial.epoch',
  z.strictObject({ ...trialRef, epoch: int(1, 1_000_000), metrics: z.record(MetricName, finite().nullable()) }),
);
export const TrialCompletedEvent = envelope(
  'trial.completed',
  z.strictObject({ ...trialRef, epochsDone: int(0, 1_000_000), finalValue: finite().nullable(), bestValue: finite().nullable() }),
);
export const TrialStoppedEvent = envelope(
  'trial.stopped',
  z.strictObject({ ...trialRef, epochsDone: int(0, 1_000_000), reason: z.string(), byUser: z.boolean() }),
);
export const TrialFailedEvent = envelope(
  'trial.failed',
  z.strictObject({ ...trialRef, attempt: int(0, 10_000), error: z.string() }),
);

/** A user's control of the sweep: pause, resume, a budget change, configurations enqueued. */
export const SweepControlEvent = envelope(
  'sweep.control',
  z.strictObject({
    action: z.enum(['paused', 'resumed', 'budget', 'enqueued']),
    budget: z.strictObject({ maxTrials: int(1, 1_000_000), maxConcurrentTrials: int(1, 1024), maxTotalEpochs: int(1, 100_000_000).nullable() }).partial().optional(),
    trialIds: z.array(Id).max(100).optional(),
  }),
);

export const SweepEvent = z.discriminatedUnion('type', [
  SweepControlEvent,
  SweepUpdatedEvent,
  TrialCreatedEvent,
  TrialStartedEvent,
  TrialQueuedEvent,
  TrialEpochEvent,
  TrialCompletedEvent,
  TrialStoppedEvent,
  TrialFailedEvent,
]);
export type SweepEvent = z.infer<typeof SweepEvent>;
export type SweepEventType = SweepEvent['type'];
export const SWEEP_EVENT_TYPES = SweepEvent.options.map((o) => o.shape.type.value) as SweepEventType[];

/** The text/event-stream frame of an event: `id`, `event` (its type) and one `data` line of JSON. */
export function formatSseEvent(event: SweepEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}
