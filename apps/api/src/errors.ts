// One error shape for every failure: {error: {code, message, details}} with the status of its code.
import { DbError } from '@hypersweep/db';
import { API_ERROR_STATUS, SchemaError, validationError, type ApiError, type ApiErrorCode, type ErrorDetail } from '@hypersweep/schemas';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';
import type { Logger } from '@hypersweep/log';

export class HttpError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly details: readonly ErrorDetail[] = [],
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }

  get status(): number {
    return API_ERROR_STATUS[this.code];
  }

  body(): ApiError {
    return { error: { code: this.code, message: this.message, details: [...this.details] } };
  }
}

/** A zod failure as a 400 naming every field, `where` prefixing the paths (e.g. "query"). */
export function invalid(error: z.ZodError, what: string): HttpError {
  const body = validationError(error, `invalid ${what}`);
  return new HttpError('invalid_request', body.error.message, body.error.details);
}

const DB_ERROR_CODES: Partial<Record<DbError['code'], ApiErrorCode>> = {
  not_found: 'not_found',
  unique_violation: 'conflict',
  illegal_transition: 'invalid_state',
  sweep_not_active: 'invalid_state',
  invalid_argument: 'invalid_request',
  value_too_long: 'invalid_request',
  connection_failed: 'unavailable',
  serialization_failure: 'unavailable',
};

/** body-parser's error types (it sets `type` on the errors it throws). */
function bodyParserError(error: unknown): HttpError | null {
  if (!(error instanceof Error) || !('type' in error)) return null;
  const type = (error as Error & { type: unknown }).type;
  const limit = (error as { limit?: unknown }).limit;
  switch (type) {
    case 'entity.too.large':
      return new HttpError('payload_too_large', `the body is larger than the limit of ${String(limit)} bytes`, [{ path: '', message: 'too large' }]);
    case 'entity.parse.failed':
      return new HttpError('invalid_json', `the body is not valid JSON: ${error.message}`, [{ path: '', message: 'invalid JSON' }]);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new HttpError('unsupported_media_type', error.message, [{ path: '', message: 'unsupported encoding' }]);
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new HttpError('invalid_request', error.message);
    default:
      return null;
  }
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
  if (error instanceof DbError) {
    const code = DB_ERROR_CODES[error.code];
    if (code) return new HttpError(code, error.message);
  }
  return new HttpError('internal', 'internal error');
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const http = toHttpError(error);
    if (http.status >= 500) logger.error({ err: error, method: req.method, path: req.path }, 'request failed');
    if (res.headersSent) {
      res.end();
      return;
    }
    for (const [name, value] of Object.entries(http.headers)) res.setHeader(name, value);
    res.status(http.status).json(http.body());
  };
}

export const notFound: RequestHandler = (req, _res, next) => {
  next(new HttpError('not_found', `no route ${req.method} ${req.path}`));
};
