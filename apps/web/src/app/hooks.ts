// Small hooks: an abortable async load, a store re-render batched per animation frame, and a
// sweep's live event stream.
import type { SweepEvent } from '@hypersweep/schemas';
import { useCallback, useEffect, useRef, useState } from 'react';
import { followSweepEvents, type StreamState } from '../api/sweep-events.ts';
import { useApp } from './context.tsx';

export interface AsyncState<T> {
  readonly data: T | undefined;
  readonly error: Error | undefined;
  readonly loading: boolean;
  readonly reload: () => void;
}

/** Runs `load` when `deps` change (aborting the previous run) and on reload(). */
export function useAsync<T>(load: (signal: AbortSignal) => Promise<T>, deps: readonly unknown[]): AsyncState<T> {
  const [state, setState] = useState<{ data: T | undefined; error: Error | undefined; loading: boolean }>({ data: undefined, error: undefined, loading: true });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true, error: undefined }));
    loadRef.current(controller.signal).then(
      (data) => !controller.signal.aborted && setState({ data, error: undefined, loading: false }),
      (error: unknown) => !controller.signal.aborted && setState((s) => ({ data: s.data, error: error instanceof Error ? error : new Error(String(error)), loading: false })),
    );
    return () => controller.abort();
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/**
 * A function that schedules one re-render on the next animation frame, however often it is called.
 * With `minIntervalMs` (a number, or a function read at each call), re-renders are also at least
 * that far apart: a page whose render is costly (the sweep page with 1,000 trials) stays responsive
 * while a replayed event log streams in. The third element renders on the next frame regardless.
 */
export function useFrameInvalidate(minIntervalMs: number | (() => number) = 0): [number, () => void, () => void] {
  const [frame, setFrame] = useState(0);
  const pending = useRef<{ raf: number | null; timer: ReturnType<typeof setTimeout> | null } | null>(null);
  const last = useRef(-Infinity);
  const interval = useRef(minIntervalMs);
  interval.current = minIntervalMs;
  useEffect(() => () => {
    const p = pending.current;
    if (p?.raf != null) cancelAnimationFrame(p.raf);
    if (p?.timer != null) clearTimeout(p.timer);
  }, []);
  const schedule = useCallback((urgent: boolean) => {
    let p = pending.current;
    if (p !== null && (p.raf !== null || !urgent)) return;
    if (p === null) {
      p = { raf: null, timer: null };
      pending.current = p;
    }
    const q = p;
    const frameNow = () => {
      if (q.timer !== null) clearTimeout(q.timer);
      q.timer = null;
      q.raf = requestAnimationFrame(() => {
        pending.current = null;
        last.current = performance.now();
        setFrame((f) => f + 1);
      });
    };
    const min = typeof interval.current === 'function' ? interval.current() : interval.current;
    const wait = urgent ? 0 : last.current + min - performance.now();
    if (wait > 0) q.timer = setTimeout(frameNow, wait);
    else frameNow();
  }, []);
  const invalidate = useCallback(() => schedule(false), [schedule]);
  const flush = useCallback(() => schedule(true), [schedule]);
  return [frame, invalidate, flush];
}

/** Follows a sweep's events while mounted; `onEvents` receives each network chunk's events. */
export function useSweepEvents(
  sweepId: string | null,
  onEvents: (events: SweepEvent[]) => void,
  options: {
    lastEventId?: number;
    shouldReconnect?: () => boolean;
    types?: ReadonlySet<SweepEvent['type']>;
    /** Must be stable (module-level or memoised): a new function reconnects. */
    prefilter?: (message: { data: string; event?: string }) => boolean;
  } = {},
): StreamState {
  const { api } = useApp();
  const [state, setState] = useState<StreamState>('connecting');
  const handler = useRef(onEvents);
  handler.current = onEvents;
  const reconnect = useRef(options.shouldReconnect);
  reconnect.current = options.shouldReconnect;
  const startAfter = options.lastEventId;
  const { types, prefilter } = options;
  useEffect(() => {
    if (!sweepId) return undefined;
    const controller = new AbortController();
    void followSweepEvents(api, sweepId, {
      signal: controller.signal,
      lastEventId: startAfter,
      onEvents: (events) => handler.current(events),
      onState: setState,
      types,
      prefilter,
      shouldReconnect: () => reconnect.current?.() ?? true,
    });
    return () => controller.abort();
  }, [api, sweepId, startAfter, types, prefilter]);
  return state;
}
