// Builds what the published package ships: dist/index.js (the client, with the API's schemas from
// @hypersweep/schemas bundled in: that package is not published) and dist/trainable.js, as plain
// ES modules for Node 20 and browsers, zod staying a dependency; and their declarations under
// dist/types. Inside the repo the workspace resolves the TypeScript source instead (the
// "@hypersweep/source" export condition).
import { build, type BuildOptions } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
rmSync(`${root}/dist`, { recursive: true, force: true });
const common: BuildOptions = {
  bundle: true,
  format: 'esm',
  target: 'es2022',
  external: ['zod'],
  // The source condition is for the repo's TypeScript tools; the bundle reads the source directly.
  conditions: ['@hypersweep/source'],
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
};
await build({ ...common, entryPoints: [`${root}/src/index.ts`], outfile: `${root}/dist/index.js`, platform: 'neutral', mainFields: ['module', 'main'] });
await build({ ...common, entryPoints: [`${root}/src/trainable.ts`], outfile: `${root}/dist/trainable.js`, platform: 'node' });

// Declarations: tsc emits the client's and the workspace packages' beneath it; their imports of
// each other become relative .js paths (what a .d.ts resolves under NodeNext) inside dist/types.
const types = join(root, 'dist', 'types');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.dts.json')], { stdio: 'inherit' });
const WORKSPACE: Record<string, string> = {
  '@hypersweep/schemas': 'schemas/src/index.js',
  '@hypersweep/schemas/sse': 'schemas/src/sse.js',
  '@hypersweep/nn': 'nn/src/index.js',
  '@hypersweep/search': 'search/src/index.js',
};
function declarationFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? declarationFiles(join(dir, e.name)) : e.name.endsWith('.d.ts') ? [join(dir, e.name)] : []));
}
for (const file of declarationFiles(types)) {
  const text = readFileSync(file, 'utf8').replace(/((?:from|import)\s*\(?\s*)'([^']+)'/g, (whole, lead: string, specifier: string) => {
    const target = WORKSPACE[specifier];
    if (target !== undefined) {
      const path = relative(dirname(file), join(types, target));
      return `${lead}'${path.startsWith('.') ? path : `./${path}`}'`;
    }
    return specifier.startsWith('.') && specifier.endsWith('.ts') ? `${lead}'${specifier.slice(0, -3)}.js'` : whole;
  });
  writeFileSync(file, text);
}
