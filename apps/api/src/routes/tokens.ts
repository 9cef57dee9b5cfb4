// API tokens: created (the secret shown once) with roles in projects, listed by prefix, revoked.
// A server admin manages every token; a project admin the tokens that live wholly in projects it
// administers. Any other token is invisible (404), and a token without an admin role gets 403.
import { createApiToken, getApiToken, getProjectByName, listApiTokens, revokeApiToken, type ApiTokenInfo as TokenRow } from '@hypersweep/db';
import { CreateApiTokenRequest, TokenPathParams, type ApiTokenInfo, type WhoAmI } from '@hypersweep/schemas';
import { Router, type Request } from 'express';
import type { ApiDeps } from '../deps.ts';
import { HttpError } from '../errors.ts';
import { hasRole, isServerAdmin, requireRole } from '../scope.ts';
import { parseJsonBody, parseParams } from '../validate.ts';

function present(row: TokenRow): ApiTokenInfo {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    grants: row.grants.map((g) => ({ project: g.projectName, role: g.role })),
    serverAdmin: row.serverAdmin,
    expiresAt: row.expiresAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
  };
}

/** The caller may manage this token: a server admin, or admin of every project the token has a role in. */
function manages(req: Request, row: TokenRow): boolean {
  if (isServerAdmin(req)) return true;
  return !row.serverAdmin && row.grants.length > 0 && row.grants.every((g) => hasRole(req, g.projectId, 'admin'));
}

/** Token management needs an admin role somewhere. */
function requireSomeAdmin(req: Request): void {
  if (isServerAdmin(req) || req.token?.grants.some((g) => g.role === 'admin')) return;
  throw new HttpError('forbidden', 'managing tokens needs the admin role in a project', [{ path: 'headers.authorization', message: 'needs an admin role' }]);
}

export function tokenRoutes(deps: ApiDeps): Router {
  const router = Router();
  const noSuchToken = (tokenId: string) => new HttpError('not_found', `no active token ${tokenId}`, [{ path: 'tokenId', message: 'no such active token' }]);

  // Any valid token may ask who it is (no role needed): clients hide what it may not do.
  router.get('/me', (req, res) => {
    const body: WhoAmI = { serverAdmin: isServerAdmin(req), token: req.token ? present(req.token) : null };
    res.json(body);
  });

  router.get('/tokens', async (req, res) => {
    requireSomeAdmin(req);
    const rows = await listApiTokens(deps.db, { includeRevoked: true });
    res.json({ items: rows.filter((row) => manages(req, row)).map(present) });
  });

  router.post('/tokens', async (req, res) => {
    requireSomeAdmin(req);
    const body = parseJsonBody(CreateApiTokenRequest, req);
    if (body.serverAdmin && !isServerAdmin(req)) {
      throw new HttpError('forbidden', 'only a server admin may create a server admin token', [{ path: 'serverAdmin', message: 'needs a server admin token' }]);
    }
    const grants = [];
    for (const [i, grant] of body.grants.entries()) {
      const path = `grants[${i}].project`;
      const noSuch = () => new HttpError('not_found', `no project ${grant.project}`, [{ path, message: 'no such project' }]);
      const project = await getProjectByName(deps.db, grant.project);
      if (!project) throw noSuch();
      // A token is granted only what its creator administers.
      requireRole(req, project.id, 'admin', noSuch);
      grants.push({ projectId: project.id, role: grant.role });
    }
    const created = await createApiToken(deps.db, {
      name: body.name,
      grants,
      serverAdmin: body.serverAdmin,
      expiresAt: body.expiresAt === undefined ? null : new Date(body.expiresAt),
    });
    const { lastUsedAt: _lastUsed, revokedAt: _revoked, ...info } = present(created);
    res.status(201).json({ ...info, token: created.token });
  });

  router.delete('/tokens/:tokenId', async (req, res) => {
    requireSomeAdmin(req);
    const { tokenId } = parseParams(TokenPathParams, req);
    const row = await getApiToken(deps.db, tokenId);
    if (!row || !manages(req, row) || !(await revokeApiToken(deps.db, tokenId))) throw noSuchToken(tokenId);
    deps.auth.forget();
    res.status(204).end();
  });
  return router;
}
