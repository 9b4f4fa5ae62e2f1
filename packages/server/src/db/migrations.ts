import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import type { MigrationList, SchemaFilter } from '@prisma/schema-engine-wasm';
import { poolConfigFromUrl } from './urls.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
export const schemaPath = path.join(repoRoot, 'prisma', 'schema.prisma');
export const migrationsDir = path.join(repoRoot, 'prisma', 'migrations');

const noFilter: SchemaFilter = { externalTables: [], externalEnums: [] };

/** Reads prisma/migrations exactly as `prisma migrate` does (directories sorted by name). */
export async function loadMigrations(dir = migrationsDir): Promise<MigrationList> {
  const lockfilePath = path.join(dir, 'migration_lock.toml');
  const lockfile = await readFile(lockfilePath, 'utf8').catch(() => null);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const migrationDirectories = [];
  for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const content = await readFile(path.join(dir, entry.name, 'migration.sql'), 'utf8').then(
      (value) => ({ tag: 'ok' as const, value }),
      (error: Error) => ({ tag: 'error' as const, value: error.message }),
    );
    migrationDirectories.push({ path: entry.name, migrationFile: { path: 'migration.sql', content } });
  }
  return {
    baseDir: dir,
    lockfile: { path: 'migration_lock.toml', content: lockfile },
    shadowDbInitScript: '',
    migrationDirectories,
  };
}

type SchemaEngineModule = typeof import('@prisma/schema-engine-wasm');
type Engine = Awaited<ReturnType<SchemaEngineModule['SchemaEngine']['new']>>;

// Node has WebAssembly; @types/node 20 does not declare it.
const WebAssemblyApi = (
  globalThis as unknown as {
    WebAssembly: {
      compile(bytes: Uint8Array): Promise<object>;
      instantiate(module: object, imports: object): Promise<{ exports: Record<string, unknown> }>;
    };
  }
).WebAssembly;

let engineModule: Promise<SchemaEngineModule> | undefined;

/**
 * The package's entry imports its .wasm as an ES module, which Node 20 allows only with
 * --experimental-wasm-modules; instantiating it by hand works in every process (vitest workers too).
 */
function loadSchemaEngine(): Promise<SchemaEngineModule> {
  engineModule ??= (async () => {
    const require = createRequire(import.meta.url);
    const bindingsPath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
    const bindings = (await import(bindingsPath)) as SchemaEngineModule & {
      __wbg_set_wasm(exports: unknown): void;
    };
    const wasm = await WebAssemblyApi.compile(await readFile(bindingsPath.replace(/\.js$/, '.wasm')));
    const instance = await WebAssemblyApi.instantiate(wasm, { './schema_engine_bg.js': bindings });
    bindings.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
    return bindings;
  })();
  return engineModule;
}

/**
 * Runs `fn` with Prisma's schema engine (WebAssembly build) connected through the pg driver adapter.
 * The native engine binary cannot be downloaded here; the wasm engine records migrations in
 * `_prisma_migrations` exactly as `prisma migrate deploy` does.
 */
async function withSchemaEngine<T>(databaseUrl: string, fn: (engine: Engine) => Promise<T>): Promise<T> {
  const { SchemaEngine } = await loadSchemaEngine();
  const schema = await readFile(schemaPath, 'utf8');
  // The engine does not dispose of the adapter's pools (nor the shadow database's): let idle
  // connections close at once so none lingers into a later server shutdown or keeps the process up.
  const factory = new WholeScriptPrismaPg(
    poolConfigFromUrl(databaseUrl, { idleTimeoutMillis: 1, allowExitOnIdle: true }),
  );
  const logs: string[] = [];
  const engine = await SchemaEngine.new(
    { datamodels: [[schemaPath, schema]] },
    (line: string) => logs.push(line),
    bindMigrationAwareSqlAdapterFactory(factory),
  );
  try {
    return await fn(engine);
  } catch (error) {
    throw new Error(`schema engine failed: ${describeEngineError(error)}`, { cause: error });
  } finally {
    engine.free();
  }
}

/**
 * adapter-pg 7.10 runs a migration script by splitting it at every `;`, which cuts a dollar-quoted
 * function body apart. The native engine sends a script as one simple query (one implicit
 * transaction); so does this, through the adapter's own pool and error mapping.
 */
class WholeScriptPrismaPg extends PrismaPg {
  override async connect() {
    return sendScriptsWhole(await super.connect());
  }
  override async connectToShadowDb() {
    return sendScriptsWhole(await super.connectToShadowDb());
  }
}

function sendScriptsWhole<A extends Awaited<ReturnType<PrismaPg['connect']>>>(adapter: A): A {
  const internals = adapter as unknown as {
    client: { query(sql: string): Promise<unknown> };
    onError(error: unknown): never;
  };
  adapter.executeScript = async (script: string) => {
    try {
      await internals.client.query(script);
    } catch (error) {
      internals.onError(error);
    }
  };
  return adapter;
}

function describeEngineError(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'object' && error !== null) return JSON.stringify(error);
  return String(error);
}

/** Applies every migration of prisma/migrations not yet recorded in the database. */
export async function applyPendingMigrations(databaseUrl: string, dir = migrationsDir): Promise<string[]> {
  const migrationsList = await loadMigrations(dir);
  return withSchemaEngine(databaseUrl, async (engine) => {
    const result = await engine.applyMigrations({ migrationsList, filters: noFilter });
    return result.appliedMigrationNames;
  });
}

/**
 * SQL that takes the schema of the newest migration to the current schema.prisma ('' when equal).
 *
 * Each migration directory keeps a copy of the schema.prisma it was made from, and the diff is taken
 * between those two datamodels. Prisma's usual way (replaying the migrations into a shadow database
 * and describing it) fails through @prisma/adapter-pg 7.10: it cannot decode PostgreSQL's internal
 * `"char"` type that the describe queries return ("Column type 'char' could not be deserialized").
 */
export async function diffLatestMigrationToSchema(databaseUrl: string, dir = migrationsDir): Promise<string> {
  const migrations = await loadMigrations(dir);
  const latest = migrations.migrationDirectories.at(-1);
  const schema = await readFile(schemaPath, 'utf8');
  const previous = latest ? await readFile(path.join(dir, latest.path, snapshotFileName), 'utf8') : null;
  return withSchemaEngine(databaseUrl, async (engine) => {
    const result = await engine.diff({
      from:
        previous === null
          ? { tag: 'empty' }
          : { tag: 'schemaDatamodel', files: [{ path: schemaPath, content: previous }] },
      to: { tag: 'schemaDatamodel', files: [{ path: schemaPath, content: schema }] },
      script: true,
      exitCode: null,
      filters: noFilter,
    });
    const sql = result.stdout ?? '';
    return /^\s*(-- This is an empty migration\.)?\s*$/.test(sql) ? '' : sql;
  });
}

/** The copy of schema.prisma kept beside each migration.sql. */
export const snapshotFileName = 'schema.prisma.snapshot';
