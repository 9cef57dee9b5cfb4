// `hypersweep token create | list | revoke`: API tokens straight in Postgres, so the first token can
// be made before any exists (the API itself requires one). Secrets are shown once; only hashes are stored.
import type { Db } from '@hypersweep/db';
import { CreateApiTokenRequest } from '@hypersweep/schemas';
import { parseCommandArgs, requireUuid, UsageError, ValidationFailure, writeLines, type CommandContext } from './command.ts';
import { formatTable, formatTime } from './render.ts';

export const TOKEN_USAGE = `hypersweep token <create|list|revoke> [options]
  Manages API tokens directly in the database (DATABASE_URL or --database-url).
  token create [--name <name>]   creates a token and prints its secret, once, on stdout
                                 (default name "cli"); details go to stderr
  token list [--all]             tokens (prefix, created, last used); --all includes revoked ones
  token revoke <tokenId>         revokes a token
  --database-url <url>           postgresql://… (env DATABASE_URL)`;

function databaseUrl(values: { 'database-url'?: string | undefined }, ctx: CommandContext): string {
  const url = values['database-url'] ?? ctx.env.DATABASE_URL;
  if (!url) throw new UsageError('no database: set DATABASE_URL or pass --database-url postgresql://…', TOKEN_USAGE);
  if (!/^postgres(ql)?:\/\//.test(url)) throw new UsageError('--database-url: expected a postgresql:// URL', TOKEN_USAGE);
  return url;
}

/** Opens the database for one command and always disconnects (Prisma is loaded only here: the other commands stay fast). */
async function withDb<T>(url: string, fn: (db: Db, repo: typeof import('@hypersweep/db')) => Promise<T>): Promise<T> {
  const repo = await import('@hypersweep/db');
  const db = repo.createDb(url, { maxConnections: 1 });
  try {
    return await fn(db, repo);
  } catch (error) {
    if (!(error instanceof repo.DbError)) throw error;
    // Prisma's messages quote the calling source code; its last line is the one that says what happened.
    const lines = error.message.split('\n').map((l) => l.trim()).filter((l) => l !== '');
    throw new DatabaseFailure(error.code, `database ${redact(url)}: ${lines[lines.length - 1] ?? error.code}`, error);
  } finally {
    await db.$disconnect();
  }
}

class DatabaseFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    cause: unknown,
  ) {
    super(message, { cause });
    this.name = 'DatabaseFailure';
  }
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

export async function runToken(argv: string[], ctx: CommandContext): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseCommandArgs(
    rest,
    { 'database-url': { type: 'string' }, name: { type: 'string' }, all: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
    TOKEN_USAGE,
  );
  if (values.help || sub === 'help' || sub === '--help' || sub === '-h') {
    ctx.stdout.write(TOKEN_USAGE + '\n');
    return 0;
  }
  switch (sub) {
    case 'create': {
      if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, TOKEN_USAGE);
      const checked = CreateApiTokenRequest.safeParse({ name: values.name ?? 'cli' });
      if (!checked.success) throw new ValidationFailure('invalid token name', checked.error.issues.map((i) => ({ path: 'name', message: i.message })));
      const created = await withDb(databaseUrl(values, ctx), (db, repo) => repo.createApiToken(db, checked.data.name));
      ctx.stderr.write(`created token ${created.id} "${created.name}" (${created.prefix}…); the secret below is shown only once:\n`);
      ctx.stdout.write(`${created.token}\n`);
      return 0;
    }
    case 'list': {
      if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, TOKEN_USAGE);
      const tokens = await withDb(databaseUrl(values, ctx), (db, repo) => repo.listApiTokens(db, { includeRevoked: values.all }));
      if (tokens.length === 0) {
        ctx.stdout.write('no tokens\n');
        return 0;
      }
      const iso = (d: Date | null) => formatTime(d === null ? null : d.toISOString());
      writeLines(
        ctx.stdout,
        formatTable(
          [{ header: 'ID' }, { header: 'NAME' }, { header: 'PREFIX' }, { header: 'CREATED' }, { header: 'LAST USED' }, { header: 'REVOKED' }],
          tokens.map((t) => [t.id, t.name, t.prefix, iso(t.createdAt), iso(t.lastUsedAt), iso(t.revokedAt)]),
        ),
      );
      return 0;
    }
    case 'revoke': {
      if (positionals.length !== 1) throw new UsageError('token revoke takes one token id', TOKEN_USAGE);
      const tokenId = requireUuid('token id', positionals[0], TOKEN_USAGE);
      const revoked = await withDb(databaseUrl(values, ctx), (db, repo) => repo.revokeApiToken(db, tokenId));
      if (!revoked) throw new ValidationFailure(`no live token ${tokenId} (unknown or already revoked)`, []);
      ctx.stdout.write(`revoked token ${tokenId}\n`);
      return 0;
    }
    case undefined:
      throw new UsageError('missing token subcommand', TOKEN_USAGE);
    default:
      throw new UsageError(`unknown token subcommand "${sub}"`, TOKEN_USAGE);
  }
}
