// A migration script reaches Postgres whole, as `prisma migrate deploy` sends it: function bodies with
// semicolons survive, and a failing statement takes the statements before it down with it.
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations, defaultMigrationsDir } from './migrate.ts';
import { createTestDatabase, openSqlSession, type TestDatabase } from './testing.ts';

describe('migration scripts run whole', () => {
  let db: TestDatabase;
  let dir: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = await mkdtemp(join(tmpdir(), 'hs-migration-script-'));
    await cp(defaultMigrationsDir, dir, { recursive: true });
    await applyMigrations(db.url, { migrationsDir: dir });
  });

  afterAll(async () => {
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('applies a PL/pgSQL function whose body has semicolons', async () => {
    await mkdir(join(dir, '29990101000000_function'));
    await writeFile(
      join(dir, '29990101000000_function', 'migration.sql'),
      `CREATE FUNCTION "twice"(x INTEGER) RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE y INTEGER;
BEGIN
  y := x * 2;
  RETURN y;
END
$$;
CREATE TABLE "after_function" ("id" INTEGER);
`,
    );
    expect((await applyMigrations(db.url, { migrationsDir: dir })).appliedMigrationNames).toEqual(['29990101000000_function']);
    const sql = await openSqlSession(db.url);
    try {
      expect(await sql.query('SELECT "twice"(21) AS v')).toEqual([{ v: 42 }]);
      expect(await sql.query(`SELECT to_regclass('after_function')::text AS t`)).toEqual([{ t: 'after_function' }]);
    } finally {
      await sql.close();
    }
  });

  it('rolls a failed migration back as a whole (one transaction, as Postgres runs one simple query)', async () => {
    await mkdir(join(dir, '29990102000000_half'));
    await writeFile(join(dir, '29990102000000_half', 'migration.sql'), 'CREATE TABLE "first_half" ("id" INTEGER);\nALTER TABLE "no_such_table" ADD COLUMN "x" INT;\n');
    await expect(applyMigrations(db.url, { migrationsDir: dir })).rejects.toThrow(/no_such_table/);
    const sql = await openSqlSession(db.url);
    try {
      expect(await sql.query(`SELECT to_regclass('first_half')::text AS t`)).toEqual([{ t: null }]);
    } finally {
      await sql.close();
    }
  });
});
