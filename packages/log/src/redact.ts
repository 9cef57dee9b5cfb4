// What never reaches a log line: secrets under well-known keys at any depth, and secrets inside
// strings (bearer tokens, API tokens, URL passwords, token query parameters), wherever they appear.
import { stdSerializers } from 'pino';

export const CENSOR = '[redacted]';

/** Keys whose values are secrets whatever they hold (compared case-insensitively). */
const SECRET_KEYS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'token',
  'access_token',
  'refresh_token',
  'password',
  'passwd',
  'secret',
  'client_secret',
  'api_key',
  'apikey',
  'x-api-key',
]);

/**
 * pino's own path redaction, for the same keys where loggers usually put them (the request shape
 * pino-http logs, a bare headers object, top-level fields and their direct children). The deep
 * walk in `scrub` covers every other depth.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'cookie',
  'token',
  'password',
  'secret',
  'databaseUrl',
  'DATABASE_URL',
  '*.token',
  '*.password',
  '*.secret',
  '*.authorization',
  '*.databaseUrl',
  '*.DATABASE_URL',
];

/** Rewrites applied to every string; each keeps enough around the secret to tell what was there. */
const STRING_RULES: readonly [RegExp, string][] = [
  // `Authorization: Bearer <credentials>` copied into a message (8+ characters: not "bearer token").
  [/\b(Bearer)\s+[A-Za-z0-9_\-.~+/]{8,}=*/gi, `$1 ${CENSOR}`],
  // Hypersweep API tokens: `hs_` + 32 random bytes in base64url (43 characters).
  [/\bhs_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g, `hs_${CENSOR}`],
  // The password of a URL: postgresql://user:secret@host, redis://:secret@host.
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@]*:)[^\s/?#@]*@/gi, `$1${CENSOR}@`],
  // Secrets as query parameters or key=value pairs: ?token=…, &access_token=…, password=… (libpq).
  [/(^|[?&;,(\s"'])(token|access_token|refresh_token|api_key|apikey|password|passwd|secret)=[^&#\s"';),]*/gi, `$1$2=${CENSOR}`],
];

export function scrubString(text: string): string {
  let out = text;
  for (const [pattern, replacement] of STRING_RULES) out = out.replace(pattern, replacement);
  return out;
}

/** Deep enough for any record we log; deeper structures are cut rather than walked. */
const MAX_DEPTH = 10;

/**
 * A copy of `value` safe to log: secret keys censored, strings scrubbed, errors serialised with
 * their stack (pino's err serializer) and then scrubbed too, since messages quote URLs and values.
 */
export function scrub(value: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof value === 'string') return scrubString(value);
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  seen.add(value);
  try {
    if (value instanceof Error) return scrub({ ...stdSerializers.err(value) }, depth, seen);
    if (Array.isArray(value)) return value.map((item) => scrub(item, depth + 1, seen));
    // URL, Date, Buffer…: log what JSON.stringify would, scrubbed.
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return scrub(toJSON.call(value), depth + 1, seen);
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = SECRET_KEYS.has(key.toLowerCase()) && item !== undefined && item !== null ? CENSOR : scrub(item, depth + 1, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}
