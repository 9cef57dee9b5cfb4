// Request parsing with the zod schemas of @hypersweep/schemas; failures become 400s naming the field.
import { formatPath, jsonShapeProblem, MAX_JSON_DEPTH, MAX_OBJECT_KEYS, reservedKeyPaths, unstorableStrings, type ErrorDetail } from '@hypersweep/schemas';
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler } from 'express';
import type { z } from 'zod';
import { HttpError, invalid } from './errors.ts';
import { documentedRoute } from './path-encoding.ts';

/**
 * What no schema may let through, checked on the raw input after it parsed: strings PostgreSQL
 * cannot store (NUL, lone surrogates) and reserved keys (`__proto__`, which zod's records drop
 * silently). The schemas refuse both where they know of them (`text()`, `refuseReservedKeys`);
 * this covers every field of every request, future ones included.
 */
function backstop(input: unknown, what: string): void {
  const details: ErrorDetail[] = [
    ...reservedKeyPaths(input).map((p) => ({ path: formatPath(p), message: `"${String(p.at(-1))}" is a reserved name` })),
    ...unstorableStrings(input),
  ];
  const first = details[0];
  if (first) throw new HttpError('invalid_request', `invalid ${what}: ${first.path}: ${first.message}`, details);
}

export function parseParams<T extends z.ZodType>(schema: T, req: Request): z.infer<T> {
  const r = schema.safeParse(req.params);
  if (!r.success) throw invalid(r.error, 'path');
  backstop(req.params, 'path');
  return r.data;
}

export function parseQuery<T extends z.ZodType>(schema: T, req: Request): z.infer<T> {
  const r = schema.safeParse(req.query ?? {});
  if (!r.success) throw invalid(r.error, 'query');
  backstop(req.query, 'query');
  return r.data;
}

/** A JSON body: refuses other content types (415) and a missing body, then validates. */
export function parseJsonBody<T extends z.ZodType>(schema: T, req: Request): z.infer<T> {
  if (!req.is('application/json')) {
    throw new HttpError('unsupported_media_type', 'the body must be application/json', [
      { path: 'headers.content-type', message: `content-type ${req.get('content-type') ?? '(none)'} is not application/json` },
    ]);
  }
  const r = schema.safeParse(req.body);
  if (!r.success) throw invalid(r.error, 'body');
  backstop(req.body, 'body');
  return r.data;
}

export function parseHeader<T extends z.ZodType>(schema: T, req: Request, name: string): z.infer<T> | undefined {
  const raw = req.get(name);
  if (raw === undefined) return undefined;
  const r = schema.safeParse(raw);
  if (!r.success) {
    throw new HttpError('invalid_request', `invalid ${name} header: ${r.error.issues[0]?.message ?? 'invalid'}`, [
      { path: `headers.${name}`, message: r.error.issues[0]?.message ?? 'invalid' },
    ]);
  }
  return r.data;
}

/**
 * Refuses query parameters the matched route does not document (each named, as a strict query
 * schema does): on a route without a query, `?format=zip` or a misspelt `?projct=` would otherwise
 * change nothing, silently. Routes whose query is not a plain object schema check it themselves.
 */
export const checkQueryKeys: RequestHandler = (req, _res, next) => {
  const url = req.originalUrl || req.url;
  if (!url.includes('?')) return next();
  const route = documentedRoute(req.method, url);
  if (!route) return next();
  const shape = (route.query as { shape?: Record<string, unknown> } | undefined)?.shape;
  if (route.query && !shape) return next();
  const unknown = Object.keys(req.query ?? {}).filter((k) => !shape || !Object.hasOwn(shape, k));
  if (unknown.length === 0) return next();
  // An empty name (`?=x`) is named `query`, as a schema's refusal of the whole query is.
  const details = unknown.map((k) => ({ path: k === '' ? 'query' : k, message: 'is not a known field' }));
  next(new HttpError('invalid_request', `invalid query: ${details[0]!.path}: is not a known field`, details));
};

/**
 * Refuses a JSON body nested deeper than MAX_JSON_DEPTH, or with an object of more than
 * MAX_OBJECT_KEYS fields, before any route walks it: the walks recurse (2,500 levels of brackets,
 * 5 KB, overflowed the stack), and a schema lists every unknown key of a strict object.
 */
export const checkJsonShape: RequestHandler = (req, _res, next) => {
  const fault = jsonShapeProblem(req.body);
  if (!fault) return next();
  const path = formatPath(fault.path) || 'body';
  const message = fault.problem === 'depth' ? `nests deeper than ${MAX_JSON_DEPTH} levels` : `has ${fault.keys} fields; no object of a request has more than ${MAX_OBJECT_KEYS}`;
  next(new HttpError('invalid_request', `invalid body: ${path}: ${message}`, [{ path, message }]));
};

/**
 * Answers 413 at once when an uncompressed body declares more than `limit` bytes, and closes the
 * connection: body-parser would read every byte first (100 MB before its 413). A compressed body
 * is measured as it decodes, by the parser.
 */
export function refuseDeclaredOversize(limit: number, applies: (req: Request) => boolean = () => true): RequestHandler {
  return (req, _res, next) => {
    const declared = Number(req.get('content-length'));
    const encoding = (req.get('content-encoding') ?? 'identity').trim().toLowerCase();
    if (!applies(req) || !(declared > limit) || encoding !== 'identity') return next();
    next(new HttpError('payload_too_large', `the body is larger than the limit of ${limit} bytes`, [{ path: 'body', message: `Content-Length ${declared} is more than ${limit} bytes` }], { Connection: 'close' }));
  };
}

/** How many times the request carried header `name` (Node keeps only the first of a repeated Host or Authorization). */
function timesSent(req: Request, name: string): number {
  let n = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === name) n++;
  return n;
}

/**
 * RFC 3986's host (a registered name with its percent-encodings, or a bracketed IP literal: IPv6
 * with an RFC 6874 zone, or IPvFuture) and an optional port; empty is allowed (RFC 9112 3.2: a
 * target without an authority).
 */
const HOST_VALUE =
  /^(?:(?:\[(?:[0-9A-Fa-f:.]+(?:%25[A-Za-z0-9\-._~]+)?|[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+)\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::[0-9]*)?)?$/;

/**
 * What RFC 9112 asks of a request's framing that Node leaves to the application: HTTP/1.1 carries
 * exactly one Host (3.2); a transfer coding other than chunked is not understood (501, 6.1), as a
 * body read as plain would be wrong; a Host value must be one. A repeated Authorization or
 * Content-Type is refused too: which one counts would otherwise be up to the server.
 */
export const checkRequestFraming: RequestHandler = (req, _res, next) => {
  const hosts = timesSent(req, 'host');
  if (hosts > 1 || (hosts === 0 && req.httpVersion !== '1.0')) {
    const message = hosts > 1 ? `Host is sent ${hosts} times; send it once` : 'an HTTP/1.1 request needs a Host header';
    return next(new HttpError('invalid_request', message, [{ path: 'headers.host', message }], { Connection: 'close' }));
  }
  const host = req.headers.host;
  if (host !== undefined && !HOST_VALUE.test(host)) {
    const message = 'Host is not a host name or address with an optional port (RFC 9112 3.2)';
    return next(new HttpError('invalid_request', message, [{ path: 'headers.host', message }], { Connection: 'close' }));
  }
  // Node keeps the first of a repeated Content-Type: which one describes the body would be a guess.
  const contentTypes = timesSent(req, 'content-type');
  if (contentTypes > 1) {
    const message = `Content-Type is sent ${contentTypes} times; send it once`;
    return next(new HttpError('invalid_request', message, [{ path: 'headers.content-type', message }], { Connection: 'close' }));
  }
  const authorizations = timesSent(req, 'authorization');
  if (authorizations > 1) {
    const message = `Authorization is sent ${authorizations} times; send one token`;
    return next(new HttpError('invalid_request', message, [{ path: 'headers.authorization', message }]));
  }
  const codings = (req.get('transfer-encoding') ?? '').split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '');
  const unknown = codings.filter((c) => c !== 'chunked');
  if (unknown.length > 0) {
    const message = `transfer coding ${unknown.join(', ')} is not implemented (only chunked; compress with Content-Encoding)`;
    return next(new HttpError('not_implemented', message, [{ path: 'headers.transfer-encoding', message }], { Connection: 'close' }));
  }
  next();
};

const notUtf8 = new WeakSet<IncomingMessage>();

/**
 * A body parser's `verify`: notes a body declared (or defaulting to) UTF-8 whose bytes are not, which
 * the parser would decode with U+FFFD in place of each bad byte and store so. `refuseInvalidUtf8`
 * answers it. Other charsets are the parser's to decode.
 */
export function noteInvalidUtf8(req: IncomingMessage, _res: ServerResponse, buf: Buffer): void {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
  if ((charset === undefined || charset === 'utf-8' || charset === 'utf8') && !isUtf8(buf)) notUtf8.add(req);
}

export const refuseInvalidUtf8: RequestHandler = (req, _res, next) => {
  if (!notUtf8.has(req)) return next();
  next(new HttpError('invalid_request', 'the body is not valid UTF-8', [{ path: 'body', message: 'is not valid UTF-8 (a byte sequence no UTF-8 text has)' }]));
};
