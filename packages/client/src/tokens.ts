// Token management over REST with project grants (POST/GET /tokens, DELETE /tokens/{id}): what
// `hypersweep token` uses. The answers are parsed leniently (fields the server adds pass through;
// grants, serverAdmin and expiresAt default when absent), so the CLI works against servers from
// before and after projects. The HypersweepClient methods of the same routes keep the strict
// @hypersweep/schemas parsing.
import { z } from 'zod';
import type { CallOptions, HypersweepClient } from './client.ts';

export const TOKEN_ROLES = ['read', 'submit', 'admin'] as const;
export const TokenRole = z.enum(TOKEN_ROLES);
export type TokenRole = z.infer<typeof TokenRole>;

/** A role on one project, by the project's name (requests) or as the server lists it. */
export const TokenGrant = z.looseObject({ project: z.string(), role: TokenRole });
export type TokenGrant = z.infer<typeof TokenGrant>;

/** The body of POST /tokens. */
export interface CreateTokenRequest {
  readonly name: string;
  readonly grants: readonly { readonly project: string; readonly role: TokenRole }[];
  readonly serverAdmin?: boolean;
  /** ISO 8601 date-time; none: the token does not expire. */
  readonly expiresAt?: string;
}

const Timestamp = z.string();

/** A token as GET /tokens lists it: never the secret, only the prefix that tells tokens apart. */
export const TokenRecord = z.looseObject({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  grants: z.array(TokenGrant).default([]),
  serverAdmin: z.boolean().default(false),
  expiresAt: Timestamp.nullable().default(null),
  createdAt: Timestamp,
  lastUsedAt: Timestamp.nullable().default(null),
  revokedAt: Timestamp.nullable().default(null),
});
export type TokenRecord = z.infer<typeof TokenRecord>;

/** The answer of POST /tokens: the only time the secret (`token`) is shown. */
export const CreatedToken = z.looseObject({
  id: z.string(),
  name: z.string(),
  prefix: z.string(),
  token: z.string(),
  grants: z.array(TokenGrant).default([]),
  serverAdmin: z.boolean().default(false),
  expiresAt: Timestamp.nullable().default(null),
  createdAt: Timestamp,
});
export type CreatedToken = z.infer<typeof CreatedToken>;

const TokenList = z.looseObject({ items: z.array(TokenRecord) });

/** POST /tokens: a new token with its grants; the answer carries the secret, once. */
export function createToken(client: HypersweepClient, request: CreateTokenRequest, options: CallOptions = {}): Promise<CreatedToken> {
  return client.request('POST', '/tokens', CreatedToken, { json: request, signal: options.signal });
}

/** GET /tokens: every token the caller may see, revoked ones included. */
export async function listTokens(client: HypersweepClient, options: CallOptions = {}): Promise<TokenRecord[]> {
  return (await client.request('GET', '/tokens', TokenList, options)).items;
}

/** DELETE /tokens/{id}: 204 once revoked; a 404 (unknown, or not the caller's to see) is thrown as ApiError. */
export async function revokeToken(client: HypersweepClient, tokenId: string, options: CallOptions = {}): Promise<void> {
  await client.request('DELETE', `/tokens/${encodeURIComponent(tokenId)}`, z.undefined(), options);
}
