// Usage: pnpm db:migration <name>
// Makes prisma/migrations/<timestamp>_<name>/migration.sql from the difference between the existing
// newest migration's schema snapshot and prisma/schema.prisma (the engine needs a connection, so a
// throw-away embedded PostgreSQL is started; the diff itself reads no database).
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startEphemeralPostgres } from '../packages/server/src/db/embedded-postgres.js';
import {
  diffLatestMigrationToSchema,
  migrationsDir,
  schemaPath,
  snapshotFileName,
} from '../packages/server/src/db/migrations.js';

const name = process.argv[2];
if (!name || !/^[a-z0-9_]+$/.test(name)) {
  console.error('usage: pnpm db:migration <name>   (lower-case letters, digits and _)');
  process.exit(2);
}
const pg = await startEphemeralPostgres();
try {
  const sql = await diffLatestMigrationToSchema(pg.url);
  if (!sql) {
    console.log('schema.prisma matches the migrations: nothing to do');
  } else {
    const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
    const dir = path.join(migrationsDir, `${stamp}_${name}`);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'migration.sql'), sql);
    await copyFile(schemaPath, path.join(dir, snapshotFileName));
    console.log(`wrote ${path.relative(process.cwd(), dir)}/migration.sql`);
  }
} finally {
  await pg.stop();
}
