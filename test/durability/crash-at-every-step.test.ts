import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, type Replica, startCluster } from '../support/cluster.js';
import { SimNova } from '../support/nova.js';
import { simulatorTarget } from '../support/openstack-target.js';
import { waitFor } from '../support/stack.js';

// Issue 6, acceptance 1: kill -9 during each step of a backup, a restore, a rollback, an instance
// snapshot and an instance backup (the kill
// point chosen by TEST_CRASH_AT); after a restart every resource ends available or error within the
// lease time, no temporary snapshot is left, and every available backup restores byte-identical.

const MiB = 1024 * 1024;
const LEASE_MS = 3000;
let cluster: Cluster;

beforeAll(async () => {
  cluster = await startCluster({ JOB_LEASE_MS: String(LEASE_MS) });
});
afterAll(() => cluster?.close());

/** A volume of 1 GiB with some data in it, and its sha256. */
async function volumeWithData() {
  const id = await cluster.cinder.createVolume('demo', 1);
  await cluster.cinder.write(id, 0, randomBytes(8 * MiB));
  await cluster.cinder.write(id, 500 * MiB, randomBytes(8 * MiB));
  return { id, sha256: await cluster.cinder.sha256(id) };
}

async function crashingReplica(crashAt: string) {
  return cluster.startReplica({ TEST_CRASH_AT: crashAt });
}

async function expectKilled(replica: Replica) {
  const exit = await Promise.race([
    replica.exited,
    new Promise((r) => setTimeout(() => r('still running'), 60_000)),
  ]);
  expect(exit, replica.output().slice(-2000)).toEqual({ code: null, signal: 'SIGKILL' });
  expect(replica.output()).toContain('TEST_CRASH_AT reached');
}

/** After a restart the resource must settle within the lease plus the time the work itself takes. */
const SETTLE_MS = LEASE_MS + 60_000;

async function backupStatus(replica: Replica, id: string) {
  const { body } = await cluster.v1(replica, 'demo', 'GET', `/volume/backup/${id}`);
  return body.backup as { status: string; fail_reason: string | null };
}

async function temporarySnapshotsOf(backupId: string) {
  const { body } = await cluster.cinder.request(
    'admin',
    'GET',
    `/snapshots/detail?all_tenants=1&name=backup-service-${backupId}`,
  );
  return body.snapshots as unknown[];
}

async function restoredSha(replica: Replica, backupId: string) {
  const { status, body } = await cluster.v1(replica, 'demo', 'POST', '/volume', {
    volume: { backup_id: backupId },
  });
  expect(status).toBe(201);
  await cluster.cinder.waitVolume('demo', body.volume.id, 'available', 120_000);
  return cluster.cinder.sha256(body.volume.id);
}

describe('kill -9 during a backup', () => {
  it.each(['start', 'snapshot', 'read', 'read@0.5', 'cleanup', 'drop-snapshot'])(
    'at %s: the backup completes after a restart',
    async (step) => {
      const volume = await volumeWithData();
      const doomed = await crashingReplica(`volume_backup_create:${step}`);
      const { body } = await cluster.v1(doomed, 'demo', 'POST', '/volume/backup', {
        backup: { volume_id: volume.id },
      });
      const backupId = body.backup.id as string;
      await expectKilled(doomed);

      const survivor = await cluster.startReplica();
      const restartedAt = Date.now();
      const settled = await waitFor(
        `backup ${backupId} to settle`,
        async () => {
          const backup = await backupStatus(survivor, backupId);
          return ['available', 'error'].includes(backup.status) ? backup : undefined;
        },
        SETTLE_MS,
      );
      expect(Date.now() - restartedAt).toBeLessThan(SETTLE_MS);
      expect(settled.status, settled.fail_reason ?? '').toBe('available');
      // Available before its job has seen Cinder remove the temporary snapshot (drop-snapshot).
      await expect.poll(() => temporarySnapshotsOf(backupId), { timeout: SETTLE_MS }).toEqual([]);
      await expect
        .poll(
          async () =>
            (
              await cluster.db.prisma.job.findFirst({
                where: { volumeBackupId: backupId, kind: 'volume_backup_create' },
              })
            )?.status,
          { timeout: SETTLE_MS },
        )
        .toBe('succeeded');
      expect(await restoredSha(survivor, backupId)).toBe(volume.sha256);
      survivor.kill('SIGTERM');
      expect((await survivor.exited).code).toBe(0);
    },
  );
});

describe('kill -9 during a restore', () => {
  let source: { id: string; sha256: string };
  let backupId: string;
  beforeAll(async () => {
    source = await volumeWithData();
    const replica = await cluster.startReplica();
    const { body } = await cluster.v1(replica, 'demo', 'POST', '/volume/backup', {
      backup: { volume_id: source.id },
    });
    backupId = body.backup.id;
    await waitFor('backup', async () =>
      (await backupStatus(replica, backupId)).status === 'available' ? true : undefined,
    );
    replica.kill('SIGTERM');
    await replica.exited;
  });

  it.each(['start', 'write', 'write@0.5', 'finish'])(
    'at %s: the new volume ends available and byte-identical',
    async (step) => {
      const doomed = await crashingReplica(`volume_backup_restore:${step}`);
      const { status, body } = await cluster.v1(doomed, 'demo', 'POST', '/volume', {
        volume: { backup_id: backupId },
      });
      expect(status).toBe(201);
      const volumeId = body.volume.id as string;
      await expectKilled(doomed);
      expect((await cluster.cinder.volume('demo', volumeId)).status).toBe('restoring-backup');

      const survivor = await cluster.startReplica();
      const volume = await cluster.cinder.waitVolume('demo', volumeId, 'available', SETTLE_MS);
      expect(volume.status).toBe('available');
      expect(await cluster.cinder.sha256(volumeId)).toBe(source.sha256);
      expect((await backupStatus(survivor, backupId)).status).toBe('available');
      survivor.kill('SIGTERM');
      await survivor.exited;
    },
  );
});

describe('kill -9 during a rollback', () => {
  it.each(['start', 'mark', 'rollback', 'release'])(
    "at %s: the volume ends in its former status with the snapshot's data",
    async (step) => {
      const volumeId = await cluster.cinder.createVolume('demo', 1);
      await cluster.cinder.write(volumeId, 0, randomBytes(4 * MiB));
      const wanted = await cluster.cinder.sha256(volumeId);
      const snapshotId = await cluster.cinder.createSnapshot('demo', volumeId);
      await cluster.cinder.write(volumeId, 0, randomBytes(4 * MiB));

      const doomed = await crashingReplica(`volume_rollback:${step}`);
      const { status, body } = await cluster.v1(doomed, 'demo', 'POST', `/volume/${volumeId}/action`, {
        rollback: { snapshot_id: snapshotId },
      });
      expect(status).toBe(201);
      await expectKilled(doomed);

      const survivor = await cluster.startReplica();
      const job = await waitFor(
        'the rollback job to end',
        async () => {
          const row = await cluster.db.prisma.job.findUniqueOrThrow({ where: { id: body.rollback.job_id } });
          return ['succeeded', 'failed'].includes(row.status) ? row : undefined;
        },
        SETTLE_MS,
      );
      expect(job.status, job.error ?? '').toBe('succeeded');
      expect((await cluster.cinder.volume('demo', volumeId)).status).toBe('available');
      expect(await cluster.cinder.sha256(volumeId)).toBe(wanted);
      const jobs = await cluster.db.prisma.job.findMany({
        where: { kind: 'volume_rollback', status: { in: ['queued', 'running'] } },
      });
      expect(jobs).toEqual([]);
      survivor.kill('SIGTERM');
      await survivor.exited;
    },
  );
});

describe('kill -9 during instance snapshots and instance backups', () => {
  /** A boot-from-volume instance with a second volume attached, both holding data. */
  async function instance() {
    const nova = new SimNova({
      openstack: simulatorTarget(cluster.sim),
      token: cluster.token,
      cinder: cluster.cinder,
    });
    const boot = await volumeWithData();
    const data = await volumeWithData();
    const serverId = await nova.createServer('demo', { bootVolumeId: boot.id, volumes: [data.id] });
    return {
      serverId,
      volumes: new Map([
        [boot.id, boot.sha256],
        [data.id, data.sha256],
      ]),
    };
  }

  async function settle(replica: Replica, kind: 'snapshot' | 'backup', id: string) {
    return waitFor(
      `instance ${kind} ${id} to settle`,
      async () => {
        const { body } = await cluster.v1(replica, 'demo', 'GET', `/instance/${kind}/${id}`);
        const item = body[kind];
        return ['available', 'error'].includes(item.status) ? item : undefined;
      },
      SETTLE_MS,
    );
  }

  it.each(['start', 'wait', 'finish'])(
    'instance snapshot, killed at %s: available with every volume snapshot',
    async (step) => {
      const vm = await instance();
      const doomed = await crashingReplica(`instance_snapshot_create:${step}`);
      const { status, body } = await cluster.v1(doomed, 'demo', 'POST', '/instance/snapshot', {
        snapshot: { instance_id: vm.serverId },
      });
      expect(status, JSON.stringify(body)).toBe(201);
      await expectKilled(doomed);
      const survivor = await cluster.startReplica();
      const snapshot = await settle(survivor, 'snapshot', body.snapshot.id);
      expect(snapshot.status, snapshot.fail_reason ?? '').toBe('available');
      expect(snapshot.volume_snapshots.map((v: { volume_id: string }) => v.volume_id).sort()).toEqual(
        [...vm.volumes.keys()].sort(),
      );
      for (const { snapshot_id } of snapshot.volume_snapshots as Array<{ snapshot_id: string }>) {
        expect(
          (await cluster.cinder.request('demo', 'GET', `/snapshots/${snapshot_id}`)).body.snapshot.status,
        ).toBe('available');
      }
      survivor.kill('SIGTERM');
      await survivor.exited;
    },
  );

  it.each([
    'instance_backup_create:start',
    'instance_backup_create:children',
    'instance_backup_create:wait',
    'instance_backup_create:finish',
    'volume_backup_create:read@0.5',
  ])(
    'instance backup, killed at %s: available, no temporary snapshot left, every volume restores byte-identical',
    async (crashAt) => {
      const vm = await instance();
      const doomed = await crashingReplica(crashAt);
      const { status, body } = await cluster.v1(doomed, 'demo', 'POST', '/instance/backup', {
        backup: { instance_id: vm.serverId },
      });
      expect(status, JSON.stringify(body)).toBe(201);
      await expectKilled(doomed);
      const survivor = await cluster.startReplica();
      const backup = await settle(survivor, 'backup', body.backup.id);
      expect(backup.status, backup.fail_reason ?? '').toBe('available');
      const children = backup.volume_backups as Array<{ volume_id: string; backup_id: string }>;
      expect(children.map((c) => c.volume_id).sort()).toEqual([...vm.volumes.keys()].sort());
      for (const child of children) {
        expect(await temporarySnapshotsOf(child.backup_id)).toEqual([]);
        expect(await restoredSha(survivor, child.backup_id)).toBe(vm.volumes.get(child.volume_id));
      }
      survivor.kill('SIGTERM');
      await survivor.exited;
    },
  );
});
