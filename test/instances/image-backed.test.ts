import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstanceArtifact, waitForInstanceArtifactGone } from '../support/instances.js';
import { SimNova, sha256OfDataOnVolume } from '../support/nova.js';
import { type Stack, startStack, waitForBackup } from '../support/stack.js';

// Issue 5, acceptance 4: an image-backed instance. Its snapshot records the Glance image made by
// createImage; its backup stores the root disk's data in the repository, and that data restores.

const MiB = 1024 * 1024;
let stack: Stack;
let nova: SimNova;
let serverId: string;
let dataVolume: string;
let cirros: Buffer;

beforeAll(async () => {
  stack = await startStack();
  nova = new SimNova(stack);
  const imageId = await nova.cirrosImageId();
  cirros = await nova.imageData('demo', imageId);
  dataVolume = await stack.cinder.createVolume('demo', 1, 'data');
  await stack.cinder.write(dataVolume, 0, randomBytes(MiB));
  serverId = await nova.createServer('demo', { name: 'img-1', imageId, volumes: [dataVolume] });
});
afterAll(() => stack?.close());

/** Images (as admin sees them) with this name. */
async function imagesNamed(name: string) {
  const { body } = await nova.glance('admin', 'GET', `/v2/images?name=${encodeURIComponent(name)}`);
  return body.images as Array<{ id: string }>;
}

describe('an image-backed instance', () => {
  it("snapshot: the Glance image of the root disk (the caller's) and a Cinder snapshot of the data volume", async () => {
    const { status, body } = await stack.v1('demo', 'POST', '/instance/snapshot', {
      snapshot: { instance_id: serverId, name: 'img-snap' },
    });
    expect(status, JSON.stringify(body)).toBe(201);
    const done = await waitForInstanceArtifact(stack, 'demo', 'snapshot', body.snapshot.id);
    expect(done.image_id).toEqual(expect.any(String));
    expect(done.volume_snapshots).toEqual([
      { volume_id: dataVolume, snapshot_id: expect.any(String), device: '/dev/vdb', boot_index: null },
    ]);
    expect(done.instance).toMatchObject({
      id: serverId,
      name: 'img-1',
      image: { id: expect.any(String) },
      block_device_mapping: [
        expect.objectContaining({ source_type: 'image', device_name: '/dev/vda', boot_index: 0 }),
        expect.objectContaining({ volume_id: dataVolume, device_name: '/dev/vdb' }),
      ],
    });
    const image = await nova.glance('demo', 'GET', `/v2/images/${done.image_id}`);
    expect(image.status).toBe(200);
    expect(image.body).toMatchObject({
      status: 'active',
      owner: stack.sim.projects.demo.id,
      size: cirros.length,
    });
    expect((await nova.imageData('demo', done.image_id)).equals(cirros)).toBe(true);

    const deleted = await stack.v1('demo', 'DELETE', `/instance/snapshot/${done.id}`);
    expect(deleted.status).toBe(201);
    await waitForInstanceArtifactGone(stack, 'demo', 'snapshot', done.id);
    expect((await nova.glance('demo', 'GET', `/v2/images/${done.image_id}`)).status).toBe(404);
    const snapshot = done.volume_snapshots[0].snapshot_id;
    expect((await stack.cinder.request('demo', 'GET', `/snapshots/${snapshot}`)).status).toBe(404);
  });

  it('backup: the root disk stored in the repository (temporary image deleted); it restores into a volume', async () => {
    const dataSha = await stack.cinder.sha256(dataVolume);
    const { status, body } = await stack.v1('demo', 'POST', '/instance/backup', {
      backup: { instance_id: serverId, name: 'img-backup' },
    });
    expect(status, JSON.stringify(body)).toBe(201);
    const done = await waitForInstanceArtifact(stack, 'demo', 'backup', body.backup.id);
    expect(done.image_backup_id).toEqual(expect.any(String));
    expect(done.volume_backups).toEqual([
      { volume_id: dataVolume, backup_id: expect.any(String), device: '/dev/vdb', boot_index: null },
    ]);
    const rootBackup = await waitForBackup(stack, 'demo', done.image_backup_id);
    expect(rootBackup).toMatchObject({
      volume_id: serverId,
      size: 1,
      status: 'available',
      is_incremental: false,
      project_id: stack.sim.projects.demo.id,
    });
    expect(rootBackup.stored_bytes).toBeGreaterThan(0);
    expect(await imagesNamed(`backup-service-${done.image_backup_id}`)).toEqual([]);

    // The root disk's bytes come back in a new volume: the image, then zeros to the GiB.
    const restored = await stack.v1('demo', 'POST', '/volume', {
      volume: { backup_id: done.image_backup_id },
    });
    expect(restored.status, JSON.stringify(restored.body)).toBe(201);
    await stack.cinder.waitVolume('demo', restored.body.volume.id, 'available');
    expect(await stack.cinder.sha256(restored.body.volume.id)).toBe(sha256OfDataOnVolume(cirros, 1));
    // And the data volume's backup, as for any instance.
    const data = await stack.v1('demo', 'POST', '/volume', {
      volume: { backup_id: done.volume_backups[0].backup_id },
    });
    await stack.cinder.waitVolume('demo', data.body.volume.id, 'available');
    expect(await stack.cinder.sha256(data.body.volume.id)).toBe(dataSha);

    // A second backup of the root disk builds on the first and adds (almost) nothing.
    const again = await stack.v1('demo', 'POST', '/instance/backup', { backup: { instance_id: serverId } });
    const second = await waitForInstanceArtifact(stack, 'demo', 'backup', again.body.backup.id);
    const secondRoot = await waitForBackup(stack, 'demo', second.image_backup_id);
    expect(secondRoot).toMatchObject({
      is_incremental: true,
      parent_id: done.image_backup_id,
      stored_bytes: 0,
    });

    // Deleting the instance backup deletes the root disk's backup too.
    expect((await stack.v1('demo', 'DELETE', `/instance/backup/${second.id}`)).status).toBe(201);
    await waitForInstanceArtifactGone(stack, 'demo', 'backup', second.id);
    expect((await stack.v1('demo', 'GET', `/volume/backup/${second.image_backup_id}`)).status).toBe(404);
  });

  it('a root disk that cannot be captured makes the instance backup error, naming it; it cleans up and deletes', async () => {
    const imageId = await nova.cirrosImageId();
    const data = await stack.cinder.createVolume('demo', 1);
    const broken = await nova.createServer('demo', { name: 'img-broken', imageId, volumes: [data] });
    // Nova's upload of the root disk fails (the image goes `killed`).
    await rm(path.join(stack.sim.stateDir, 'instances', broken, 'disk'));
    const { status, body } = await stack.v1('demo', 'POST', '/instance/backup', {
      backup: { instance_id: broken },
    });
    expect(status).toBe(201);
    const failed = await waitForInstanceArtifact(stack, 'demo', 'backup', body.backup.id, ['error']);
    expect(failed.fail_reason).toMatch(/could not make image .* \(status killed\)/);
    const root = (await stack.v1('demo', 'GET', `/volume/backup/${failed.image_backup_id}`)).body.backup;
    expect(root).toMatchObject({ status: 'error', fail_reason: expect.stringContaining(failed.id) });
    // The data volume's backup had its snapshot already: it completes on its own.
    await waitForBackup(stack, 'demo', failed.volume_backups[0].backup_id);
    expect(await imagesNamed(`backup-service-${failed.image_backup_id}`)).toEqual([]);
    expect((await stack.v1('demo', 'DELETE', `/instance/backup/${failed.id}`)).status).toBe(201);
    await waitForInstanceArtifactGone(stack, 'demo', 'backup', failed.id);
  });

  it('a snapshot Nova refuses (createImage while another is uploading): the error is answered, what was made removed', async () => {
    stack.sim.transitions.hold('server.image_upload');
    let first: string;
    let refused: { status: number; body: any };
    try {
      const ok = await stack.v1('demo', 'POST', '/instance/snapshot', {
        snapshot: { instance_id: serverId },
      });
      expect(ok.status).toBe(201);
      first = ok.body.snapshot.id;
      refused = await stack.v1('demo', 'POST', '/instance/snapshot', {
        snapshot: { instance_id: serverId, name: 'refused' },
      });
    } finally {
      stack.sim.transitions.release('server.image_upload');
    }
    expect(refused.status).toBe(409);
    expect(refused.body.conflictingRequest.message).toMatch(/createImage.*task_state image_snapshot/);
    await waitForInstanceArtifact(stack, 'demo', 'snapshot', first);
    // The refused one is kept as error, and the data volume's snapshot it had made is gone again.
    const [record] = (await stack.v1('demo', 'GET', '/instance/snapshot?name=refused')).body.snapshots;
    const failed = await waitForInstanceArtifact(stack, 'demo', 'snapshot', record.id, ['error']);
    expect(failed.fail_reason).toMatch(/creating the snapshots failed/);
    const { body } = await stack.cinder.request('demo', 'GET', `/snapshots/detail?volume_id=${dataVolume}`);
    expect(body.snapshots.map((x: { name: string }) => x.name)).not.toContain(
      `instance-snapshot-${record.id}-${dataVolume}`,
    );
    expect((await stack.v1('demo', 'DELETE', `/instance/snapshot/${record.id}`)).status).toBe(201);
    await waitForInstanceArtifactGone(stack, 'demo', 'snapshot', record.id);
  });
});
