// API tokens: the secret is shown once at creation; only its SHA-256 is stored.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { isUuid, type DbClient } from './client.ts';
import { mapDbErrors } from './errors.ts';
import type { ApiToken } from './generated/prisma/client.ts';

/** A token row without its hash: what listings and verification return. */
export type ApiTokenInfo = Omit<ApiToken, 'tokenHash'>;

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

const infoSelect = { id: true, name: true, prefix: true, createdAt: true, lastUsedAt: true, revokedAt: true } as const;

export function hashApiToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export async function createApiToken(db: DbClient, name: string): Promise<CreatedApiToken> {
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const row = await mapDbErrors(() =>
    db.apiToken.create({
      data: { name, tokenHash: hashApiToken(token), prefix: token.slice(0, DISPLAY_PREFIX_LENGTH) },
      select: infoSelect,
    }),
  );
  return { ...row, token };
}

/**
 * The token's row if `token` is a live (not revoked) token, else null. The row is found by its
 * hash's unique index; the hashes are then compared in constant time.
 */
export async function verifyApiToken(db: DbClient, token: string, now: Date = new Date()): Promise<ApiTokenInfo | null> {
  if (!tokenPattern.test(token)) return null;
  const hash = hashApiToken(token);
  const row = await mapDbErrors(() => db.apiToken.findUnique({ where: { tokenHash: hash } }));
  if (!row || !timingSafeEqual(Buffer.from(row.tokenHash, 'hex'), Buffer.from(hash, 'hex'))) return null;
  if (row.revokedAt !== null) return null;
  const { tokenHash: _hash, ...info } = row;
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

/** Every token, newest first, never with its hash. */
export async function listApiTokens(db: DbClient, options: { includeRevoked?: boolean } = {}): Promise<ApiTokenInfo[]> {
  return mapDbErrors(() =>
    db.apiToken.findMany({
      where: options.includeRevoked === false ? { revokedAt: null } : {},
      select: infoSelect,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    }),
  );
}
