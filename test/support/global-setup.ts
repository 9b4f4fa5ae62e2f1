import {
  applyPendingMigrations,
  createDatabaseIfMissing,
  startEphemeralPostgres,
  withDatabase,
} from '@backup-service/server';
import type { TestProject } from 'vitest/node';

export const TEMPLATE_DATABASE = 'backup_service_template';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL server URL (its `postgres` database) on which test files create their own databases. */
    postgresServerUrl: string;
  }
}

/**
 * One PostgreSQL for the whole run: the embedded one in a temporary directory, or the server named by
 * TEST_DATABASE_URL. A template database is migrated once; each test file clones it (see database.ts),
 * so files never see each other's rows.
 */
export default async function setup(project: TestProject) {
  let serverUrl = process.env.TEST_DATABASE_URL;
  let stop = async () => {};
  if (!serverUrl) {
    const pg = await startEphemeralPostgres();
    serverUrl = pg.url;
    stop = pg.stop;
  }
  await createDatabaseIfMissing(serverUrl, TEMPLATE_DATABASE);
  await applyPendingMigrations(withDatabase(serverUrl, TEMPLATE_DATABASE));
  project.provide('postgresServerUrl', serverUrl);
  return stop;
}
