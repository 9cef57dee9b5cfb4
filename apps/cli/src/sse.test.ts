// The event-stream parser at every chunk boundary, and the follower's reconnection (Last-Event-ID, backoff, give-up rules).
import { describe, expect, it } from 'vitest';
import { followSse, reconnectDelay, SseGiveUpError, SseParser, SseProtocolError, type SseMessage } from './sse.ts';

/** A stream exercising every rule: BOM, comments, retry, ids, event names, multi-line data, CRLF, lone CR, unknown fields. */
const STREAM = [
  '\uFEFF: hello, a heartbeat comment\n',
  'retry: 1500\n',
  '\n', // a blank line with nothing pending dispatches nothing
  'id: 1\nevent: sweep.updated\ndata: {"a":1}\n\n',
  'id: 2\r\nevent: trial.epoch\r\ndata: line one\r\ndata:line two\r\ndata:  two spaces\r\n\r\n',
  'id: 3\rdata: cr only\r\r',
  ':heartbeat\n',
  'data\n\n', // a field name without a colon: empty data
  'id: 7\n\n', // no data: nothing dispatched, but the id is kept
  'unknown: field\ndata: after unknown\n\n',
  'event: custom\ndata: x\nid: 8\n\n',
  'retry: soon\n', // not digits: ignored
  'data: unterminated at the end', // no blank line: never dispatched
].join('');

const EXPECTED: SseMessage[] = [
  { id: '1', event: 'sweep.updated', data: '{"a":1}' },
  { id: '2', event: 'trial.epoch', data: 'line one\nline two\n two spaces' },
  { id: '3', event: 'message', data: 'cr only' },
  { id: '3', event: 'message', data: '' },
  { id: '7', event: 'message', data: 'after unknown' },
  { id: '8', event: 'custom', data: 'x' },
];

function parseInChunks(chunks: string[]): { messages: SseMessage[]; parser: SseParser } {
  const parser = new SseParser();
  const messages = chunks.flatMap((c) => parser.push(c));
  return { messages, parser };
}

describe('SseParser', () => {
  it('parses a whole stream: ids, event names, multi-line data, comments, retry, every line ending', () => {
    const { messages, parser } = parseInChunks([STREAM]);
    expect(messages).toEqual(EXPECTED);
    expect(parser.lastEventId).toBe('8');
    expect(parser.retryMs).toBe(1500);
    expect(parser.comments).toBe(2);
  });

  it('gives the same events for a split at every position', () => {
    for (let i = 0; i <= STREAM.length; i++) {
      const { messages, parser } = parseInChunks([STREAM.slice(0, i), STREAM.slice(i)]);
      expect(messages, `split at ${i}`).toEqual(EXPECTED);
      expect(parser.lastEventId).toBe('8');
    }
  });

  it('gives the same events for every pair of split positions and for one character at a time', () => {
    for (let i = 0; i <= STREAM.length; i += 3) {
      for (let j = i; j <= STREAM.length; j += 5) {
        const { messages } = parseInChunks([STREAM.slice(0, i), STREAM.slice(i, j), STREAM.slice(j)]);
        expect(messages, `split at ${i} and ${j}`).toEqual(EXPECTED);
      }
    }
    expect(parseInChunks(Array.from(STREAM)).messages).toEqual(EXPECTED);
  });

  it('treats a CR at the end of a chunk and a LF at the start of the next as one line break', () => {
    const { messages } = parseInChunks(['data: a\r', '\n', '\r', '\ndata: b\r\n\r\n']);
    expect(messages).toEqual([
      { id: '', event: 'message', data: 'a' },
      { id: '', event: 'message', data: 'b' },
    ]);
  });

  it('drops an incomplete frame on reset but keeps the last event id', () => {
    const parser = new SseParser();
    expect(parser.push('id: 4\ndata: {"complete":true}\n\nid: 5\ndata: {"cut')).toHaveLength(1);
    parser.reset();
    expect(parser.lastEventId).toBe('4');
    expect(parser.push('id: 5\ndata: whole\n\n')).toEqual([{ id: '5', event: 'message', data: 'whole' }]);
  });

  it('ignores an id containing NUL', () => {
    const parser = new SseParser();
    parser.push('id: 1\n\nid: 2\u0000x\ndata: d\n\n');
    expect(parser.lastEventId).toBe('1');
  });
});

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
    for await (const m of followSse('http://x/events', {
      fetch: fakeFetch,
      headers: { Authorization: 'Bearer t' },
      baseDelayMs: 100,
      sleep: async (ms) => void sleeps.push(ms),
      onDisconnect: (d) => disconnects.push(d.lastEventId),
    })) {
      got.push(`${m.id}:${m.data}`);
      if (m.id === '4') break;
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
    for await (const m of followSse('http://x/events', { fetch: fakeFetch, lastEventId: '10', sleep: async () => undefined })) {
      got.push(m.id);
      if (m.id === '12') break;
    }
    expect(got).toEqual(['11', '12']);
    expect(calls.map((h) => h.get('last-event-id'))).toEqual(['10', '11']);
  });

  it('throws at once on a non-retryable status, through toError', async () => {
    const { fakeFetch, calls } = scriptedFetch([() => new Response('{"nope":1}', { status: 404 })]);
    const stream = followSse('http://x/events', {
      fetch: fakeFetch,
      toError: async (r) => new Error(`custom ${r.status} ${await r.text()}`),
      sleep: async () => undefined,
    });
    await expect(stream.next()).rejects.toThrow('custom 404 {"nope":1}');
    expect(calls).toHaveLength(1);
  });

  it('refuses a 2xx answer that is not an event stream without retrying', async () => {
    const { fakeFetch, calls } = scriptedFetch([() => new Response('<html>login</html>', { status: 200, headers: { 'content-type': 'text/html' } })]);
    const stream = followSse('http://x/events', { fetch: fakeFetch, sleep: async () => undefined });
    await expect(stream.next()).rejects.toBeInstanceOf(SseProtocolError);
    expect(calls).toHaveLength(1);
  });

  it('gives up after maxFailures consecutive failures', async () => {
    const { fakeFetch } = scriptedFetch([() => new Response('', { status: 502 }), () => new Response('', { status: 502 }), () => new Response('', { status: 502 })]);
    const stream = followSse('http://x/events', { fetch: fakeFetch, maxFailures: 3, sleep: async () => undefined });
    await expect(stream.next()).rejects.toBeInstanceOf(SseGiveUpError);
  });

  it('reopens a connection that stays silent past the idle timeout', async () => {
    const { fakeFetch, calls } = scriptedFetch([
      (init) => streamResponse(['id: 1\ndata: a\n\n'], 'hang', init),
      (init) => streamResponse(['id: 2\ndata: b\n\n'], 'hang', init),
    ]);
    const reasons: string[] = [];
    const got: string[] = [];
    for await (const m of followSse('http://x/events', {
      fetch: fakeFetch,
      idleTimeoutMs: 50,
      sleep: async () => undefined,
      onDisconnect: (d) => reasons.push(String((d.error as Error).message)),
    })) {
      got.push(m.id);
      if (m.id === '2') break;
    }
    expect(got).toEqual(['1', '2']);
    expect(reasons).toEqual(['no data for 50 ms']);
    expect(calls[1]!.get('last-event-id')).toBe('1');
  });

  it('stops without error when its signal aborts', async () => {
    const { fakeFetch } = scriptedFetch([(init) => streamResponse(['id: 1\ndata: a\n\n'], 'hang', init)]);
    const controller = new AbortController();
    const got: string[] = [];
    for await (const m of followSse('http://x/events', { fetch: fakeFetch, signal: controller.signal })) {
      got.push(m.id);
      controller.abort();
    }
    expect(got).toEqual(['1']);
  });
});
