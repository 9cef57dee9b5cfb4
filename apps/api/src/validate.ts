// Request parsing with the zod schemas of @hypersweep/schemas; failures become 400s naming the field.
import type { Request } from 'express';
import type { z } from 'zod';
import { HttpError, invalid } from './errors.ts';

export function parseParams<T extends z.ZodType>(schema: T, req: Request): z.infer<T> {
  const r = schema.safeParse(req.params);
  if (!r.success) throw invalid(r.error, 'path');
  return r.data;
}

export function parseQuery<T extends z.ZodType>(schema: T, req: Request): z.infer<T> {
  const r = schema.safeParse(req.query ?? {});
  if (!r.success) throw invalid(r.error, 'query');
  return r.data;
}

/** A JSON body: refuses other content types (415) and a missing body, then validates. */
export function parseJsonBody<T extends z.ZodType>(schema: T, req: Request): z.infer<T> {
  if (!req.is('application/json')) {
    throw new HttpError('unsupported_media_type', 'the body must be application/json', [{ path: '', message: `content-type ${req.get('content-type') ?? '(none)'} is not application/json` }]);
  }
  const r = schema.safeParse(req.body);
  if (!r.success) throw invalid(r.error, 'body');
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
