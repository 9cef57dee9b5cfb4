// Retrying through database faults: a transient DbError (see errors.ts) is retried with capped
// exponential backoff for a bounded time; anything else is thrown at once.
import { dbErrorOf, type DbError } from './errors.ts';

export interface RetryTransientOptions {
  /** Stop retrying once this long has passed since the first try (default 60 s); the last error is thrown. */
  budgetMs?: number;
  /** First wait (default 100 ms); it doubles up to `maxDelayMs` (default 2 s). */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Aborting it stops the waiting: the last error is thrown at once. */
  signal?: AbortSignal;
  /** Told before each wait (for a log line). */
  onRetry?: (error: DbError, retry: number, delayMs: number) => void;
  /** Clock (tests). */
  now?: () => number;
}

/**
 * Runs `operation` until it succeeds, retrying it while it fails with a transient database error
 * and the budget lasts. Only for operations that are safe to repeat: reads, idempotent writes, or
 * whole transactions (a failed transaction rolled back; one whose COMMIT answer was lost may have
 * committed, so the operation must be idempotent or fenced — see `TrialClaim`). Throws the
 * DbError of the last failure; non-database errors are rethrown unchanged on the first failure.
 */
export async function retryTransient<T>(operation: () => Promise<T>, options: RetryTransientOptions = {}): Promise<T> {
  const now = options.now ?? Date.now;
  const budgetMs = options.budgetMs ?? 60_000;
  const maxDelayMs = options.maxDelayMs ?? 2_000;
  const started = now();
  let delayMs = options.initialDelayMs ?? 100;
  for (let retry = 1; ; retry++) {
    try {
      return await operation();
    } catch (error) {
      const dbError = dbErrorOf(error);
      if (!dbError) throw error;
      if (!dbError.transient || options.signal?.aborted) throw dbError;
      const left = budgetMs - (now() - started);
      if (left <= 0) throw dbError;
      const wait = Math.min(delayMs, maxDelayMs, left);
      options.onRetry?.(dbError, retry, wait);
      await sleep(wait, options.signal);
      if (options.signal?.aborted) throw dbError;
      delayMs = Math.min(delayMs * 2, maxDelayMs);
    }
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
