import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMigratedTestDatabase, type MigratedTestDatabase } from './testing.ts';
import { createApiToken, hashApiToken, listApiTokens, revokeApiToken, verifyApiToken } from './tokens.ts';

describe('API tokens', () => {
  let t: MigratedTestDatabase;
  beforeAll(async () => {
    t = await createMigratedTestDatabase();
  });
  afterAll(async () => {
    await t?.close();
  });

  async function rawRows(): Promise<string> {
    const client = new pg.Client({ connectionString: t.database.url });
    await client.connect();
    try {
      return JSON.stringify((await client.query('SELECT * FROM api_tokens')).rows);
    } finally {
      await client.end();
    }
  }

  it('shows the secret once and stores only its hash', async () => {
    const created = await createApiToken(t.db, 'ci');
    expect(created.token).toMatch(/^hs_[A-Za-z0-9_-]{43}$/);
    expect(created.token.startsWith(created.prefix)).toBe(true);
    expect(created).not.toHaveProperty('tokenHash');

    const rows = await rawRows();
    expect(rows).not.toContain(created.token);
    expect(rows).not.toContain(created.token.slice(3)); // nor the random part
    expect(rows).toContain(hashApiToken(created.token));

    const listed = await listApiTokens(t.db);
    expect(listed.find((token) => token.id === created.id)).toMatchObject({ name: 'ci', prefix: created.prefix, revokedAt: null });
    for (const token of listed) expect(token).not.toHaveProperty('tokenHash');
  });

  it('never stores an expiry past the year 9999, which no client reads back', async () => {
    await expect(createApiToken(t.db, { name: 'y10k', grants: [], serverAdmin: true, expiresAt: new Date(Date.UTC(10_000, 0, 1)) })).rejects.toThrow(/before the year 10000/);
    await expect(createApiToken(t.db, { name: 'invalid', grants: [], serverAdmin: true, expiresAt: new Date(Number.NaN) })).rejects.toThrow(/before the year 10000/);
    // A row stored so before the guard (the API's schema let an offset through) is clamped by the migration.
    const stored = await createApiToken(t.db, { name: 'stored', grants: [], serverAdmin: true });
    const client = new pg.Client({ connectionString: t.database.url });
    await client.connect();
    try {
      await client.query(`UPDATE api_tokens SET expires_at = '10000-01-01 00:00:59+00' WHERE id = $1`, [stored.id]);
      const migration = readFileSync(new URL('../../../prisma/migrations/20261224000000_token_expiry_four_digit_year/migration.sql', import.meta.url), 'utf8');
      await client.query(migration);
    } finally {
      await client.end();
    }
    expect((await listApiTokens(t.db)).find((token) => token.id === stored.id)?.expiresAt?.toISOString()).toBe('9999-12-31T23:59:59.999Z');
    const last = await createApiToken(t.db, { name: 'y9999', grants: [], serverAdmin: true, expiresAt: new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999)) });
    expect((await listApiTokens(t.db)).find((token) => token.id === last.id)?.expiresAt?.toISOString()).toBe('9999-12-31T23:59:59.999Z');
  });

  it('verifies live tokens, refuses wrong, malformed and revoked ones', async () => {
    const created = await createApiToken(t.db, 'verify');
    const verified = await verifyApiToken(t.db, created.token);
    expect(verified).toMatchObject({ id: created.id, name: 'verify' });
    expect(verified).not.toHaveProperty('tokenHash');

    const flipped = created.token.slice(0, -1) + (created.token.endsWith('A') ? 'B' : 'A');
    expect(await verifyApiToken(t.db, flipped)).toBeNull();
    expect(await verifyApiToken(t.db, '')).toBeNull();
    expect(await verifyApiToken(t.db, 'Bearer ' + created.token)).toBeNull();
    expect(await verifyApiToken(t.db, hashApiToken(created.token))).toBeNull();

    expect(await revokeApiToken(t.db, created.id)).toBe(true);
    expect(await revokeApiToken(t.db, created.id)).toBe(false);
    expect(await verifyApiToken(t.db, created.token)).toBeNull();
    expect(await listApiTokens(t.db, { includeRevoked: false })).not.toContainEqual(expect.objectContaining({ id: created.id }));
  });

  it('updates lastUsedAt at most once a minute', async () => {
    const created = await createApiToken(t.db, 'usage');
    const t0 = new Date('2026-03-01T12:00:00.000Z');
    const lastUsed = async () => (await t.db.apiToken.findUnique({ where: { id: created.id } }))?.lastUsedAt?.toISOString();

    await verifyApiToken(t.db, created.token, t0);
    expect(await lastUsed()).toBe(t0.toISOString());
    await verifyApiToken(t.db, created.token, new Date(t0.getTime() + 30_000));
    expect(await lastUsed()).toBe(t0.toISOString());
    const later = new Date(t0.getTime() + 61_000);
    await Promise.all([verifyApiToken(t.db, created.token, later), verifyApiToken(t.db, created.token, later)]);
    expect(await lastUsed()).toBe(later.toISOString());
  });
});
