// API tokens: created (the secret shown once), listed by prefix, revoked.
import { createApiToken, listApiTokens, revokeApiToken, type ApiTokenInfo as TokenRow } from '@hypersweep/db';
import { CreateApiTokenRequest, TokenPathParams, type ApiTokenInfo } from '@hypersweep/schemas';
import { Router } from 'express';
import type { ApiDeps } from '../deps.ts';
import { HttpError } from '../errors.ts';
import { parseJsonBody, parseParams } from '../validate.ts';

function present(row: TokenRow): ApiTokenInfo {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
  };
}

export function tokenRoutes(deps: ApiDeps): Router {
  const router = Router();
  router.get('/tokens', async (_req, res) => {
    res.json({ items: (await listApiTokens(deps.db, { includeRevoked: true })).map(present) });
  });
  router.post('/tokens', async (req, res) => {
    const { name } = parseJsonBody(CreateApiTokenRequest, req);
    const created = await createApiToken(deps.db, name);
    res.status(201).json({ id: created.id, name: created.name, prefix: created.prefix, token: created.token, createdAt: created.createdAt.toISOString() });
  });
  router.delete('/tokens/:tokenId', async (req, res) => {
    const { tokenId } = parseParams(TokenPathParams, req);
    if (!(await revokeApiToken(deps.db, tokenId))) throw new HttpError('not_found', `no active token ${tokenId}`, [{ path: 'tokenId', message: 'no such active token' }]);
    deps.auth.forget();
    res.status(204).end();
  });
  return router;
}
