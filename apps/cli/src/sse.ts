// Server-sent events over fetch: a follower that reconnects with Last-Event-ID and exponential
// backoff when the connection drops. The text/event-stream parser is shared with the dashboard.
import { SseParser, type SseMessage } from '@hypersweep/schemas/sse';

/** Exponential backoff: base, 2·base, 4·base, … capped at maxMs. `failures` counts from 1. */
export function reconnectDelay(failures: number, options: { baseMs: number; maxMs: number }): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  return Math.min(options.maxMs, options.baseMs * 2 ** exponent);
}

/** Why a connection attempt ended, reported to `onDisconnect`. */
export interface SseDisconnect {
  readonly error: unknown;
  /** Consecutive failed attempts so far (1 after the first drop). */
  readonly failures: number;
  /** The wait before the next attempt. */
  readonly delayMs: number;
  readonly lastEventId: string;
}

export interface FollowSseOptions {
  /** Headers of every attempt (Authorization, …); Last-Event-ID is added after the first event. */
  readonly headers?: Record<string, string>;
  /** Resume after this id on the first attempt too. */
  readonly lastEventId?: string;
  readonly signal?: AbortSignal;
  readonly fetch?: typeof fetch;
  /** First reconnection delay; a `retry:` from the server replaces it. Default 500 ms. */
  readonly baseDelayMs?: number;
  /** Default 15 s. */
  readonly maxDelayMs?: number;
  /** Give up after this many consecutive failed attempts. Default: never. */
  readonly maxFailures?: number;
  /** A connection that receives nothing (not even a heartbeat comment) for this long is dropped and reopened. Default 60 s. */
  readonly idleTimeoutMs?: number;
  /**
   * Decides whether a non-2xx response is worth retrying (default: 429 and 5xx). A response that
   * is not is handed to `toError`, whose result is thrown.
   */
  readonly isRetryable?: (response: Response) => boolean;
  readonly toError?: (response: Response) => Promise<Error>;
  readonly onOpen?: (info: { attempt: number; lastEventId: string }) => void;
  readonly onDisconnect?: (info: SseDisconnect) => void;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export class SseGiveUpError extends Error {
  readonly code = 'SSE_GAVE_UP';
  constructor(failures: number, cause: unknown) {
    super(`the event stream failed ${failures} times in a row: ${describeError(cause)}`, { cause });
    this.name = 'SseGiveUpError';
  }
}

/** The server answered 2xx with something that is not an event stream. */
export class SseProtocolError extends Error {
  readonly code = 'SSE_NOT_AN_EVENT_STREAM';
  constructor(message: string) {
    super(message);
    this.name = 'SseProtocolError';
  }
}

class SseHttpError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

class SseIdleError extends Error {
  constructor(ms: number) {
    super(`no data for ${ms} ms`);
  }
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const causeText = cause instanceof Error ? (cause as { code?: string }).code ?? cause.message : undefined;
    return causeText && !error.message.includes(causeText) ? `${error.message} (${causeText})` : error.message;
  }
  return String(error);
}

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

/**
 * Follows an event stream until the signal aborts, the consumer stops iterating, or the server
 * answers 204 No Content (the spec's "do not reconnect": for the API, a finished sweep with
 * nothing more to send), which ends the iteration normally. On a network error, a closed
 * connection, an idle connection or a retryable status it waits (backoff) and reconnects with
 * `Last-Event-ID`; the server replays what came after it. Events are yielded in the order
 * received; de-duplicating ids is the caller's business (ids are opaque strings here).
 */
export async function* followSse(url: string, options: FollowSseOptions = {}): AsyncGenerator<SseMessage, void, undefined> {
  const doFetch = options.fetch ?? fetch;
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
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => controller.abort(new SseIdleError(idleTimeoutMs)), idleTimeoutMs);
    };
    let failure: unknown;
    try {
      const headers: Record<string, string> = { Accept: 'text/event-stream', 'Cache-Control': 'no-cache', ...options.headers };
      if (parser.lastEventId !== '') headers['Last-Event-ID'] = parser.lastEventId;
      armIdle();
      const response = await doFetch(url, { headers, signal: controller.signal });
      if (response.status === 204) {
        await response.body?.cancel().catch(() => undefined);
        return;
      }
      if (!response.ok) {
        if (!isRetryable(response)) {
          throw options.toError ? await options.toError(response) : new SseHttpError(response.status);
        }
        await response.body?.cancel().catch(() => undefined);
        throw Object.assign(new SseHttpError(response.status), { retryable: true });
      }
      const contentType = response.headers.get('content-type') ?? '';
      if (!contentType.includes('text/event-stream')) {
        // Not an event stream (a proxy's page, a wrong URL): retrying would not change that.
        await response.body?.cancel().catch(() => undefined);
        throw new SseProtocolError(`expected text/event-stream from ${url}, got ${contentType || 'no content type'}`);
      }
      if (!response.body) throw Object.assign(new Error('the response has no body'), { retryable: true });
      options.onOpen?.({ attempt, lastEventId: parser.lastEventId });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          armIdle();
          for (const message of parser.push(value)) {
            failures = 0; // the connection delivered: the next drop starts the backoff afresh
            yield message;
          }
        }
      } finally {
        reader.releaseLock();
      }
      failure = new Error('the server closed the event stream');
    } catch (error) {
      if (options.signal?.aborted) return;
      if (error instanceof Error && !(error as { retryable?: boolean }).retryable && !isTransient(error, controller)) throw error;
      failure = controller.signal.reason instanceof SseIdleError ? controller.signal.reason : error;
    } finally {
      clearTimeout(idleTimer);
      options.signal?.removeEventListener('abort', abortFromOutside);
      controller.abort();
    }

    parser.reset();
    failures++;
    if (options.maxFailures !== undefined && failures >= options.maxFailures) throw new SseGiveUpError(failures, failure);
    const delayMs = reconnectDelay(failures, { baseMs: parser.retryMs ?? options.baseDelayMs ?? 500, maxMs: maxDelayMs });
    options.onDisconnect?.({ error: failure, failures, delayMs, lastEventId: parser.lastEventId });
    await sleep(delayMs, options.signal);
  }
}

/** Network failures (fetch's TypeError, a reset socket, our idle abort) are worth a reconnect; programming errors are not. */
function isTransient(error: Error, controller: AbortController): boolean {
  if (controller.signal.reason instanceof SseIdleError) return true;
  if (error.name === 'TypeError' || error.name === 'AbortError') return true;
  const code = (error as { code?: string }).code ?? ((error as { cause?: { code?: string } }).cause?.code);
  return typeof code === 'string' && /^(E[A-Z]+|UND_ERR_\w+)$/.test(code);
}
