// The lint rule that keeps packages/nn pure actually fires: I/O imports, process and Math.random.
import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const eslint = new ESLint({ cwd: root });

async function ruleIds(code: string, file: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${root}/${file}` });
  return (result?.messages ?? []).map((m) => m.ruleId ?? m.message);
}

describe('purity of packages/nn and packages/search', () => {
  it.each([
    ["import { readFileSync } from 'node:fs';\nexport const x = readFileSync;", 'no-restricted-imports'],
    ["import { Worker } from 'worker_threads';\nexport const x = Worker;", 'no-restricted-imports'],
    ["import Redis from 'ioredis';\nexport const x = Redis;", 'no-restricted-imports'],
    ['export const x = process.env.HOME;', 'no-restricted-globals'],
    [`export const x = Math.${'random'}();`, 'no-restricted-properties'],
  ])('refuses %j in packages/nn/src', async (code, rule) => {
    expect(await ruleIds(code, 'packages/nn/src/probe.ts')).toContain(rule);
    expect(await ruleIds(code, 'packages/search/src/probe.ts')).toContain(rule);
  });

  it('allows the same code in an app and in tests', async () => {
    const code = "import { readFileSync } from 'node:fs';\nexport const x = [readFileSync, process.env.HOME];";
    expect(await ruleIds(code, 'apps/cli/src/probe.ts')).toEqual([]);
    expect(await ruleIds(code, 'packages/nn/src/probe.test.ts')).toEqual([]);
  });
});
