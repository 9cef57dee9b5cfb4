// `hypersweep token` against a real Postgres database: the secret is printed once and only its hash is stored.
import { hashApiToken, verifyApiToken } from '@hypersweep/db';
import { createMigratedTestDatabase, type MigratedTestDatabase } from '@hypersweep/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.ts';
import type { CommandContext } from './command.ts';

let t: MigratedTestDatabase;
beforeAll(async () => {
  t = await createMigratedTestDatabase({ maxConnections: 2 });
});
afterAll(async () => {
  await t?.close();
});

async function cli(argv: string[], env: Record<string, string | undefined> = { DATABASE_URL: t.database.url }) {
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

describe('hypersweep token', () => {
  it('creates a token: the secret once on stdout, only its hash in the table', async () => {
    const r = await cli(['token', 'create', '--name', 'first admin']);
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

  it('lists tokens without secrets and revokes one by id', async () => {
    const created = await cli(['token', 'create', '--database-url', t.database.url], {});
    expect(created.code).toBe(0);
    const secret = created.out.trim();
    const id = /created token ([0-9a-f-]{36})/.exec(created.err)![1]!;

    const list = await cli(['token', 'list']);
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/^ID\s+NAME\s+PREFIX\s+CREATED\s+LAST USED\s+REVOKED\n/);
    expect(list.out).toContain(id);
    expect(list.out).toContain(secret.slice(0, 11));
    expect(list.out).not.toContain(secret);

    expect(await cli(['token', 'revoke', id])).toMatchObject({ code: 0, out: `revoked token ${id}\n` });
    expect(await verifyApiToken(t.db, secret)).toBeNull();
    const again = await cli(['token', 'revoke', id]);
    expect(again.code).toBe(1);
    expect(again.err).toContain('unknown or already revoked');
    expect((await cli(['token', 'list'])).out).not.toContain(id);
    expect((await cli(['token', 'list', '--all'])).out).toContain(id);
  });

  it('says what it needs when there is no database URL, and refuses bad names and ids', async () => {
    const unreachable = await cli(['token', 'create'], { DATABASE_URL: 'postgresql://nobody:secret@127.0.0.1:1/none' });
    expect(unreachable.code).toBe(1);
    expect(unreachable.err).toMatch(/^error \[connection_failed\]: database postgresql:\/\/nobody:\*\*\*@127\.0\.0\.1:1\/none: .+\n$/);
    const none = await cli(['token', 'create'], {});
    expect(none.code).toBe(2);
    expect(none.err).toContain('no database: set DATABASE_URL or pass --database-url');
    const badName = await cli(['token', 'create', '--name', 'a\u0007b']);
    expect(badName.code).toBe(1);
    expect(badName.err).toContain('name: must not contain control characters');
    expect((await cli(['token', 'revoke', 'nope'])).code).toBe(2);
    expect((await cli(['token', 'frob'])).err).toContain('unknown token subcommand "frob"');
  });
});
