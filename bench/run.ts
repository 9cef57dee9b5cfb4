// `npm run bench -- <name>`: runs bench/<name>.ts and writes bench/results/<name>.json.
// A mode that returns `section` (a slow run beside the main one, e.g. cnn's accuracy) is stored
// under `sections.<section>` of the same file; every run keeps the sections it did not write.
import { writeFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export type BenchMetrics = Record<string, number>;
export interface BenchModule {
  /** Returns the metrics; may also return extra JSON that is stored beside them. */
  run(args: string[]): Promise<BenchMetrics | { metrics: BenchMetrics; details?: unknown; section?: string }>;
}

const here = dirname(fileURLToPath(import.meta.url));
const [name, ...args] = process.argv.slice(2);
if (!name || !/^[a-z0-9-]+$/.test(name)) {
  console.error('usage: npm run bench -- <name> [args]   (a file bench/<name>.ts)');
  process.exit(2);
}
const file = join(here, `${name}.ts`);
if (!existsSync(file)) {
  console.error(`no benchmark named "${name}" (expected ${file})`);
  process.exit(2);
}
const mod = (await import(pathToFileURL(file).href)) as BenchModule;
const out = await mod.run(args);
const metrics = 'metrics' in out && typeof out.metrics === 'object' ? (out.metrics as BenchMetrics) : (out as BenchMetrics);
const details = 'metrics' in out && typeof out.metrics === 'object' ? (out as { details?: unknown }).details : undefined;
for (const [k, v] of Object.entries(metrics)) {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`metric ${k} is not a finite number: ${String(v)}`);
}
const section = 'metrics' in out && typeof (out as { section?: unknown }).section === 'string' ? (out as { section: string }).section : undefined;
const measured = { date: new Date().toISOString(), node: process.version, metrics, ...(details === undefined ? {} : { details }) };
const path = join(here, 'results', `${name}.json`);
interface Stored { sections?: Record<string, unknown>; [key: string]: unknown }
const previous: Stored = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Stored) : {};
const sections = { ...(previous.sections ?? {}), ...(section === undefined ? {} : { [section]: measured }) };
const main: Stored = section === undefined ? { name, ...measured } : { ...previous, name };
delete main.sections;
const result = { ...main, ...(Object.keys(sections).length > 0 ? { sections } : {}) };
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(path, JSON.stringify(result, null, 2) + '\n');
console.log(JSON.stringify(section === undefined ? result : { name, section, ...measured }, null, 2));
