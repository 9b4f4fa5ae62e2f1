import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startCluster } from '../support/cluster.js';
import { waitFor } from '../support/stack.js';

// Issue 6, acceptance 4: SIGTERM during a backup: the process exits within 10 s, and the backup
// completes on another replica (at once: the lease is handed back) or on the next start.

const MiB = 1024 * 1024;
let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ JOB_LEASE_MS: '20000' });
});
afterAll(() => cluster?.close());

async function bigVolume() {
  const id = await cluster.cinder.createVolume('demo', 2);
  for (let offset = 0; offset < 768 * MiB; offset += 64 * MiB)
    await cluster.cinder.write(id, offset, randomBytes(64 * MiB));
  return { id, sha256: await cluster.cinder.sha256(id) };
}

describe('SIGTERM', () => {
  it('stops within 10 s mid-backup and another replica finishes the backup at once, long before the lease expires', async () => {
    const volume = await bigVolume();
    // Both replicas run from the start (a replica starting takes seconds, longer than a backup
    // reads); whichever claims the job is the one stopped.
    const replicas = [await cluster.startReplica(), await cluster.startReplica()];
    const { body } = await cluster.v1(replicas[0]!, 'demo', 'POST', '/volume/backup', {
      backup: { volume_id: volume.id },
    });
    const backupId = body.backup.id as string;
    const reading = await waitFor('the backup to be reading data', async () => {
      const job = await cluster.db.prisma.job.findFirst({ where: { volumeBackupId: backupId } });
      return job?.step === 'read' && job.progressDone > 0n ? job : undefined;
    });
    const holder = replicas.find((r) => reading.leaseOwner?.includes(`-${r.child.pid}-`));
    expect(holder, `a replica holds the lease (${reading.leaseOwner})`).toBeDefined();
    const first = holder!;
    const second = replicas.find((r) => r !== first)!;
    const signalled = Date.now();
    first.kill('SIGTERM');
    const exit = await first.exited;
    const stoppedIn = Date.now() - signalled;
    console.log(`exited ${JSON.stringify(exit)} ${stoppedIn} ms after SIGTERM`);
    expect(exit.code).toBe(0);
    expect(stoppedIn).toBeLessThan(10_000);
    const released = await cluster.db.prisma.job.findFirstOrThrow({ where: { volumeBackupId: backupId } });
    expect(released.leaseOwner === null || released.status === 'running').toBe(true);

    const backup = await waitFor(
      'the backup to be available',
      async () => {
        const { body: shown } = await cluster.v1(second, 'demo', 'GET', `/volume/backup/${backupId}`);
        return shown.backup.status === 'available' ? shown.backup : undefined;
      },
      120_000,
    );
    // Picked up well before the 20 s lease would have expired.
    const job = await cluster.db.prisma.job.findFirstOrThrow({
      where: { volumeBackupId: backupId },
      include: { events: true },
    });
    const resumed = job.events.find((e) => e.message === 'resumed');
    expect(
      job.events.map((e) => `${e.worker} ${e.step} ${e.message}`),
      'the job resumed on the second replica',
    ).toContainEqual(expect.stringMatching(/ resumed$/));
    expect((resumed?.createdAt.getTime() ?? 0) - signalled).toBeLessThan(15_000);
    const { body: restored } = await cluster.v1(second, 'demo', 'POST', '/volume', {
      volume: { backup_id: backup.id },
    });
    await cluster.cinder.waitVolume('demo', restored.volume.id, 'available', 120_000);
    expect(await cluster.cinder.sha256(restored.volume.id)).toBe(volume.sha256);
    second.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  }, 300_000);

  it('with no other replica, the backup completes on the next start', async () => {
    const volume = await bigVolume();
    const first = await cluster.startReplica();
    const { body } = await cluster.v1(first, 'demo', 'POST', '/volume/backup', {
      backup: { volume_id: volume.id },
    });
    await waitFor('the backup to be reading data', async () => {
      const job = await cluster.db.prisma.job.findFirst({ where: { volumeBackupId: body.backup.id } });
      return job?.step === 'read' && job.progressDone > 0n ? job : undefined;
    });
    const signalled = Date.now();
    first.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(10_000);
    const next = await cluster.startReplica();
    await waitFor(
      'the backup to be available',
      async () => {
        const { body: shown } = await cluster.v1(next, 'demo', 'GET', `/volume/backup/${body.backup.id}`);
        return shown.backup.status === 'available' ? true : undefined;
      },
      120_000,
    );
    next.kill('SIGTERM');
    await next.exited;
  }, 300_000);
});
