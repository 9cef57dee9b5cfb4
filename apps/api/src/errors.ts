// One error shape for every failure: {error: {code, message, details}} with the status of its code.
import { DbError, QuotaExceeded } from '@hypersweep/db';
import { API_ERROR_STATUS, SchemaError, capDetails, isMoreDetail, validationError, type ApiError, type ApiErrorCode, type ErrorDetail } from '@hypersweep/schemas';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';
import type { Logger } from '@hypersweep/log';

export class HttpError extends Error {
  /** At most MAX_ERROR_DETAILS, then one saying how many more: an error body stays small. */
  readonly details: readonly ErrorDetail[];
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    details: readonly ErrorDetail[] = [],
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message.length > 1000 ? `${message.slice(0, 999)}…` : message);
    this.name = 'HttpError';
    this.details = capDetails(details);
  }

  get status(): number {
    return API_ERROR_STATUS[this.code];
  }

  body(): ApiError {
    return { error: { code: this.code, message: this.message, details: [...this.details] } };
  }
}

/** A zod failure as a 400 naming every field; a problem with the whole input is named by `what` ("body", "query"). */
export function invalid(error: z.ZodError, what: string): HttpError {
  const body = validationError(error, `invalid ${what}`);
  const details = body.error.details.map((d) => (d.path === '' && !isMoreDetail(d) ? { ...d, path: what } : d));
  return new HttpError('invalid_request', body.error.message, details);
}

const DB_ERROR_CODES: Partial<Record<DbError['code'], ApiErrorCode>> = {
  not_found: 'not_found',
  unique_violation: 'conflict',
  // A fenced write of a holder that lost its claim (a lapsed ask/tell lease, a trial ended meanwhile).
  claim_lost: 'conflict',
  illegal_transition: 'invalid_state',
  sweep_not_active: 'invalid_state',
  invalid_argument: 'invalid_request',
  value_too_long: 'invalid_request',
  connection_failed: 'unavailable',
  serialization_failure: 'unavailable',
  timeout: 'unavailable',
};

/** Whether `text` is valid JSON whose value is not an object or an array. */
function parsesAsScalar(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return value === null || typeof value !== 'object';
  } catch {
    return false;
  }
}

/** body-parser's error types (it sets `type` on the errors it throws). */
function bodyParserError(error: unknown): HttpError | null {
  if (!(error instanceof Error) || !('type' in error)) return null;
  const type = (error as Error & { type: unknown }).type;
  const limit = (error as { limit?: unknown }).limit;
  switch (type) {
    case 'entity.too.large':
      return new HttpError('payload_too_large', `the body is larger than the limit of ${String(limit)} bytes`, [{ path: 'body', message: 'too large' }]);
    case 'entity.parse.failed': {
      // The strict parser refuses a top-level null, number or string with JSON.parse's "Unexpected
      // token" message, which would call valid JSON invalid.
      const raw = (error as { body?: unknown }).body;
      if (typeof raw === 'string' && parsesAsScalar(raw)) {
        const what = `must be a JSON object, not ${raw.trim().slice(0, 40)}`;
        return new HttpError('invalid_request', `the body ${what}`, [{ path: 'body', message: what }]);
      }
      return new HttpError('invalid_json', `the body is not valid JSON: ${error.message}`, [{ path: 'body', message: 'invalid JSON' }]);
    }
    case 'encoding.unsupported':
      return new HttpError('unsupported_media_type', error.message, [{ path: 'headers.content-encoding', message: 'unsupported encoding (identity, gzip, deflate or br)' }]);
    case 'charset.unsupported':
      return new HttpError('unsupported_media_type', error.message, [{ path: 'headers.content-type', message: 'unsupported charset' }]);
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new HttpError('invalid_request', error.message, [{ path: 'body', message: 'could not be read' }]);
    default:
      return null;
  }
}

/** zlib's and brotli's error codes: a body that does not decode as its Content-Encoding says. */
const DECODING_ERROR = /^(Z_|ERR_BROTLI|ERR__ERROR|ERR_ZSTD|ERR_ZLIB)/;

/**
 * Any other error that carries a 4xx status (http-errors sets `status` and `expose`): body-parser
 * passes decompression failures through this way (a gzip, deflate or br body that is garbage),
 * the router its percent-decoding failures, serve-static its bad paths. Mapped by status, so a
 * client's fault is never a 500 whatever raised it.
 */
function clientStatusError(error: unknown): HttpError | null {
  if (!(error instanceof Error)) return null;
  const e = error as Error & { status?: unknown; statusCode?: unknown; code?: unknown };
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : null;
  if (status === null || status < 400 || status >= 500) return null;
  if (typeof e.code === 'string' && DECODING_ERROR.test(e.code)) {
    return new HttpError('invalid_request', `the body does not decode as its Content-Encoding says: ${error.message}`, [
      { path: 'headers.content-encoding', message: 'the body does not decode with this encoding' },
    ]);
  }
  if (error instanceof URIError) {
    return new HttpError('invalid_request', 'the path is not valid percent-encoding', [{ path: 'path', message: 'malformed percent-encoding' }]);
  }
  switch (status) {
    case 404:
      return new HttpError('not_found', 'not found', [{ path: 'path', message: 'no such resource' }]);
    case 413:
      return new HttpError('payload_too_large', 'the body is too large', [{ path: 'body', message: 'too large' }]);
    case 415:
      return new HttpError('unsupported_media_type', error.message, [{ path: 'headers.content-type', message: 'unsupported' }]);
    default:
      return new HttpError('invalid_request', `the request is invalid: ${error.message}`, [{ path: 'request', message: error.message }]);
  }
}

/** ioredis' errors when Redis cannot be reached: its retries per request ran out, or the connection is closed. */
function isRedisUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'MaxRetriesPerRequestError') return true;
  const code = (error as NodeJS.ErrnoException).code;
  // 'Command timed out': a producer command's commandTimeout (Redis went silent).
  return error.message === 'Connection is closed.' || error.message === 'Command timed out' || code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT';
}

/** Maps anything thrown to an HttpError; unknown errors become 500 without leaking their message. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  const parser = bodyParserError(error);
  if (parser) return parser;
  if (error instanceof z.ZodError) return invalid(error, 'request');
  if (error instanceof SchemaError) {
    return new HttpError('invalid_request', error.message, error.details);
  }
  if (error instanceof QuotaExceeded) {
    const detail = [{ path: `quota.${error.quota}`, message: `${error.used} used of ${error.limit}` }];
    return new HttpError(error.quota === 'maxDatasetBytes' ? 'payload_too_large' : 'quota_exceeded', error.message, detail);
  }
  if (error instanceof DbError) {
    // A transient database fault (connection lost, restart, timeout) is the server's, and passes: 503.
    const code = error.transient ? 'unavailable' : DB_ERROR_CODES[error.code];
    if (code === 'unavailable') {
      // Prisma's text quotes our source, its invocation and the database's address: none of it goes out.
      return new HttpError('unavailable', 'the database is unavailable; try again shortly', [{ path: 'request', message: 'the database is unavailable' }], { 'Retry-After': '1' });
    }
    // A 400 names a field; Prisma's own message for a too-long value quotes the statement.
    const field = error.target?.join('.') ?? 'request';
    if (code === 'invalid_request') {
      const message = error.code === 'value_too_long' ? 'a value is too long to be stored' : error.message;
      return new HttpError(code, message, [{ path: field, message }]);
    }
    if (code) {
      // Our own DbErrors say what happened in the API's words; one from Prisma quotes the query.
      const message = error.prismaCode === undefined ? error.message : code === 'not_found' ? 'not found' : 'the write conflicts with what is stored';
      return new HttpError(code, message, [{ path: field, message }]);
    }
  }
  if (isRedisUnavailable(error)) {
    return new HttpError('unavailable', 'the queue (Redis) is unavailable; try again shortly', [{ path: 'request', message: 'Redis is unavailable' }], { 'Retry-After': '1' });
  }
  const client = clientStatusError(error);
  if (client) return client;
  return new HttpError('internal', 'internal error');
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const http = toHttpError(error);
    // 501 is the client's unknown transfer coding, not the server failing.
    if (http.status >= 500 && http.code !== 'not_implemented') logger.error({ err: error, method: req.method, path: req.path }, 'request failed');
    if (res.headersSent) {
      res.end();
      return;
    }
    for (const [name, value] of Object.entries(http.headers)) res.setHeader(name, value);
    res.status(http.status).json(http.body());
  };
}

export const notFound: RequestHandler = (req, _res, next) => {
  next(new HttpError('not_found', `no route ${req.method} ${req.path}`, [{ path: 'path', message: 'no such route' }]));
};
