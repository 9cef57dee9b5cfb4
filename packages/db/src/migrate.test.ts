import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations, defaultMigrationsDir, defaultSchemaPath, diffMigrationsAgainstSchema, readMigrationList } from './migrate.ts';
import { createTestDatabase, type TestDatabase } from './testing.ts';

interface MigrationRow {
  id: string;
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: Date | null;
  started_at: Date;
  applied_steps_count: number;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

const migrationRows = (url: string) =>
  query<MigrationRow>(url, 'SELECT * FROM _prisma_migrations ORDER BY started_at, migration_name');

describe('applyMigrations (offline, Wasm schema engine)', () => {
  let db: TestDatabase;
  let scratchDir: string;
  const migrationNames: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    scratchDir = await mkdtemp(join(tmpdir(), 'hs-migrations-'));
    const list = await readMigrationList(defaultMigrationsDir);
    migrationNames.push(...list.migrationDirectories.map((directory) => directory.path));
  });

  afterAll(async () => {
    await db?.drop();
    if (scratchDir) await rm(scratchDir, { recursive: true, force: true });
  });

  it('applies every migration of prisma/migrations to an empty database', async () => {
    expect(migrationNames.length).toBeGreaterThan(0);
    const result = await applyMigrations(db.url);
    expect(result.appliedMigrationNames).toEqual(migrationNames);

    const tables = await query<{ table_name: string }>(
      db.url,
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    expect(tables.map((row) => row.table_name)).toEqual(
      ['_prisma_migrations', 'api_tokens', 'checkpoints', 'datasets', 'metrics', 'project_usage', 'projects', 'sweep_events', 'sweeps', 'token_grants', 'trials'],
    );
  });

  it('records each migration in _prisma_migrations as `prisma migrate deploy` does', async () => {
    const rows = await migrationRows(db.url);
    expect(rows.map((row) => row.migration_name)).toEqual(migrationNames);
    for (const row of rows) {
      const sql = await readFile(join(defaultMigrationsDir, row.migration_name, 'migration.sql'));
      expect(row.checksum).toBe(createHash('sha256').update(sql).digest('hex'));
      expect(row.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.rolled_back_at).toBeNull();
      expect(row.logs).toBeNull();
      expect(row.applied_steps_count).toBe(1);
    }
  });

  it('is a no-op when applied again', async () => {
    const before = await migrationRows(db.url);
    const again = await applyMigrations(db.url);
    expect(again.appliedMigrationNames).toEqual([]);
    expect(await migrationRows(db.url)).toEqual(before);
  });

  it('applies only the new migration when one is added, and records a failed one the way Prisma does', async () => {
    await cp(defaultMigrationsDir, scratchDir, { recursive: true });
    await mkdir(join(scratchDir, '29990101000000_add_note'));
    await writeFile(join(scratchDir, '29990101000000_add_note', 'migration.sql'), 'ALTER TABLE "sweeps" ADD COLUMN "note" TEXT;\n');
    const added = await applyMigrations(db.url, { migrationsDir: scratchDir });
    expect(added.appliedMigrationNames).toEqual(['29990101000000_add_note']);

    await mkdir(join(scratchDir, '29990102000000_broken'));
    await writeFile(join(scratchDir, '29990102000000_broken', 'migration.sql'), 'ALTER TABLE "no_such_table" ADD COLUMN "x" INT;\n');
    await expect(applyMigrations(db.url, { migrationsDir: scratchDir })).rejects.toThrow(/no_such_table/);
    const broken = (await migrationRows(db.url)).find((row) => row.migration_name === '29990102000000_broken');
    expect(broken?.finished_at).toBeNull();
    expect(broken?.logs).toMatch(/no_such_table/);
    // Like `prisma migrate deploy` (P3009), nothing more is applied until the failed migration is resolved.
    await expect(applyMigrations(db.url, { migrationsDir: scratchDir })).rejects.toThrow(/failed migrations/i);
  });

  it('prisma/migrations produce exactly prisma/schema.prisma (no drift)', async () => {
    expect(await diffMigrationsAgainstSchema(db.url)).toBe('');
  });

  it('detects drift when schema.prisma changes without a migration', async () => {
    const schema = await readFile(defaultSchemaPath, 'utf8');
    const driftedSchema = join(scratchDir, 'schema.prisma');
    await writeFile(driftedSchema, schema.replace('  prefix     String\n', '  prefix     String\n  scope      String?\n'));
    expect(await diffMigrationsAgainstSchema(db.url, { schemaPath: driftedSchema })).toMatch(/ADD COLUMN\s+"scope"/);
  });
});
