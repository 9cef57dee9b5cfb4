// A sweep's live event stream (GET /sweeps/{id}/events) read with fetch, so it can carry the bearer
// token, and parsed incrementally. On a dropped connection it reconnects with Last-Event-ID, so no
// event is missed; events at or below the last id seen are dropped, so none is applied twice.
import { SweepEvent } from '@hypersweep/schemas';
import { SseParser } from '../lib/sse.ts';

export type StreamState = 'connecting' | 'open' | 'reconnecting' | 'closed' | 'unauthorized' | 'not_found';

export interface SweepStreamOptions {
  /** Opens the HTTP stream; `lastEventId` is null on the first connection without a resume point. */
  readonly open: (lastEventId: string | null, signal: AbortSignal) => Promise<Response>;
  readonly signal: AbortSignal;
  /** Events parsed from one network chunk, in order (callers batch their state updates on it). */
  readonly onEvents: (events: SweepEvent[]) => void;
  readonly onState?: (state: StreamState, detail?: string) => void;
  /** Only these event types are parsed and delivered (default: all). */
  readonly types?: ReadonlySet<SweepEvent['type']>;
  /** A cheap test on the raw message (e.g. "mentions this trial id"): others are skipped unparsed. */
  readonly prefilter?: (message: { data: string; event?: string }) => boolean;
  /** Resume after this id (e.g. from a previous page visit). */
  readonly lastEventId?: number;
  /** Whether to reconnect after the server ends the stream (false once the sweep is finished). */
  readonly shouldReconnect?: () => boolean;
  readonly retryMs?: number;
  readonly maxRetryMs?: number;
  /** Waits before reconnecting; injectable so tests do not wait on a clock. */
  readonly delay?: (ms: number, signal: AbortSignal) => Promise<void>;
}

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Parses SSE messages into sweep events, skipping malformed ones and ids already seen. With `types`,
 * messages of other event types are only counted past (not parsed): the stream replays a sweep's
 * whole log, and a view that needs only sweep.updated should not validate every epoch.
 */
export function toSweepEvents(
  messages: readonly { data: string; event?: string; lastEventId?: string }[],
  after: number,
  types?: ReadonlySet<string>,
  prefilter?: (message: { data: string; event?: string }) => boolean,
): { events: SweepEvent[]; lastId: number; rejected: number } {
  const events: SweepEvent[] = [];
  let lastId = after;
  let rejected = 0;
  for (const m of messages) {
    if ((types && m.event !== undefined && !types.has(m.event)) || (prefilter && !prefilter(m))) {
      const id = Number(m.lastEventId);
      if (Number.isSafeInteger(id) && id > lastId) lastId = id;
      continue;
    }
    let json: unknown;
    try {
      json = JSON.parse(m.data);
    } catch {
      rejected++;
      continue;
    }
    const parsed = SweepEvent.safeParse(json);
    if (!parsed.success) {
      rejected++;
      continue;
    }
    if (parsed.data.id <= lastId) continue;
    lastId = parsed.data.id;
    events.push(parsed.data);
  }
  return { events, lastId, rejected };
}

/**
 * Follows a sweep's events until `signal` aborts, the server refuses (401/404), or the stream ends
 * and `shouldReconnect` says no. Reconnects back off exponentially and reset after a good connection.
 * Resolves with the last event id seen.
 */
export async function followSweepEvents(options: SweepStreamOptions): Promise<number> {
  const { signal, onEvents } = options;
  const onState = options.onState ?? (() => undefined);
  const delay = options.delay ?? abortableDelay;
  const baseRetry = options.retryMs ?? 1000;
  const maxRetry = options.maxRetryMs ?? 30_000;
  let lastId = options.lastEventId ?? 0;
  let failures = 0;
  let serverRetry: number | undefined;

  while (!signal.aborted) {
    onState(failures === 0 && lastId === (options.lastEventId ?? 0) ? 'connecting' : 'reconnecting');
    let received = false;
    try {
      const response = await options.open(lastId > 0 ? String(lastId) : null, signal);
      if (response.status === 401) {
        onState('unauthorized');
        return lastId;
      }
      if (response.status === 404) {
        onState('not_found');
        return lastId;
      }
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      onState('open');
      const parser = new SseParser(lastId > 0 ? String(lastId) : '');
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      try {
        while (true) {
          const { value, done } = await reader.read();
          if (done) break;
          const batch = toSweepEvents(parser.feed(value), lastId, options.types, options.prefilter);
          serverRetry = parser.retryMs ?? serverRetry;
          if (batch.lastId > lastId) received = true;
          lastId = batch.lastId;
          if (batch.events.length > 0) onEvents(batch.events);
        }
      } finally {
        reader.releaseLock();
      }
      failures = 0;
    } catch (err) {
      if (signal.aborted) break;
      failures = received ? 1 : failures + 1;
      onState('reconnecting', err instanceof Error ? err.message : String(err));
    }
    if (signal.aborted) break;
    if (failures === 0 && options.shouldReconnect && !options.shouldReconnect()) break;
    const wait = Math.min(maxRetry, (serverRetry ?? baseRetry) * 2 ** Math.max(0, failures - 1));
    await delay(wait, signal);
  }
  onState('closed');
  return lastId;
}
