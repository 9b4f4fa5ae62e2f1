import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, waitFor, waitForBackup } from '../support/stack.js';

// Issue 6, acceptance 5: two conflicting requests on one volume (a rollback during a backup, two
// rollbacks) never run at the same time: a rollback on a busy volume gets 409; a backup asked for
// during a rollback waits behind it while it is queued and gets 409 once it runs (README).

const MiB = 1024 * 1024;
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

async function volumeWithSnapshot() {
  const id = await stack.cinder.createVolume('demo', 1);
  for (let offset = 0; offset < 256 * MiB; offset += 64 * MiB)
    await stack.cinder.write(id, offset, randomBytes(64 * MiB));
  const snapshotId = await stack.cinder.createSnapshot('demo', id);
  return { id, snapshotId };
}

async function intervals(jobIds: string[]) {
  const jobs = await stack.db.prisma.job.findMany({
    where: { id: { in: jobIds } },
    include: { events: true },
  });
  return jobs.map((job) => ({
    kind: job.kind,
    from: Math.min(...job.events.map((e) => e.createdAt.getTime())),
    to: job.finishedAt?.getTime() ?? Number.POSITIVE_INFINITY,
  }));
}

describe('conflicting requests on one volume', () => {
  it('a rollback during a backup is refused with 409 naming the running job', async () => {
    const volume = await volumeWithSnapshot();
    const { body } = await stack.v1('demo', 'POST', '/volume/backup', { backup: { volume_id: volume.id } });
    const rollback = await stack.v1('demo', 'POST', `/volume/${volume.id}/action`, {
      rollback: { snapshot_id: volume.snapshotId },
    });
    expect(rollback.status).toBe(409);
    expect(rollback.body.conflictingRequest.message).toMatch(
      /is busy: volume backup create job [0-9a-f-]{36} is (queued|running)/,
    );
    await waitForBackup(stack, 'demo', body.backup.id);
    const after = await stack.v1('demo', 'POST', `/volume/${volume.id}/action`, {
      rollback: { snapshot_id: volume.snapshotId },
    });
    expect(after.status).toBe(201);
  });

  it('once a backup is available its volume is free, while its job still waits for Cinder to remove the temporary snapshot', async () => {
    const volume = await volumeWithSnapshot();
    stack.sim.transitions.hold('snapshot.delete');
    const { body } = await stack.v1('demo', 'POST', '/volume/backup', { backup: { volume_id: volume.id } });
    try {
      await waitForBackup(stack, 'demo', body.backup.id);
      const job = await stack.db.prisma.job.findFirstOrThrow({ where: { volumeBackupId: body.backup.id } });
      expect(job).toMatchObject({
        status: 'running',
        step: 'drop-snapshot',
        exclusiveKeys: [],
        sharedKeys: [],
      });
      // Neither a rollback of the volume nor a restore of the backup waits for it.
      const rollback = await stack.v1('demo', 'POST', `/volume/${volume.id}/action`, {
        rollback: { snapshot_id: volume.snapshotId },
      });
      expect(rollback.status).toBe(201);
      await waitFor('the rollback to end', async () => {
        const done = await stack.db.prisma.job.findUniqueOrThrow({
          where: { id: rollback.body.rollback.job_id },
        });
        return done.status === 'succeeded' ? done : undefined;
      });
      const restore = await stack.v1('demo', 'POST', '/volume', { volume: { backup_id: body.backup.id } });
      expect(restore.status).toBe(201);
      await stack.cinder.waitVolume('demo', restore.body.volume.id, 'available');
      expect((await stack.db.prisma.job.findUniqueOrThrow({ where: { id: job.id } })).status).toBe('running');
    } finally {
      stack.sim.transitions.release('snapshot.delete');
    }
    await waitFor('the backup job to end once Cinder has removed the snapshot', async () => {
      const done = await stack.db.prisma.job.findFirstOrThrow({ where: { volumeBackupId: body.backup.id } });
      return done.status === 'succeeded' ? done : undefined;
    });
  });

  it('a second rollback while the first is queued or running gets 409; a backup asked for meanwhile waits for it', async () => {
    const volume = await volumeWithSnapshot();
    const first = await stack.v1('demo', 'POST', `/volume/${volume.id}/action`, {
      rollback: { snapshot_id: volume.snapshotId },
    });
    expect(first.status).toBe(201);
    const second = await stack.v1('demo', 'POST', `/volume/${volume.id}/action`, {
      rollback: { snapshot_id: volume.snapshotId },
    });
    expect(second.status).toBe(409);
    expect(second.body.conflictingRequest.message).toContain(first.body.rollback.job_id);
    // A backup asked for now waits behind the rollback if that is still queued, or is refused with
    // 409 naming it once it runs (the volume is then `maintenance`).
    const backup = await stack.v1('demo', 'POST', '/volume/backup', { backup: { volume_id: volume.id } });
    if (backup.status === 409) {
      expect(backup.body.conflictingRequest.message).toContain(
        `is being rolled back (job ${first.body.rollback.job_id})`,
      );
    } else {
      expect(backup.status).toBe(201);
    }
    await waitFor('the rollback to end', async () => {
      const job = await stack.db.prisma.job.findUniqueOrThrow({ where: { id: first.body.rollback.job_id } });
      return job.status === 'succeeded' ? job : undefined;
    });
    if (backup.status !== 201) return;
    await waitForBackup(stack, 'demo', backup.body.backup.id);
    const backupJob = await stack.db.prisma.job.findFirstOrThrow({
      where: { volumeBackupId: backup.body.backup.id },
    });
    const [a, b] = await intervals([first.body.rollback.job_id, backupJob.id]);
    // Never at the same time: one ended before the other began.
    expect(a && b && (a.to <= b.from || b.to <= a.from)).toBe(true);
  });
});
