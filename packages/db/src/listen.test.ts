// The LISTEN connection: notifications reach the callback, a killed connection is re-opened
// (with backoff while the database refuses connections), and close() ends it for good.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SWEEP_EVENTS_CHANNEL, appendSweepEvent } from './events.ts';
import { inTransaction } from './client.ts';
import { listenSweepEvents, parseSweepEventPayload, type SweepEventListener, type SweepEventNotification } from './listen.ts';
import { createSweep } from './sweeps.ts';
import { createMigratedTestDatabase, testAdminUrl, type MigratedTestDatabase } from './testing.ts';

const SWEEP = '6f1c1f2e-8a43-4d59-9a41-0c0a6c3b7f10';

describe('listenSweepEvents', () => {
  let t: MigratedTestDatabase;
  let admin: pg.Client;

  beforeAll(async () => {
    t = await createMigratedTestDatabase();
    admin = new pg.Client({ connectionString: testAdminUrl });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.query(`ALTER DATABASE "${t.database.name}" ALLOW_CONNECTIONS true`);
    await admin?.end();
    await t?.close();
  });

  /** Backends of the test database whose last statement was the LISTEN. */
  const listenerPids = async (): Promise<number[]> =>
    (
      await admin.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'LISTEN %'`, [t.database.name])
    ).rows.map((r) => r.pid);

  // pg_notify from the admin connection reaches only listeners of the admin's database, so
  // notifications are sent from a connection to the test database.
  let sender: pg.Client;
  beforeAll(async () => {
    sender = new pg.Client({ connectionString: t.database.url });
    await sender.connect();
  });
  afterAll(async () => {
    await sender?.end();
  });
  const send = (payload: string) => sender.query(`SELECT pg_notify($1, $2)`, [SWEEP_EVENTS_CHANNEL, payload]).then(() => undefined);

  it('parses `<sweepId>:<eventId>` payloads and nothing else', () => {
    expect(parseSweepEventPayload(`${SWEEP}:42`)).toEqual({ sweepId: SWEEP, eventId: 42 });
    for (const bad of [undefined, '', SWEEP, `${SWEEP}:`, `${SWEEP}:0`, `${SWEEP}:-1`, `${SWEEP}:1.5`, `nope:3`, `${SWEEP}:3:4`]) {
      expect(parseSweepEventPayload(bad), String(bad)).toBeNull();
    }
  });

  it('delivers the notification of each appended event, and ignores malformed payloads', async () => {
    const received: SweepEventNotification[] = [];
    const listener = await listenSweepEvents(t.database.url, (n) => received.push(n));
    try {
      expect(listener.connected).toBe(true);
      const { sweep } = await createSweep(t.db, { name: 'listen', spec: {}, seed: 1, objective: { metric: 'val_loss', mode: 'minimize' }, budget: {} });
      await send('not an event');
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push(await inTransaction(t.db, (tx) => appendSweepEvent(tx, sweep.id, 'sweep.updated', { i })));
      await expect.poll(() => received.length).toBe(3);
      expect(received).toEqual(ids.map((eventId) => ({ sweepId: sweep.id, eventId })));
    } finally {
      await listener.close();
    }
  });

  it('reconnects after its backend is terminated, backing off while the database refuses connections', async () => {
    const received: SweepEventNotification[] = [];
    const errors: Error[] = [];
    const failedRetries: number[] = [];
    let reconnects = 0;
    const listener = await listenSweepEvents(t.database.url, (n) => received.push(n), {
      initialRetryMs: 20,
      maxRetryMs: 80,
      onError: (error) => errors.push(error),
      onReconnect: () => reconnects++,
      onReconnectFailed: (_error, retryMs) => failedRetries.push(retryMs),
    });
    try {
      const [first] = await listenerPids();
      expect(first).toBeTypeOf('number');

      // Killed once: back within a retry, listening on a new backend.
      await admin.query('SELECT pg_terminate_backend($1)', [first]);
      await expect.poll(() => reconnects, { timeout: 10_000 }).toBe(1);
      expect(errors.length).toBeGreaterThan(0);
      await expect.poll(listenerPids).toHaveLength(1);
      const [second] = await listenerPids();
      expect(second).not.toBe(first);
      await send(`${SWEEP}:7`);
      await expect.poll(() => received).toEqual([{ sweepId: SWEEP, eventId: 7 }]);

      // Killed while new connections are refused: failed attempts double the delay up to the cap.
      await admin.query(`ALTER DATABASE "${t.database.name}" ALLOW_CONNECTIONS false`);
      await admin.query('SELECT pg_terminate_backend($1)', [second]);
      await expect.poll(() => failedRetries.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(4);
      expect(listener.connected).toBe(false);
      expect(failedRetries.slice(0, 4)).toEqual([40, 80, 80, 80]);
      await admin.query(`ALTER DATABASE "${t.database.name}" ALLOW_CONNECTIONS true`);
      await expect.poll(() => reconnects, { timeout: 10_000 }).toBe(2);
      expect(listener.connected).toBe(true);
      await send(`${SWEEP}:8`);
      await expect.poll(() => received.at(-1)).toEqual({ sweepId: SWEEP, eventId: 8 });
    } finally {
      await listener.close();
    }
  });

  it('close() ends the connection and stops reconnecting', async () => {
    let listener: SweepEventListener | null = null;
    let reconnects = 0;
    listener = await listenSweepEvents(t.database.url, () => undefined, { initialRetryMs: 10, onReconnect: () => reconnects++ });
    await expect.poll(listenerPids).toHaveLength(1);
    await listener.close();
    expect(listener.connected).toBe(false);
    await expect.poll(listenerPids).toEqual([]);
    // A round trip on another connection gives a stray reconnect time to show.
    await send('after close');
    expect(await listenerPids()).toEqual([]);
    expect(reconnects).toBe(0);
  });

  it('rejects when the first connection fails', async () => {
    const url = new URL(t.database.url);
    url.pathname = '/hs_test_missing_database';
    await expect(listenSweepEvents(url.toString(), () => undefined)).rejects.toThrow(/does not exist/);
    // Retrying a first connection is for a server that is down, not for a database that is wrong.
    await expect(listenSweepEvents(url.toString(), () => undefined, { retryFirstConnection: true })).rejects.toThrow(/does not exist/);
  });

  it('with retryFirstConnection, comes up while the server is unreachable and keeps retrying', async () => {
    let failures = 0;
    let retried: () => void = () => undefined;
    const twoRetries = new Promise<void>((resolve) => (retried = () => failures >= 2 && resolve()));
    // A port nothing listens on: refused at once, as a stopped server.
    const down = new URL(t.database.url);
    down.port = '1';
    const listener = await listenSweepEvents(down.toString(), () => undefined, { retryFirstConnection: true, initialRetryMs: 10, maxRetryMs: 20, onReconnectFailed: () => (failures++, retried()) });
    try {
      expect(listener.connected).toBe(false);
      await twoRetries;
      expect(listener.connected).toBe(false);
    } finally {
      await listener.close();
    }
  });
});
