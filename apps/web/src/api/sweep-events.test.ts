import { SweepEvent, formatSseEvent } from '@hypersweep/schemas';
import { describe, expect, it } from 'vitest';
import { fastEpochEvent, followSweepEvents, toSweepEvents, type StreamState } from './sweep-events.ts';

const SWEEP_ID = '6f1c1f2e-8a43-4d59-9a41-0c0a6c3b7f10';
const T1 = '00000000-0000-4000-8000-000000000001';

function epoch(id: number): SweepEvent {
  return { id, type: 'trial.epoch', sweepId: SWEEP_ID, at: '2026-01-01T00:00:00.000Z', data: { trialId: T1, number: 0, epoch: id, metrics: { val_loss: 1 / id } } };
}

/** A streaming response whose body yields the chunks, then ends (or errors). */
function streamResponse(chunks: string[], opts: { fail?: boolean; status?: number } = {}): Response {
  const queue = [...chunks];
  // Pulled one chunk at a time: an error only after the reader took every chunk, as a reset would.
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = queue.shift();
      if (next !== undefined) controller.enqueue(new TextEncoder().encode(next));
      else if (opts.fail) controller.error(new Error('connection reset'));
      else controller.close();
    },
  });
  return new Response(body, { status: opts.status ?? 200, headers: { 'Content-Type': 'text/event-stream' } });
}

describe('toSweepEvents', () => {
  it('keeps valid events after the last id and counts malformed ones', () => {
    const msgs = [{ data: JSON.stringify(epoch(1)) }, { data: 'not json' }, { data: JSON.stringify({ id: 2, type: 'nope' }) }, { data: JSON.stringify(epoch(3)) }];
    const r = toSweepEvents(msgs, 1);
    expect(r.events.map((e) => e.id)).toEqual([3]);
    expect(r.lastId).toBe(3);
    expect(r.rejected).toBe(2);
  });
});

describe('toSweepEvents with a type filter', () => {
  it('skips other types without parsing them but moves past their ids', () => {
    const updated = { id: 3, type: 'sweep.updated', sweepId: SWEEP_ID, at: '2026-01-01T00:00:00.000Z', data: { status: 'running', counts: { queued: 0, running: 1, completed: 0, stopped: 0, failed: 0, cancelled: 0, total: 1 }, progress: { trialsFinished: 0, maxTrials: 4, epochsDone: 2, maxTotalEpochs: null, fraction: 0 }, best: null } };
    const msgs = [
      { event: 'trial.epoch', data: 'not even json', lastEventId: '1' },
      { event: 'trial.epoch', data: JSON.stringify(epoch(2)), lastEventId: '2' },
      { event: 'sweep.updated', data: JSON.stringify(updated), lastEventId: '3' },
      { event: 'trial.epoch', data: '{}', lastEventId: '4' },
    ];
    const r = toSweepEvents(msgs, 0, new Set(['sweep.updated']));
    expect(r.events.map((e) => e.type)).toEqual(['sweep.updated']);
    expect(r.lastId).toBe(4);
    expect(r.rejected).toBe(0);
  });

  it('skips messages a prefilter refuses', () => {
    const other = { ...epoch(2), data: { ...(epoch(2) as Extract<SweepEvent, { type: 'trial.epoch' }>).data, trialId: '00000000-0000-4000-8000-000000000002' } };
    const msgs = [epoch(1), other, epoch(3)].map((e) => ({ event: e.type, data: JSON.stringify(e), lastEventId: String(e.id) }));
    const r = toSweepEvents(msgs, 0, undefined, (m) => m.data.includes(T1));
    expect(r.events.map((e) => e.id)).toEqual([1, 3]);
    expect(r.lastId).toBe(3);
  });
});

describe('followSweepEvents', () => {
  it('reconnects with Last-Event-ID after a dropped stream and never delivers an event twice', async () => {
    const controller = new AbortController();
    const seenIds: (string | null)[] = [];
    const delays: number[] = [];
    const got: number[] = [];
    const states: StreamState[] = [];
    const frames = [1, 2, 3, 4, 5].map((i) => formatSseEvent(epoch(i)));
    const responses = [
      // First connection: two events, the third cut in half, then the connection drops.
      () => streamResponse([frames[0]!, frames[1]!.slice(0, 10), frames[1]!.slice(10), frames[2]!.slice(0, 20)], { fail: true }),
      // Server error: back off.
      () => new Response('oops', { status: 503 }),
      // Resumed: the server replays 2 (already seen) then 3, 4, 5; then ends.
      () => streamResponse([frames[1]!, frames[2]! + frames[3]!, ': ping\n\n', frames[4]!]),
    ];
    const last = await followSweepEvents({
      signal: controller.signal,
      open: async (lastEventId) => {
        seenIds.push(lastEventId);
        const next = responses.shift();
        if (!next) throw new Error('no more responses');
        return next();
      },
      onEvents: (events) => got.push(...events.map((e) => e.id)),
      onState: (s) => states.push(s),
      shouldReconnect: () => false,
      retryMs: 100,
      delay: async (ms) => {
        delays.push(ms);
      },
    });
    expect(got).toEqual([1, 2, 3, 4, 5]);
    expect(seenIds).toEqual([null, '2', '2']);
    expect(last).toBe(5);
    expect(delays).toEqual([100, 200]);
    expect(states[0]).toBe('connecting');
    expect(states).toContain('open');
    expect(states.at(-1)).toBe('closed');
  });

  it('stops on 401 and on abort', async () => {
    const states: StreamState[] = [];
    await followSweepEvents({
      signal: new AbortController().signal,
      open: async () => new Response('{}', { status: 401 }),
      onEvents: () => undefined,
      onState: (s) => states.push(s),
    });
    expect(states).toEqual(['connecting', 'unauthorized']);

    const controller = new AbortController();
    let opened = 0;
    const done = followSweepEvents({
      signal: controller.signal,
      open: async () => {
        opened++;
        return streamResponse([]);
      },
      onEvents: () => undefined,
      delay: async () => {
        if (opened >= 3) controller.abort();
      },
    });
    await expect(done).resolves.toBe(0);
    expect(opened).toBe(3);
  });

  it('resumes after a given id', async () => {
    const ids: (string | null)[] = [];
    const got: number[] = [];
    await followSweepEvents({
      signal: new AbortController().signal,
      lastEventId: 4,
      open: async (id) => {
        ids.push(id);
        return streamResponse([formatSseEvent(epoch(4)), formatSseEvent(epoch(5))]);
      },
      onEvents: (events) => got.push(...events.map((e) => e.id)),
      shouldReconnect: () => false,
    });
    expect(ids).toEqual(['4']);
    expect(got).toEqual([5]);
  });
});

describe('followSweepEvents on a finished sweep', () => {
  /** An `open` that answers with the next response and records each Last-Event-ID sent. */
  function scriptedOpen(responses: (() => Response)[]) {
    const ids: (string | null)[] = [];
    const open = async (lastEventId: string | null) => {
      ids.push(lastEventId);
      const next = responses.shift();
      if (!next) throw new Error('no more responses');
      return next();
    };
    return { open, ids };
  }

  it('treats 204 No Content as the end: closed, no retry', async () => {
    const { open, ids } = scriptedOpen([() => new Response(null, { status: 204 })]);
    const states: StreamState[] = [];
    const delays: number[] = [];
    const last = await followSweepEvents({
      signal: new AbortController().signal,
      lastEventId: 7,
      open,
      onEvents: () => undefined,
      onState: (s) => states.push(s),
      delay: async (ms) => void delays.push(ms),
    });
    expect(last).toBe(7);
    expect(ids).toEqual(['7']);
    expect(states).toEqual(['connecting', 'closed']);
    expect(delays).toEqual([]);
  });

  it('reconnects once after the server ends the replay, gets 204 and stops', async () => {
    // No shouldReconnect: the client cannot tell a finished stream from a dropped one, the 204 does.
    const { open, ids } = scriptedOpen([
      () => streamResponse(['retry: 2000\n\n', formatSseEvent(epoch(1)) + formatSseEvent(epoch(2)), formatSseEvent(epoch(3))]),
      () => new Response(null, { status: 204 }),
    ]);
    const states: StreamState[] = [];
    const delays: number[] = [];
    const got: number[] = [];
    const last = await followSweepEvents({
      signal: new AbortController().signal,
      open,
      onEvents: (events) => got.push(...events.map((e) => e.id)),
      onState: (s) => states.push(s),
      delay: async (ms) => void delays.push(ms),
    });
    expect(got).toEqual([1, 2, 3]);
    expect(last).toBe(3);
    expect(ids).toEqual([null, '3']);
    expect(delays).toEqual([2000]); // the server's retry, once
    expect(states).toEqual(['connecting', 'open', 'reconnecting', 'closed']);
  });

  it('does not reconnect after the stream ends when shouldReconnect says the sweep is over', async () => {
    const done = { ...epoch(2), type: 'sweep.updated', data: { status: 'completed', counts: { queued: 0, running: 0, completed: 1, stopped: 0, failed: 0, cancelled: 0, total: 1 }, progress: { trialsFinished: 1, maxTrials: 1, epochsDone: 1, maxTotalEpochs: null, fraction: 1 }, best: null } } as SweepEvent;
    const { open, ids } = scriptedOpen([() => streamResponse([formatSseEvent(epoch(1)), formatSseEvent(done)])]);
    let finished = false;
    const states: StreamState[] = [];
    await followSweepEvents({
      signal: new AbortController().signal,
      open,
      onEvents: (events) => (finished ||= events.some((e) => e.type === 'sweep.updated' && e.data.status === 'completed')),
      onState: (s) => states.push(s),
      shouldReconnect: () => !finished,
      delay: async () => {
        throw new Error('must not wait to reconnect');
      },
    });
    expect(finished).toBe(true);
    expect(ids).toEqual([null]);
    expect(states).toEqual(['connecting', 'open', 'closed']);
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
    expect(toSweepEvents([{ data: JSON.stringify(e) }], 0).events.length).toBe(schema.success ? 1 : 0);
  });
});
