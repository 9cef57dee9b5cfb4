// A sweep's live event stream for the pages: @hypersweep/client's follower (reconnect with
// Last-Event-ID, no event delivered twice) reported as a connection state the page shows. A
// finished sweep's stream ends once caught up, and the reconnection then gets 204: the end.
import { ApiError, describeError, sweepControlOf, type HypersweepClient, type SweepControl, type SweepEventFilter } from '@hypersweep/client';
import type { SweepEvent } from '@hypersweep/schemas';

export type StreamState = 'connecting' | 'open' | 'reconnecting' | 'closed' | 'unauthorized' | 'not_found';

export interface SweepStreamOptions extends SweepEventFilter {
  readonly signal: AbortSignal;
  /** Events parsed from one network chunk, in order (callers batch their state updates on it). */
  readonly onEvents: (events: SweepEvent[]) => void;
  readonly onState?: (state: StreamState, detail?: string) => void;
  /** Resume after this id (e.g. from a previous page visit). */
  readonly lastEventId?: number;
  /** Whether to reconnect after the server ends the stream (false once the sweep is finished). */
  readonly shouldReconnect?: () => boolean;
  readonly retryMs?: number;
  readonly maxRetryMs?: number;
  /** Waits before reconnecting; injectable so tests do not wait on a clock. */
  readonly delay?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * Follows a sweep's events until `signal` aborts, the server refuses (401/404), the server answers
 * 204 No Content (the sweep is finished and everything up to Last-Event-ID was sent), or the stream
 * ends and `shouldReconnect` says no. Other failures are retried with backoff. Resolves with the
 * last event id seen.
 */
export async function followSweepEvents(api: HypersweepClient, sweepId: string, options: SweepStreamOptions): Promise<number> {
  const onState = options.onState ?? (() => undefined);
  let lastId = options.lastEventId ?? 0;
  onState('connecting');
  try {
    for await (const batch of api.sweepEventBatches(sweepId, {
      signal: options.signal,
      ...(options.lastEventId !== undefined ? { lastEventId: options.lastEventId } : {}),
      types: options.types,
      prefilter: options.prefilter,
      baseDelayMs: options.retryMs ?? 1000,
      maxDelayMs: options.maxRetryMs ?? 30_000,
      // The API pings every 15 s, but the dashboard's development stand-in does not.
      idleTimeoutMs: 0,
      // Refusals end the stream (the page says why); anything else is worth another try.
      isRetryable: (response) => response.status !== 401 && response.status !== 404,
      ...(options.shouldReconnect ? { shouldReconnect: options.shouldReconnect } : {}),
      ...(options.delay ? { sleep: options.delay } : {}),
      onOpen: () => onState('open'),
      onDisconnect: ({ error }) => onState('reconnecting', describeError(error)),
    })) {
      lastId = Math.max(lastId, batch.lastId);
      if (batch.events.length > 0) options.onEvents(batch.events);
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) onState('unauthorized');
    else if (error instanceof ApiError && error.status === 404) onState('not_found');
    // A stream that can never work (not an event stream, say): closed, and why.
    else onState('closed', describeError(error));
    return lastId;
  }
  onState('closed');
  return lastId;
}

const CONTROL_TYPES: ReadonlySet<string> = new Set(['sweep.control']);

/**
 * The sweep.control events of a sweep's log up to event `until` (the id the page's live stream
 * starts after), read once: the log is replayed from the start with every other event skipped
 * unparsed, and the connection is dropped as soon as it passes `until`. A server whose schema lacks
 * the event still has its controls read (leniently).
 */
export async function readSweepControls(api: HypersweepClient, sweepId: string, options: { readonly until: number; readonly signal: AbortSignal }): Promise<SweepControl[]> {
  const controls: SweepControl[] = [];
  if (options.until <= 0) return controls;
  const stop = new AbortController();
  const signal = AbortSignal.any([options.signal, stop.signal]);
  try {
    for await (const batch of api.sweepEventBatches(sweepId, { signal, types: CONTROL_TYPES, idleTimeoutMs: 0, maxFailures: 5, shouldReconnect: () => false })) {
      for (const item of [...batch.events, ...batch.rejected.map((r) => ({ kind: 'unknown' as const, message: r.message, problem: r.problem }))]) {
        const control = sweepControlOf(item);
        if (control && control.id <= options.until) controls.push(control);
      }
      if (batch.lastId >= options.until) break;
    }
  } catch (error) {
    // Dropped on purpose once caught up; anything else is the caller's to show.
    if (!(error instanceof ApiError && error.code === 'aborted' && !options.signal.aborted)) throw error;
  } finally {
    stop.abort();
  }
  return controls.sort((a, b) => a.id - b.id);
}
