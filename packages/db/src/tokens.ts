// API tokens: the secret is shown once at creation; only its SHA-256 is stored.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { isUuid, type DbClient } from './client.ts';
import { mapDbErrors } from './errors.ts';
import type { ApiToken } from './generated/prisma/client.ts';
import type { ProjectRole } from './generated/prisma/enums.ts';
import { DEFAULT_PROJECT_ID } from './projects.ts';

export interface TokenGrantInfo {
  projectId: string;
  projectName: string;
  role: ProjectRole;
}

/** A token row without its hash, with its grants: what listings and verification return. */
export type ApiTokenInfo = Omit<ApiToken, 'tokenHash'> & { grants: TokenGrantInfo[] };

export interface CreateApiTokenInput {
  name: string;
  grants: readonly { projectId: string; role: ProjectRole }[];
  serverAdmin?: boolean;
  expiresAt?: Date | null;
}

export interface CreatedApiToken extends ApiTokenInfo {
  /** The secret, `hs_` + 32 random bytes in base64url. Not stored; cannot be shown again. */
  token: string;
}

const TOKEN_PREFIX = 'hs_';
/** `hs_` + base64url of 32 bytes (43 characters). */
const tokenPattern = /^hs_[A-Za-z0-9_-]{43}$/;
/** Characters of the secret kept in clear to tell tokens apart (`hs_` + 8: 48 bits, not enough to guess the rest). */
const DISPLAY_PREFIX_LENGTH = 11;
/** `lastUsedAt` is written at most this often per token, so verification is a read on the hot path. */
const LAST_USED_RESOLUTION_MS = 60_000;

const infoSelect = {
  id: true,
  name: true,
  prefix: true,
  createdAt: true,
  lastUsedAt: true,
  revokedAt: true,
  expiresAt: true,
  serverAdmin: true,
  grants: { select: { projectId: true, role: true, project: { select: { name: true } } }, orderBy: { projectId: 'asc' } },
} as const;

type SelectedToken = Omit<ApiTokenInfo, 'grants'> & { grants: { projectId: string; role: ProjectRole; project: { name: string } }[] };

function withGrants(row: SelectedToken): ApiTokenInfo {
  return { ...row, grants: row.grants.map((g) => ({ projectId: g.projectId, projectName: g.project.name, role: g.role })) };
}

export function hashApiToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * A new token. A bare name makes a server admin with admin of the default project (the bootstrap
 * token, and what every token was before projects).
 */
export async function createApiToken(db: DbClient, nameOrInput: string | CreateApiTokenInput): Promise<CreatedApiToken> {
  const input: CreateApiTokenInput =
    typeof nameOrInput === 'string' ? { name: nameOrInput, grants: [{ projectId: DEFAULT_PROJECT_ID, role: 'admin' }], serverAdmin: true } : nameOrInput;
  // A later year is stored by PostgreSQL but read back by no client (every list of tokens failed).
  if (input.expiresAt && !(input.expiresAt.getTime() < Date.UTC(10_000, 0, 1))) throw new RangeError(`a token's expiry must be before the year 10000, got ${String(input.expiresAt.getTime())} ms`);
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const row = await mapDbErrors(() =>
    db.apiToken.create({
      data: {
        name: input.name,
        tokenHash: hashApiToken(token),
        prefix: token.slice(0, DISPLAY_PREFIX_LENGTH),
        serverAdmin: input.serverAdmin ?? false,
        expiresAt: input.expiresAt ?? null,
        grants: { create: input.grants.map((g) => ({ projectId: g.projectId, role: g.role })) },
      },
      select: infoSelect,
    }),
  );
  return { ...withGrants(row), token };
}

/**
 * The token's row if `token` is a live (not revoked) token, else null. The row is found by its
 * hash's unique index; the hashes are then compared in constant time.
 */
export async function verifyApiToken(db: DbClient, token: string, now: Date = new Date()): Promise<ApiTokenInfo | null> {
  if (!tokenPattern.test(token)) return null;
  const hash = hashApiToken(token);
  const row = await mapDbErrors(() => db.apiToken.findUnique({ where: { tokenHash: hash }, select: { ...infoSelect, tokenHash: true } }));
  if (!row || !timingSafeEqual(Buffer.from(row.tokenHash, 'hex'), Buffer.from(hash, 'hex'))) return null;
  if (row.revokedAt !== null) return null;
  if (row.expiresAt !== null && row.expiresAt.getTime() <= now.getTime()) return null;
  const { tokenHash: _hash, ...rest } = row;
  const info = withGrants(rest);
  if (row.lastUsedAt === null || now.getTime() - row.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS) {
    // Conditional, so concurrent requests write it once.
    const staleBefore = new Date(now.getTime() - LAST_USED_RESOLUTION_MS);
    await mapDbErrors(() =>
      db.apiToken.updateMany({
        where: { id: row.id, revokedAt: null, OR: [{ lastUsedAt: null }, { lastUsedAt: { lte: staleBefore } }] },
        data: { lastUsedAt: now },
      }),
    );
    info.lastUsedAt = now;
  }
  return info;
}

/** Revokes a token; false if it does not exist or was already revoked. */
export async function revokeApiToken(db: DbClient, tokenId: string): Promise<boolean> {
  if (!isUuid(tokenId)) return false;
  const { count } = await mapDbErrors(() =>
    db.apiToken.updateMany({ where: { id: tokenId, revokedAt: null }, data: { revokedAt: new Date() } }),
  );
  return count === 1;
}

/** Tokens, newest first, never with their hashes. */
export async function listApiTokens(db: DbClient, options: { includeRevoked?: boolean } = {}): Promise<ApiTokenInfo[]> {
  const rows = await mapDbErrors(() =>
    db.apiToken.findMany({
      where: options.includeRevoked === false ? { revokedAt: null } : {},
      select: infoSelect,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    }),
  );
  return rows.map(withGrants);
}

/** One token (revoked or not) without its hash, or null. */
export async function getApiToken(db: DbClient, tokenId: string): Promise<ApiTokenInfo | null> {
  if (!isUuid(tokenId)) return null;
  const row = await mapDbErrors(() => db.apiToken.findUnique({ where: { id: tokenId }, select: infoSelect }));
  return row ? withGrants(row) : null;
}
