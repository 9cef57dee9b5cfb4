import { describe, expect, it } from 'vitest';
import { ApiClient, ApiRequestError, buildQuery, errorFromResponse, fetchAllPages } from './client.ts';

describe('buildQuery', () => {
  it('skips undefined and null, joins arrays with commas', () => {
    expect(buildQuery({ limit: 50, cursor: null, status: ['running', 'queued'], sort: undefined })).toBe('?limit=50&status=running%2Cqueued');
    expect(buildQuery({ status: [] })).toBe('');
  });
});

describe('errorFromResponse', () => {
  it('keeps the API error body', () => {
    const e = errorFromResponse(400, 'Bad Request', { error: { code: 'invalid_request', message: 'the request is invalid: name: must not be empty', details: [{ path: 'name', message: 'must not be empty' }] } });
    expect(e).toBeInstanceOf(ApiRequestError);
    expect(e.code).toBe('invalid_request');
    expect(e.details).toEqual([{ path: 'name', message: 'must not be empty' }]);
  });

  it('falls back to the status when the body is not an API error', () => {
    expect(errorFromResponse(502, 'Bad Gateway', '<html>').code).toBe('internal');
    expect(errorFromResponse(401, '', undefined).code).toBe('unauthorized');
  });
});

describe('ApiClient', () => {
  it('sends the bearer token, validates responses, and reports 401', async () => {
    const calls: { url: string; auth: string | null }[] = [];
    let unauthorized = 0;
    const client = new ApiClient({
      getToken: () => 'hs_secret',
      onUnauthorized: () => unauthorized++,
      fetch: async (input, init) => {
        const headers = new Headers(init?.headers);
        calls.push({ url: String(input), auth: headers.get('Authorization') });
        if (String(input).includes('/workers')) return new Response(JSON.stringify({ error: { code: 'unauthorized', message: 'bad token', details: [] } }), { status: 401 });
        return new Response(JSON.stringify({ items: [], nextCursor: null }), { status: 200 });
      },
    });
    await expect(client.listSweeps({ limit: 10, status: ['running'] })).resolves.toEqual({ items: [], nextCursor: null });
    expect(calls[0]).toEqual({ url: '/api/v1/sweeps?limit=10&status=running', auth: 'Bearer hs_secret' });
    await expect(client.getCluster()).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
    expect(unauthorized).toBe(1);
  });

  it('refuses a response that does not match the contract', async () => {
    const client = new ApiClient({ getToken: () => null, onUnauthorized: () => undefined, fetch: async () => new Response('{"items": 3}') });
    await expect(client.listSweeps()).rejects.toMatchObject({ code: 'invalid_response' });
  });

  it('turns a network failure into an error with a code', async () => {
    const client = new ApiClient({ getToken: () => null, onUnauthorized: () => undefined, fetch: async () => { throw new TypeError('Failed to fetch'); } });
    await expect(client.listDatasets()).rejects.toMatchObject({ code: 'network' });
  });
});

describe('fetchAllPages', () => {
  it('follows cursors to the end, up to a maximum', async () => {
    const pages: Record<string, { items: number[]; nextCursor: string | null }> = {
      start: { items: [1, 2], nextCursor: 'a' },
      a: { items: [3, 4], nextCursor: 'b' },
      b: { items: [5], nextCursor: null },
    };
    expect(await fetchAllPages(async (c) => pages[c ?? 'start']!)).toEqual([1, 2, 3, 4, 5]);
    expect(await fetchAllPages(async (c) => pages[c ?? 'start']!, 3)).toEqual([1, 2, 3]);
  });
});
