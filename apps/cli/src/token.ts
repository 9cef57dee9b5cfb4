// `hypersweep token create | list | revoke | whoami`: API tokens over the REST API, with project grants and an
// expiry. A server's very first token cannot come from the API (it requires one), so with a database
// URL the commands work in Postgres directly instead. Secrets are shown once; only hashes are stored.
import type { ApiTokenInfo as ApiTokenRow, Db } from '@hypersweep/db';
import { ApiError, createToken, listTokens, revokeToken, TOKEN_ROLES, whoAmI, type TokenRecord, type TokenRole, type WhoAmI } from '@hypersweep/client';
import { CreateApiTokenRequest, zodIssuesToDetails } from '@hypersweep/schemas';
import {
  CONNECTION_OPTIONS,
  CONNECTION_USAGE,
  clientFrom,
  EXIT,
  parseCommandArgs,
  requireUuid,
  UsageError,
  ValidationFailure,
  writeLines,
  type CommandContext,
} from './command.ts';
import { formatTable, formatTime } from './render.ts';

export const TOKEN_USAGE = `hypersweep token <create|list|revoke|whoami> [options]
  Manages API tokens over the REST API (--url, --token as for every API command).
  token create --name <name> --project <project> --role <read|submit|admin> [--project … --role …]
               [--expires <30d|12h|2027-01-01|ISO date-time>] [--server-admin]
                                 creates a token with a role on each project (--project and --role
                                 pair up in order) and prints its secret, once, on stdout; details
                                 go to stderr. Without --expires it does not expire.
  token list [--all] [--json]    tokens (prefix, grants, expiry, created, last used); --all includes
                                 revoked ones
  token revoke <tokenId>         revokes a token
  token whoami [--json]          the token in use: its name, roles by project, server admin or not

  The first token of a server (the API needs one) is made in its database:
  token create --name <name> --database-url postgresql://…
                                 a server admin with admin of the default project. DATABASE_URL in
                                 the environment does the same when no API token is given (no
                                 --token, no HYPERSWEEP_TOKEN); list and revoke work there too.
                                 Needs a checkout or the Docker image (the Prisma client):
                                 docker compose run --rm api node apps/cli/dist/hypersweep.js token create --name me
${CONNECTION_USAGE}`;

const TOKEN_OPTIONS = {
  ...CONNECTION_OPTIONS,
  'database-url': { type: 'string' },
  name: { type: 'string' },
  project: { type: 'string', multiple: true },
  role: { type: 'string', multiple: true },
  expires: { type: 'string' },
  'server-admin': { type: 'boolean', default: false },
  all: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The database to work in, or null for the REST API (see TOKEN_USAGE). */
function databaseUrl(values: { 'database-url'?: string | undefined; token?: string | undefined }, ctx: CommandContext): string | null {
  const url = values['database-url'] ?? (values.token === undefined && !ctx.env.HYPERSWEEP_TOKEN ? ctx.env.DATABASE_URL : undefined);
  if (url === undefined || url === '') return null;
  if (!/^postgres(ql)?:\/\//.test(url)) throw new UsageError(`${values['database-url'] === undefined ? 'DATABASE_URL' : '--database-url'}: expected a postgresql:// URL`, TOKEN_USAGE);
  return url;
}

/** "30d", "12h", "90m", "2w" from now, or a date (midnight UTC) or date-time; always in the future. */
export function parseExpiry(value: string, now: number = Date.now()): string {
  const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
  const relative = /^(\d+)([mhdw])$/.exec(value);
  let at: number;
  if (relative) {
    at = now + Number(relative[1]) * UNIT_MS[relative[2]!]!;
  } else if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)) {
    // A bare date or a date-time without a zone is read as UTC, so the answer does not depend on the machine.
    const iso = value.replace(' ', 'T');
    at = Date.parse(iso.length === 10 ? `${iso}T00:00:00Z` : /Z|[+-]\d{2}:?\d{2}$/.test(iso) ? iso : `${iso}Z`);
  } else {
    throw new UsageError(`--expires: "${value}" is neither a duration (30d, 12h, 90m, 2w) nor a date (2027-01-01)`, TOKEN_USAGE);
  }
  if (!Number.isFinite(at)) throw new UsageError(`--expires: "${value}" is not a valid date`, TOKEN_USAGE);
  if (at <= now) throw new UsageError(`--expires: "${value}" is not in the future`, TOKEN_USAGE);
  // Four-digit years: a later one is stored by PostgreSQL but read back by no client.
  if (at >= Date.UTC(10_000, 0, 1)) throw new UsageError(`--expires: "${value}" is past the year 9999`, TOKEN_USAGE);
  return new Date(at).toISOString();
}

/** The --project/--role pairs, in order. */
function grantsOf(projects: readonly string[], roles: readonly string[]): { project: string; role: TokenRole }[] {
  if (projects.length !== roles.length) {
    throw new UsageError(`--project and --role pair up: got ${projects.length} --project and ${roles.length} --role`, TOKEN_USAGE);
  }
  return projects.map((project, i) => {
    const role = roles[i]!;
    if (!(TOKEN_ROLES as readonly string[]).includes(role)) throw new UsageError(`--role: "${role}" is not one of ${TOKEN_ROLES.join(', ')}`, TOKEN_USAGE);
    if (project.trim() === '') throw new UsageError('--project: must not be empty', TOKEN_USAGE);
    return { project, role: role as TokenRole };
  });
}

function renderTokens(tokens: readonly TokenRecord[]): string[] {
  if (tokens.length === 0) return ['no tokens'];
  const grants = (t: TokenRecord) => [...(t.serverAdmin ? ['server admin'] : []), ...t.grants.map((g) => `${g.project}:${g.role}`)].join(', ') || '-';
  return formatTable(
    [{ header: 'ID' }, { header: 'NAME' }, { header: 'PREFIX' }, { header: 'GRANTS' }, { header: 'EXPIRES' }, { header: 'CREATED' }, { header: 'LAST USED' }, { header: 'REVOKED' }],
    tokens.map((t) => [t.id, t.name, t.prefix, grants(t), formatTime(t.expiresAt), formatTime(t.createdAt), formatTime(t.lastUsedAt), formatTime(t.revokedAt)]),
  );
}

export async function runToken(argv: string[], ctx: CommandContext): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseCommandArgs(rest, TOKEN_OPTIONS, TOKEN_USAGE);
  if (values.help || sub === 'help' || sub === '--help' || sub === '-h') {
    ctx.stdout.write(TOKEN_USAGE + '\n');
    return EXIT.ok;
  }
  if (sub === undefined) throw new UsageError('missing token subcommand', TOKEN_USAGE);
  if (sub !== 'create' && sub !== 'list' && sub !== 'revoke' && sub !== 'whoami') throw new UsageError(`unknown token subcommand "${sub}"`, TOKEN_USAGE);
  if (sub === 'revoke' ? positionals.length !== 1 : positionals.length > 0) {
    throw new UsageError(sub === 'revoke' ? 'token revoke takes one token id' : `unexpected argument "${positionals[0]}"`, TOKEN_USAGE);
  }
  const name = values.name ?? 'cli';
  if (sub === 'create') {
    const checked = CreateApiTokenRequest.shape.name.safeParse(name);
    if (!checked.success) throw new ValidationFailure('invalid token name', checked.error.issues.map((i) => ({ path: 'name', message: i.message })));
  }
  const tokenId = sub === 'revoke' ? requireUuid('token id', positionals[0], TOKEN_USAGE) : '';

  const database = sub === 'whoami' ? null : databaseUrl(values, ctx);
  if (database !== null && sub !== 'whoami') {
    if (sub === 'create' && (values.project || values.role || values.expires !== undefined || values['server-admin'])) {
      throw new UsageError('in the database (--database-url) token create makes the first token, a server admin: give projects, roles and expiry over the API', TOKEN_USAGE);
    }
    return runInDatabase(sub, { database, name, tokenId, all: values.all, json: values.json }, ctx);
  }

  const client = clientFrom(values, ctx);
  try {
    switch (sub) {
      case 'create': {
        if (!values.project?.length && !values['server-admin']) {
          throw new UsageError('token create needs at least one --project <project> --role <role> pair, or --server-admin', TOKEN_USAGE);
        }
        const grants = grantsOf(values.project ?? [], values.role ?? []);
        const expiresAt = values.expires === undefined ? undefined : parseExpiry(values.expires);
        const request = { name, grants, ...(values['server-admin'] ? { serverAdmin: true } : {}), ...(expiresAt ? { expiresAt } : {}) };
        // Checked as the API checks it (project names, a project named twice), before any request.
        const valid = CreateApiTokenRequest.safeParse(request);
        if (!valid.success) throw new ValidationFailure('invalid token request', zodIssuesToDetails(valid.error));
        const created = await createToken(client, request, { signal: ctx.signal });
        announceCreated(created, ctx);
        return EXIT.ok;
      }
      case 'list': {
        const tokens = (await listTokens(client, { signal: ctx.signal })).filter((t) => values.all || t.revokedAt === null);
        writeLines(ctx.stdout, values.json ? [JSON.stringify(tokens, null, 2)] : renderTokens(tokens));
        return EXIT.ok;
      }
      case 'revoke':
        await revokeToken(client, tokenId, { signal: ctx.signal });
        ctx.stdout.write(`revoked token ${tokenId}\n`);
        return EXIT.ok;
      case 'whoami': {
        const me = await whoAmI(client, { signal: ctx.signal });
        writeLines(ctx.stdout, values.json ? [JSON.stringify(me, null, 2)] : describeCaller(me));
        return EXIT.ok;
      }
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 401 && !(values.token ?? ctx.env.HYPERSWEEP_TOKEN)) {
      ctx.stderr.write('no API token given (--token or HYPERSWEEP_TOKEN); the first token of a server: hypersweep token create --database-url postgresql://…\n');
    }
    throw error;
  }
}

/** `token whoami`: the token's name and prefix, then what it may do. */
export function describeCaller(me: WhoAmI): string[] {
  if (me.token === null) return ['authentication is off on this server: every request acts as a server admin'];
  const roles = me.token.grants.map((g) => `${g.role} in ${g.project}`);
  const expiry = me.token.expiresAt ? `, expires ${formatTime(me.token.expiresAt)}` : '';
  return [
    `token "${me.token.name}" (${me.token.prefix}…${expiry})`,
    me.serverAdmin ? `server admin${roles.length > 0 ? `; ${roles.join(', ')}` : ''}` : roles.length > 0 ? roles.join(', ') : 'no role in any project',
  ];
}

function announceCreated(created: { id: string; name: string; prefix: string; token: string; expiresAt?: string | null }, ctx: CommandContext): void {
  const expiry = created.expiresAt ? `, expires ${formatTime(created.expiresAt)}` : '';
  ctx.stderr.write(`created token ${created.id} "${created.name}" (${created.prefix}…${expiry}); the secret below is shown only once:\n`);
  ctx.stdout.write(`${created.token}\n`);
}

// ---------------------------------------------------------------------------------------------
// The database path (the first token)
// ---------------------------------------------------------------------------------------------

async function runInDatabase(
  sub: 'create' | 'list' | 'revoke',
  options: { database: string; name: string; tokenId: string; all: boolean; json: boolean },
  ctx: CommandContext,
): Promise<number> {
  switch (sub) {
    case 'create': {
      const created = await withDb(options.database, (db, repo) => repo.createApiToken(db, options.name));
      announceCreated({ ...created, expiresAt: null }, ctx);
      return EXIT.ok;
    }
    case 'list': {
      const rows = await withDb(options.database, (db, repo) => repo.listApiTokens(db, { includeRevoked: options.all }));
      const tokens = rows.map(recordOfRow);
      writeLines(ctx.stdout, options.json ? [JSON.stringify(tokens, null, 2)] : renderTokens(tokens));
      return EXIT.ok;
    }
    case 'revoke': {
      const revoked = await withDb(options.database, (db, repo) => repo.revokeApiToken(db, options.tokenId));
      if (!revoked) throw new ValidationFailure(`no live token ${options.tokenId} (unknown or already revoked)`, []);
      ctx.stdout.write(`revoked token ${options.tokenId}\n`);
      return EXIT.ok;
    }
  }
}

/** A database row in the API's shape (grants by project name). */
function recordOfRow(row: ApiTokenRow): TokenRecord {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    grants: row.grants.map((g) => ({ project: g.projectName, role: g.role })),
    serverAdmin: row.serverAdmin,
    expiresAt: iso(row.expiresAt),
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: iso(row.lastUsedAt),
    revokedAt: iso(row.revokedAt),
  };
}

/** The repository module: in the installed CLI its database driver is absent (REST only). */
async function loadRepository(): Promise<typeof import('@hypersweep/db')> {
  try {
    return await import('@hypersweep/db');
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new DatabaseFailure(
      'no_database_driver',
      'working in the database needs a Hypersweep checkout or its Docker image (this installed CLI works over the REST API only): ' +
        'there, run `npx hypersweep token create --database-url postgresql://…`, or with compose ' +
        '`docker compose run --rm api node apps/cli/dist/hypersweep.js token create --name me`',
      error,
    );
  }
}

/** Opens the database for one command and always disconnects (Prisma is loaded only here: the other commands stay fast). */
async function withDb<T>(url: string, fn: (db: Db, repo: typeof import('@hypersweep/db')) => Promise<T>): Promise<T> {
  const repo = await loadRepository();
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
