import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, waitForBackup } from '../support/stack.js';

// Acceptance 2: every byte comes back — full, incremental, in-use volume, a given snapshot_id, and
// restore into an existing volume.

const MiB = 1024 * 1024;
let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

async function backup(volumeId: string, extra: Record<string, unknown> = {}) {
  const { status, body } = await stack.v1('demo', 'POST', '/volume/backup', {
    backup: { volume_id: volumeId, ...extra },
  });
  expect(status, JSON.stringify(body)).toBe(201);
  return waitForBackup(stack, 'demo', body.backup.id);
}

/** POST /volume with backup_id, then wait for the new volume to be available; its sha256. */
async function restoreToNewVolume(backupId: string, size?: number) {
  const { status, body } = await stack.v1('demo', 'POST', '/volume', {
    volume: { backup_id: backupId, name: 'restored', ...(size ? { size } : {}) },
  });
  expect(status, JSON.stringify(body)).toBe(201);
  expect(body.volume.name).toBe('restored');
  // Marked before the answer, so the new volume never looks usable before it holds the data.
  expect(['creating', 'restoring-backup']).toContain(body.volume.status);
  await stack.cinder.waitVolume('demo', body.volume.id, 'available');
  return { volumeId: body.volume.id as string, sha256: await stack.cinder.sha256(body.volume.id) };
}

async function writeRandom(volumeId: string, writes: Array<[offset: number, length: number]>) {
  for (const [offset, length] of writes) await stack.cinder.write(volumeId, offset, randomBytes(length));
}

describe('round trip', () => {
  it('full backup → new volume has the same sha256; then an incremental after changes', async () => {
    const volumeId = await stack.cinder.createVolume('demo', 1);
    await writeRandom(volumeId, [
      [0, 4 * MiB],
      [300 * MiB, 1 * MiB],
      [1024 * MiB - 65536, 65536],
    ]);
    const original = await stack.cinder.sha256(volumeId);
    const full = await backup(volumeId);
    expect(full.is_incremental).toBe(false);
    expect((await restoreToNewVolume(full.id)).sha256).toBe(original);

    await writeRandom(volumeId, [
      [2 * MiB + 12345, 70000],
      [700 * MiB, 3 * MiB],
    ]);
    const changed = await stack.cinder.sha256(volumeId);
    expect(changed).not.toBe(original);
    const incremental = await backup(volumeId);
    expect(incremental).toMatchObject({ is_incremental: true, parent_id: full.id });
    expect(incremental.stored_bytes).toBeLessThan(full.stored_bytes);
    expect((await restoreToNewVolume(incremental.id)).sha256).toBe(changed);
    // The older backup still gives the older data.
    expect((await restoreToNewVolume(full.id)).sha256).toBe(original);
  });

  it('backs up an in-use volume (from a forced point-in-time snapshot)', async () => {
    const volumeId = await stack.cinder.createVolume('demo', 1);
    await writeRandom(volumeId, [[0, 2 * MiB]]);
    // Attach it the legacy way so Cinder calls it in-use.
    const attachment = await stack.cinder.attach(volumeId, '7d9a3a3e-6f6b-4a43-9d52-3d1d1e5b2f11');
    expect((await stack.cinder.volume('demo', volumeId)).status).toBe('in-use');
    const original = await stack.cinder.sha256(volumeId);
    const done = await backup(volumeId);
    const snapshotsOfVolume = async () =>
      (await stack.cinder.request('admin', 'GET', `/snapshots?all_tenants=1&volume_id=${volumeId}`)).body
        .snapshots as Array<{ status: string }>;
    // Available once the data is in: the temporary snapshot is being deleted (as in Cinder's own
    // backups), or already gone...
    expect((await snapshotsOfVolume()).filter((s) => s.status !== 'deleting')).toEqual([]);
    expect((await restoreToNewVolume(done.id)).sha256).toBe(original);
    expect((await stack.cinder.volume('demo', volumeId)).status).toBe('in-use');
    // ...and then gone.
    await expect.poll(snapshotsOfVolume, { timeout: 30_000 }).toEqual([]);
    await stack.cinder.detach(volumeId, attachment);
  });

  it("backs up a given snapshot_id: the snapshot's data, not the volume's current data", async () => {
    const volumeId = await stack.cinder.createVolume('demo', 1);
    await writeRandom(volumeId, [[MiB, MiB]]);
    const atSnapshot = await stack.cinder.sha256(volumeId);
    const snapshotId = await stack.cinder.createSnapshot('demo', volumeId);
    await writeRandom(volumeId, [[MiB, MiB]]);
    const done = await backup(volumeId, { snapshot_id: snapshotId });
    expect(done.snapshot_id).toBe(snapshotId);
    expect((await restoreToNewVolume(done.id)).sha256).toBe(atSnapshot);
    // The caller's snapshot is left alone.
    expect((await stack.cinder.request('demo', 'GET', `/snapshots/${snapshotId}`)).status).toBe(200);
  });

  it('restores into an existing volume (the restore action), overwriting all of it', async () => {
    const source = await stack.cinder.createVolume('demo', 1);
    await writeRandom(source, [[0, MiB]]);
    const wanted = await stack.cinder.sha256(source);
    const done = await backup(source);
    const target = await stack.cinder.createVolume('demo', 2, 'target');
    await writeRandom(target, [
      [5 * MiB, 4 * MiB],
      [1536 * MiB, MiB],
    ]);
    const { status, body } = await stack.v1('demo', 'POST', `/volume/backup/${done.id}/action`, {
      restore: { volume_id: target },
    });
    expect(status).toBe(201);
    expect(body).toEqual({ restore: { backup_id: done.id, volume_id: target, volume_name: 'target' } });
    await stack.cinder.waitVolume('demo', target, 'restoring-backup', 30_000).catch(() => undefined);
    await stack.cinder.waitVolume('demo', target, 'available');
    await waitForBackup(stack, 'demo', done.id);
    // A 2 GiB target holding a 1 GiB backup: the first GiB is the backup, the rest zeros.
    const expected = await stack.cinder.read(source, 0, MiB);
    const actual = await stack.cinder.read(target, 0, MiB);
    expect(actual.equals(expected)).toBe(true);
    const rest = await stack.cinder.read(target, 5 * MiB, 4 * MiB);
    expect(rest.every((byte) => byte === 0)).toBe(true);
    const far = await stack.cinder.read(target, 1536 * MiB, MiB);
    expect(far.every((byte) => byte === 0)).toBe(true);
    expect(wanted).toBe(await stack.cinder.sha256(source));
  });

  it('restores into a new volume larger than the backup, and refuses a smaller one', async () => {
    const volumeId = await stack.cinder.createVolume('demo', 1);
    await writeRandom(volumeId, [[0, MiB]]);
    const done = await backup(volumeId);
    const tooSmall = await stack.v1('demo', 'POST', '/volume', { volume: { backup_id: done.id, size: 0 } });
    expect(tooSmall.status).toBe(400);
    const bigger = await restoreToNewVolume(done.id, 2);
    expect((await stack.cinder.volume('demo', bigger.volumeId)).size).toBe(2);
  });
});
