// Requests against the documented routes (API_ROUTES), before Express routes them: which route a
// request reaches (for validate.ts' query-key check), and malformed percent-encoding in a path
// ("/sweeps/%E0%A4%A", "/datasets/%"), the client's fault, refused with a 400 naming the path
// parameter it is in (Express' own decoding failure carries no parameter name).
import { API_ROUTES, type ApiRoute } from '@hypersweep/schemas';
import type { RequestHandler } from 'express';
import { HttpError } from './errors.ts';

/** Each documented route as segments: a literal, or {name} for a parameter. */
const TEMPLATES = API_ROUTES.map((r) => r.path.split('/'));

/**
 * The documented route a request reaches (HEAD as GET), or undefined. Matched as Express' router
 * matches: literals in any case, one trailing slash allowed; `url` may be absolute-form.
 */
export function documentedRoute(method: string, url: string): ApiRoute | undefined {
  const verb = method === 'HEAD' ? 'get' : method.toLowerCase();
  let pathname: string;
  try {
    pathname = new URL(url, 'http://h').pathname;
  } catch {
    return undefined;
  }
  const segments = pathname.replace(/(.)\/$/, '$1').split('/');
  const i = API_ROUTES.findIndex((r, k) => r.method === verb && TEMPLATES[k]!.length === segments.length && TEMPLATES[k]!.every((t, j) => t.startsWith('{') || t === segments[j]!.toLowerCase()));
  return i < 0 ? undefined : API_ROUTES[i];
}

function decodes(segment: string): boolean {
  try {
    decodeURIComponent(segment);
    return true;
  } catch {
    return false;
  }
}

/**
 * The name of the parameter at segment `index` of a path whose segments are `segments`, from the
 * first documented route of the same length whose literals match; null when no route has one there.
 */
export function parameterAt(segments: readonly string[], index: number): string | null {
  for (const template of TEMPLATES) {
    if (template.length !== segments.length) continue;
    const param = /^\{(\w+)\}$/.exec(template[index]!)?.[1];
    if (!param) continue;
    const literalsMatch = template.every((t, i) => t.startsWith('{') || t === segments[i]);
    if (literalsMatch) return param;
  }
  return null;
}

/** Refuses a path with a segment that is not valid percent-encoding: 400 naming the parameter (or `path`). */
export const checkPathEncoding: RequestHandler = (req, _res, next) => {
  const path = (req.originalUrl || req.url).split('?')[0]!;
  if (!path.includes('%')) return next();
  const segments = path.split('/');
  const bad = segments.findIndex((s) => !decodes(s));
  if (bad < 0) return next();
  const param = parameterAt(segments, bad);
  const field = param ?? 'path';
  next(
    new HttpError('invalid_request', `invalid path: ${field}: is not valid percent-encoding`, [
      { path: field, message: 'is not valid percent-encoding' },
    ]),
  );
};
