// The Prisma client factory. Every Postgres connection of the apps is opened by this package: the
// clients made here, the LISTEN connection of listen.ts, the migrations of schema-engine.ts.
import { PrismaPg } from '@prisma/adapter-pg';
import { mapDbErrors } from './errors.ts';
import { Prisma, PrismaClient } from './generated/prisma/client.ts';

export type Db = PrismaClient;

export interface CreateDbOptions {
  /** Upper bound on pooled connections (pg's default is 10). */
  maxConnections?: number;
}

/**
 * Session settings that bound how long a vanished client can hold row locks (the sweep row every
 * epoch write and takeover locks): a client that stops talking inside a transaction — cut off by
 * a partition, paused, frozen — would otherwise keep them until TCP gives up (~15 minutes), and
 * every writer of that sweep would wait with it.
 * - idle_in_transaction_session_timeout 30 s: no transaction of ours idles longer (Prisma's own
 *   interactive-transaction timeout is 30 s too); withSweepLock sets its own, longer one.
 * - TCP keepalives (10 s idle, 3 probes 5 s apart): a dead peer is found even outside a transaction.
 */
export const SESSION_OPTIONS = '-c idle_in_transaction_session_timeout=30000 -c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3';

/** How long opening a connection (or waiting for a pooled one) may take. */
export const CONNECT_TIMEOUT_MS = 15_000;

/** A PrismaClient over @prisma/adapter-pg (Prisma 7 needs a driver adapter; no native query engine). */
export function createDb(databaseUrl: string, options: CreateDbOptions = {}): Db {
  // Server settings given in the URL (`?options=…`) are the operator's: they win.
  const ownOptions = new URL(databaseUrl).searchParams.has('options') ? {} : { options: SESSION_OPTIONS };
  const adapter = new PrismaPg({
    connectionString: databaseUrl,
    max: options.maxConnections ?? 10,
    // The client side too: a server that vanished is noticed instead of awaited forever.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    // A server that went silent (a partition drops packets; nothing resets) fails a new connection
    // in bounded time, as a transient DbError (the API answers 503, workers retry). Also the
    // longest wait for a pooled connection, as transactionOptions.maxWait. No client-side query
    // timeout: pg leaves a timed-out query running on a connection it still pools (inside a
    // transaction, its ROLLBACK can be dropped), and lock waits legitimately last minutes.
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    ...ownOptions,
  });
  return new PrismaClient({ adapter });
}

/** What repository functions take: the client itself or the `tx` of an interactive transaction. */
export type DbClient = PrismaClient | Prisma.TransactionClient;

/** Interactive transactions wait longer than Prisma's defaults (2 s / 5 s): pools are small and callers queue. */
export const transactionOptions = { maxWait: 15_000, timeout: 30_000 } as const;

/**
 * Runs `fn` in a transaction: a new one on a client, or the caller's when `client` is already a
 * transaction client, so repository functions compose inside `withSweepLock` and friends. A new
 * transaction's failures — BEGIN or COMMIT on a dropped connection included — throw DbError.
 */
export async function inTransaction<T>(client: DbClient, fn: (tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
  // Not `'$transaction' in client`: Prisma 7's transaction client answers true to that too, and a
  // nested $transaction on it breaks the shared client ("Transaction already closed").
  if (transactionClients.has(client)) return fn(client);
  return mapDbErrors(() => (client as PrismaClient).$transaction((tx) => fn(markTransaction(tx)), transactionOptions));
}

/** The `tx` objects of the interactive transactions this package opened. */
const transactionClients = new WeakSet<object>();

/** Registers `tx` as an open transaction client, so nested repository calls reuse it. */
export function markTransaction(tx: Prisma.TransactionClient): Prisma.TransactionClient {
  transactionClients.add(tx);
  return tx;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are uuid columns: anything else cannot exist, and Postgres would reject it with a 5xx-looking error. */
export function isUuid(value: string): boolean {
  return uuidPattern.test(value);
}
