// Typed database errors: Prisma's error codes mapped to domain codes the API turns into HTTP statuses.
import { Prisma } from './generated/prisma/client.ts';

export type DbErrorCode =
  | 'unique_violation'
  | 'foreign_key_violation'
  | 'not_found'
  | 'constraint_violation'
  | 'value_too_long'
  | 'serialization_failure'
  | 'illegal_transition'
  | 'sweep_not_active'
  | 'invalid_argument'
  | 'connection_failed'
  | 'database_error';

export class DbError extends Error {
  override readonly name = 'DbError';
  readonly code: DbErrorCode;
  /** Prisma's own code (P2002, ...), when the error came from Prisma. */
  readonly prismaCode: string | undefined;
  /** Columns or constraint involved, when Prisma reports them (e.g. the unique fields). */
  readonly target: string[] | undefined;
  override readonly cause: unknown;

  constructor(code: DbErrorCode, message: string, options: { cause?: unknown; prismaCode?: string; target?: string[] } = {}) {
    super(message);
    this.code = code;
    this.cause = options.cause;
    this.prismaCode = options.prismaCode;
    this.target = options.target;
  }
}

// https://www.prisma.io/docs/orm/reference/error-reference
const codeByPrismaCode: Record<string, DbErrorCode> = {
  P2002: 'unique_violation',
  P2003: 'foreign_key_violation',
  P2025: 'not_found',
  P2001: 'not_found',
  P2015: 'not_found',
  P2018: 'not_found',
  P2000: 'value_too_long',
  P2004: 'constraint_violation',
  P2011: 'constraint_violation',
  P2034: 'serialization_failure',
  P1001: 'connection_failed',
  P1002: 'connection_failed',
  P1017: 'connection_failed',
};

function targetOf(meta: Record<string, unknown> | undefined): string[] | undefined {
  if (!meta) return undefined;
  const target = meta['target'] ?? meta['field_name'] ?? meta['constraint'];
  // With driver adapters Prisma reports the violated fields under driverAdapterError.cause.constraint.fields.
  const adapterError = meta['driverAdapterError'] as { cause?: { constraint?: { fields?: unknown } } } | undefined;
  const fields = adapterError?.cause?.constraint?.fields;
  if (Array.isArray(target)) return target.map(String);
  if (typeof target === 'string') return [target];
  if (Array.isArray(fields)) return fields.map(String);
  return undefined;
}

/** Converts anything thrown by Prisma into a DbError; a DbError passes through unchanged. */
export function toDbError(error: unknown): DbError {
  if (error instanceof DbError) return error;
  if (error instanceof Prisma.PrismaClientKnownRequestError) {
    const code = codeByPrismaCode[error.code] ?? 'database_error';
    return new DbError(code, error.message, { cause: error, prismaCode: error.code, target: targetOf(error.meta) });
  }
  if (error instanceof Prisma.PrismaClientInitializationError) {
    return new DbError('connection_failed', error.message, { cause: error, prismaCode: error.errorCode });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new DbError('database_error', message, { cause: error });
}

/** Awaits `operation`, rethrowing any failure as a DbError. */
export async function mapDbErrors<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw toDbError(error);
  }
}

export function isUniqueViolation(error: unknown): boolean {
  return toDbError(error).code === 'unique_violation';
}
