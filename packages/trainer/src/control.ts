// The control block at the start of the shared memory: named int32 words that replica threads
// synchronise on with Atomics (never postMessage per step), and the barrier built on them.

/** Int32 word indices of the control block (piscina style: one name per word). */
export const WORD = {
  /** Why the current command stops early (ABORT_* codes); 0 while it runs. */
  abort: 0,
  /** Replicas that reached the current barrier. */
  barrierCount: 1,
  /** Barrier generation: bumped (and notified) by the last replica to arrive. */
  barrierGeneration: 2,
  /** Optimizer steps finished in the running epoch (progress for the main thread). */
  progress: 3,
} as const;

/** Bytes reserved for the control block (one cache line per hot word group). */
export const CONTROL_BYTES = 256;

export const ABORT = {
  none: 0,
  /** The main thread cancelled the command (signal, shutdown). */
  cancelled: 1,
  /** A replica threw; its error is reported by that replica. */
  replicaError: 2,
  /** A barrier waited longer than the step timeout. */
  timeout: 3,
  /** A replica thread exited. */
  threadDied: 4,
} as const;

/** Thrown inside a replica when another party aborted the command; not an error of its own. */
export class AbortedByPeer extends Error {
  constructor(readonly reason: number) {
    super(`command aborted (reason ${reason})`);
    this.name = 'AbortedByPeer';
  }
}

export function abortReason(words: Int32Array): number {
  return Atomics.load(words, WORD.abort);
}

/** Sets the abort word (first reason wins) and wakes every waiter. */
export function raiseAbort(words: Int32Array, reason: number): void {
  Atomics.compareExchange(words, WORD.abort, ABORT.none, reason);
  Atomics.add(words, WORD.barrierGeneration, 1);
  Atomics.notify(words, WORD.barrierGeneration);
}

/**
 * A gap between two looks at the clock, where at most 100 ms (a wait slice) or a watchdog tick is
 * due, past which the process is taken to have been stopped rather than its peers slow (half the
 * step timeout when that is shorter, but never under 300 ms: three wait slices).
 */
export const SUSPENDED_MS = 2_000;

/**
 * A reusable barrier for `parties` replicas: spin briefly on the generation word (cheap when
 * every replica has a core), then Atomics.wait in short slices, checking the abort word, until
 * `timeoutMs` has passed. Returns the milliseconds spent waiting.
 */
export function barrier(words: Int32Array, parties: number, spin: number, timeoutMs: number): number {
  const generation = Atomics.load(words, WORD.barrierGeneration);
  const reason = abortReason(words);
  if (reason !== ABORT.none) throw new AbortedByPeer(reason);
  if (Atomics.add(words, WORD.barrierCount, 1) === parties - 1) {
    Atomics.store(words, WORD.barrierCount, 0);
    Atomics.add(words, WORD.barrierGeneration, 1);
    Atomics.notify(words, WORD.barrierGeneration);
    return 0;
  }
  const started = performance.now();
  for (let i = 0; i < spin; i++) {
    if (Atomics.load(words, WORD.barrierGeneration) !== generation) return performance.now() - started;
  }
  let deadline = started + timeoutMs;
  // From `started`: a stop during the spin counts as a stop too.
  let last = started;
  while (Atomics.load(words, WORD.barrierGeneration) === generation) {
    const now = performance.now();
    // A wait slice lasts at most 100 ms; one that took far longer means the process was stopped
    // (SIGSTOP, a frozen VM, a suspended laptop). The peers were stopped too: that time is not theirs.
    if (now - last > Math.max(300, Math.min(SUSPENDED_MS, timeoutMs / 2))) deadline += now - last;
    last = now;
    const left = deadline - now;
    if (left <= 0) {
      raiseAbort(words, ABORT.timeout);
      throw new AbortedByPeer(ABORT.timeout);
    }
    Atomics.wait(words, WORD.barrierGeneration, generation, Math.min(left, 100));
  }
  const after = abortReason(words);
  if (after !== ABORT.none) throw new AbortedByPeer(after);
  return performance.now() - started;
}
