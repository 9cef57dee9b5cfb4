// Wakes SSE streams when their sweep has new events. One Postgres connection LISTENs on the
// channel the db package NOTIFYs in each event's transaction; the events themselves are always
// read back from Postgres, so a missed notification only delays a stream until its next ping.
import { SWEEP_EVENTS_CHANNEL } from '@hypersweep/db';
import pg from 'pg';
import type { Logger } from '@hypersweep/log';

export interface EventHub {
  /** Calls `wake` whenever `sweepId` may have new events; returns the unsubscribe function. */
  subscribe(sweepId: string, wake: () => void): () => void;
  readonly subscribers: number;
  close(): Promise<void>;
}

export async function createEventHub(databaseUrl: string, logger: Logger): Promise<EventHub> {
  const listeners = new Map<string, Set<() => void>>();
  let client: pg.Client | null = null;
  let closed = false;
  let retryMs = 250;

  const wakeAll = () => {
    for (const set of listeners.values()) for (const wake of set) wake();
  };

  const connect = async (): Promise<void> => {
    const c = new pg.Client({ connectionString: databaseUrl });
    c.on('notification', (msg) => {
      const sweepId = msg.payload?.split(':')[0];
      if (!sweepId) return;
      const set = listeners.get(sweepId);
      if (set) for (const wake of set) wake();
    });
    c.on('error', (error) => {
      logger.warn({ err: error }, 'event listener connection failed; reconnecting');
    });
    c.on('end', () => {
      if (closed) return;
      client = null;
      setTimeout(() => void reconnect(), retryMs).unref();
    });
    await c.connect();
    await c.query(`LISTEN ${SWEEP_EVENTS_CHANNEL}`);
    client = c;
    retryMs = 250;
    // Events committed while disconnected were not notified: every stream re-reads.
    wakeAll();
  };

  const reconnect = async (): Promise<void> => {
    if (closed || client) return;
    try {
      await connect();
      logger.info({}, 'event listener reconnected');
    } catch (error) {
      retryMs = Math.min(retryMs * 2, 5_000);
      logger.warn({ err: error, retryMs }, 'event listener could not reconnect');
      setTimeout(() => void reconnect(), retryMs).unref();
    }
  };

  await connect();

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
      closed = true;
      const c = client;
      client = null;
      wakeAll();
      if (c) await c.end().catch(() => undefined);
    },
  };
}
