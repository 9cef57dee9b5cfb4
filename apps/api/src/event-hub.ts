// Wakes SSE streams when their sweep has new events. One Postgres connection (opened by
// @hypersweep/db's listenSweepEvents) LISTENs on the channel the db package NOTIFYs in each
// event's transaction; the events themselves are always read back from Postgres, so a missed
// notification only delays a stream until its next ping.
import { listenSweepEvents } from '@hypersweep/db';
import type { Logger } from '@hypersweep/log';

export interface EventHub {
  /** Calls `wake` whenever `sweepId` may have new events; returns the unsubscribe function. */
  subscribe(sweepId: string, wake: () => void): () => void;
  readonly subscribers: number;
  close(): Promise<void>;
}

export async function createEventHub(databaseUrl: string, logger: Logger): Promise<EventHub> {
  const listeners = new Map<string, Set<() => void>>();

  const wakeAll = () => {
    for (const set of listeners.values()) for (const wake of set) wake();
  };

  const listener = await listenSweepEvents(
    databaseUrl,
    ({ sweepId }) => {
      const set = listeners.get(sweepId);
      if (set) for (const wake of set) wake();
    },
    {
      onError: (error) => logger.warn({ err: error }, 'event listener connection failed; reconnecting'),
      onReconnectFailed: (error, retryMs) => logger.warn({ err: error, retryMs }, 'event listener could not reconnect'),
      onReconnect: () => {
        logger.info({}, 'event listener reconnected');
        // Events committed while disconnected were not notified: every stream re-reads.
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
    get subscribers() {
      let n = 0;
      for (const set of listeners.values()) n += set.size;
      return n;
    },
    async close() {
      const closing = listener.close();
      wakeAll();
      await closing;
    },
  };
}
