// The dashboard's event stream: @hypersweep/client's follower reported as page states (connecting,
// open, reconnecting, closed, unauthorized), against scripted HTTP answers.
import { HypersweepClient } from '@hypersweep/client';
import { SweepEvent, formatSseEvent } from '@hypersweep/schemas';
import { describe, expect, it } from 'vitest';
import { followSweepEvents, readSweepControls, type SweepStreamOptions, type StreamState } from './sweep-events.ts';

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
      else if (opts.fail) controller.error(new TypeError('connection reset'));
      else controller.close();
    },
  });
  return new Response(body, { status: opts.status ?? 200, headers: { 'Content-Type': 'text/event-stream' } });
}

/** Follows SWEEP_ID through a client whose `open` answers each connection (with its Last-Event-ID, null for none). */
function follow(options: Omit<SweepStreamOptions, 'signal'> & { signal?: AbortSignal; open: (lastEventId: string | null) => Promise<Response> }) {
  const { open, ...rest } = options;
  const client = new HypersweepClient({ baseUrl: '', fetch: async (_url, init) => open(new Headers(init?.headers).get('last-event-id')) });
  return followSweepEvents(client, SWEEP_ID, { signal: new AbortController().signal, ...rest });
}

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
    const last = await follow({
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
    await follow({
      signal: new AbortController().signal,
      open: async () => new Response('{}', { status: 401 }),
      onEvents: () => undefined,
      onState: (s) => states.push(s),
    });
    expect(states).toEqual(['connecting', 'unauthorized']);

    const controller = new AbortController();
    let opened = 0;
    const done = follow({
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
    await follow({
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
    const last = await follow({
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
    const last = await follow({
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
    await follow({
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


describe('readSweepControls', () => {
  const control = (id: number, data: Record<string, unknown>) => `id: ${id}\nevent: sweep.control\ndata: ${JSON.stringify({ id, type: 'sweep.control', sweepId: SWEEP_ID, at: '2026-01-01T00:00:00.000Z', data })}\n\n`;

  it('reads the controls of the log up to an id from its start, then drops the connection', async () => {
    const ids: (string | null)[] = [];
    let aborted: AbortSignal | undefined;
    const client = new HypersweepClient({
      baseUrl: '',
      fetch: async (_url, init) => {
        ids.push(new Headers(init?.headers).get('last-event-id'));
        aborted = init?.signal ?? undefined;
        // A live sweep's stream: the log, then it would stay open (the body never ends by itself).
        const frames = [formatSseEvent(epoch(1)), control(2, { action: 'paused' }), formatSseEvent(epoch(3)) + control(4, { action: 'budget', budget: { maxTrials: 40 } }), formatSseEvent(epoch(5)), control(6, { action: 'resumed' })];
        const body = new ReadableStream<Uint8Array>({
          pull(c) {
            const next = frames.shift();
            if (next !== undefined) c.enqueue(new TextEncoder().encode(next));
            // Then nothing: only an abort ends it.
            return next === undefined ? new Promise<void>(() => undefined) : undefined;
          },
        });
        return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
      },
    });
    const controls = await readSweepControls(client, SWEEP_ID, { until: 5, signal: new AbortController().signal });
    expect(controls).toEqual([
      { id: 2, at: '2026-01-01T00:00:00.000Z', action: 'paused' },
      { id: 4, at: '2026-01-01T00:00:00.000Z', action: 'budget', budget: { maxTrials: 40 } },
    ]);
    // From the start, one connection, closed once past the id.
    expect(ids).toEqual([null]);
    expect(aborted?.aborted).toBe(true);
  });

  it('reads nothing without a log, and ends with a finished sweep\'s stream', async () => {
    let opened = 0;
    const client = new HypersweepClient({
      baseUrl: '',
      fetch: async () => {
        opened++;
        return streamResponse([control(1, { action: 'enqueued', trialIds: [T1] }), formatSseEvent(epoch(2))]);
      },
    });
    expect(await readSweepControls(client, SWEEP_ID, { until: 0, signal: new AbortController().signal })).toEqual([]);
    expect(opened).toBe(0);
    const controls = await readSweepControls(client, SWEEP_ID, { until: 9, signal: new AbortController().signal });
    expect(controls.map((c) => [c.id, c.action, c.trialIds])).toEqual([[1, 'enqueued', [T1]]]);
    expect(opened).toBe(1);
  });
});
