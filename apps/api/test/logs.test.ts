// The API's logs, read line by line from the real app: a 500 logs its error's stack, and a token
// sent in a header, a URL or a body never appears in any line.
import { randomBytes } from 'node:crypto';
import { createJsonLogger } from '@hypersweep/log';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spiralsSweep } from './fixtures.ts';
import { startTestApi, type TestApi } from './harness.ts';

interface LogLine {
  level: string;
  msg: string;
  req?: { method: string; url: string; headers: Record<string, string> };
  res?: { statusCode: number };
  err?: { type: string; message: string; stack: string };
  [key: string]: unknown;
}

/** Shaped like an API token (`hs_` + 43 base64url characters), as a client would leak one. */
const fakeToken = () => `hs_${randomBytes(32).toString('base64url')}`;

describe('API logs', () => {
  const lines: string[] = [];
  let t: TestApi;
  beforeAll(async () => {
    // Debug: every request is logged with its URL and headers, so the test sees what redaction removed.
    t = await startTestApi({ RATE_LIMIT_RPS: '0', LOG_LEVEL: 'debug' }, { logger: createJsonLogger({ level: 'debug', fields: { service: 'api-test' }, write: (line) => lines.push(line) }) });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('logs the stack of a 500 and no token from a header, a URL or a body', async () => {
    const inUrl = fakeToken();
    const inBody = fakeToken();
    const wrongHeader = fakeToken();
    const password = `pw-${randomBytes(12).toString('hex')}`;
    const secrets = { header: t.token, inUrl, inBody, wrongHeader, password };

    // Refused (an unknown query parameter), and logged.
    expect((await t.request(`/api/v1/sweeps?token=${inUrl}`)).status).toBe(400);
    expect((await t.request('/api/v1/sweeps', { headers: { authorization: `Bearer ${wrongHeader}` } })).status).toBe(401);
    expect((await t.request(`/api/v1/sweeps?access_token=${inUrl}`, { method: 'POST', json: spiralsSweep(inBody) })).status).toBe(400);
    const submitted = await t.request('/api/v1/sweeps', { method: 'POST', json: spiralsSweep(inBody) });
    expect(submitted.status).toBe(201);
    const refused = await t.request('/api/v1/sweeps', { method: 'POST', json: { ...spiralsSweep(inBody), token: inBody, password } });
    expect(refused.status).toBe(400);
    const malformed = await t.request('/api/v1/sweeps', { method: 'POST', body: `{"name": "${inBody}", "password": "${password}"`, headers: { 'content-type': 'application/json' } });
    expect(malformed.status).toBe(400);

    // The database loses the sweeps table: listing and submitting fail with 500s.
    await t.db.$executeRawUnsafe('ALTER TABLE sweeps RENAME TO sweeps_gone');
    try {
      expect((await t.request('/api/v1/sweeps')).status).toBe(500);
      expect((await t.request('/api/v1/sweeps', { method: 'POST', json: spiralsSweep(inBody) })).status).toBe(500);
    } finally {
      await t.db.$executeRawUnsafe('ALTER TABLE sweeps_gone RENAME TO sweeps');
    }

    const records = lines.map((line) => JSON.parse(line) as LogLine);
    for (const [where, secret] of Object.entries(secrets)) {
      // The whole secret, and a piece of it long enough to be guessed from.
      for (const piece of [secret, secret.slice(6, 26)]) {
        expect(lines.filter((line) => line.includes(piece)), `the ${where} secret is in the log`).toEqual([]);
      }
    }

    // The places the secrets were sent to were logged, scrubbed.
    const requests = records.filter((r) => r.msg === 'request' && r.req);
    expect(requests.length).toBeGreaterThanOrEqual(7);
    for (const r of requests) expect(r.req!.headers.authorization).toBe('[redacted]');
    expect(requests.filter((r) => r.req!.url === '/api/v1/sweeps?token=[redacted]').map((r) => r.res!.statusCode)).toEqual([400]);
    expect(requests.filter((r) => r.req!.url === '/api/v1/sweeps?access_token=[redacted]').map((r) => r.res!.statusCode)).toEqual([400]);
    expect(records.find((r) => r.msg === 'sweep submitted')).toMatchObject({ name: 'hs_[redacted]' });

    // Each 500 logged its error with the stack, where it was thrown, not just its message.
    const failures = records.filter((r) => r.level === 'error' && r.msg === 'request failed');
    expect(failures).toHaveLength(2);
    for (const failure of failures) {
      expect(failure.err?.message).toEqual(expect.any(String));
      expect(failure.err?.stack).toMatch(/\n\s+at .+:\d+:\d+/);
      expect(failure.path).toMatch(/\/sweeps$/);
    }
  });
});
