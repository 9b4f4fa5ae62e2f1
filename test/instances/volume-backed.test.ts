import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForInstanceArtifact, waitForInstanceArtifactGone } from '../support/instances.js';
import { SimNova } from '../support/nova.js';
import { type Stack, startStack, waitFor, waitForBackup } from '../support/stack.js';

// Issue 5, acceptance 3: instance snapshot and backup of a boot-from-volume instance with two
// attached volumes, in each of the four accepted statuses; 409 for ERROR and BUILD; 404 for an
// unknown instance; an instance backup's boot volume backup restores to the same sha256.

const MiB = 1024 * 1024;
let stack: Stack;
let nova: SimNova;
let serverId: string;
let boot: string;
let data1: string;
let data2: string;
/** Device names as Nova gave them (libvirt: /dev/vda…; the rig's FakeDriver: /dev/sda…). */
let device: Record<string, string>;

beforeAll(async () => {
  stack = await startStack();
  nova = new SimNova(stack);
  boot = await stack.cinder.createVolume('demo', 1, 'boot');
  data1 = await stack.cinder.createVolume('demo', 1, 'data1');
  data2 = await stack.cinder.createVolume('demo', 2, 'data2');
  for (const volume of [boot, data1, data2]) await stack.cinder.write(volume, 0, randomBytes(MiB));
  serverId = await nova.createServer('demo', { name: 'web-1', bootVolumeId: boot, volumes: [data1, data2] });
  const { body } = await nova.request('demo', 'GET', `/servers/${serverId}/os-volume_attachments`);
  device = Object.fromEntries(
    body.volumeAttachments.map((a: { volumeId: string; device: string }) => [a.volumeId, a.device]),
  );
  expect(new Set(Object.values(device)).size).toBe(3);
});
afterAll(() => stack?.close());

const snapshotSha = (snapshotId: string) => stack.cinder.snapshotSha256(snapshotId);

/** The service's temporary snapshots (`backup-service-…`) of our volumes: none once a backup's job is done. */
async function temporarySnapshots() {
  const { body } = await stack.cinder.request('admin', 'GET', '/snapshots/detail?all_tenants=1');
  return body.snapshots.filter(
    (s: { name: string | null; volume_id: string }) =>
      s.name?.startsWith('backup-service-') && [boot, data1, data2].includes(s.volume_id),
  );
}

async function restoreSha(backupId: string) {
  const { status, body } = await stack.v1('demo', 'POST', '/volume', { volume: { backup_id: backupId } });
  expect(status, JSON.stringify(body)).toBe(201);
  await stack.cinder.waitVolume('demo', body.volume.id, 'available');
  return stack.cinder.sha256(body.volume.id);
}

describe.each(['ACTIVE', 'PAUSED', 'SUSPENDED', 'SHUTOFF'] as const)('an instance that is %s', (status) => {
  beforeAll(async () => {
    const server = await nova.server('demo', serverId);
    if (server.status !== 'ACTIVE') {
      const back = { PAUSED: 'unpause', SUSPENDED: 'resume', SHUTOFF: 'os-start' }[
        server.status as 'PAUSED' | 'SUSPENDED' | 'SHUTOFF'
      ];
      await nova.action('demo', serverId, { [back]: null });
      await nova.waitStatus('demo', serverId, 'ACTIVE');
    }
    await nova.bringTo('demo', serverId, status);
    // A guest writes a little before each capture, so every capture holds different data.
    for (const volume of [boot, data1, data2]) await stack.cinder.write(volume, 4 * MiB, randomBytes(MiB));
  });

  it('instance snapshot: one Cinder snapshot of the caller per volume, taken together, and the description', async () => {
    // Every byte compared for the boot volume; all volumes once (hashing GiBs takes a while).
    const compared = status === 'ACTIVE' ? [boot, data1, data2] : [boot];
    const shas: Record<string, string> = {};
    for (const volume of compared) shas[volume] = await stack.cinder.sha256(volume);
    const { status: code, body } = await stack.v1('demo', 'POST', '/instance/snapshot', {
      snapshot: { instance_id: serverId, name: `snap-${status}`, metadata: { why: 'test' } },
    });
    expect(code, JSON.stringify(body)).toBe(201);
    expect(body.snapshot).toMatchObject({
      id: expect.any(String),
      instance_id: serverId,
      name: `snap-${status}`,
    });
    const done = await waitForInstanceArtifact(stack, 'demo', 'snapshot', body.snapshot.id);
    expect(done).toMatchObject({
      status: 'available',
      image_id: null,
      fail_reason: null,
      project_id: await stack.openstack.projectId('demo'),
      metadata: { why: 'test' },
    });
    expect(done.volume_snapshots).toEqual([
      { volume_id: boot, snapshot_id: expect.any(String), device: device[boot], boot_index: 0 },
      { volume_id: data1, snapshot_id: expect.any(String), device: device[data1], boot_index: null },
      { volume_id: data2, snapshot_id: expect.any(String), device: device[data2], boot_index: null },
    ]);
    for (const entry of done.volume_snapshots) {
      // The caller's own snapshot (visible to the caller), holding the volume's data at that moment.
      const snapshot = (await stack.cinder.request('demo', 'GET', `/snapshots/${entry.snapshot_id}`)).body
        .snapshot;
      expect(snapshot).toMatchObject({ status: 'available', volume_id: entry.volume_id });
      if (shas[entry.volume_id]) expect(await snapshotSha(entry.snapshot_id)).toBe(shas[entry.volume_id]);
    }
    expect(done.instance).toMatchObject({
      id: serverId,
      name: 'web-1',
      status,
      image: null,
      root_device_name: device[boot],
      flavor: expect.objectContaining({ original_name: 'm1.tiny' }),
      block_device_mapping: [
        expect.objectContaining({ volume_id: boot, device_name: device[boot], boot_index: 0 }),
        expect.objectContaining({ volume_id: data1, device_name: device[data1], boot_index: null }),
        expect.objectContaining({
          volume_id: data2,
          device_name: device[data2],
          boot_index: null,
          volume_size: 2,
        }),
      ],
    });
  });

  it('instance backup: one volume backup per volume (incremental where possible); the boot volume restores', async () => {
    const bootSha = await stack.cinder.sha256(boot);
    const previous = await stack.v1('demo', 'GET', `/volume/backup?volume_id=${boot}`);
    const { status: code, body } = await stack.v1('demo', 'POST', '/instance/backup', {
      backup: { instance_id: serverId, name: `backup-${status}` },
    });
    expect(code, JSON.stringify(body)).toBe(201);
    expect(body.backup.id).toEqual(expect.any(String));
    const done = await waitForInstanceArtifact(stack, 'demo', 'backup', body.backup.id);
    expect(done).toMatchObject({ status: 'available', image_backup_id: null, instance_id: serverId });
    expect(done.volume_backups).toEqual([
      { volume_id: boot, backup_id: expect.any(String), device: device[boot], boot_index: 0 },
      { volume_id: data1, backup_id: expect.any(String), device: device[data1], boot_index: null },
      { volume_id: data2, backup_id: expect.any(String), device: device[data2], boot_index: null },
    ]);
    const incrementalExpected = previous.body.backups.length > 0;
    for (const entry of done.volume_backups) {
      const backup = await waitForBackup(stack, 'demo', entry.backup_id);
      expect(backup).toMatchObject({ volume_id: entry.volume_id, is_incremental: incrementalExpected });
    }
    await expect.poll(temporarySnapshots, { timeout: 30_000 }).toEqual([]);
    expect(await restoreSha(done.volume_backups[0].backup_id)).toBe(bootSha);
    expect((await nova.server('demo', serverId)).status).toBe(status);
  });
});

describe('statuses that are refused', () => {
  it('409 naming the status for an instance in ERROR, for both', async () => {
    const reset = await nova.action('admin', serverId, { 'os-resetState': { state: 'error' } });
    expect(reset.status).toBe(202);
    try {
      for (const kind of ['snapshot', 'backup'] as const) {
        const { status, body } = await stack.v1('demo', 'POST', `/instance/${kind}`, {
          [kind]: { instance_id: serverId },
        });
        expect(status).toBe(409);
        expect(body.conflictingRequest.message).toBe(
          `Instance ${serverId} is ERROR: an instance ${kind} needs it ACTIVE, SHUTOFF, SUSPENDED or PAUSED.`,
        );
      }
    } finally {
      await nova.action('admin', serverId, { 'os-resetState': { state: 'active' } });
    }
    const list = await stack.v1('demo', 'GET', `/instance/snapshot?instance_id=${serverId}`);
    expect(list.body.snapshots.every((s: { status: string }) => s.status === 'available')).toBe(true);
  });

  it('409 for an instance still in BUILD', async () => {
    const volume = await stack.cinder.createVolume('demo', 1);
    await stack.cinder.request('demo', 'POST', `/volumes/${volume}/action`, {
      'os-set_bootable': { bootable: true },
    });
    // The simulator holds the build; real Nova takes seconds to schedule and attach the volume.
    const simulated = stack.openstack.kind === 'simulator';
    if (simulated) stack.sim.transitions.hold('server.build');
    try {
      const created = await nova.request('demo', 'POST', '/servers', {
        server: {
          name: 'building',
          flavorRef: '1',
          networks: 'none',
          block_device_mapping_v2: [
            { boot_index: 0, uuid: volume, source_type: 'volume', destination_type: 'volume' },
          ],
        },
      });
      expect(created.status).toBe(202);
      const id = created.body.server.id;
      expect((await nova.server('demo', id)).status).toBe('BUILD');
      for (const kind of ['snapshot', 'backup'] as const) {
        const { status, body } = await stack.v1('demo', 'POST', `/instance/${kind}`, {
          [kind]: { instance_id: id },
        });
        expect(status).toBe(409);
        expect(body.conflictingRequest.message).toMatch(new RegExp(`^Instance ${id} is BUILD: `));
      }
    } finally {
      if (simulated) stack.sim.transitions.release('server.build');
    }
  });

  it('404 for an unknown instance; 400 for a malformed id or an unknown field', async () => {
    const unknown = '5d2b6f7e-1c1a-4c55-8d1e-7e0c5f3b9a21';
    for (const kind of ['snapshot', 'backup'] as const) {
      const missing = await stack.v1('demo', 'POST', `/instance/${kind}`, {
        [kind]: { instance_id: unknown },
      });
      expect(missing.status).toBe(404);
      expect(missing.body).toEqual({
        itemNotFound: { code: 404, message: `Instance ${unknown} could not be found.` },
      });
      expect(
        (await stack.v1('demo', 'POST', `/instance/${kind}`, { [kind]: { instance_id: 'web-1' } })).status,
      ).toBe(400);
      const extra = await stack.v1('demo', 'POST', `/instance/${kind}`, {
        [kind]: { instance_id: serverId, colour: 'blue' },
      });
      expect(extra.status).toBe(400);
      expect(extra.body.badRequest.message).toContain("'colour'");
      expect((await stack.v1('demo', 'GET', `/instance/${kind}/${unknown}`)).status).toBe(404);
    }
  });
});

describe('using and deleting them', () => {
  it("a volume rolls back to its instance snapshot's Cinder snapshot (stop, roll back, start)", async () => {
    expect((await nova.server('demo', serverId)).status).toBe('ACTIVE'); // reset to active above
    const before = await stack.cinder.sha256(boot);
    const { body } = await stack.v1('demo', 'POST', '/instance/snapshot', {
      snapshot: { instance_id: serverId },
    });
    const done = await waitForInstanceArtifact(stack, 'demo', 'snapshot', body.snapshot.id);
    await stack.cinder.write(boot, 0, randomBytes(MiB));
    await nova.bringTo('demo', serverId, 'SHUTOFF');
    const bootSnapshot = done.volume_snapshots.find((e: { boot_index: number | null }) => e.boot_index === 0);
    const rollback = await stack.v1('demo', 'POST', `/volume/${boot}/action`, {
      rollback: { snapshot_id: bootSnapshot.snapshot_id },
    });
    expect(rollback.status, JSON.stringify(rollback.body)).toBe(201);
    await waitFor('rollback', async () => {
      const job = await stack.db.prisma.job.findUnique({ where: { id: rollback.body.rollback.job_id } });
      if (job?.status === 'failed') throw new Error(job.error ?? 'rollback failed');
      return job?.status === 'succeeded' ? true : undefined;
    });
    expect(await stack.cinder.sha256(boot)).toBe(before);
    expect((await nova.action('demo', serverId, { 'os-start': null })).status).toBe(202);
    await nova.waitStatus('demo', serverId, 'ACTIVE');
  });

  it('deleting an instance snapshot removes its Cinder snapshots; a busy one is 409', async () => {
    const { body } = await stack.v1('demo', 'POST', '/instance/snapshot', {
      snapshot: { instance_id: serverId },
    });
    const done = await waitForInstanceArtifact(stack, 'demo', 'snapshot', body.snapshot.id);
    const deleted = await stack.v1('demo', 'DELETE', `/instance/snapshot/${done.id}`);
    expect(deleted.status).toBe(201);
    expect(deleted.body).toEqual({ snapshot: { id: done.id } });
    const again = await stack.v1('demo', 'DELETE', `/instance/snapshot/${done.id}`);
    expect([409, 404]).toContain(again.status);
    await waitForInstanceArtifactGone(stack, 'demo', 'snapshot', done.id);
    for (const entry of done.volume_snapshots)
      expect((await stack.cinder.request('demo', 'GET', `/snapshots/${entry.snapshot_id}`)).status).toBe(404);
  });

  it('deleting an instance backup removes its volume backups; one of them alone cannot be deleted', async () => {
    const { body } = await stack.v1('demo', 'POST', '/instance/backup', {
      backup: { instance_id: serverId },
    });
    const busy = await stack.v1('demo', 'DELETE', `/instance/backup/${body.backup.id}`);
    expect(busy.status).toBe(409);
    const done = await waitForInstanceArtifact(stack, 'demo', 'backup', body.backup.id);
    const child = done.volume_backups[1].backup_id;
    const alone = await stack.v1('demo', 'DELETE', `/volume/backup/${child}`);
    expect(alone.status).toBe(409);
    expect(alone.body.conflictingRequest.message).toContain(done.id);

    const updated = await stack.v1('demo', 'POST', `/instance/backup/${done.id}/action`, {
      update: { name: 'renamed', metadata: { k: 'v' } },
    });
    expect(updated.status).toBe(201);
    expect(updated.body.backup).toMatchObject({ name: 'renamed', metadata: { k: 'v' } });
    const unknownAction = await stack.v1('demo', 'POST', `/instance/backup/${done.id}/action`, {
      restore: {},
    });
    expect(unknownAction.status).toBe(400);

    const deleted = await stack.v1('demo', 'DELETE', `/instance/backup/${done.id}`);
    expect(deleted.status).toBe(201);
    expect(deleted.body).toEqual({ backup: { id: done.id } });
    await waitForInstanceArtifactGone(stack, 'demo', 'backup', done.id);
    for (const entry of done.volume_backups)
      expect((await stack.v1('demo', 'GET', `/volume/backup/${entry.backup_id}`)).status).toBe(404);
  });

  it('lists with filters, sort, limit and a next link', async () => {
    const all = await stack.v1('demo', 'GET', `/instance/backup?instance_id=${serverId}&sort=created_at:asc`);
    expect(all.status).toBe(200);
    expect(all.body.backups.length).toBeGreaterThanOrEqual(4);
    const first = await stack.v1(
      'demo',
      'GET',
      `/instance/backup?instance_id=${serverId}&sort=created_at:asc&limit=2`,
    );
    expect(first.body.backups.map((b: { id: string }) => b.id)).toEqual(
      all.body.backups.slice(0, 2).map((b: { id: string }) => b.id),
    );
    const next = new URL(first.body.backups_links[0].href);
    expect(next.searchParams.get('marker')).toBe(first.body.backups[1].id);
    const second = await stack.v1('demo', 'GET', `/instance/backup${next.search}`);
    expect(second.body.backups[0].id).toBe(all.body.backups[2].id);
    const byName = await stack.v1('demo', 'GET', '/instance/snapshot?name=snap-PAUSED');
    expect(byName.body.snapshots.map((s: { name: string }) => s.name)).toEqual(['snap-PAUSED']);
    expect((await stack.v1('demo', 'GET', '/instance/snapshot?status=available&sort=name:asc')).status).toBe(
      200,
    );
    expect((await stack.v1('demo', 'GET', '/instance/snapshot?sort=size:asc')).status).toBe(400);
    expect((await stack.v1('demo', 'GET', '/instance/snapshot?colour=blue')).status).toBe(400);
  });
});
