// The follower's reconnection (Last-Event-ID, backoff, give-up rules, 204 as the end). The parser
// itself is tested where it lives, in @hypersweep/schemas.
import { describe, expect, it } from 'vitest';
import { ApiError } from './errors.ts';
import { followSse, reconnectDelay, type FollowSseOptions, type SseConnect } from './sse.ts';

describe('reconnectDelay', () => {
  it('doubles from the base up to the cap', () => {
    const delays = [1, 2, 3, 4, 5, 6, 40].map((f) => reconnectDelay(f, { baseMs: 500, maxMs: 10_000 }));
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
  });
});

/** A fetch whose answers are scripted: each call takes the next responder. */
function scriptedFetch(responders: ((init: RequestInit) => Response)[]) {
  const calls: Headers[] = [];
  const fakeFetch = (async (_url: string | URL | Request, init?: RequestInit) => {
    calls.push(new Headers(init?.headers));
    const next = responders.shift();
    if (!next) throw new TypeError('fetch failed: no more scripted responses');
    return next(init ?? {});
  }) as typeof fetch;
  return { fakeFetch, calls };
}

/** A text/event-stream body that sends `chunks` one read at a time, then ends, fails, or hangs until aborted. */
function streamResponse(chunks: string[], end: 'close' | 'error' | 'hang', init: RequestInit = {}): Response {
  const encoder = new TextEncoder();
  const queue = [...chunks];
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = queue.shift();
      if (next !== undefined) return controller.enqueue(encoder.encode(next));
      if (end === 'close') return controller.close();
      if (end === 'error') return controller.error(new TypeError('terminated'));
      // Hang: a pending pull until the request is aborted.
      return new Promise<void>((resolve) => {
        init.signal?.addEventListener('abort', () => {
          controller.error(init.signal?.reason);
          resolve();
        });
      });
    },
  });
  return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
}

/** The follower over a fetch, as a transport would call it, one message at a time (batches flattened). */
async function* messages(fakeFetch: typeof fetch, options: FollowSseOptions & { headers?: Record<string, string> } = {}) {
  const { headers, ...follow } = options;
  const connect: SseConnect = ({ lastEventId, signal }) =>
    fakeFetch('http://x/events', { headers: { Accept: 'text/event-stream', ...headers, ...(lastEventId !== '' ? { 'Last-Event-ID': lastEventId } : {}) }, signal });
  for await (const batch of followSse(connect, follow)) {
    expect(batch.length).toBeGreaterThan(0);
    yield* batch;
  }
}

describe('followSse', () => {
  it('reconnects after a drop with Last-Event-ID and the backoff delay, losing and repeating nothing', async () => {
    const { fakeFetch, calls } = scriptedFetch([
      () => streamResponse(['id: 1\ndata: one\n\nid: 2\nda', 'ta: two\n\nid: 3\ndata: thr'], 'error'),
      () => new Response('busy', { status: 503 }),
      (init) => streamResponse(['retry: 40\nid: 3\ndata: three\n\nid: 4\ndata: four\n\n'], 'hang', init),
    ]);
    const sleeps: number[] = [];
    const disconnects: string[] = [];
    const got: string[] = [];
    for await (const m of messages(fakeFetch, { headers: { Authorization: 'Bearer t' },
      baseDelayMs: 100,
      sleep: async (ms) => void sleeps.push(ms),
      onDisconnect: (d) => disconnects.push(d.lastEventId),
    })) {
      got.push(`${m.lastEventId}:${m.data}`);
      if (m.lastEventId === '4') break;
    }
    expect(got).toEqual(['1:one', '2:two', '3:three', '4:four']);
    expect(calls.map((h) => h.get('last-event-id'))).toEqual([null, '2', '2']);
    expect(calls.every((h) => h.get('authorization') === 'Bearer t' && h.get('accept') === 'text/event-stream')).toBe(true);
    expect(sleeps).toEqual([100, 200]); // two failures in a row: base, then doubled
    expect(disconnects).toEqual(['2', '2']);
  });

  it('starts from a given Last-Event-ID and reconnects when the server closes the stream', async () => {
    const { fakeFetch, calls } = scriptedFetch([
      () => streamResponse(['id: 11\ndata: a\n\n'], 'close'),
      (init) => streamResponse(['id: 12\ndata: b\n\n'], 'hang', init),
    ]);
    const got: string[] = [];
    for await (const m of messages(fakeFetch, { lastEventId: '10', sleep: async () => undefined })) {
      got.push(m.lastEventId);
      if (m.lastEventId === '12') break;
    }
    expect(got).toEqual(['11', '12']);
    expect(calls.map((h) => h.get('last-event-id'))).toEqual(['10', '11']);
  });

  it('throws at once on a non-retryable status, through toError', async () => {
    const { fakeFetch, calls } = scriptedFetch([() => new Response('{"nope":1}', { status: 404 })]);
    const stream = messages(fakeFetch, { toError: async (r) => new Error(`custom ${r.status} ${await r.text()}`),
      sleep: async () => undefined,
    });
    await expect(stream.next()).rejects.toThrow('custom 404 {"nope":1}');
    expect(calls).toHaveLength(1);
  });

  it('refuses a 2xx answer that is not an event stream without retrying', async () => {
    const { fakeFetch, calls } = scriptedFetch([() => new Response('<html>login</html>', { status: 200, headers: { 'content-type': 'text/html' } })]);
    const stream = messages(fakeFetch, { sleep: async () => undefined });
    await expect(stream.next()).rejects.toMatchObject({ code: 'invalid_response' });
    expect(calls).toHaveLength(1);
  });

  it('gives up after maxFailures consecutive failures', async () => {
    const { fakeFetch } = scriptedFetch([() => new Response('', { status: 502 }), () => new Response('', { status: 502 }), () => new Response('', { status: 502 })]);
    const stream = messages(fakeFetch, { maxFailures: 3, sleep: async () => undefined });
    await expect(stream.next()).rejects.toSatisfy((e) => e instanceof ApiError && e.code === 'unreachable' && /failed 3 times in a row/.test(e.message));
  });

  it('reopens a connection that stays silent past the idle timeout', async () => {
    const { fakeFetch, calls } = scriptedFetch([
      (init) => streamResponse(['id: 1\ndata: a\n\n'], 'hang', init),
      (init) => streamResponse(['id: 2\ndata: b\n\n'], 'hang', init),
    ]);
    const reasons: string[] = [];
    const got: string[] = [];
    for await (const m of messages(fakeFetch, { idleTimeoutMs: 50,
      sleep: async () => undefined,
      onDisconnect: (d) => reasons.push(String((d.error as Error).message)),
    })) {
      got.push(m.lastEventId);
      if (m.lastEventId === '2') break;
    }
    expect(got).toEqual(['1', '2']);
    expect(reasons).toEqual(['no data for 50 ms']);
    expect(calls[1]!.get('last-event-id')).toBe('1');
  });

  it('ends without error or retry when the server answers 204 No Content, first or after a closed stream', async () => {
    const { fakeFetch, calls } = scriptedFetch([
      () => streamResponse(['id: 1\ndata: a\n\nid: 2\ndata: b\n\n'], 'close'),
      () => new Response(null, { status: 204 }),
    ]);
    const sleeps: number[] = [];
    const got: string[] = [];
    for await (const m of messages(fakeFetch, { sleep: async (ms) => void sleeps.push(ms) })) got.push(m.lastEventId);
    expect(got).toEqual(['1', '2']);
    expect(calls.map((h) => h.get('last-event-id'))).toEqual([null, '2']);
    expect(sleeps).toHaveLength(1); // the wait after the closed stream; none after the 204

    const once = scriptedFetch([() => new Response(null, { status: 204 })]);
    const opened: number[] = [];
    const stream = messages(once.fakeFetch, { lastEventId: '9', onOpen: (o) => opened.push(o.attempt), sleep: async () => undefined });
    expect(await stream.next()).toEqual({ done: true, value: undefined });
    expect(once.calls.map((h) => h.get('last-event-id'))).toEqual(['9']);
    expect(opened).toEqual([]);
  });

  it('stops without error when its signal aborts', async () => {
    const { fakeFetch } = scriptedFetch([(init) => streamResponse(['id: 1\ndata: a\n\n'], 'hang', init)]);
    const controller = new AbortController();
    const got: string[] = [];
    for await (const m of messages(fakeFetch, { signal: controller.signal })) {
      got.push(m.lastEventId);
      controller.abort();
    }
    expect(got).toEqual(['1']);
  });
});
