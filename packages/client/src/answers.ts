// A server's answers parsed with the API's schemas, which are strict: they refuse keys they do not
// name, as the server must for requests. An answer is different: a newer server may add fields, and a
// client built before them (an installed CLI, a dashboard tab open across a deploy) must keep reading
// it. So keys the schema does not know are dropped; a missing or mistyped field still fails.
import type { z } from 'zod';

/** Rounds of dropping unknown keys: zod reports a union's unknown keys once the rest of it matches. */
const MAX_ROUNDS = 4;

export function parseAnswer<T>(schema: z.ZodType<T>, json: unknown): z.ZodSafeParseResult<T> {
  let parsed = schema.safeParse(json);
  let value: unknown = json;
  for (let round = 0; round < MAX_ROUNDS && !parsed.success; round++) {
    const unknown = parsed.error.issues.filter((issue) => issue.code === 'unrecognized_keys');
    if (unknown.length === 0) break;
    // The caller keeps the answer as received (for its error's `body`): drop keys from a copy.
    if (value === json) value = structuredClone(json);
    for (const issue of unknown) dropKeys(value, issue.path, issue.keys);
    parsed = schema.safeParse(value);
  }
  return parsed;
}

function dropKeys(root: unknown, path: readonly PropertyKey[], keys: readonly string[]): void {
  let node = root;
  for (const step of path) {
    if (node === null || typeof node !== 'object') return;
    node = (node as Record<PropertyKey, unknown>)[step];
  }
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return;
  for (const key of keys) delete (node as Record<string, unknown>)[key];
}
