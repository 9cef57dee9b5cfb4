// Token management over REST with project grants and expiry (POST/GET /tokens, DELETE
// /tokens/{id}) and who the caller is (GET /me), as functions of a client: what `hypersweep token`
// and the dashboard's Access page use. Bodies are the API's own schemas from @hypersweep/schemas,
// so a request is checked as the API checks it and every answer is parsed before it is trusted.
import { ApiTokenCreated, ApiTokenList, CreateApiTokenRequest, ProjectRole, WhoAmI, type ApiTokenInfo } from '@hypersweep/schemas';
import { z } from 'zod';
import type { CallOptions, HypersweepClient } from './client.ts';

export const TOKEN_ROLES = ProjectRole.options;
export type TokenRole = z.infer<typeof ProjectRole>;
/** The body of POST /tokens: `{ name, grants: [{ project, role }], serverAdmin?, expiresAt? }` (ISO 8601). */
export type CreateTokenRequest = z.input<typeof CreateApiTokenRequest>;
/** A token as listed: never the secret, only the prefix that tells tokens apart. */
export type TokenRecord = ApiTokenInfo;
/** The answer of POST /tokens: the only time the secret (`token`) is shown. */
export type CreatedToken = z.infer<typeof ApiTokenCreated>;
/** The answer of GET /me: `{ serverAdmin, token }`; token is null when the server runs with AUTH=none (then serverAdmin is true). */
export type { WhoAmI };

/** POST /tokens: a new token with its grants; the answer carries the secret, once. */
export function createToken(client: HypersweepClient, request: CreateTokenRequest, options: CallOptions = {}): Promise<CreatedToken> {
  return client.request('POST', '/tokens', ApiTokenCreated, { json: request, signal: options.signal });
}

/** GET /tokens: every token the caller may see, revoked ones included. */
export async function listTokens(client: HypersweepClient, options: CallOptions = {}): Promise<TokenRecord[]> {
  return (await client.request('GET', '/tokens', ApiTokenList, options)).items;
}

/** DELETE /tokens/{id}: 204 once revoked; a 404 (unknown, revoked, or not the caller's to see) is thrown as ApiError. */
export async function revokeToken(client: HypersweepClient, tokenId: string, options: CallOptions = {}): Promise<void> {
  await client.request('DELETE', `/tokens/${encodeURIComponent(tokenId)}`, z.undefined(), options);
}

/** GET /me: the caller's token and whether it is a server admin. Any valid token may ask (no role needed). */
export function whoAmI(client: HypersweepClient, options: CallOptions = {}): Promise<WhoAmI> {
  return client.request('GET', '/me', WhoAmI, options);
}
