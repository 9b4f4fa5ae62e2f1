import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cephAccess } from '../support/openstack-target.js';
import { type Stack, startStack, waitFor, waitForBackup } from '../support/stack.js';
import { runRbd } from '../support/volume-data.js';

// Issue 9: what the `rbd` driver leaves in Ceph, seen from Ceph itself. The base of the next
// incremental is the point in time the previous backup read, kept as the RBD snapshot
// `backup.<backup id>.snap.<time>` — a name Cinder's RBD driver deletes before it deletes a volume —
// and without it the next backup reads in full.

const MiB = 1024 * 1024;
const ceph = cephAccess();
let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

async function rbdSnaps(volumeId: string): Promise<Array<{ name: string; protected: string }>> {
  const out = await runRbd(ceph, ['snap', 'ls', `${ceph.pool}/volume-${volumeId}`, '--format', 'json']);
  return JSON.parse(out.toString());
}

async function images(): Promise<string[]> {
  return JSON.parse((await runRbd(ceph, ['ls', ceph.pool, '--format', 'json'])).toString());
}

async function backup(volumeId: string, extra: Record<string, unknown> = {}) {
  const { status, body } = await stack.v1('demo', 'POST', '/volume/backup', {
    backup: { volume_id: volumeId, ...extra },
  });
  expect(status, JSON.stringify(body)).toBe(201);
  return waitForBackup(stack, 'demo', body.backup.id, ['available'], 600_000);
}

async function readBytes(backupId: string): Promise<number> {
  const job = await stack.db.prisma.job.findFirstOrThrow({
    where: { volumeBackupId: backupId, kind: 'volume_backup_create' },
  });
  return (job.state as { readBytes: number }).readBytes;
}

async function restoredSha(backupId: string): Promise<string> {
  const { status, body } = await stack.v1('demo', 'POST', '/volume', { volume: { backup_id: backupId } });
  expect(status, JSON.stringify(body)).toBe(201);
  await stack.cinder.waitVolume('demo', body.volume.id, 'available', 600_000);
  return stack.cinder.sha256(body.volume.id);
}

describe('the rbd driver in Ceph', () => {
  it('keeps one backup point per volume, unprotected, released with its backup; Cinder deletes the volume', async () => {
    const volumeId = await stack.cinder.createVolume('demo', 1);
    await stack.cinder.write(volumeId, 0, randomBytes(4 * MiB));
    const first = await backup(volumeId);
    expect(await rbdSnaps(volumeId)).toEqual([
      {
        id: expect.any(Number),
        name: expect.stringMatching(new RegExp(`^backup\\.${first.id}\\.snap\\.\\d+\\.\\d+$`)),
        size: 1024 * MiB,
        protected: 'false',
        timestamp: expect.any(String),
      },
    ]);
    // The temporary Cinder snapshot it was (renamed in Ceph) is gone from Cinder (its deletion is
    // waited for after the backup is available, as in Cinder's own backups).
    const cinderSnapshots = async () =>
      (await stack.cinder.request('admin', 'GET', `/snapshots?all_tenants=1&volume_id=${volumeId}`)).body
        .snapshots;
    await expect.poll(cinderSnapshots, { timeout: 60_000 }).toEqual([]);

    await stack.cinder.write(volumeId, 2 * MiB, randomBytes(MiB));
    const second = await backup(volumeId);
    expect(second).toMatchObject({ is_incremental: true, parent_id: first.id });
    expect(await readBytes(second.id)).toBeLessThanOrEqual(MiB + 64 * 1024);
    expect((await rbdSnaps(volumeId)).map((s) => s.name)).toEqual([
      expect.stringMatching(new RegExp(`^backup\\.${second.id}\\.snap\\.`)),
    ]);

    expect((await stack.v1('demo', 'DELETE', `/volume/backup/${second.id}`)).status).toBe(201);
    await waitFor('backup deleted', async () =>
      (await stack.v1('demo', 'GET', `/volume/backup/${second.id}`)).status === 404 ? true : undefined,
    );
    expect(await rbdSnaps(volumeId)).toEqual([]);

    // A volume with a backup point is deleted by Cinder as any other, image and all.
    await backup(volumeId);
    expect((await rbdSnaps(volumeId)).length).toBe(1);
    // Cinder refuses to delete a volume while a snapshot of it is still being deleted.
    await expect.poll(cinderSnapshots, { timeout: 60_000 }).toEqual([]);
    expect((await stack.cinder.request('demo', 'DELETE', `/volumes/${volumeId}`)).status).toBe(202);
    await waitFor(
      `volume ${volumeId} deleted`,
      async () => {
        const { status, body } = await stack.cinder.request('demo', 'GET', `/volumes/${volumeId}`);
        if (body?.volume?.status === 'error_deleting') throw new Error('Cinder could not delete the volume');
        return status === 404 ? true : undefined;
      },
      120_000,
    );
    expect(await images()).not.toContain(`volume-${volumeId}`);
  });

  it('without its base (removed behind its back) the next backup reads in full, and is right', async () => {
    const volumeId = await stack.cinder.createVolume('demo', 1);
    await stack.cinder.write(volumeId, 0, randomBytes(8 * MiB));
    const first = await backup(volumeId);
    const [point] = await rbdSnaps(volumeId);
    await runRbd(ceph, ['snap', 'rm', '--no-progress', `${ceph.pool}/volume-${volumeId}@${point!.name}`]);
    await stack.cinder.write(volumeId, 12345, randomBytes(1000));
    const wanted = await stack.cinder.sha256(volumeId);
    const second = await backup(volumeId);
    expect(second.parent_id).toBe(first.id);
    expect(await readBytes(second.id)).toBeGreaterThanOrEqual(8 * MiB);
    expect(await restoredSha(second.id)).toBe(wanted);
  });

  it("a backup of the caller's snapshot keeps no point of its own: the next one builds on that snapshot", async () => {
    const volumeId = await stack.cinder.createVolume('demo', 1);
    await stack.cinder.write(volumeId, 0, randomBytes(8 * MiB));
    const snapshotId = await stack.cinder.createSnapshot('demo', volumeId);
    const first = await backup(volumeId, { snapshot_id: snapshotId });
    expect((await rbdSnaps(volumeId)).map((s) => s.name)).toEqual([`snapshot-${snapshotId}`]);
    await stack.cinder.write(volumeId, 4 * MiB + 7, randomBytes(100));
    const wanted = await stack.cinder.sha256(volumeId);
    const second = await backup(volumeId);
    expect(second.parent_id).toBe(first.id);
    // Only the changed bytes (from the diff stream), not the 8 MiB.
    expect(await readBytes(second.id)).toBeLessThan(MiB);
    expect(await restoredSha(second.id)).toBe(wanted);
  });
});
