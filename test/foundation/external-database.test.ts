import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEmptyDatabase } from '../support/database.js';
import {
  freePort,
  killLeftoverServices,
  repoRoot,
  simulatorPorts,
  spawnService,
  waitUntilHealthy,
} from '../support/service-process.js';

// Acceptance 4: with DATABASE_URL naming a server the service did not start, `pnpm start` uses it and
// migrates it; a second start applies nothing.

let database: Awaited<ReturnType<typeof createEmptyDatabase>>;
beforeAll(async () => {
  database = await createEmptyDatabase();
});
afterAll(() => database.drop());

const migrationNames = readdirSync(path.join(repoRoot, 'prisma', 'migrations'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

async function appliedMigrations(): Promise<string[]> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ migration_name: string }>(
      'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY migration_name',
    );
    return rows.map((row) => row.migration_name);
  } finally {
    await client.end();
  }
}

afterEach(killLeftoverServices);

describe('DATABASE_URL', () => {
  it('migrates a server the service did not start, and the next start applies nothing', async () => {
    const env = {
      DATABASE_URL: database.url,
      PORT: String(await freePort()),
      DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'bs-external-')),
      ...(await simulatorPorts()),
      GATEWAY_PORT: '0',
    };
    const first = spawnService(env);
    await waitUntilHealthy(first);
    expect(first.output()).toContain('using the PostgreSQL named by DATABASE_URL');
    expect(first.output()).toContain(`applied ${migrationNames.length} migration(s)`);
    expect(await appliedMigrations()).toEqual(migrationNames);
    expect((await fetch(`${first.url}/readyz`)).status).toBe(200);
    first.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);

    const second = spawnService(env);
    await waitUntilHealthy(second);
    expect(second.output()).toContain('database schema is up to date');
    expect(second.output()).toContain('"applied":[]');
    expect(await appliedMigrations()).toEqual(migrationNames);
    second.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  });
});
