// Answers of a newer server: keys the schemas do not name are dropped (at the top, in nested objects,
// in array items, inside a union such as the sweep's spec, in SSE events); anything else still fails.
import { Sweep, SweepEvent } from '@hypersweep/schemas';
import { makeSweep } from '@hypersweep/schemas/fixtures';
import { describe, expect, it } from 'vitest';
import { parseAnswer } from './answers.ts';

describe('parseAnswer', () => {
  const sweep = makeSweep({ project: 'default' });

  it('drops keys a newer server adds, wherever they are, and leaves the answer as received', () => {
    const newer = structuredClone(sweep) as unknown as Record<string, unknown> & { spec: Record<string, unknown> & { search: Record<string, unknown> }; counts: Record<string, unknown> };
    newer.owner = 'someone';
    newer.counts.archived = 0;
    newer.spec.tags = ['a'];
    newer.spec.search.notes = 'x';
    const received = structuredClone(newer);
    expect(Sweep.safeParse(newer).success).toBe(false);
    const parsed = parseAnswer(Sweep, newer);
    expect(parsed.success).toBe(true);
    expect(parsed.data).toEqual(sweep);
    expect(newer).toEqual(received);
  });

  it('still refuses a missing or mistyped field, naming it, with unknown keys dropped from the report', () => {
    const { status: _status, ...missing } = { ...structuredClone(sweep), extra: 1 };
    const refused = parseAnswer(Sweep, missing);
    expect(refused.success).toBe(false);
    expect(refused.error?.issues.map((i) => i.path.join('.'))).toEqual(['status']);
    expect(parseAnswer(Sweep, { ...structuredClone(sweep), seed: 'one' }).success).toBe(false);
  });

  it('reads an event with a field a newer server adds, in its data or around it', () => {
    const event = { id: 5, type: 'trial.epoch', sweepId: sweep.id, at: '2026-01-02T03:04:05.678Z', data: { trialId: '7a43c0da-64db-4406-951e-54431576d334', number: 3, epoch: 2, metrics: { val_loss: 0.5 }, host: 'w1' }, origin: 'api-2' };
    const parsed = parseAnswer(SweepEvent, event);
    expect(parsed.success).toBe(true);
    expect(parsed.data).toEqual({ ...event, data: { trialId: event.data.trialId, number: 3, epoch: 2, metrics: { val_loss: 0.5 } }, origin: undefined });
  });
});
