import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, type Replica, startCluster } from '../support/cluster.js';
import { waitFor } from '../support/stack.js';

// List pages are cached per project while the project's list version stands (issue 8's list
// target). A page must never be older than the last commit: whichever replica or process wrote.
// Two replicas share one database; every change is made on one (or straight in SQL) and read at once
// through the other, whose cache holds the page from before the change.

let cluster: Cluster;
let writer: Replica;
let reader: Replica;
let sql: pg.Client;
let volumeId: string;

beforeAll(async () => {
  cluster = await startCluster();
  writer = await cluster.startReplica();
  reader = await cluster.startReplica();
  sql = new pg.Client({ connectionString: cluster.db.url });
  await sql.connect();
  volumeId = await cluster.cinder.createVolume('demo', 1);
  await cluster.cinder.write(volumeId, 0, randomBytes(64 * 1024));
}, 120_000);
afterAll(async () => {
  await sql?.end();
  await cluster?.close();
});

type View = Record<string, unknown> & { id: string };

async function listOn(replica: Replica, query = ''): Promise<View[]> {
  const { status, body } = await cluster.v1(replica, 'demo', 'GET', `/volume/backup${query}`);
  expect(status).toBe(200);
  return body.backups as View[];
}

async function listedOn(replica: Replica, id: string): Promise<View | undefined> {
  return (await listOn(replica)).find((view) => view.id === id);
}

async function createBackup(name: string): Promise<string> {
  const { status, body } = await cluster.v1(writer, 'demo', 'POST', '/volume/backup', {
    backup: { volume_id: volumeId, name },
  });
  expect(status).toBe(201);
  return body.backup.id as string;
}

describe('cached list pages across replicas', () => {
  it('show a backup created on the other replica in the answer that follows the POST', async () => {
    await listOn(reader); // cached now, without the backup
    const id = await createBackup('first');
    expect((await listedOn(reader, id))?.name).toBe('first');
    await waitFor('the backup listed available', async () =>
      (await listedOn(reader, id))?.status === 'available' ? true : undefined,
    );
  });

  it('show a rename, a change made in SQL by another process and a deletion at once', async () => {
    const id = await createBackup('second');
    await waitFor('the backup listed available', async () =>
      (await listedOn(reader, id))?.status === 'available' ? true : undefined,
    );
    const limited = await listOn(reader, '?limit=1');
    expect(await listOn(reader, '?limit=1')).toEqual(limited); // the same page twice: served from the cache

    const renamed = await cluster.v1(writer, 'demo', 'POST', `/volume/backup/${id}/action`, {
      update: { name: 'renamed' },
    });
    expect(renamed.status).toBeLessThan(300);
    expect((await listedOn(reader, id))?.name).toBe('renamed');
    expect((await listOn(reader, '?limit=1'))[0]?.name).toBe('renamed');

    await sql.query(`UPDATE "VolumeBackup" SET description = 'set in SQL' WHERE id = $1`, [id]);
    expect((await listedOn(reader, id))?.description).toBe('set in SQL');

    const deleted = await cluster.v1(writer, 'demo', 'DELETE', `/volume/backup/${id}`);
    expect(deleted.status).toBeLessThan(300);
    expect(['deleting', undefined]).toContain((await listedOn(reader, id))?.status);
    await waitFor('the backup gone from the list', async () =>
      (await listedOn(reader, id)) === undefined ? true : undefined,
    );
  });

  it("move has_dependent_backups when the child is another project's", async () => {
    const id = await createBackup('parent');
    await waitFor('the backup listed available', async () =>
      (await listedOn(reader, id))?.status === 'available' ? true : undefined,
    );
    expect((await listedOn(reader, id))?.has_dependent_backups).toBe(false);
    // An admin of another project may back up this volume: the child is that project's row.
    const childId = randomUUID();
    await sql.query(
      `INSERT INTO "VolumeBackup" (id, "projectId", "userId", "volumeId", status, "sizeGb", "repositoryId",
         "isIncremental", "parentId", "updatedAt")
       SELECT $1, 'another-project', 'someone', "volumeId", 'available', 1, "repositoryId", true, id, now()
       FROM "VolumeBackup" WHERE id = $2`,
      [childId, id],
    );
    expect((await listedOn(reader, id))?.has_dependent_backups).toBe(true);
    await sql.query(`DELETE FROM "VolumeBackup" WHERE id = $1`, [childId]);
    expect((await listedOn(reader, id))?.has_dependent_backups).toBe(false);
  });

  it('leave the version alone when a transaction rolls back', async () => {
    const before = await sql.query(`SELECT version FROM "BackupListVersion"`);
    await sql.query('BEGIN');
    await sql.query(`UPDATE "VolumeBackup" SET description = 'never committed'`);
    await sql.query('ROLLBACK');
    expect((await sql.query(`SELECT version FROM "BackupListVersion"`)).rows).toEqual(before.rows);
    expect((await listOn(reader)).map((view) => view.description)).not.toContain('never committed');
  });
});
