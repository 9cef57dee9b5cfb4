// Test support: a throwaway database per test file, created on the server's `postgres` database.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDb, type Db } from './client.ts';
import { applyMigrations } from './migrate.ts';

export { ScratchPostgres, defaultPostgresBinDir, type ScratchPostgresOptions, type ShutdownMode } from './scratch-server.ts';

/** Server to create test databases on; TEST_DATABASE_ADMIN_URL overrides the local default. */
export const testAdminUrl = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

function withDatabase(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function runAdminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Creates an empty database `hs_test_<random>`; `drop()` removes it even if connections linger. */
export async function createTestDatabase(adminUrl: string = testAdminUrl): Promise<TestDatabase> {
  const name = `hs_test_${randomBytes(6).toString('hex')}`;
  await runAdminQuery(adminUrl, `CREATE DATABASE "${name}"`);
  return {
    name,
    url: withDatabase(adminUrl, name),
    drop: () => runAdminQuery(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}

export interface MigratedTestDatabase {
  database: TestDatabase;
  db: Db;
  /** Disconnects the client and drops the database. */
  close(): Promise<void>;
}

/** A fresh database with every migration applied and a client on it (for repository tests). */
export async function createMigratedTestDatabase(options: { maxConnections?: number; adminUrl?: string } = {}): Promise<MigratedTestDatabase> {
  const database = await createTestDatabase(options.adminUrl ?? testAdminUrl);
  try {
    await applyMigrations(database.url);
  } catch (error) {
    await database.drop();
    throw error;
  }
  const db = createDb(database.url, { maxConnections: options.maxConnections ?? 8 });
  return {
    database,
    db,
    close: async () => {
      await db.$disconnect();
      await database.drop();
    },
  };
}

/** A raw connection for a test's own SQL (locks, pg_stat_activity): apps' tests open none of their own. */
export interface SqlSession {
  query<T extends pg.QueryResultRow = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export async function openSqlSession(url: string): Promise<SqlSession> {
  const client = new pg.Client({ connectionString: url });
  // A fault the test injects (a terminated backend, a restart) must not crash it.
  client.on('error', () => undefined);
  await client.connect();
  return {
    query: async <T extends pg.QueryResultRow>(sql: string, values: unknown[] = []) => (await client.query<T>(sql, values)).rows,
    close: () => client.end().catch(() => undefined),
  };
}

