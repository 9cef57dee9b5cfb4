// Typed database errors: everything Prisma, its pg driver adapter, pg and the socket underneath can
// throw, mapped in this one place to domain codes (the API turns them into HTTP statuses) and a
// `transient` flag (workers retry those; they never fail a trial).
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
  | 'timeout'
  | 'claim_lost'
  | 'quota_exceeded'
  | 'database_error';

/** Codes that always mean "try again": the same statement may well succeed a moment later. */
const TRANSIENT_CODES: ReadonlySet<DbErrorCode> = new Set(['connection_failed', 'serialization_failure', 'timeout']);

export interface DbErrorOptions {
  cause?: unknown;
  prismaCode?: string;
  target?: string[];
  /** The SQLSTATE Postgres reported, when known (57P01, 40001, …). */
  sqlState?: string;
  /** Defaults to true for connection_failed, serialization_failure and timeout. */
  transient?: boolean;
}

export class DbError extends Error {
  override readonly name = 'DbError';
  readonly code: DbErrorCode;
  /** Prisma's own code (P2002, ...), when the error came from Prisma. */
  readonly prismaCode: string | undefined;
  /** Columns or constraint involved, when Prisma reports them (e.g. the unique fields). */
  readonly target: string[] | undefined;
  /** The SQLSTATE Postgres reported, when known. */
  readonly sqlState: string | undefined;
  /**
   * The database was unreachable, restarted, dropped the connection, timed out or aborted the
   * transaction over a conflict: nothing is wrong with the request, and retrying it (an idempotent
   * statement or a whole transaction) is expected to succeed once the database is back.
   */
  readonly transient: boolean;
  override readonly cause: unknown;

  constructor(code: DbErrorCode, message: string, options: DbErrorOptions = {}) {
    super(message);
    this.code = code;
    this.cause = options.cause;
    this.prismaCode = options.prismaCode;
    this.target = options.target;
    this.sqlState = options.sqlState;
    this.transient = options.transient ?? TRANSIENT_CODES.has(code);
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
  // Transient: can't reach / timed out reaching / server closed the connection; too many connections.
  P1001: 'connection_failed',
  P1002: 'connection_failed',
  P1017: 'connection_failed',
  P2037: 'connection_failed',
  // Transient: operation timed out; pool timeout; interactive transaction expired or could not start in time.
  P1008: 'timeout',
  P2024: 'timeout',
  P2028: 'timeout',
  // Transient: write conflict or deadlock, retry the transaction.
  P2034: 'serialization_failure',
};

/**
 * SQLSTATEs (https://www.postgresql.org/docs/current/errcodes-appendix.html) that say the
 * database, not the statement, failed. Class 08 (connection exceptions) is matched by prefix.
 */
const codeBySqlState: Record<string, DbErrorCode> = {
  '57P01': 'connection_failed', // admin_shutdown: pg_terminate_backend, a fast shutdown
  '57P02': 'connection_failed', // crash_shutdown: another backend crashed, the server restarts
  '57P03': 'connection_failed', // cannot_connect_now: starting up or shutting down
  '57P05': 'connection_failed', // idle_session_timeout
  '25P03': 'connection_failed', // idle_in_transaction_session_timeout (the session is closed)
  '53300': 'connection_failed', // too_many_connections
  '40001': 'serialization_failure',
  '40P01': 'serialization_failure', // deadlock_detected
  '57014': 'timeout', // query_canceled: statement_timeout
  '55P03': 'timeout', // lock_not_available: lock_timeout
};

function codeOfSqlState(sqlState: string): DbErrorCode | undefined {
  if (sqlState.startsWith('08')) return 'connection_failed';
  return codeBySqlState[sqlState];
}

/** Node's socket error codes that mean the connection to the server broke or never opened. */
const SOCKET_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

/**
 * Plain `Error`s of `pg` and `pg-pool` (they carry no code) that Prisma passes through unchanged, as
 * seen against a real server: a statement on a connection the server terminated while it sat
 * idle in a transaction ("…not queryable"), a pooled connection that died in a restart
 * ("Connection terminated unexpectedly"), and the pool's connect timeouts.
 */
const PG_MESSAGES: readonly [RegExp, DbErrorCode][] = [
  [/^Connection terminated unexpectedly$/, 'connection_failed'],
  [/^Client has encountered a connection error and is not queryable$/, 'connection_failed'],
  [/^Connection terminated due to connection timeout$/, 'timeout'],
  [/^timeout exceeded when trying to connect$/, 'timeout'],
  [/^Query read timeout$/, 'timeout'],
];

/** The driver adapter's error kinds (`DriverAdapterError.cause.kind`) that are database faults. */
const codeByAdapterKind: Record<string, DbErrorCode> = {
  DatabaseNotReachable: 'connection_failed',
  ConnectionClosed: 'connection_failed',
  TooManyConnections: 'connection_failed',
  SocketTimeout: 'timeout',
  TransactionWriteConflict: 'serialization_failure',
  TransactionAlreadyClosed: 'timeout',
};

interface AdapterCause {
  kind?: unknown;
  code?: unknown;
  originalCode?: unknown;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** `{code, sqlState}` of a driver adapter error's payload (`{kind, code?, originalCode?, …}`). */
function classifyAdapterCause(cause: AdapterCause): { code: DbErrorCode; sqlState?: string } | null {
  const sqlState = typeof cause.originalCode === 'string' ? cause.originalCode : typeof cause.code === 'string' ? cause.code : undefined;
  const bySqlState = sqlState !== undefined && /^[0-9A-Z]{5}$/.test(sqlState) ? codeOfSqlState(sqlState) : undefined;
  if (bySqlState) return { code: bySqlState, sqlState };
  const byKind = typeof cause.kind === 'string' ? codeByAdapterKind[cause.kind] : undefined;
  if (byKind) return sqlState === undefined ? { code: byKind } : { code: byKind, sqlState };
  return null;
}

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

/**
 * The DbError of one error object, or null when it is not recognisably a database error (so an
 * error of the caller's own — a training error — is never taken for one).
 */
function recognise(error: unknown): DbError | null {
  if (error instanceof DbError) return error;
  if (error instanceof Prisma.PrismaClientKnownRequestError) {
    const meta = error.meta as Record<string, unknown> | undefined;
    const adapterCause = isObject(meta?.['driverAdapterError']) ? (meta['driverAdapterError'] as { cause?: unknown }).cause : undefined;
    // Prisma's own code first when it is specific (P2002 …); a raw query's P2010 or a model query's
    // P2039 only wrap the driver's error, whose SQLSTATE or kind says what happened.
    const fault = isObject(adapterCause) ? classifyAdapterCause(adapterCause) : typeof meta?.['code'] === 'string' ? classifyAdapterCause({ code: meta['code'] }) : null;
    const code = codeByPrismaCode[error.code] ?? fault?.code ?? 'database_error';
    return new DbError(code, error.message, { cause: error, prismaCode: error.code, target: targetOf(meta), ...(fault?.sqlState ? { sqlState: fault.sqlState } : {}) });
  }
  if (error instanceof Prisma.PrismaClientInitializationError) {
    const transient = error.errorCode === undefined || ['P1001', 'P1002', 'P1008', 'P1017'].includes(error.errorCode);
    return new DbError('connection_failed', error.message, { cause: error, prismaCode: error.errorCode, transient });
  }
  if (error instanceof Prisma.PrismaClientUnknownRequestError || error instanceof Prisma.PrismaClientRustPanicError || error instanceof Prisma.PrismaClientValidationError) {
    return new DbError('database_error', error.message, { cause: error });
  }
  if (!(error instanceof Error)) return null;
  const candidate = error as Error & { code?: unknown; severity?: unknown; syscall?: unknown; cause?: unknown };
  // The driver adapter's own error, thrown as is (e.g. a serialization failure at COMMIT).
  if (candidate.name === 'DriverAdapterError' && isObject(candidate.cause)) {
    const fault = classifyAdapterCause(candidate.cause);
    return new DbError(fault?.code ?? 'database_error', error.message, { cause: error, ...(fault?.sqlState ? { sqlState: fault.sqlState } : {}) });
  }
  // pg's DatabaseError: a server error with its SQLSTATE.
  if (typeof candidate.code === 'string' && /^[0-9A-Z]{5}$/.test(candidate.code) && typeof candidate.severity === 'string') {
    return new DbError(codeOfSqlState(candidate.code) ?? 'database_error', error.message, { cause: error, sqlState: candidate.code });
  }
  if (typeof candidate.code === 'string' && SOCKET_ERROR_CODES.has(candidate.code)) {
    return new DbError(candidate.code === 'ETIMEDOUT' ? 'timeout' : 'connection_failed', error.message, { cause: error });
  }
  for (const [pattern, code] of PG_MESSAGES) {
    if (pattern.test(error.message)) return new DbError(code, error.message, { cause: error });
  }
  return null;
}

/**
 * The database error `error` is or wraps (through `cause`, a few levels deep), or null when it is
 * none: a DbError as is, anything Prisma, the driver adapter, pg or a socket threw mapped to one.
 * Callers that must tell a database fault from their own failure (a worker: a training error fails
 * the trial, a database error never does) ask this.
 */
export function dbErrorOf(error: unknown): DbError | null {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    const found = recognise(current);
    if (found) return found;
    current = isObject(current) ? current['cause'] : undefined;
  }
  return null;
}

/** Converts anything thrown by Prisma into a DbError; a DbError passes through unchanged. */
export function toDbError(error: unknown): DbError {
  const found = dbErrorOf(error);
  if (found) return found;
  const message = error instanceof Error ? error.message : String(error);
  return new DbError('database_error', message, { cause: error });
}

/** True for a database fault worth retrying (see `DbError.transient`); false for anything else. */
export function isTransientDbError(error: unknown): boolean {
  return dbErrorOf(error)?.transient === true;
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
