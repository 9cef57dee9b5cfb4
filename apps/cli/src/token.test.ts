// `hypersweep token`: over REST (against the node:http stand-in of the API: what is sent, what is
// printed) with no database in sight, and the first-token path against a real Postgres database
// (the secret printed once, only its hash stored).
import { hashApiToken, verifyApiToken } from '@hypersweep/db';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '@hypersweep/db/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeApi, TOKEN, type FakeApi } from '../test/api-server.ts';
import { runCli } from './cli.ts';
import type { CommandContext } from './command.ts';
import { describeCaller, parseExpiry } from './token.ts';

async function cli(argv: string[], env: Record<string, string | undefined>) {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CommandContext = {
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s) },
    env,
    isTTY: false,
    columns: 200,
    rows: 40,
    cwd: process.cwd(),
  };
  const code = await runCli(argv, ctx);
  return { code, out: out.join(''), err: err.join('') };
}

describe('hypersweep token over the REST API', () => {
  let api: FakeApi;
  let env: Record<string, string>;
  beforeEach(async () => {
    api = await startFakeApi();
    // DATABASE_URL is set but unused: with an API token the commands go over REST.
    env = { HYPERSWEEP_URL: api.url, HYPERSWEEP_TOKEN: TOKEN, DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none' };
  });
  afterEach(async () => {
    await api.close();
  });

  it('creates a token with a role per project and an expiry: the secret once on stdout, the grants in the request', async () => {
    const before = Date.now();
    const r = await cli(['token', 'create', '--name', 'ci', '--project', 'vision', '--role', 'submit', '--project', 'nlp', '--role', 'read', '--expires', '30d'], env);
    expect(r.code).toBe(0);
    expect(r.out).toBe('hs_fake00000000000000000000000000000000000001\n');
    const post = api.requests.find((q) => q.method === 'POST')!;
    expect(post.path).toBe('/api/v1/tokens');
    expect(post.headers.authorization).toBe(`Bearer ${TOKEN}`);
    const body = post.body as { name: string; grants: unknown; expiresAt: string; serverAdmin?: boolean };
    expect(body).toEqual({ name: 'ci', grants: [{ project: 'vision', role: 'submit' }, { project: 'nlp', role: 'read' }], expiresAt: expect.any(String) });
    const days = (Date.parse(body.expiresAt) - before) / 86_400_000;
    expect(days).toBeGreaterThanOrEqual(30);
    expect(days).toBeLessThan(30.01);
    expect(r.err).toMatch(/^created token 30000000-0000-4000-8000-000000000001 "ci" \(hs_fake0000…, expires \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\); the secret below is shown only once:\n$/);

    const admin = await cli(['token', 'create', '--name', 'root', '--server-admin'], env);
    expect(admin.code).toBe(0);
    expect(api.requests.filter((q) => q.method === 'POST')[1]!.body).toEqual({ name: 'root', grants: [], serverAdmin: true });
  });

  it('lists tokens with their grants (revoked ones with --all, or as JSON) and revokes one by id', async () => {
    expect((await cli(['token', 'list'], env)).out).toBe('no tokens\n');
    await cli(['token', 'create', '--name', 'reader', '--project', 'vision', '--role', 'read', '--expires', '2099-01-01'], env);
    await cli(['token', 'create', '--name', 'root', '--server-admin', '--project', 'default', '--role', 'admin'], env);
    const list = await cli(['token', 'list'], env);
    expect(list.code).toBe(0);
    const lines = list.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+PREFIX\s+GRANTS\s+EXPIRES\s+CREATED\s+LAST USED\s+REVOKED$/);
    expect(lines[1]).toMatch(/^30000000-0000-4000-8000-000000000001\s+reader\s+hs_fake0000\s+vision:read\s+2099-01-01 00:00:00Z\s+2026-\S+ \S+\s+-\s+-$/);
    expect(lines[2]).toMatch(/^30000000-0000-4000-8000-000000000002\s+root\s+hs_fake0000\s+server admin, default:admin\s+-\s/);
    expect(list.out).not.toContain('hs_fake00000000000000000000000000000000000001');

    const revoked = await cli(['token', 'revoke', '30000000-0000-4000-8000-000000000001'], env);
    expect(revoked).toMatchObject({ code: 0, out: 'revoked token 30000000-0000-4000-8000-000000000001\n' });
    expect(api.requests.at(-1)).toMatchObject({ method: 'DELETE', path: '/api/v1/tokens/30000000-0000-4000-8000-000000000001' });
    expect((await cli(['token', 'list'], env)).out).not.toContain('reader');
    expect((await cli(['token', 'list', '--all'], env)).out).toMatch(/reader .+ 2026-\S+ \S+$/m);
    const json = JSON.parse((await cli(['token', 'list', '--all', '--json'], env)).out) as { name: string; revokedAt: string | null }[];
    expect(json.map((t) => [t.name, t.revokedAt !== null])).toEqual([['reader', true], ['root', false]]);

    const again = await cli(['token', 'revoke', '30000000-0000-4000-8000-000000000001'], env);
    expect(again.code).toBe(1);
    expect(again.err).toBe('error [not_found] (HTTP 404): no active token 30000000-0000-4000-8000-000000000001\n  tokenId: no such active token\n');
  });

  it('refuses bad grants, expiries and ids before calling the API', async () => {
    const cases: [string[], string][] = [
      [['--name', 'x'], 'token create needs at least one --project <project> --role <role> pair, or --server-admin'],
      [['--project', 'a', '--role', 'read', '--project', 'b'], '--project and --role pair up: got 2 --project and 1 --role'],
      [['--project', 'a', '--role', 'owner'], '--role: "owner" is not one of read, submit, admin'],
      [['--project', 'a', '--role', 'read', '--expires', 'soon'], '--expires: "soon" is neither a duration (30d, 12h, 90m, 2w) nor a date (2027-01-01)'],
      [['--project', 'a', '--role', 'read', '--expires', '2001-01-01'], '--expires: "2001-01-01" is not in the future'],
    ];
    for (const [args, message] of cases) {
      const r = await cli(['token', 'create', ...args], env);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toContain(`error: ${message}`);
    }
    // What the API's own schema refuses is refused here too, naming the field (exit 1, as a 400 would).
    const badProject = await cli(['token', 'create', '--project', 'Vision!', '--role', 'read'], env);
    expect(badProject.code).toBe(1);
    expect(badProject.err).toContain('error: invalid token request\n  grants[0].project: must be a project name');
    const twice = await cli(['token', 'create', '--project', 'a', '--role', 'read', '--project', 'a', '--role', 'admin'], env);
    expect(twice.code).toBe(1);
    expect(twice.err).toContain('  grants[1].project: named twice');
    expect((await cli(['token', 'revoke', 'nope'], env)).code).toBe(2);
    expect((await cli(['token', 'frob'], env)).err).toContain('unknown token subcommand "frob"');
    expect(api.requests).toHaveLength(0);
  });

  it('says how to get a first token when the API refuses the missing one', async () => {
    const r = await cli(['token', 'list'], { HYPERSWEEP_URL: api.url });
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      'no API token given (--token or HYPERSWEEP_TOKEN); the first token of a server: hypersweep token create --database-url postgresql://…\n' +
        'error [unauthorized] (HTTP 401): a valid bearer token is required\n',
    );
  });
});

describe('hypersweep token whoami', () => {
  it('names the token in use and its roles (GET /me), or prints the answer as JSON', async () => {
    const api = await startFakeApi();
    try {
      const env = { HYPERSWEEP_URL: api.url, HYPERSWEEP_TOKEN: TOKEN, DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none' };
      const r = await cli(['token', 'whoami'], env);
      expect(r).toEqual({ code: 0, out: `token "first" (${TOKEN.slice(0, 11)}…)\nserver admin; admin in default\n`, err: '' });
      expect(api.requests.at(-1)).toMatchObject({ method: 'GET', path: '/api/v1/me' });
      const json = JSON.parse((await cli(['token', 'whoami', '--json'], env)).out) as { serverAdmin: boolean };
      expect(json.serverAdmin).toBe(true);
      expect((await cli(['token', 'whoami'], { ...env, HYPERSWEEP_TOKEN: 'hs_wrong' })).code).toBe(1);
    } finally {
      await api.close();
    }
  });

  it('describes a project token, a token without roles and a server without authentication', () => {
    const token = { id: '30000000-0000-4000-8000-000000000009', name: 'ci', prefix: 'hs_Ab3dEf9h', grants: [{ project: 'vision', role: 'submit' as const }, { project: 'nlp', role: 'read' as const }], serverAdmin: false, expiresAt: '2027-01-01T00:00:00.000Z', createdAt: '2026-01-01T00:00:00.000Z', lastUsedAt: null, revokedAt: null };
    expect(describeCaller({ serverAdmin: false, token })).toEqual(['token "ci" (hs_Ab3dEf9h…, expires 2027-01-01 00:00:00Z)', 'submit in vision, read in nlp']);
    expect(describeCaller({ serverAdmin: false, token: { ...token, grants: [] } })[1]).toBe('no role in any project');
    expect(describeCaller({ serverAdmin: true, token: null })).toEqual(['authentication is off on this server: every request acts as a server admin']);
  });
});

describe('parseExpiry', () => {
  const now = Date.parse('2026-06-01T12:00:00Z');
  it('reads durations from now and dates as UTC', () => {
    expect(parseExpiry('30d', now)).toBe('2026-07-01T12:00:00.000Z');
    expect(parseExpiry('12h', now)).toBe('2026-06-02T00:00:00.000Z');
    expect(parseExpiry('90m', now)).toBe('2026-06-01T13:30:00.000Z');
    expect(parseExpiry('2w', now)).toBe('2026-06-15T12:00:00.000Z');
    expect(parseExpiry('2027-01-01', now)).toBe('2027-01-01T00:00:00.000Z');
    expect(parseExpiry('2027-01-01T08:30', now)).toBe('2027-01-01T08:30:00.000Z');
    expect(parseExpiry('2027-01-01T08:30:00+02:00', now)).toBe('2027-01-01T06:30:00.000Z');
    expect(() => parseExpiry('0d', now)).toThrow('is not in the future');
    expect(() => parseExpiry('2027-13-45', now)).toThrow('is not a valid date');
    expect(() => parseExpiry('tomorrow', now)).toThrow('is neither a duration');
    // Past the year 9999 (or past what a Date holds): refused, not stored as a row no list reads back.
    expect(() => parseExpiry('9999-12-31T23:59:59-00:01', now)).toThrow('is past the year 9999');
    expect(() => parseExpiry('9999999999d', now)).toThrow('is past the year 9999');
    expect(parseExpiry('9999-12-31T23:59:59Z', now)).toBe('9999-12-31T23:59:59.000Z');
  });
});

describe('hypersweep token in the database (the first token)', () => {
  let t: MigratedTestDatabase;
  beforeAll(async () => {
    t = await createMigratedTestDatabase({ maxConnections: 2 });
  });
  afterAll(async () => {
    await t?.close();
  });
  const dbEnv = () => ({ DATABASE_URL: t.database.url });

  it('creates a token with DATABASE_URL and no API token: the secret once on stdout, only its hash in the table', async () => {
    const r = await cli(['token', 'create', '--name', 'first admin'], dbEnv());
    expect(r.code).toBe(0);
    const secret = r.out.trim();
    expect(secret).toMatch(/^hs_[A-Za-z0-9_-]{43}$/);
    expect(r.err).toMatch(/^created token [0-9a-f-]{36} "first admin" \(hs_[A-Za-z0-9_-]{8}…\); the secret below is shown only once:\n$/);
    expect(r.err).not.toContain(secret);

    const rows = JSON.stringify(await t.db.$queryRawUnsafe('SELECT * FROM api_tokens'));
    expect(rows).toContain(hashApiToken(secret));
    expect(rows).not.toContain(secret);
    expect(rows).not.toContain(secret.slice(3));
    expect(await verifyApiToken(t.db, secret)).toMatchObject({ name: 'first admin' });
  });

  it('lists tokens without secrets and revokes one by id, given --database-url', async () => {
    const created = await cli(['token', 'create', '--database-url', t.database.url], {});
    expect(created.code).toBe(0);
    const secret = created.out.trim();
    const id = /created token ([0-9a-f-]{36})/.exec(created.err)![1]!;

    const list = await cli(['token', 'list'], dbEnv());
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/^ID\s+NAME\s+PREFIX\s+GRANTS\s+EXPIRES\s+CREATED\s+LAST USED\s+REVOKED\n/);
    expect(list.out).toContain(id);
    expect(list.out).toContain(secret.slice(0, 11));
    expect(list.out).not.toContain(secret);

    expect(await cli(['token', 'revoke', id], dbEnv())).toMatchObject({ code: 0, out: `revoked token ${id}\n` });
    expect(await verifyApiToken(t.db, secret)).toBeNull();
    const again = await cli(['token', 'revoke', id], dbEnv());
    expect(again.code).toBe(1);
    expect(again.err).toContain('unknown or already revoked');
    expect((await cli(['token', 'list'], dbEnv())).out).not.toContain(id);
    expect((await cli(['token', 'list', '--all'], dbEnv())).out).toContain(id);
  });

  it('names an unreachable database without its password, and refuses grants there and bad names', async () => {
    const unreachable = await cli(['token', 'create'], { DATABASE_URL: 'postgresql://nobody:secret@127.0.0.1:1/none' });
    expect(unreachable.code).toBe(1);
    expect(unreachable.err).toMatch(/^error \[connection_failed\]: database postgresql:\/\/nobody:\*\*\*@127\.0\.0\.1:1\/none: .+\n$/);
    const grants = await cli(['token', 'create', '--project', 'p', '--role', 'read'], dbEnv());
    expect(grants.code).toBe(2);
    expect(grants.err).toContain('makes the first token, a server admin: give projects, roles and expiry over the API');
    const badName = await cli(['token', 'create', '--name', 'a\u0007b'], dbEnv());
    expect(badName.code).toBe(1);
    expect(badName.err).toContain('name: must not contain control characters');
    expect((await cli(['token', 'list', '--database-url', 'mysql://x'], {})).err).toContain('--database-url: expected a postgresql:// URL');
  });
});
