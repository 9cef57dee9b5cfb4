// Control of a running sweep, as functions of a client: pause, resume, a change of its budget,
// configurations of one's own queued as trials, and deletion of an ended sweep; and the
// `sweep.control` events the stream announces them with. What `hypersweep pause|resume|budget|
// enqueue|delete` and the dashboard's sweep page use.
import { EnqueuedTrials, Sweep, type Trial } from '@hypersweep/schemas';
import { z } from 'zod';
import type { CallOptions, HypersweepClient, SweepStreamItem } from './client.ts';

const enc = encodeURIComponent;

/** The `budget` of PATCH /sweeps/{id} (UpdateSweepRequest): the fields to change (`maxTotalEpochs: null` lifts the epoch limit). */
export interface BudgetChange {
  readonly maxTrials?: number;
  readonly maxConcurrentTrials?: number;
  readonly maxTotalEpochs?: number | null;
}

/** One configuration to train: a value for every parameter of the sweep's search space. */
export type TrialConfiguration = Readonly<Record<string, string | number | boolean>>;

/** At most this many configurations per POST /sweeps/{id}/trials. */
export const MAX_ENQUEUED_CONFIGURATIONS = 100;

/** POST /sweeps/{id}/pause: running trials checkpoint and release, nothing new starts. 409 `invalid_state` unless pending or running. */
export function pauseSweep(client: HypersweepClient, sweepId: string, options: CallOptions = {}): Promise<Sweep> {
  return client.request('POST', `/sweeps/${enc(sweepId)}/pause`, Sweep, options);
}

/** POST /sweeps/{id}/resume: the sweep goes on where it stood. 409 unless paused. */
export function resumeSweep(client: HypersweepClient, sweepId: string, options: CallOptions = {}): Promise<Sweep> {
  return client.request('POST', `/sweeps/${enc(sweepId)}/resume`, Sweep, options);
}

/**
 * PATCH /sweeps/{id} `{budget}`: raises or lowers the budget. A value below what the sweep already
 * has is a 400 naming the field (`budget.maxTrials`); an ended sweep is a 409.
 */
export function updateSweepBudget(client: HypersweepClient, sweepId: string, budget: BudgetChange, options: CallOptions = {}): Promise<Sweep> {
  return client.request('PATCH', `/sweeps/${enc(sweepId)}`, Sweep, { json: { budget }, signal: options.signal });
}

/**
 * POST /sweeps/{id}/trials `{params: [...]}`: each configuration queued as a trial with exactly
 * those parameters (1..100 of them). A value outside the space, or a missing or unknown parameter,
 * is a 400 naming `params[i].<name>`; an ended sweep or one at its maxTrials is a 409.
 */
export async function enqueueTrials(client: HypersweepClient, sweepId: string, params: readonly TrialConfiguration[], options: CallOptions = {}): Promise<Trial[]> {
  return (await client.request('POST', `/sweeps/${enc(sweepId)}/trials`, EnqueuedTrials, { json: { params }, signal: options.signal })).items;
}

/** DELETE /sweeps/{id}: the sweep with its trials, metrics, checkpoints and events. 409 `invalid_state` unless it is completed, failed or cancelled. */
export async function deleteSweep(client: HypersweepClient, sweepId: string, options: CallOptions = {}): Promise<void> {
  await client.request('DELETE', `/sweeps/${enc(sweepId)}`, z.undefined(), options);
}

// ---------------------------------------------------------------------------------------------
// The `sweep.control` event
// ---------------------------------------------------------------------------------------------

export const SWEEP_CONTROL_ACTIONS = ['paused', 'resumed', 'budget', 'enqueued'] as const;
export type SweepControlAction = (typeof SWEEP_CONTROL_ACTIONS)[number];

/** A control as the stream announced it. */
export interface SweepControl {
  readonly id: number;
  readonly at: string;
  /** One of SWEEP_CONTROL_ACTIONS, or a newer server's action (shown by name). */
  readonly action: SweepControlAction | (string & {});
  /** `budget`: the budget after the change. */
  readonly budget?: BudgetChange;
  /** `enqueued`: the trials created. */
  readonly trialIds?: readonly string[];
}

// Lenient: a field a newer server adds must not hide the control.
const ControlEnvelope = z.object({
  id: z.number().int().positive(),
  type: z.literal('sweep.control'),
  at: z.string(),
  data: z.object({
    action: z.string(),
    budget: z
      .object({ maxTrials: z.number().optional(), maxConcurrentTrials: z.number().optional(), maxTotalEpochs: z.number().nullable().optional() })
      .optional(),
    trialIds: z.array(z.string()).optional(),
  }),
});

/**
 * The control an event announces, or null for any other event. Takes a parsed event, a stream
 * item (also one the schema refused: a client built before `sweep.control` was in it), or the
 * JSON of an event.
 */
export function sweepControlOf(input: unknown): SweepControl | null {
  let value: unknown = input;
  if (typeof input === 'object' && input !== null && 'kind' in input) {
    const item = input as SweepStreamItem;
    if (item.kind === 'event') value = item.event;
    else {
      if (item.message.event !== undefined && item.message.event !== 'sweep.control') return null;
      try {
        value = JSON.parse(item.message.data) as unknown;
      } catch {
        return null;
      }
    }
  }
  const parsed = ControlEnvelope.safeParse(value);
  if (!parsed.success) return null;
  const { id, at, data } = parsed.data;
  return {
    id,
    at,
    action: data.action,
    ...(data.budget !== undefined ? { budget: data.budget } : {}),
    ...(data.trialIds !== undefined ? { trialIds: data.trialIds } : {}),
  };
}

/** A control in words: "paused", "budget changed: maxTrials 40, maxTotalEpochs no limit", "3 trials enqueued". */
export function describeSweepControl(control: Pick<SweepControl, 'action' | 'budget' | 'trialIds'>): string {
  switch (control.action) {
    case 'paused':
      return 'paused';
    case 'resumed':
      return 'resumed';
    case 'budget': {
      const b = control.budget ?? {};
      const parts = (['maxTrials', 'maxConcurrentTrials', 'maxTotalEpochs'] as const)
        .filter((k) => b[k] !== undefined)
        .map((k) => `${k} ${b[k] === null ? 'no limit' : String(b[k])}`);
      return parts.length > 0 ? `budget changed: ${parts.join(', ')}` : 'budget changed';
    }
    case 'enqueued': {
      const n = control.trialIds?.length;
      return n === undefined ? 'configurations enqueued' : `${n} ${n === 1 ? 'trial' : 'trials'} enqueued`;
    }
    default:
      return control.action;
  }
}
