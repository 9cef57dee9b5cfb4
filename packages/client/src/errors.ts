// The one error type of the client: an API error answer, or a request that got no usable answer.
import { ApiError as ApiErrorBody, type ApiErrorCode, type ErrorDetail } from '@hypersweep/schemas';

/**
 * Codes of failures on the client's side, where no API error body exists: `unreachable` (network
 * failure or timeout), `aborted` (the caller's signal), `invalid_response` (a 2xx body that does
 * not match its schema, or an event stream that is not one).
 */
export type ClientErrorCode = 'unreachable' | 'aborted' | 'invalid_response';

/** The API's code, a client-side code, or `http_<status>` for a non-2xx answer that is not an API error body (a proxy's page). */
export type ApiErrorCodeOrClient = ApiErrorCode | ClientErrorCode | `http_${number}`;

export class ApiError extends Error {
  /** The HTTP status; 0 when no answer came (`unreachable`, `aborted`). */
  readonly status: number;
  readonly code: ApiErrorCodeOrClient;
  /** The problems by field path ("model.layers[2].units"), as the API sent them or as the schema found them. */
  readonly details: readonly ErrorDetail[];
  /** The answer's body (parsed JSON when it was JSON, else text); undefined without an answer. */
  readonly body: unknown;

  constructor(status: number, code: ApiErrorCodeOrClient, message: string, options: { details?: readonly ErrorDetail[]; body?: unknown; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = options.details ?? [];
    this.body = options.body;
  }

  /** True when the API answered with an error status (4xx/5xx); false for the client-side codes. */
  get answered(): boolean {
    return this.status !== 0 && this.code !== 'invalid_response';
  }

  /** The error of a non-2xx answer: the API's `{error: {code, message, details}}` when the body is one. */
  static fromResponse(status: number, body: unknown, what: string): ApiError {
    const parsed = ApiErrorBody.safeParse(body);
    if (parsed.success) {
      const e = parsed.data.error;
      return new ApiError(status, e.code, e.message, { details: e.details, body });
    }
    const text = typeof body === 'string' && body.trim() !== '' ? `: ${body.trim().slice(0, 200)}` : '';
    return new ApiError(status, `http_${status}`, `${what} answered HTTP ${status}${text}`, { body });
  }
}

/** A short description of a failure, with its cause's code when it has one ("fetch failed (ECONNREFUSED)"). */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const causeText = cause instanceof Error ? ((cause as { code?: string }).code ?? cause.message) : undefined;
    return causeText && !error.message.includes(causeText) ? `${error.message} (${causeText})` : error.message;
  }
  return String(error);
}
