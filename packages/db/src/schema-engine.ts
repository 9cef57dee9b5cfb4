// Loads Prisma's Wasm schema engine (@prisma/schema-engine-wasm) in-process, so migrations need no native
// engine download. The package's entry does `import * as wasm from "./x.wasm"`, which Node 20 cannot load
// without --experimental-wasm-modules, so we instantiate the module ourselves and hand it to the JS glue.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindMigrationAwareSqlAdapterFactory, type SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import * as glue from '@prisma/schema-engine-wasm/schema_engine_bg';
import type { SchemaEngine } from '@prisma/schema-engine-wasm';
import pg from 'pg';

type WasmGlue = typeof glue & { __wbg_set_wasm(exports: WebAssembly.Exports): void };
type TimerCallback = () => void;

// The engine arms timers (operation timeouts) through setTimeout and never clears them, which would keep a
// finished `migrate` process alive for ~10 s. We track them and clear the leftovers once no engine is in use.
const engineTimers = new Set<ReturnType<typeof setTimeout>>();
let enginesInUse = 0;
let loaded: Promise<typeof glue.SchemaEngine> | undefined;

function engineImports(): WebAssembly.ModuleImports {
  const imports: WebAssembly.ModuleImports = { ...(glue as unknown as WebAssembly.ModuleImports) };
  for (const name of Object.keys(imports)) {
    if (!name.startsWith('__wbg_setTimeout_')) continue;
    imports[name] = (callback: TimerCallback, milliseconds: number) => {
      const timer = setTimeout(() => {
        engineTimers.delete(timer);
        callback();
      }, milliseconds >>> 0);
      engineTimers.add(timer);
      return timer;
    };
  }
  return imports;
}

async function loadSchemaEngineClass(): Promise<typeof glue.SchemaEngine> {
  const require = createRequire(import.meta.url);
  const packageDir = dirname(require.resolve('@prisma/schema-engine-wasm'));
  const bytes = await readFile(join(packageDir, 'schema_engine_bg.wasm'));
  const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': engineImports() });
  (glue as WasmGlue).__wbg_set_wasm(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
  return glue.SchemaEngine;
}

// pg_catalog types the engine's schema describer reads but adapter-pg cannot map (it throws
// UnsupportedNativeDataType). pg already returns their values as strings, so they are reported as text.
const catalogTypesAsText = new Set([18 /* "char" */, 19 /* name */, 194 /* pg_node_tree */]);
const PG_TEXT = 25;

type PgAdapter = Awaited<ReturnType<PrismaPg['connect']>>;
type PerformIO = (...args: unknown[]) => Promise<{ fields: { dataTypeID: number }[] }>;

function reportCatalogTypesAsText(adapter: PgAdapter): PgAdapter {
  // performIO is the adapter's (TypeScript-private) single path from SQL to pg's result.
  const target = adapter as unknown as { performIO: PerformIO };
  const performIO = target.performIO.bind(adapter);
  target.performIO = async (...args) => {
    const result = await performIO(...args);
    for (const field of result.fields) {
      if (catalogTypesAsText.has(field.dataTypeID)) field.dataTypeID = PG_TEXT;
    }
    return result;
  };
  return adapter;
}

type ScriptRunner = { executeScript(script: string): Promise<void>; client: { query(sql: string): Promise<unknown> }; onError(error: unknown): never };

/**
 * adapter-pg's executeScript cuts a migration at every ';' (so a function body in dollar quotes breaks) and
 * runs the pieces one by one in autocommit. Prisma's native engine sends the script whole, as one simple
 * query: Postgres runs it as one implicit transaction. So does this.
 */
function wholeScripts(adapter: PgAdapter): PgAdapter {
  const target = adapter as unknown as ScriptRunner;
  target.executeScript = async (script) => {
    try {
      await target.client.query(script);
    } catch (error) {
      target.onError(error);
    }
  };
  return adapter;
}

/**
 * adapter-pg's own shadow database drops the database before closing its pool (Postgres refuses: "being
 * accessed by other users") and, given a connection string, connects the shadow pool to the main database.
 * This factory names the shadow database in the URL itself and drops it only after its pool has ended.
 */
function migrationAdapterFactory(pool: pg.Pool, databaseUrl: string): SqlMigrationAwareDriverAdapterFactory {
  const main = new PrismaPg(pool);
  return {
    provider: main.provider,
    adapterName: main.adapterName,
    connect: async () => wholeScripts(reportCatalogTypesAsText(await main.connect())),
    async connectToShadowDb() {
      const name = `prisma_migrate_shadow_db_${randomUUID()}`;
      await pool.query(`CREATE DATABASE "${name}"`);
      const shadowUrl = new URL(databaseUrl);
      shadowUrl.pathname = `/${name}`;
      const shadow = wholeScripts(reportCatalogTypesAsText(await new PrismaPg({ connectionString: shadowUrl.toString(), max: 2 }).connect()));
      const dispose = shadow.dispose.bind(shadow);
      shadow.dispose = async () => {
        await dispose();
        await pool.query(`DROP DATABASE IF EXISTS "${name}"`);
      };
      return shadow;
    },
  };
}

/**
 * Runs `use` with a schema engine connected to `databaseUrl` through @prisma/adapter-pg, then frees the
 * engine and closes its connections. The Wasm module is instantiated once per process.
 */
export async function withSchemaEngine<T>(
  databaseUrl: string,
  use: (engine: SchemaEngine) => Promise<T>,
  log: (line: string) => void = () => {},
): Promise<T> {
  loaded ??= loadSchemaEngineClass();
  const SchemaEngineClass = await loaded;
  enginesInUse += 1;
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  try {
    const adapterFactory = bindMigrationAwareSqlAdapterFactory(migrationAdapterFactory(pool, databaseUrl));
    const engine = (await SchemaEngineClass.new({ datamodels: undefined }, log, adapterFactory)) as SchemaEngine;
    try {
      return await use(engine);
    } finally {
      engine.free();
    }
  } finally {
    await pool.end();
    enginesInUse -= 1;
    if (enginesInUse === 0) {
      for (const timer of engineTimers) clearTimeout(timer);
      engineTimers.clear();
    }
  }
}
