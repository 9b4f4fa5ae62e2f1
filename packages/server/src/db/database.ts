import path from 'node:path';
import pg from 'pg';
import type { Config } from '../config/index.js';
import { freePort } from '../free-port.js';
import type { Logger } from '../observability/logger.js';
import { createPrismaClient, type Db } from './client.js';
import { lockDataDir } from './data-dir-lock.js';
import { type EmbeddedDatabase, startEmbeddedPostgres } from './embedded-postgres.js';
import { applyPendingMigrations } from './migrations.js';
import { redactUrl, withDatabase } from './urls.js';

export interface Database {
  readonly prisma: Db;
  readonly url: string;
  /** True when the service started its own PostgreSQL in $DATA_DIR/pg. */
  readonly embedded: boolean;
  ping(): Promise<void>;
  close(): Promise<void>;
}

const EMBEDDED_DATABASE_NAME = 'backup_service';

/** The ports this process's listeners are configured to bind (0: any). */
function listenerPorts(config: Config): number[] {
  return [
    config.PORT,
    config.GATEWAY_PORT,
    config.SIM_KEYSTONE_PORT,
    config.SIM_CINDER_PORT,
    config.SIM_NOVA_PORT,
    config.SIM_GLANCE_PORT,
  ].filter((port) => port > 0);
}

/**
 * The database the configuration names (DATABASE_URL), or the embedded default: a private PostgreSQL
 * that this process initialises, starts and stops in $DATA_DIR/pg. Pending migrations are applied
 * either way before anything else touches the database.
 */
export async function openDatabase(config: Config, logger: Logger): Promise<Database> {
  let embedded: EmbeddedDatabase | undefined;
  let dataDirLock: { release(): void } | undefined;
  let url: string;
  if (config.DATABASE_URL) {
    url = config.DATABASE_URL;
    logger.info({ database: redactUrl(url) }, 'using the PostgreSQL named by DATABASE_URL');
  } else {
    const dataDir = path.resolve(config.DATA_DIR);
    dataDirLock = lockDataDir(dataDir);
    const pgLog = logger.child({ component: 'embedded-postgres' });
    embedded = await startEmbeddedPostgres({
      dataDir: path.join(dataDir, 'pg'),
      port: config.EMBEDDED_PG_PORT,
      // The service's own listeners bind after the database is up: never on the port it took.
      pickPort: () => freePort({ except: listenerPorts(config) }),
      log: (line) => pgLog.warn(line),
    });
    url = withDatabase(embedded.url, EMBEDDED_DATABASE_NAME);
    await createDatabaseIfMissing(embedded.url, EMBEDDED_DATABASE_NAME);
    logger.info(
      { dataDir: embedded.dataDir, database: redactUrl(url) },
      'DATABASE_URL is not set: using the embedded PostgreSQL (default)',
    );
  }

  try {
    const applied = await applyPendingMigrations(url);
    logger.info(
      { applied },
      applied.length ? `applied ${applied.length} migration(s)` : 'database schema is up to date',
    );
  } catch (error) {
    await embedded?.stop();
    dataDirLock?.release();
    if (config.DATABASE_URL) {
      throw new Error(`DATABASE_URL: cannot migrate ${redactUrl(url)}: ${firstLine(error)}`, {
        cause: error,
      });
    }
    throw error;
  }

  const prisma = createPrismaClient(url);
  return {
    prisma,
    url,
    embedded: embedded !== undefined,
    async ping() {
      await prisma.$queryRaw`SELECT 1`;
    },
    async close() {
      await prisma.$disconnect();
      await embedded?.stop();
      dataDirLock?.release();
    },
  };
}

export async function createDatabaseIfMissing(serverUrl: string, database: string) {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await client.query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`);
  } finally {
    await client.end();
  }
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}
