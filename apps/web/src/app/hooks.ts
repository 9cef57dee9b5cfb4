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

/** A function that schedules one re-render on the next animation frame, however often it is called. */
export function useFrameInvalidate(): [number, () => void] {
  const [frame, setFrame] = useState(0);
  const pending = useRef<number | null>(null);
  useEffect(() => () => {
    if (pending.current !== null) cancelAnimationFrame(pending.current);
  }, []);
  const invalidate = useCallback(() => {
    if (pending.current !== null) return;
    pending.current = requestAnimationFrame(() => {
      pending.current = null;
      setFrame((f) => f + 1);
    });
  }, []);
  return [frame, invalidate];
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
    void followSweepEvents({
      signal: controller.signal,
      lastEventId: startAfter,
      open: (lastEventId, signal) =>
        api.rawFetch(api.url(`/sweeps/${encodeURIComponent(sweepId)}/events`), {
          headers: { Accept: 'text/event-stream', ...(lastEventId ? { 'Last-Event-ID': lastEventId } : {}) },
          signal,
        }),
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
