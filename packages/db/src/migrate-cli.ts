// `npm run migrate -w @hypersweep/db`: applies pending migrations to DATABASE_URL offline.
import { applyMigrations } from './migrate.ts';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  process.stderr.write('DATABASE_URL is not set (e.g. postgresql://postgres@127.0.0.1:5432/hypersweep)\n');
  process.exit(2);
}
try {
  const { appliedMigrationNames } = await applyMigrations(databaseUrl);
  process.stdout.write(
    appliedMigrationNames.length === 0
      ? 'No pending migrations; the database is up to date.\n'
      : `Applied ${appliedMigrationNames.length} migration(s):\n${appliedMigrationNames.map((name) => `  ${name}\n`).join('')}`,
  );
} catch (error) {
  process.stderr.write(`Migration failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
