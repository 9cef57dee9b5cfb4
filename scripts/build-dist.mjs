#!/usr/bin/env node
// Bundles the processes the Docker image runs (api, worker + its healthcheck, the migrations
// one-shot) and the installable CLI into plain JavaScript under each package's dist/, so nothing
// runs through a TypeScript loader at run time.
//
//   node scripts/build-dist.mjs <api|worker|migrate|cli>...     (each package's `build` runs its own)
//
// Server bundles inline the workspace's TypeScript (@hypersweep/*) and leave every npm package
// external: the image's node_modules (production dependencies only) provides them, so an external
// that is no workspace's production dependency fails the build here rather than in the container.
// The CLI bundle inlines its npm packages too (the packed tarball has no dependencies); only the
// database driver of the first-token path stays external (present in a checkout or the image).
//
// `new URL('<relative>', import.meta.url)` in workspace source names a file beside that source
// (the trainer's replica-thread bundle, the worker's supervisor.sh, the dashboard's dist/). A bundle
// lives elsewhere, so each such URL is rewritten: server bundles point back at the file in the
// tree; the CLI copies files into its dist/ (directories stay references into the checkout).
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** @typedef {{ entries: Record<string, string>, outdir: string, kind: 'server' | 'cli' }} Target */
/** @type {Record<string, Target>} */
export const TARGETS = {
  api: { kind: 'server', outdir: 'apps/api/dist', entries: { main: 'apps/api/src/main.ts' } },
  worker: { kind: 'server', outdir: 'apps/worker/dist', entries: { main: 'apps/worker/src/main.ts', healthcheck: 'apps/worker/src/healthcheck.ts' } },
  migrate: { kind: 'server', outdir: 'packages/db/dist', entries: { 'migrate-cli': 'packages/db/src/migrate-cli.ts' } },
  cli: { kind: 'cli', outdir: 'apps/cli/dist', entries: { hypersweep: 'apps/cli/src/main.ts' } },
};

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));

/** Every workspace's package.json (root globs "packages/*", "apps/*", "test"). */
function workspaceManifests() {
  return readJson(join(ROOT, 'package.json')).workspaces.flatMap((glob) => {
    const dirs = glob.endsWith('/*')
      ? readdirSync(join(ROOT, glob.slice(0, -2)), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(glob.slice(0, -2), d.name))
      : [glob];
    return dirs.filter((d) => existsSync(join(ROOT, d, 'package.json'))).map((d) => readJson(join(ROOT, d, 'package.json')));
  });
}

/** The npm package a bare specifier belongs to: "@scope/name/sub" → "@scope/name", "name/sub" → "name". */
function packageOf(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

const BUILTINS = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
const isBuiltin = (specifier) => specifier.startsWith('node:') || BUILTINS.has(specifier) || BUILTINS.has(packageOf(specifier));

/** Leaves `isExternal` packages to node_modules at run time and records them. */
function externalsPlugin(isExternal, seen) {
  return {
    name: 'hypersweep-externals',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (isBuiltin(args.path) || !isExternal(args.path)) return undefined;
        seen.add(packageOf(args.path));
        return { path: args.path, external: true };
      });
    },
  };
}

const MODULE_URL = /new URL\(\s*(['"])([^'"]+)\1\s*,\s*import\.meta\.url\s*\)/g;

/** Rewrites module-relative URLs of workspace source for a bundle in `outdir` (see the header). */
function moduleUrlPlugin(outdir, copyFiles, assets) {
  return {
    name: 'hypersweep-module-urls',
    setup(b) {
      b.onLoad({ filter: /\.[cm]?ts$/ }, (args) => {
        if (args.path.split(sep).includes('node_modules')) return undefined;
        const source = readFileSync(args.path, 'utf8');
        if (!source.includes('import.meta.url')) return undefined;
        const contents = source.replace(MODULE_URL, (_whole, _quote, rel) => {
          const target = resolve(dirname(args.path), rel);
          const isDir = rel.endsWith('/') || (existsSync(target) && statSync(target).isDirectory());
          let url;
          if (copyFiles && !isDir) {
            assets.set(basename(target), target);
            url = `./${basename(target)}`;
          } else {
            url = relative(outdir, target).split(sep).join('/') || '.';
            if (!url.startsWith('.')) url = `./${url}`;
            if (rel.endsWith('/') && !url.endsWith('/')) url += '/';
          }
          return `new URL(${JSON.stringify(url)}, import.meta.url)`;
        });
        return { contents, loader: 'ts' };
      });
    },
  };
}

export async function buildTarget(name) {
  const target = TARGETS[name];
  if (!target) throw new Error(`unknown target "${name}" (one of ${Object.keys(TARGETS).join(', ')})`);
  const outdir = join(ROOT, target.outdir);
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });

  const seen = new Set();
  const assets = new Map();
  const manifests = workspaceManifests();
  let isExternal;
  if (target.kind === 'server') {
    isExternal = (specifier) => !specifier.startsWith('@hypersweep/');
  } else {
    // Only the database path (`token … --database-url`, loaded on demand) keeps its driver external.
    const db = manifests.find((m) => m.name === '@hypersweep/db');
    const driver = new Set(Object.keys(db.dependencies ?? {}));
    isExternal = (specifier) => driver.has(packageOf(specifier));
  }

  await build({
    absWorkingDir: ROOT,
    entryPoints: Object.fromEntries(Object.entries(target.entries).map(([out, src]) => [out, join(ROOT, src)])),
    outdir,
    outExtension: { '.js': '.js' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Workspace packages published from the repo (the client) resolve to their TypeScript source too.
    conditions: ['@hypersweep/source'],
    // The CLI loads its database path and the training engine only when a command needs them.
    splitting: target.kind === 'cli',
    chunkNames: '[name]-[hash]',
    banner: target.kind === 'cli' ? { js: '#!/usr/bin/env node' } : {},
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    plugins: [externalsPlugin(isExternal, seen), moduleUrlPlugin(outdir, target.kind === 'cli', assets)],
  });

  for (const [file, source] of assets) {
    if (!existsSync(source)) throw new Error(`${name}: ${relative(ROOT, source)} is loaded at run time but does not exist (build its package first)`);
    copyFileSync(source, join(outdir, file));
  }
  if (target.kind === 'server') {
    // What the image's `npm prune --omit=dev` keeps: the production dependencies of the workspaces.
    const production = new Set(manifests.flatMap((m) => [...Object.keys(m.dependencies ?? {}), ...Object.keys(m.optionalDependencies ?? {})]));
    const missing = [...seen].filter((p) => !production.has(p));
    if (missing.length > 0) throw new Error(`${name}: imports ${missing.join(', ')}, which no workspace lists in "dependencies" (the image would not have it)`);
  }
}

const names = process.argv.slice(2);
if (names.length > 0 && process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const name of names) await buildTarget(name);
}
