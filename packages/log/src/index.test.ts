import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createJsonLogger, scrubString } from './index.ts';

function recording(level: 'debug' | 'info' = 'info') {
  const lines: string[] = [];
  const logger = createJsonLogger({ level, write: (l) => lines.push(l), fields: { service: 'api' } });
  return { logger, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('createJsonLogger', () => {
  it('writes one JSON line per record at or above its level, children carrying their fields and errors their message, code and stack', () => {
    const { logger, lines, records } = recording();
    logger.debug({}, 'hidden');
    logger.child({ sweepId: 's1' }).warn({ err: Object.assign(new Error('boom'), { code: 'E1' }) }, 'careful');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('\n');
    const [record] = records();
    expect(record).toMatchObject({ level: 'warn', msg: 'careful', service: 'api', sweepId: 's1', err: { type: 'Error', message: 'boom', code: 'E1' } });
    expect(new Date(String(record!.time)).toISOString()).toBe(record!.time);
    // The stack names this file: where the error was made, not where it was logged.
    expect((record!.err as { stack: string }).stack).toMatch(/^Error: boom\n\s+at .*index\.test\.ts:\d+/);
  });

  it('serialises errors under `error`, nested ones, and causes with their stacks', () => {
    const { logger, records } = recording();
    const cause = new Error('connection refused');
    logger.error({ error: new Error('query failed', { cause }), context: { inner: new TypeError('bad type') } }, 'failed');
    const [record] = records() as [{ error: { message: string; stack: string }; context: { inner: { type: string; stack: string } } }];
    expect(record.error.message).toBe('query failed: connection refused');
    expect(record.error.stack).toMatch(/Error: query failed\n[\s\S]*caused by: Error: connection refused\n\s+at /);
    expect(record.context.inner.type).toBe('TypeError');
    expect(record.context.inner.stack).toMatch(/^TypeError: bad type\n\s+at /);
  });

  it('never writes a token or password, under a secret key at any depth, in a message, a URL, an error or a child binding', () => {
    const token = `hs_${randomBytes(32).toString('base64url')}`;
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const { logger, lines, records } = recording('debug');
    const child = logger.child({ databaseUrl: `postgresql://hypersweep:${password}@db:5432/hs`, redisUrl: `redis://:${password}@cache:6379` });
    child.info({ req: { method: 'GET', url: `/api/v1/sweeps?token=${token}&limit=5`, headers: { authorization: `Bearer ${token}`, cookie: `sid=${token}` } } }, 'request');
    child.info({ headers: { Authorization: `Bearer ${token}` }, body: { name: 'sweep', token, nested: { password, list: [{ secret: password }] } } }, 'body');
    child.warn({ url: new URL(`https://api.example/x?access_token=${token}`) }, `retrying with Authorization: Bearer ${token} as ${token}`);
    child.error({ err: new Error(`connect to postgres://hypersweep:${password}@db:5432/hs failed (token=${token})`) }, 'cannot connect');
    child.debug({ dsn: `host=db user=hypersweep password=${password} dbname=hs` }, 'libpq string');
    const all = lines.join('\n');
    expect(lines).toHaveLength(5);
    expect(all).not.toContain(token);
    expect(all).not.toContain(token.slice(3, 20));
    expect(all).not.toContain(password);
    // What is around a secret stays, so the line still says what happened.
    const [request, body, retry, failure, dsn] = records() as [object, object, object, { err: { stack: string } }, object];
    expect(request).toMatchObject({ req: { method: 'GET', url: '/api/v1/sweeps?token=[redacted]&limit=5', headers: { authorization: '[redacted]', cookie: '[redacted]' } } });
    expect(request).toMatchObject({ databaseUrl: '[redacted]', redisUrl: 'redis://:[redacted]@cache:6379' });
    expect(body).toMatchObject({ headers: { Authorization: '[redacted]' }, body: { name: 'sweep', token: '[redacted]', nested: { password: '[redacted]', list: [{ secret: '[redacted]' }] } } });
    expect(retry).toMatchObject({ url: 'https://api.example/x?access_token=[redacted]', msg: 'retrying with Authorization: Bearer [redacted] as hs_[redacted]' });
    expect(failure).toMatchObject({ err: { message: 'connect to postgres://hypersweep:[redacted]@db:5432/hs failed (token=[redacted])' } });
    expect(failure.err.stack).toContain('postgres://hypersweep:[redacted]@db');
    expect(dsn).toMatchObject({ dsn: 'host=db user=hypersweep password=[redacted] dbname=hs' });
  });

  it('logs a circular structure without throwing', () => {
    const { logger, records } = recording();
    const loop: Record<string, unknown> = { name: 'loop' };
    loop.self = loop;
    logger.info({ loop }, 'circular');
    expect(records()[0]).toMatchObject({ loop: { name: 'loop', self: '[circular]' } });
  });
});

describe('scrubString', () => {
  const token = `hs_${'A1_-'.repeat(10)}xyz`;
  it.each([
    ['a bearer credential', 'Authorization: Bearer abc.def-ghi_123=', 'Authorization: Bearer [redacted]'],
    ['an API token anywhere', `saw ${token}.`, 'saw hs_[redacted].'],
    ['a URL password', 'postgresql://user:s3cr%40t@host:5432/db?sslmode=require', 'postgresql://user:[redacted]@host:5432/db?sslmode=require'],
    ['a password-only URL', 'redis://:pw@127.0.0.1:6379/0', 'redis://:[redacted]@127.0.0.1:6379/0'],
    ['a token query parameter', '/api/v1/sweeps/x/events?token=abc&after=3', '/api/v1/sweeps/x/events?token=[redacted]&after=3'],
    ['a key=value password', 'user=hs password=xyz sslmode=disable', 'user=hs password=[redacted] sslmode=disable'],
  ])('removes %s', (_what, input, expected) => {
    expect(scrubString(input)).toBe(expected);
  });

  it.each([
    ['a URL without credentials', 'http://127.0.0.1:8080/api/v1/sweeps?limit=5'],
    ['an explanation of the scheme', 'missing bearer token: send Authorization: Bearer <token>'],
    ['a token prefix (shown to tell tokens apart)', 'revoked token hs_abcdefgh'],
    ['a field that only mentions a token', 'tokenId=7 maxTokens=3'],
  ])('keeps %s', (_what, input) => {
    expect(scrubString(input)).toBe(input);
  });
});

describe('onShutdownSignal', () => {
  it('exits once stop() is done even when a handle is still open, with the stop logged', async () => {
    const script = fileURLToPath(new URL('../test/lingering.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('"ready"') && !child.killed) child.kill('SIGTERM');
    });
    // A process that lingers is killed at this deadline, failing the test instead of outliving it.
    const deadline = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    clearTimeout(deadline);
    expect(code).toBe(0);
    const messages = out.trim().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(messages).toEqual(['ready', 'stopping', 'stopped', 'handles still open after shutdown; exiting']);
  }, 90_000);
});
