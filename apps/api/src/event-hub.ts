// Wakes SSE streams when their sweep has new events. One Postgres connection (opened by
// @hypersweep/db's listenSweepEvents) LISTENs on the channel the db package NOTIFYs in each
// event's transaction; the events themselves are always read back from Postgres, so a missed
// notification only delays a stream until its next ping.
import { listenSweepEvents } from '@hypersweep/db';
import type { Logger } from '@hypersweep/log';

/** Told of every change of every sweep, e.g. to drop what it cached of them. */
export interface SweepChangeWatcher {
  /** The sweep has new events: what was read of it before may be stale. */
  changed(sweepId: string): void;
  /** Notifications may have been missed (the connection failed or came back): anything read before may be stale. */
  reset(): void;
}

export interface EventHub {
  /** Calls `wake` whenever `sweepId` may have new events; returns the unsubscribe function. */
  subscribe(sweepId: string, wake: () => void): () => void;
  /** Tells `watcher` of every notification of any sweep, and of every lost or regained connection; returns the unsubscribe function. */
  watchAll(watcher: SweepChangeWatcher): () => void;
  readonly subscribers: number;
  /** Whether the LISTEN connection is up (false while Postgres is unreachable). */
  readonly connected: boolean;
  close(): Promise<void>;
}

export async function createEventHub(databaseUrl: string, logger: Logger): Promise<EventHub> {
  const listeners = new Map<string, Set<() => void>>();
  const watchers = new Set<SweepChangeWatcher>();
  const resetWatchers = () => {
    for (const watcher of watchers) watcher.reset();
  };

  const wakeAll = () => {
    for (const set of listeners.values()) for (const wake of set) wake();
  };

  const listener = await listenSweepEvents(
    databaseUrl,
    ({ sweepId }) => {
      for (const watcher of watchers) watcher.changed(sweepId);
      const set = listeners.get(sweepId);
      if (set) for (const wake of set) wake();
    },
    {
      onError: (error) => {
        logger.warn({ err: error }, 'event listener connection failed; reconnecting');
        resetWatchers();
      },
      onReconnectFailed: (error, retryMs) => logger.warn({ err: error, retryMs }, 'event listener could not connect; retrying'),
      // Started while Postgres is down, the API comes up answering 503 and listens once it can.
      retryFirstConnection: true,
      onReconnect: () => {
        logger.info({}, 'event listener reconnected');
        // Events committed while disconnected were not notified: every stream re-reads.
        resetWatchers();
        wakeAll();
      },
    },
  );

  return {
    subscribe(sweepId, wake) {
      let set = listeners.get(sweepId);
      if (!set) {
        set = new Set();
        listeners.set(sweepId, set);
      }
      set.add(wake);
      return () => {
        set.delete(wake);
        if (set.size === 0) listeners.delete(sweepId);
      };
    },
    watchAll(watcher) {
      watchers.add(watcher);
      return () => {
        watchers.delete(watcher);
      };
    },
    get subscribers() {
      let n = 0;
      for (const set of listeners.values()) n += set.size;
      return n;
    },
    get connected() {
      return listener.connected;
    },
    async close() {
      const closing = listener.close();
      wakeAll();
      await closing;
    },
  };
}
