// The one Postgres LISTEN connection of a process: notifications of new sweep events (sent by
// `appendSweepEvent` in each event's transaction), with reconnection and backoff. A notification
// only says "look again"; readers take the events from `sweepEventsAfter`.
import pg from 'pg';
import { CONNECT_TIMEOUT_MS } from './client.ts';
import { SWEEP_EVENTS_CHANNEL } from './events.ts';

/** SQLSTATEs of a connection refused for its settings: invalid authorization or password, no such database. */
const PERMANENT_CONNECT_ERRORS = new Set(['28000', '28P01', '3D000']);

/** What a NOTIFY on the sweep events channel names. */
export interface SweepEventNotification {
  sweepId: string;
  eventId: number;
}

export interface ListenSweepEventsOptions {
  /** The connection failed (a reconnect follows). */
  onError?: (error: Error) => void;
  /** Listening again after a lost connection: notifications sent meanwhile were missed, so re-read. */
  onReconnect?: () => void;
  /** A reconnection attempt failed; the next one is in `retryMs`. */
  onReconnectFailed?: (error: unknown, retryMs: number) => void;
  /** First delay before reconnecting, doubled after each failed attempt up to `maxRetryMs`. Default 250. */
  initialRetryMs?: number;
  /** Default 5000. */
  maxRetryMs?: number;
  /**
   * Retry a failed first connection like a lost one (calling `onReconnectFailed`, then
   * `onReconnect` once listening) instead of rejecting: a process that starts while Postgres is
   * down comes up and catches up later. A wrong password or database still rejects. Default false.
   */
  retryFirstConnection?: boolean;
}

export interface SweepEventListener {
  /** Whether the connection is up and listening. */
  readonly connected: boolean;
  /** Stops listening and reconnecting; ends the connection. */
  close(): Promise<void>;
}

/** `<sweepId>:<eventId>` → its parts; anything else → null. */
export function parseSweepEventPayload(payload: string | undefined): SweepEventNotification | null {
  const match = /^([0-9a-f-]{36}):([1-9][0-9]*)$/i.exec(payload ?? '');
  if (!match) return null;
  return { sweepId: match[1]!, eventId: Number(match[2]) };
}

/**
 * Opens a connection that LISTENs on the sweep events channel and calls `onNotify` for each
 * notification. Rejects if the first connection fails (unless `retryFirstConnection`); afterwards
 * a lost connection is re-opened with exponential backoff until `close()`.
 */
export async function listenSweepEvents(
  databaseUrl: string,
  onNotify: (notification: SweepEventNotification) => void,
  options: ListenSweepEventsOptions = {},
): Promise<SweepEventListener> {
  const initialRetryMs = options.initialRetryMs ?? 250;
  const maxRetryMs = options.maxRetryMs ?? 5_000;
  let client: pg.Client | null = null;
  let closed = false;
  let retryMs = initialRetryMs;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const connect = async (): Promise<void> => {
    // Bounded connect and keepalives: a silent server is given up on and retried, not awaited.
    const c = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
    // Until LISTEN succeeds a failure is the caller's (a rejected connect); afterwards, a reconnect.
    c.on('error', (error) => {
      if (client === c) options.onError?.(error);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${SWEEP_EVENTS_CHANNEL}`);
    } catch (error) {
      await c.end().catch(() => undefined);
      throw error;
    }
    if (closed) {
      await c.end().catch(() => undefined);
      return;
    }
    c.on('notification', (message) => {
      if (message.channel !== SWEEP_EVENTS_CHANNEL) return;
      const notification = parseSweepEventPayload(message.payload);
      if (notification) onNotify(notification);
    });
    c.on('end', () => {
      if (client !== c) return;
      client = null;
      schedule();
    });
    client = c;
    retryMs = initialRetryMs;
  };

  const schedule = (): void => {
    if (closed || timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      void reconnect();
    }, retryMs);
    // A pending reconnect does not keep the process alive.
    timer.unref();
  };

  const reconnect = async (): Promise<void> => {
    if (closed || client) return;
    try {
      await connect();
      if (!closed) options.onReconnect?.();
    } catch (error) {
      retryMs = Math.min(retryMs * 2, maxRetryMs);
      options.onReconnectFailed?.(error, retryMs);
      schedule();
    }
  };

  if (options.retryFirstConnection) {
    await connect().catch((error: unknown) => {
      // A wrong password or database is the operator's to fix: retrying would only hide it.
      if (PERMANENT_CONNECT_ERRORS.has((error as { code?: unknown }).code as string)) throw error;
      options.onReconnectFailed?.(error, retryMs);
      schedule();
    });
  } else {
    await connect();
  }

  return {
    get connected() {
      return client !== null;
    },
    async close() {
      closed = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      const c = client;
      client = null;
      if (c) await c.end().catch(() => undefined);
    },
  };
}
