// Timing helpers for benchmarks: warm-up until V8 has tiered up, then the median of timed runs.
import { performance } from 'node:perf_hooks';

export interface Measurement {
  /** Median seconds per call. */
  readonly seconds: number;
  /** Seconds per call of every run, in order. */
  readonly runs: readonly number[];
  readonly callsPerRun: number;
}

export interface MeasureOptions {
  /** Seconds of untimed calls first (V8 compiles WASM with Liftoff, then TurboFan in the background). */
  readonly warmupSeconds?: number;
  /** Target seconds per timed run. */
  readonly runSeconds?: number;
  readonly runs?: number;
}

/** The median of a list (NaN when empty). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

/** Times `fn` after a warm-up; each run repeats it enough to last about `runSeconds`. */
export function measure(fn: () => void, opts: MeasureOptions = {}): Measurement {
  const warmup = opts.warmupSeconds ?? 0.3;
  const runSeconds = opts.runSeconds ?? 0.08;
  const runs = opts.runs ?? 7;
  let calls = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < warmup * 1000 || calls < 3) {
    fn();
    calls++;
  }
  const perCall = (performance.now() - t0) / 1000 / calls;
  const callsPerRun = Math.max(1, Math.ceil(runSeconds / perCall));
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    for (let i = 0; i < callsPerRun; i++) fn();
    times.push((performance.now() - start) / 1000 / callsPerRun);
  }
  return { seconds: median(times), runs: times, callsPerRun };
}
