// GET /me against a recording node:http server (as the other calls' tests): the path it asks, the
// answer parsed with the API's WhoAmI (a token, or null with AUTH=none), and failures as ApiErrors.
import { ApiTokenInfo, WhoAmI } from '@hypersweep/schemas';
import { describe, expect, it } from 'vitest';
import { T0 } from '../test/fixtures.ts';
import { recordingClients, type Answer } from '../test/recording-server.ts';
import { ApiError } from './errors.ts';
import { whoAmI } from './tokens.ts';

const { serve, requests } = recordingClients();

/** A token as the API presents it, built through its schema (a drift fails here). */
const NLP_ADMIN = ApiTokenInfo.parse({ id: '3a1f4c1e-2b0d-4e8a-9f01-6c2d8e7b5a10', name: 'nlp-admin', prefix: 'hs_Ab3dEf9h', grants: [{ project: 'nlp', role: 'admin' }], serverAdmin: false, expiresAt: null, createdAt: T0, lastUsedAt: T0, revokedAt: null });

describe('whoAmI', () => {
  it('asks GET /me with the token and parses the caller: its token, or none when authentication is off', async () => {
    let answer: WhoAmI = WhoAmI.parse({ serverAdmin: false, token: NLP_ADMIN });
    const client = await serve(() => ({ json: answer }));
    expect(await whoAmI(client)).toEqual({ serverAdmin: false, token: NLP_ADMIN });
    answer = { serverAdmin: true, token: null };
    expect(await whoAmI(client)).toEqual({ serverAdmin: true, token: null });
    expect(requests().map((r) => `${r.method} ${r.path} ${r.headers.authorization}`)).toEqual(['GET /api/v1/me Bearer hs_test', 'GET /api/v1/me Bearer hs_test']);
  });

  it('refuses an answer that is not a WhoAmI, and carries a 401 (calling onUnauthorized) as an ApiError', async () => {
    let answer: Answer = { json: { serverAdmin: 'yes', token: null } };
    let unauthorized = 0;
    const client = await serve(() => answer, () => unauthorized++);
    await expect(whoAmI(client)).rejects.toMatchObject({ code: 'invalid_response', details: [{ path: 'serverAdmin' }] });
    // A key the schema does not name is dropped (a newer server's field), so a secret sent by mistake never reaches the caller.
    answer = { json: { serverAdmin: false, token: { ...NLP_ADMIN, token: 'hs_secret' } } };
    const me = await whoAmI(client);
    expect(me.token).toEqual(NLP_ADMIN);
    expect(JSON.stringify(me)).not.toContain('hs_secret');
    answer = { status: 401, json: { error: { code: 'unauthorized', message: 'invalid or revoked token', details: [{ path: 'headers.authorization', message: 'is not a valid token' }] } } };
    const error = await whoAmI(client).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 401, code: 'unauthorized', message: 'invalid or revoked token' });
    expect(unauthorized).toBe(1);
  });

  it('gives up when the caller aborts', async () => {
    const client = await serve(() => () => undefined); // never answers
    const controller = new AbortController();
    const pending = whoAmI(client, { signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ code: 'aborted' });
  });
});
