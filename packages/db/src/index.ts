// Public API of @hypersweep/db: the only package that imports the Prisma client.
export { createDb, type Db, type CreateDbOptions } from './client.ts';
export {
  applyMigrations,
  diffMigrationsAgainstSchema,
  defaultMigrationsDir,
  defaultSchemaPath,
  type ApplyMigrationsOptions,
  type ApplyMigrationsResult,
} from './migrate.ts';
export { DbError, toDbError, mapDbErrors, isUniqueViolation, type DbErrorCode } from './errors.ts';
export { Prisma } from './generated/prisma/client.ts';
export type { ApiToken, Dataset, Sweep, Trial, Metric, Checkpoint } from './generated/prisma/client.ts';
export { DatasetKind, ObjectiveMode, SweepStatus, TrialStatus } from './generated/prisma/enums.ts';
