// A worker's trainables file (docs/trainables.md): names → the commands its operator allows, read
// once at start. The API only ever sees the names.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import yaml from 'js-yaml';
import { z } from 'zod';
import { TRAINABLE_NAME_PATTERN } from '@hypersweep/schemas';

const seconds = (fallback: number, max: number) => z.number().int().min(1).max(max).default(fallback);

export const TrainableConfigSchema = z.strictObject({
  /** argv: no shell. */
  command: z.array(z.string().min(1)).min(1),
  /** Working directory; relative paths are read from the file's directory (default: that directory). */
  cwd: z.string().min(1).optional(),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'), z.string()).default({}),
  timeoutSeconds: seconds(86_400, 30 * 86_400),
  reportTimeoutSeconds: seconds(600, 86_400),
  concurrency: z.number().int().min(1).max(64).default(1),
  stopGraceSeconds: seconds(10, 3_600),
});

export interface TrainableConfig extends z.infer<typeof TrainableConfigSchema> {
  readonly name: string;
  /** Absolute. */
  readonly cwd: string;
}

/** Reads and checks a trainables file (YAML or JSON); throws naming the file, the trainable and the field. */
export function loadTrainables(path: string): Map<string, TrainableConfig> {
  let raw: unknown;
  try {
    raw = yaml.load(readFileSync(path, 'utf8'), { schema: yaml.CORE_SCHEMA });
  } catch (error) {
    throw new Error(`trainables file ${path}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`trainables file ${path}: expected a map of trainable names to {command, …}`);
  const out = new Map<string, TrainableConfig>();
  for (const [name, entry] of Object.entries(raw)) {
    if (!TRAINABLE_NAME_PATTERN.test(name)) throw new Error(`trainables file ${path}: name ${JSON.stringify(name)} must match ${TRAINABLE_NAME_PATTERN.source}`);
    const parsed = TrainableConfigSchema.safeParse(entry);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${[name, ...i.path].join('.')}: ${i.message}`).join('; ');
      throw new Error(`trainables file ${path}: ${problems}`);
    }
    const base = dirname(resolve(path));
    const cwd = parsed.data.cwd === undefined ? base : isAbsolute(parsed.data.cwd) ? parsed.data.cwd : resolve(base, parsed.data.cwd);
    out.set(name, { ...parsed.data, name, cwd });
  }
  return out;
}
