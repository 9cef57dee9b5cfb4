// Dataset repository: uploaded CSV and IDX files with what their validation found.
import { isUuid, type DbClient } from './client.ts';
import { DbError, isUniqueViolation, mapDbErrors, toDbError } from './errors.ts';
import type { Dataset, Prisma } from './generated/prisma/client.ts';

export interface CreateDatasetInput {
  name: string;
  kind: 'builtin' | 'csv' | 'idx';
  /** Parsing options and what validation found (columns or image shape, classes, sizes). */
  spec: Prisma.InputJsonValue;
  data?: Uint8Array | null;
}

/** Stores a dataset; a taken name is DbError('unique_violation'). */
export async function createDataset(db: DbClient, input: CreateDatasetInput): Promise<Dataset> {
  try {
    return await db.dataset.create({
      data: { name: input.name, kind: input.kind, spec: input.spec, data: input.data ? new Uint8Array(input.data) : null },
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw new DbError('unique_violation', `a dataset named ${JSON.stringify(input.name)} exists`, { cause: error });
    throw toDbError(error);
  }
}

/** A dataset with its file. */
export async function getDataset(db: DbClient, id: string): Promise<Dataset | null> {
  if (!isUuid(id)) return null;
  return mapDbErrors(() => db.dataset.findUnique({ where: { id } }));
}

/** Every stored dataset without its file, newest first. */
export async function listDatasets(db: DbClient): Promise<Omit<Dataset, 'data'>[]> {
  return mapDbErrors(() =>
    db.dataset.findMany({ select: { id: true, name: true, kind: true, spec: true, createdAt: true }, orderBy: [{ createdAt: 'desc' }, { id: 'asc' }] }),
  );
}
