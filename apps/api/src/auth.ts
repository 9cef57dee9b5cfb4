// Bearer-token authentication. Tokens are verified against their sha256 in Postgres; a verified
// token is remembered for a few seconds so a busy client does not cost a query per request.
import { verifyApiToken, type ApiTokenInfo, type Db } from '@hypersweep/db';
import type { RequestHandler } from 'express';
import { HttpError } from './errors.ts';

export interface Authenticator {
  middleware: RequestHandler;
  /** Forget cached verifications (after a revoke). */
  forget(): void;
}

declare module 'express-serve-static-core' {
  interface Request {
    /** The verified token, when auth is on. */
    token?: ApiTokenInfo;
  }
}

// RFC 9110 §11.1: the scheme name is case-insensitive ("bearer", "BEARER"), and one or more spaces
// separate it from the token68 credentials.
const BEARER = /^bearer +([A-Za-z0-9_\-.~+/]{16,512}=*)$/i;

export function createAuthenticator(db: Db, options: { enabled: boolean; cacheMs?: number; now?: () => number }): Authenticator {
  const cacheMs = options.cacheMs ?? 5_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { info: ApiTokenInfo; until: number }>();
  // One verification per token in flight: when a busy token's cache entry lapses, its concurrent
  // requests share one query instead of each sending its own.
  const verifying = new Map<string, Promise<ApiTokenInfo | null>>();
  let generation = 0;

  const middleware: RequestHandler = (req, _res, next) => {
    if (!options.enabled) return next();
    const header = req.get('authorization');
    if (header === undefined) {
      return next(new HttpError('unauthorized', 'missing bearer token', [{ path: 'headers.authorization', message: 'is required: Authorization: Bearer <token>' }], { 'WWW-Authenticate': 'Bearer' }));
    }
    const match = BEARER.exec(header);
    if (!match?.[1]) {
      return next(new HttpError('unauthorized', 'malformed Authorization header', [{ path: 'headers.authorization', message: 'must be "Bearer <token>"' }], { 'WWW-Authenticate': 'Bearer error="invalid_request"' }));
    }
    const token = match[1];
    const hit = cache.get(token);
    if (hit && hit.until > now()) {
      req.token = hit.info;
      return next();
    }
    let verified = verifying.get(token);
    if (!verified) {
      verified = verifyApiToken(db, token).finally(() => verifying.delete(token));
      verifying.set(token, verified);
    }
    const started = generation;
    verified.then(
      (info) => {
        if (!info) {
          cache.delete(token);
          return next(new HttpError('unauthorized', 'invalid or revoked token', [{ path: 'headers.authorization', message: 'is not a valid token' }], { 'WWW-Authenticate': 'Bearer error="invalid_token"' }));
        }
        if (cache.size > 10_000) cache.clear();
        // A revoke (forget) during the check: answer this request, but do not remember the token.
        // Never past the token's own expiry: it is refused from that instant, cached or not.
        const expires = info.expiresAt ? info.expiresAt.getTime() - Date.now() + now() : Number.POSITIVE_INFINITY;
        if (started === generation) cache.set(token, { info, until: Math.min(now() + cacheMs, expires) });
        req.token = info;
        next();
      },
      (error: unknown) => next(error),
    );
  };
  return {
    middleware,
    forget: () => {
      generation++;
      cache.clear();
      verifying.clear();
    },
  };
}
