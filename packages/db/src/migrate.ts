// Applies prisma/migrations offline through the in-process Wasm schema engine: the same engine code that
// `prisma migrate deploy` runs, so `_prisma_migrations` ends up exactly as the plain CLI would leave it.
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MigrationList } from '@prisma/schema-engine-wasm';
import { withSchemaEngine } from './schema-engine.ts';

/** prisma/migrations at the repository root (this file is packages/db/src/migrate.ts). */
const prismaDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../prisma');
export const defaultMigrationsDir = join(prismaDir, 'migrations');
export const defaultSchemaPath = join(prismaDir, 'schema.prisma');

export interface ApplyMigrationsOptions {
  migrationsDir?: string;
  /** Receives the engine's debug log lines. */
  log?: (line: string) => void;
}

export interface ApplyMigrationsResult {
  /** Names of the migrations applied by this call; empty when the database was already up to date. */
  appliedMigrationNames: string[];
}

const noFilters = { externalTables: [], externalEnums: [] };

/** Reads the migrations directory the way the Prisma CLI does: one `<name>/migration.sql` per directory, by name. */
export async function readMigrationList(migrationsDir: string): Promise<MigrationList> {
  const lockfilePath = 'migration_lock.toml';
  const lockfileContent = await readFile(join(migrationsDir, lockfilePath), 'utf8').catch(() => null);
  const entries = await readdir(migrationsDir, { withFileTypes: true });
  const directories = entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  directories.sort((a, b) => a.localeCompare(b));
  const migrationDirectories = await Promise.all(
    directories.map(async (name) => {
      const content = await readFile(join(migrationsDir, name, 'migration.sql'), 'utf8')
        .then((value) => ({ tag: 'ok' as const, value }))
        .catch((error: Error) => ({ tag: 'error' as const, value: error.message }));
      return { path: name, migrationFile: { path: 'migration.sql', content } };
    }),
  );
  return {
    baseDir: migrationsDir,
    lockfile: { path: lockfilePath, content: lockfileContent },
    shadowDbInitScript: '',
    migrationDirectories,
  };
}

/**
 * Applies every pending migration to `databaseUrl` (which must exist). Idempotent: migrations recorded as
 * applied in `_prisma_migrations` are skipped; an edited or failed migration makes it throw, as the CLI does.
 */
export async function applyMigrations(databaseUrl: string, options: ApplyMigrationsOptions = {}): Promise<ApplyMigrationsResult> {
  const migrationsList = await readMigrationList(options.migrationsDir ?? defaultMigrationsDir);
  const { appliedMigrationNames } = await withSchemaEngine(
    databaseUrl,
    (engine) => engine.applyMigrations({ migrationsList, filters: noFilters }),
    options.log,
  );
  return { appliedMigrationNames };
}

/**
 * The SQL that would bring a database built from the migrations up to `schema.prisma` (empty when they agree).
 * Replays the migrations in a temporary shadow database, created through `databaseUrl`'s server.
 */
export async function diffMigrationsAgainstSchema(
  databaseUrl: string,
  options: { migrationsDir?: string; schemaPath?: string } = {},
): Promise<string> {
  const migrationsList = await readMigrationList(options.migrationsDir ?? defaultMigrationsDir);
  const schemaPath = options.schemaPath ?? defaultSchemaPath;
  const content = await readFile(schemaPath, 'utf8');
  const result = await withSchemaEngine(databaseUrl, (engine) =>
    engine.diff({
      from: { tag: 'migrations', ...migrationsList },
      to: { tag: 'schemaDatamodel', files: [{ path: schemaPath, content }] },
      script: true,
      exitCode: null,
      filters: noFilters,
    }),
  );
  return (result.stdout ?? '').replace(/^-- This is an empty migration\.\s*$/m, '').trim();
}
