// A sweep's live event stream (GET /sweeps/{id}/events) read with fetch, so it can carry the bearer
// token, and parsed incrementally. On a dropped connection it reconnects with Last-Event-ID, so no
// event is missed; events at or below the last id seen are dropped, so none is applied twice. A
// finished sweep's stream ends once caught up, and the reconnection then gets 204: the end.
import { SweepEvent } from '@hypersweep/schemas';
import { SseParser } from '@hypersweep/schemas/sse';

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

const UUID = /^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$/;
const UTC_TIMESTAMP = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?Z$/;
const METRIC_NAME = /^[a-z][a-z0-9_]{0,63}$/;

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

function hasExactly(o: object, keys: number): boolean {
  let n = 0;
  for (const k in o) if (Object.prototype.hasOwnProperty.call(o, k)) n++;
  return n === keys;
}

/**
 * A `trial.epoch` event checked without zod, by the rules of `TrialEpochEvent` (strict objects,
 * integer bounds, UUIDs, a UTC timestamp, lower_snake_case metric names, finite or null values).
 * Returns null for anything else or anything it is not sure of: the caller then uses the schema.
 * A replayed log of 1,000 trials × 50 epochs is 50,000 of these events.
 */
export function fastEpochEvent(json: unknown): SweepEvent | null {
  if (typeof json !== 'object' || json === null) return null;
  const e = json as { id?: unknown; type?: unknown; sweepId?: unknown; at?: unknown; data?: unknown };
  if (e.type !== 'trial.epoch' || !hasExactly(e, 5) || !isInt(e.id, 1, Number.MAX_SAFE_INTEGER)) return null;
  if (typeof e.sweepId !== 'string' || !UUID.test(e.sweepId) || typeof e.at !== 'string' || !UTC_TIMESTAMP.test(e.at)) return null;
  const d = e.data as { trialId?: unknown; number?: unknown; epoch?: unknown; metrics?: unknown } | null;
  if (typeof d !== 'object' || d === null || Array.isArray(d) || !hasExactly(d, 4)) return null;
  if (typeof d.trialId !== 'string' || !UUID.test(d.trialId) || !isInt(d.number, 0, Number.MAX_SAFE_INTEGER) || !isInt(d.epoch, 1, 1_000_000)) return null;
  const m = d.metrics;
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return null;
  for (const k in m) {
    const v = (m as Record<string, unknown>)[k];
    if (!METRIC_NAME.test(k) || (v !== null && (typeof v !== 'number' || !Number.isFinite(v)))) return null;
  }
  return json as SweepEvent;
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
    // trial.epoch is nine events in ten of a replayed log: checked by hand (the same rules as the
    // schema); anything that does not pass goes through the schema, which decides.
    let event: SweepEvent | null = fastEpochEvent(json);
    if (!event) {
      const parsed = SweepEvent.safeParse(json);
      if (!parsed.success) {
        rejected++;
        continue;
      }
      event = parsed.data;
    }
    if (event.id <= lastId) continue;
    lastId = event.id;
    events.push(event);
  }
  return { events, lastId, rejected };
}

/**
 * Follows a sweep's events until `signal` aborts, the server refuses (401/404), the server answers
 * 204 No Content (the sweep is finished and everything up to Last-Event-ID was sent), or the stream
 * ends and `shouldReconnect` says no. Reconnects back off exponentially and reset after a good
 * connection. Resolves with the last event id seen.
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
      if (response.status === 204) {
        // The SSE spec's "do not reconnect": the API says so for a finished sweep with nothing more to send.
        onState('closed');
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
          const batch = toSweepEvents(parser.push(value), lastId, options.types, options.prefilter);
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
