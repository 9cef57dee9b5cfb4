// Server-sent events over fetch, followed across disconnections: reconnect with Last-Event-ID and
// exponential backoff. Runs in Node 20 and in browsers (fetch streaming, no EventSource: that
// cannot send an Authorization header). The text/event-stream parser is @hypersweep/schemas/sse.
import { SseParser, type SseMessage } from '@hypersweep/schemas/sse';
import { ApiError, describeError } from './errors.ts';

export type { SseMessage };

/** Exponential backoff: base, 2·base, 4·base, … capped at maxMs. `failures` counts from 1. */
export function reconnectDelay(failures: number, options: { baseMs: number; maxMs: number }): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  return Math.min(options.maxMs, options.baseMs * 2 ** exponent);
}

/** What one connection attempt is given: the id to resume after ('' for none) and its abort signal. */
export interface SseConnectRequest {
  readonly lastEventId: string;
  readonly signal: AbortSignal;
}

/** Opens one HTTP connection of the stream (the transport: headers, auth, URL are its business). */
export type SseConnect = (request: SseConnectRequest) => Promise<Response>;

/** Why a connection ended, reported to `onDisconnect`. */
export interface SseDisconnect {
  readonly error: unknown;
  /** Consecutive attempts that delivered nothing so far (1 after the first drop). */
  readonly failures: number;
  /** The wait before the next attempt. */
  readonly delayMs: number;
  readonly lastEventId: string;
}

export interface FollowSseOptions {
  /** Resume after this id on the first attempt too. */
  readonly lastEventId?: string;
  readonly signal?: AbortSignal;
  /** First reconnection delay; a `retry:` from the server replaces it. Default 500 ms. */
  readonly baseDelayMs?: number;
  /** Default 15 s. */
  readonly maxDelayMs?: number;
  /** Give up (ApiError `unreachable`) after this many consecutive failed attempts. Default: never. */
  readonly maxFailures?: number;
  /** A connection that receives nothing (not even a heartbeat comment) for this long is dropped and reopened. Default 60 s; 0: never. */
  readonly idleTimeoutMs?: number;
  /** Whether a non-2xx answer is worth retrying (default: 429 and 5xx). One that is not is thrown as `toError` makes it. */
  readonly isRetryable?: (response: Response) => boolean;
  /** Default: an ApiError from the answer's body. */
  readonly toError?: (response: Response) => Promise<Error>;
  /** Asked when the server ends a stream normally: false ends the follow instead of reconnecting. Default: reconnect. */
  readonly shouldReconnect?: () => boolean;
  readonly onOpen?: (info: { attempt: number; lastEventId: string }) => void;
  readonly onDisconnect?: (info: SseDisconnect) => void;
  /** Waits before a reconnection; injectable so tests do not wait on a clock. */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

class SseIdleError extends Error {
  constructor(ms: number) {
    super(`no data for ${ms} ms`);
  }
}

/** Marks an error as worth a reconnection (a retryable status, a missing body). */
class RetryableError extends Error {}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

const defaultRetryable = (r: Response) => r.status === 429 || r.status >= 500;

/** The body as JSON when it parses (whatever the content type says), else as text; undefined when empty. */
export async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * Follows an event stream until the signal aborts, the consumer stops iterating, the server
 * answers 204 No Content (the SSE spec's "do not reconnect": for the API, a finished sweep with
 * nothing more to send), or `shouldReconnect` declines after a normal end. Yields the messages
 * of each network chunk together (never an empty batch), so a consumer can apply them at once.
 * On a network error, a closed or idle connection or a retryable status it waits (backoff) and
 * reconnects with Last-Event-ID; the server replays what came after it. De-duplicating ids is the
 * caller's business (ids are opaque strings here).
 */
export async function* followSse(connect: SseConnect, options: FollowSseOptions = {}): AsyncGenerator<SseMessage[], void, undefined> {
  const sleep = options.sleep ?? defaultSleep;
  const maxDelayMs = options.maxDelayMs ?? 15_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  const isRetryable = options.isRetryable ?? defaultRetryable;
  const parser = new SseParser();
  if (options.lastEventId !== undefined) parser.lastEventId = options.lastEventId;
  let failures = 0;
  let attempt = 0;

  while (!options.signal?.aborted) {
    attempt++;
    const controller = new AbortController();
    const abortFromOutside = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', abortFromOutside, { once: true });
    let idleTimer: ReturnType<typeof setTimeout> | undefined;
    const armIdle = () => {
      if (idleTimeoutMs <= 0) return;
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => controller.abort(new SseIdleError(idleTimeoutMs)), idleTimeoutMs);
    };
    let failure: unknown;
    let endedNormally = false;
    try {
      armIdle();
      const response = await connect({ lastEventId: parser.lastEventId, signal: controller.signal });
      if (response.status === 204) {
        await response.body?.cancel().catch(() => undefined);
        return;
      }
      if (!response.ok) {
        if (!isRetryable(response)) {
          throw options.toError ? await options.toError(response) : ApiError.fromResponse(response.status, await readBody(response), 'the event stream');
        }
        await response.body?.cancel().catch(() => undefined);
        throw new RetryableError(`HTTP ${response.status}`);
      }
      const contentType = response.headers.get('content-type') ?? '';
      if (!contentType.includes('text/event-stream')) {
        // Not an event stream (a proxy's page, a wrong URL): retrying would not change that.
        await response.body?.cancel().catch(() => undefined);
        throw new ApiError(response.status, 'invalid_response', `expected text/event-stream, got ${contentType || 'no content type'}`);
      }
      if (!response.body) throw new RetryableError('the response has no body');
      options.onOpen?.({ attempt, lastEventId: parser.lastEventId });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          armIdle();
          const batch = parser.push(value);
          if (batch.length === 0) continue;
          failures = 0; // the connection delivered: the next drop starts the backoff afresh
          yield batch;
        }
      } finally {
        reader.releaseLock();
      }
      endedNormally = true;
      failure = new Error('the server closed the event stream');
    } catch (error) {
      if (options.signal?.aborted) return;
      if (!(error instanceof RetryableError) && !isTransient(error, controller)) throw error;
      failure = controller.signal.reason instanceof SseIdleError ? controller.signal.reason : error;
    } finally {
      clearTimeout(idleTimer);
      options.signal?.removeEventListener('abort', abortFromOutside);
      controller.abort();
    }

    parser.reset();
    if (endedNormally && options.shouldReconnect && !options.shouldReconnect()) return;
    failures++;
    if (options.maxFailures !== undefined && failures >= options.maxFailures) {
      throw new ApiError(0, 'unreachable', `the event stream failed ${failures} times in a row: ${describeError(failure)}`, { cause: failure });
    }
    const delayMs = reconnectDelay(failures, { baseMs: parser.retryMs ?? options.baseDelayMs ?? 500, maxMs: maxDelayMs });
    options.onDisconnect?.({ error: failure, failures, delayMs, lastEventId: parser.lastEventId });
    await sleep(delayMs, options.signal);
  }
}

/** Network failures (fetch's TypeError, a reset socket, our idle abort) are worth a reconnect; programming errors are not. */
function isTransient(error: unknown, controller: AbortController): boolean {
  if (controller.signal.reason instanceof SseIdleError) return true;
  if (error instanceof ApiError) return error.code === 'unreachable';
  if (!(error instanceof Error)) return false;
  if (error.name === 'TypeError' || error.name === 'AbortError') return true;
  const code = (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code;
  return typeof code === 'string' && /^(E[A-Z]+|UND_ERR_\w+)$/.test(code);
}
