// The hot reads of a sweep — its summary, pages of its trials, its curves — answered from a
// SweepJsonCache: a repeated GET costs no query and If-None-Match with the current ETag gets 304.
// The cache follows the event hub (every change of a sweep notifies; a lost connection drops all),
// and nothing is served more than a second after it was read. Routes check the token's access to the
// sweep before they ask for any of these.
import { getSweep, listTrials, sweepCurves } from '@hypersweep/db';
import { encodeCursor, type ListTrialsQuery, type SweepCurvesQuery } from '@hypersweep/schemas';
import type { Request, Response } from 'express';
import type { ApiDeps } from './deps.ts';
import { presentSweepFull, presentTrials } from './present.ts';
import { noSuchSweep } from './scope.ts';
import { SweepJsonCache, type CachedJson, type SweepJsonCacheOptions } from './sweep-cache.ts';

export interface SweepReads {
  /** GET /sweeps/:id — 404 when the sweep is gone. */
  sweep(sweepId: string): Promise<CachedJson>;
  /** GET /sweeps/:id/trials with its parsed query. */
  trials(sweepId: string, query: ListTrialsQuery): Promise<CachedJson>;
  /** GET /sweeps/:id/curves with its parsed query — 404 when the sweep is gone. */
  curves(sweepId: string, query: SweepCurvesQuery): Promise<CachedJson>;
  /** After this process changed the sweep: its next read is fresh without waiting for the notification. */
  invalidate(sweepId: string): void;
  readonly cache: SweepJsonCache;
}

export function sweepReads(deps: Pick<ApiDeps, 'db' | 'hub'>, options: SweepJsonCacheOptions = {}): SweepReads {
  const { db } = deps;
  const cache = new SweepJsonCache(options);
  deps.hub.watchAll({ changed: (sweepId) => cache.invalidate(sweepId), reset: () => cache.clear() });
  const found = (sweepId: string, json: CachedJson | null): CachedJson => {
    if (!json) throw noSuchSweep(sweepId);
    return json;
  };
  return {
    cache,
    invalidate: (sweepId) => cache.invalidate(sweepId),
    sweep: async (sweepId) =>
      found(
        sweepId,
        await cache.get(sweepId, 'sweep', async () => {
          const row = await getSweep(db, sweepId);
          return row ? presentSweepFull(db, row) : null;
        }),
      ),
    trials: async (sweepId, q) =>
      found(
        sweepId,
        // The parsed query (defaults filled in, the cursor decoded) names the page.
        await cache.get(sweepId, `trials ${JSON.stringify(q)}`, async () => {
          const page = await listTrials(db, sweepId, { limit: q.limit, cursor: q.cursor ?? null, sort: q.sort, order: q.order, ...(q.status ? { status: q.status } : {}) });
          // No trials: a sweep without any yet, or none at all (deleted, perhaps through another replica).
          if (page.items.length === 0 && !(await getSweep(db, sweepId))) return null;
          return { items: presentTrials(page.items), nextCursor: page.nextCursor ? encodeCursor(page.nextCursor) : null };
        }),
      ),
    curves: async (sweepId, q) =>
      found(
        sweepId,
        await cache.get(sweepId, `curves ${JSON.stringify(q)}`, async () => {
          const sweep = await getSweep(db, sweepId);
          const curves = sweep ? await sweepCurves(db, sweepId, q.names ?? [sweep.objectiveMetric], { maxPoints: q.maxPoints }) : null;
          return curves ? { sweepId, ...curves } : null;
        }),
      ),
  };
}

/**
 * Whether an If-None-Match header names `etag` (RFC 9110 §13.1.2: `*`, or a list of entity tags compared
 * weakly). Not Express's `req.fresh`: that answers "stale" to any request with Cache-Control: no-cache,
 * which fetch() adds to every request that carries If-None-Match, so those clients would never get a 304.
 */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  const opaque = etag.replace(/^W\//, '');
  for (const m of header.matchAll(/(?:W\/)?("[^"]*")/g)) if (m[1] === opaque) return true;
  return false;
}

/**
 * Sends `json` with its ETag, or 304 Not Modified when the request's If-None-Match names it.
 * `private, no-cache`: a browser keeps it but asks again each time (a 304 when nothing changed); a
 * shared cache never serves it to another token.
 */
export function sendCachedJson(req: Request, res: Response, json: CachedJson): void {
  res.setHeader('ETag', json.etag);
  res.setHeader('Cache-Control', 'private, no-cache');
  if (noneMatch(req.get('if-none-match'), json.etag)) {
    res.status(304).end();
    return;
  }
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', json.body.length);
  res.end(json.body);
}
