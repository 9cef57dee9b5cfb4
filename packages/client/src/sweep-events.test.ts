// The sweep-event decoder: schema-checked events after an id, type filters and prefilters, and the
// hand-written fast path for trial.epoch agreeing with the schema.
import { SweepEvent } from '@hypersweep/schemas';
import { describe, expect, it } from 'vitest';
import { SWEEP_ID, epochEvent as epoch } from '../test/fixtures.ts';
import { decodeSweepEvents, fastEpochEvent } from './sweep-events.ts';
import { parseAnswer } from './answers.ts';

const T1 = '00000000-0000-4000-8000-000000000001';

describe('decodeSweepEvents', () => {
  it('keeps valid events after the last id and counts malformed ones', () => {
    const msgs = [{ data: JSON.stringify(epoch(1)) }, { data: 'not json' }, { data: JSON.stringify({ id: 2, type: 'nope' }) }, { data: JSON.stringify(epoch(3)) }];
    const r = decodeSweepEvents(msgs, 1);
    expect(r.events.map((e) => e.id)).toEqual([3]);
    expect(r.lastId).toBe(3);
    expect(r.rejected.map((x) => x.problem)).toEqual(['data is not JSON', expect.stringMatching(/^type: /)]);
  });
});

describe('decodeSweepEvents with a type filter', () => {
  it('skips other types without parsing them but moves past their ids', () => {
    const updated = { id: 3, type: 'sweep.updated', sweepId: SWEEP_ID, at: '2026-01-01T00:00:00.000Z', data: { status: 'running', counts: { queued: 0, running: 1, completed: 0, stopped: 0, failed: 0, cancelled: 0, total: 1 }, progress: { trialsFinished: 0, maxTrials: 4, epochsDone: 2, maxTotalEpochs: null, fraction: 0 }, best: null } };
    const msgs = [
      { event: 'trial.epoch', data: 'not even json', lastEventId: '1' },
      { event: 'trial.epoch', data: JSON.stringify(epoch(2)), lastEventId: '2' },
      { event: 'sweep.updated', data: JSON.stringify(updated), lastEventId: '3' },
      { event: 'trial.epoch', data: '{}', lastEventId: '4' },
    ];
    const r = decodeSweepEvents(msgs, 0, { types: new Set(['sweep.updated']) });
    expect(r.events.map((e) => e.type)).toEqual(['sweep.updated']);
    expect(r.lastId).toBe(4);
    expect(r.rejected).toEqual([]);
  });

  it('skips messages a prefilter refuses', () => {
    const other = { ...epoch(2), data: { ...(epoch(2) as Extract<SweepEvent, { type: 'trial.epoch' }>).data, trialId: '00000000-0000-4000-8000-000000000002' } };
    const msgs = [epoch(1), other, epoch(3)].map((e) => ({ event: e.type, data: JSON.stringify(e), lastEventId: String(e.id) }));
    const r = decodeSweepEvents(msgs, 0, { prefilter: (m) => m.data.includes(T1) });
    expect(r.events.map((e) => e.id)).toEqual([1, 3]);
    expect(r.lastId).toBe(3);
  });
});

describe('fastEpochEvent', () => {
  const valid = { id: 5, type: 'trial.epoch', sweepId: '3f1c2b9e-8a7d-4c6b-9e5f-1a2b3c4d5e6f', at: '2026-01-02T03:04:05.678Z', data: { trialId: '7a43c0da-64db-4406-951e-54431576d334', number: 3, epoch: 2, metrics: { val_loss: 0.5, val_accuracy: null } } };
  const variants: [string, (e: Record<string, unknown> & { data: Record<string, unknown> & { metrics: Record<string, unknown> } }) => void][] = [
    ['valid', () => undefined],
    ['extra key', (e) => (e.extra = 1)],
    ['extra data key', (e) => (e.data.extra = 1)],
    ['missing at', (e) => delete e.at],
    ['bad uuid', (e) => (e.data.trialId = 'nope')],
    ['fractional epoch', (e) => (e.data.epoch = 1.5)],
    ['epoch 0', (e) => (e.data.epoch = 0)],
    ['id 0', (e) => (e.id = 0)],
    ['bad metric name', (e) => (e.data.metrics['Val-Loss'] = 1)],
    ['string metric', (e) => (e.data.metrics.val_loss = '1')],
    ['local timestamp', (e) => (e.at = '2026-01-02T03:04:05+01:00')],
    ['other type', (e) => (e.type = 'trial.created')],
  ];
  it.each(variants)('agrees with the schema: %s', (_, change) => {
    const e = structuredClone(valid);
    change(e as never);
    const fast = fastEpochEvent(e);
    const schema = SweepEvent.safeParse(e);
    // The fast path never accepts what the schema refuses, and accepts every valid epoch event.
    if (fast) expect(schema.success).toBe(true);
    if (schema.success && e.type === 'trial.epoch') expect(fast).not.toBeNull();
    // Decoding forgives keys a newer server adds (answers.ts), nothing else.
    expect(decodeSweepEvents([{ data: JSON.stringify(e) }], 0).events.length).toBe(parseAnswer(SweepEvent, e).success ? 1 : 0);
  });
});
