export type { Db } from './client.js';
export { createPrismaClient } from './client.js';
export { createDatabaseIfMissing, type Database, openDatabase } from './database.js';
export { type EmbeddedDatabase, startEmbeddedPostgres, startEphemeralPostgres } from './embedded-postgres.js';
export { applyPendingMigrations } from './migrations.js';
export { redactUrl, withDatabase } from './urls.js';
