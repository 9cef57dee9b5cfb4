// Dataset repository: uploaded CSV and IDX files with what their validation found.
import { isUuid, type DbClient } from './client.ts';
import { DbError, isUniqueViolation, mapDbErrors, toDbError } from './errors.ts';
import type { Dataset, Prisma } from './generated/prisma/client.ts';
import { DEFAULT_PROJECT_ID, QuotaExceeded, withProjectLock } from './projects.ts';

export interface CreateDatasetInput {
  name: string;
  kind: 'builtin' | 'csv' | 'idx';
  /** Parsing options and what validation found (columns or image shape, classes, sizes). */
  spec: Prisma.InputJsonValue;
  data?: Uint8Array | null;
  /** Default: the default project. */
  projectId?: string;
}

/**
 * Stores a dataset; a name taken in the project is DbError('unique_violation'), a file past the
 * project's storage quota QuotaExceeded('maxDatasetBytes') (checked under the project's lock).
 */
export async function createDataset(db: DbClient, input: CreateDatasetInput): Promise<Dataset> {
  const projectId = input.projectId ?? DEFAULT_PROJECT_ID;
  const size = input.data?.byteLength ?? 0;
  try {
    return await withProjectLock(db, projectId, ['maxDatasetBytes'], async (tx, quotas) => {
      if (quotas.maxDatasetBytes !== null) {
        const [row] = await tx.$queryRaw<{ bytes: bigint | null }[]>`SELECT sum(octet_length(data)) AS bytes FROM datasets WHERE project_id = ${projectId}::uuid`;
        const used = Number(row?.bytes ?? 0);
        if (used + size > quotas.maxDatasetBytes) {
          throw new QuotaExceeded('maxDatasetBytes', quotas.maxDatasetBytes, used, `${used} bytes stored, ${size} more asked`);
        }
      }
      return tx.dataset.create({
        data: { projectId, name: input.name, kind: input.kind, spec: input.spec, data: input.data ? new Uint8Array(input.data) : null },
      });
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw new DbError('unique_violation', `a dataset named ${JSON.stringify(input.name)} exists`, { cause: error });
    if (error instanceof DbError) throw error;
    throw toDbError(error);
  }
}

/** A dataset with its file. */
export async function getDataset(db: DbClient, id: string): Promise<Dataset | null> {
  if (!isUuid(id)) return null;
  return mapDbErrors(() => db.dataset.findUnique({ where: { id } }));
}

/** Stored datasets without their files, newest first; `projectIds` narrows to those projects. */
export async function listDatasets(db: DbClient, projectIds?: readonly string[]): Promise<Omit<Dataset, 'data'>[]> {
  return mapDbErrors(() =>
    db.dataset.findMany({
      where: projectIds ? { projectId: { in: [...projectIds] } } : {},
      select: { id: true, projectId: true, name: true, kind: true, spec: true, createdAt: true },
      orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
    }),
  );
}
