import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimNova } from '../support/nova.js';
import { type Stack, startStack, waitFor } from '../support/stack.js';

// Issue 5, acceptance 1 and 2: rollback of a volume to any of its snapshots (§1.3, SPEC §5.3).

const MiB = 1024 * 1024;
let stack: Stack;
let nova: SimNova;
/** While set, rollback jobs wait at their `rollback` step (running, instances locked) until it resolves. */
let holdRollbacks: Promise<void> | null = null;

beforeAll(async () => {
  stack = await startStack({
    jobHooks: {
      observe: ({ job, step }) =>
        job.kind === 'volume_rollback' && step === 'rollback' ? (holdRollbacks ?? undefined) : undefined,
    },
  });
  nova = new SimNova(stack);
});
afterAll(() => stack?.close());

const snapshotSha = (snapshotId: string) => stack.cinder.snapshotSha256(snapshotId);

async function rollback(volumeId: string, snapshotId: string, user: 'demo' | 'alt_demo' | 'reader' = 'demo') {
  return stack.v1(user, 'POST', `/volume/${volumeId}/action`, { rollback: { snapshot_id: snapshotId } });
}

async function rollbackJobDone(jobId: string) {
  return waitFor(`rollback job ${jobId}`, async () => {
    const job = await stack.db.prisma.job.findUnique({ where: { id: jobId } });
    if (job?.status === 'failed' || job?.status === 'cancelled')
      throw new Error(`rollback job ${jobId} ${job.status}: ${job.error}`);
    return job?.status === 'succeeded' ? job : undefined;
  });
}

describe('rollback of a detached volume', () => {
  it("restores exactly the second-newest snapshot's data; the newest snapshot keeps its own", async () => {
    const volumeId = await stack.cinder.createVolume('demo', 1);
    await stack.cinder.write(volumeId, 0, randomBytes(2 * MiB));
    await stack.cinder.write(volumeId, 600 * MiB, randomBytes(MiB));
    const first = await stack.cinder.createSnapshot('demo', volumeId);
    const atFirst = await stack.cinder.sha256(volumeId);
    await stack.cinder.write(volumeId, MiB, randomBytes(3 * MiB));
    const second = await stack.cinder.createSnapshot('demo', volumeId);
    const atSecond = await stack.cinder.sha256(volumeId);
    await stack.cinder.write(volumeId, 900 * MiB, randomBytes(MiB));
    const newest = await stack.cinder.createSnapshot('demo', volumeId);
    const atNewest = await stack.cinder.sha256(volumeId);
    await stack.cinder.write(volumeId, 0, randomBytes(MiB)); // after every snapshot
    expect(new Set([atFirst, atSecond, atNewest, await stack.cinder.sha256(volumeId)]).size).toBe(4);

    const { status, body } = await rollback(volumeId, second);
    expect(status, JSON.stringify(body)).toBe(201);
    expect(body).toEqual({
      rollback: { volume_id: volumeId, snapshot_id: second, job_id: expect.any(String) },
    });
    await rollbackJobDone(body.rollback.job_id);
    const volume = await stack.cinder.waitVolume('demo', volumeId, 'available');
    expect(volume.status).toBe('available');
    expect(await stack.cinder.sha256(volumeId)).toBe(atSecond);
    // Snapshots newer (and older) than the target stay valid.
    expect(await snapshotSha(newest)).toBe(atNewest);
    expect(await snapshotSha(first)).toBe(atFirst);
    expect((await stack.cinder.request('demo', 'GET', `/snapshots/${newest}`)).body.snapshot.status).toBe(
      'available',
    );

    // And forward again, to the newest one, then back to the oldest.
    const forward = await rollback(volumeId, newest);
    expect(forward.status).toBe(201);
    await rollbackJobDone(forward.body.rollback.job_id);
    expect(await stack.cinder.sha256(volumeId)).toBe(atNewest);
    const oldest = await rollback(volumeId, first);
    expect(oldest.status).toBe(201);
    await rollbackJobDone(oldest.body.rollback.job_id);
    expect(await stack.cinder.sha256(volumeId)).toBe(atFirst);
  });

  it('a backup after a rollback restores the rolled-back data (trackers were invalidated)', async () => {
    const volumeId = await stack.cinder.createVolume('demo', 1);
    await stack.cinder.write(volumeId, 0, randomBytes(MiB));
    const snapshot = await stack.cinder.createSnapshot('demo', volumeId);
    const atSnapshot = await stack.cinder.sha256(volumeId);
    const first = await stack.v1('demo', 'POST', '/volume/backup', { backup: { volume_id: volumeId } });
    await waitFor('first backup', async () => {
      const { body } = await stack.v1('demo', 'GET', `/volume/backup/${first.body.backup.id}`);
      return body.backup.status === 'available' ? true : undefined;
    });
    await stack.cinder.write(volumeId, 4 * MiB, randomBytes(MiB));
    const accepted = await rollback(volumeId, snapshot);
    await rollbackJobDone(accepted.body.rollback.job_id);
    const second = await stack.v1('demo', 'POST', '/volume/backup', { backup: { volume_id: volumeId } });
    const done = await waitFor('second backup', async () => {
      const { body } = await stack.v1('demo', 'GET', `/volume/backup/${second.body.backup.id}`);
      return body.backup.status === 'available' ? body.backup : undefined;
    });
    const restored = await stack.v1('demo', 'POST', '/volume', { volume: { backup_id: done.id } });
    expect(restored.status).toBe(201);
    await stack.cinder.waitVolume('demo', restored.body.volume.id, 'available');
    expect(await stack.cinder.sha256(restored.body.volume.id)).toBe(atSnapshot);
  });

  it("a volume extended after the snapshot keeps its size: the snapshot's data, zeros after", async () => {
    const volumeId = await stack.cinder.createVolume('demo', 1);
    const data = randomBytes(MiB);
    await stack.cinder.write(volumeId, 0, data);
    const snapshot = await stack.cinder.createSnapshot('demo', volumeId);
    const extend = await stack.cinder.request('demo', 'POST', `/volumes/${volumeId}/action`, {
      'os-extend': { new_size: 2 },
    });
    expect(extend.status).toBe(202);
    await expect
      .poll(async () => (await stack.cinder.volume('demo', volumeId)).size, { timeout: 60_000 })
      .toBe(2);
    await stack.cinder.waitVolume('demo', volumeId, 'available');
    await stack.cinder.write(volumeId, 0, randomBytes(MiB));
    await stack.cinder.write(volumeId, 1536 * MiB, randomBytes(MiB));
    const accepted = await rollback(volumeId, snapshot);
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(201);
    await rollbackJobDone(accepted.body.rollback.job_id);
    expect(await stack.cinder.waitVolume('demo', volumeId, 'available')).toMatchObject({ size: 2 });
    expect((await stack.cinder.read(volumeId, 0, MiB)).equals(data)).toBe(true);
    // (A read there also proves that the storage kept the volume's size, not the snapshot's.)
    expect((await stack.cinder.read(volumeId, 1536 * MiB, MiB)).every((b) => b === 0)).toBe(true);
  });

  it('refuses what it cannot do: 404 unknown ids, 400 a foreign snapshot, 409 a busy volume, 403 reader', async () => {
    const volumeId = await stack.cinder.createVolume('demo', 1);
    const other = await stack.cinder.createVolume('demo', 1);
    const snapshot = await stack.cinder.createSnapshot('demo', volumeId);
    const otherSnapshot = await stack.cinder.createSnapshot('demo', other);
    const unknown = '0b8f8d5e-6a0e-4f55-9d4e-2b7a4c1f0e11';
    expect((await rollback(unknown, snapshot)).status).toBe(404);
    expect((await rollback(volumeId, unknown)).status).toBe(404);
    const foreign = await rollback(volumeId, otherSnapshot);
    expect(foreign.status).toBe(400);
    expect(foreign.body.badRequest.message).toContain(otherSnapshot);
    expect((await rollback(volumeId, snapshot, 'reader')).status).toBe(403);
    expect((await rollback(volumeId, snapshot, 'alt_demo')).status).toBe(404);
    expect(
      (await stack.v1('demo', 'POST', `/volume/${volumeId}/action`, { rollback: { snapshot_id: 'x' } }))
        .status,
    ).toBe(400);

    // Busy: a queued backup of the volume holds it (a slowed simulated Cinder; a real one takes
    // seconds to make the backup's snapshot anyway).
    await stack.cinder.write(volumeId, 0, randomBytes(16 * MiB));
    const simulated = stack.openstack.kind === 'simulator';
    if (simulated) await stack.sim.faults.set('cinder', { latencyMs: 300 });
    try {
      const backup = await stack.v1('demo', 'POST', '/volume/backup', { backup: { volume_id: volumeId } });
      expect(backup.status).toBe(201);
      const busy = await rollback(volumeId, snapshot);
      expect(busy.status).toBe(409);
      expect(busy.body.conflictingRequest.message).toMatch(/busy.*try the rollback again/i);
    } finally {
      if (simulated) await stack.sim.faults.clear('cinder');
    }
  });
});

describe('rollback of an instance boot volume', () => {
  it('409 while ACTIVE; after os-stop it runs with the instance locked; then the instance starts on the old data', async () => {
    const boot = await stack.cinder.createVolume('demo', 1);
    await stack.cinder.write(boot, 0, randomBytes(4 * MiB));
    const serverId = await nova.createServer('demo', { bootVolumeId: boot });
    expect((await stack.cinder.volume('demo', boot)).status).toBe('in-use');
    const snapshot = await stack.cinder.createSnapshot('demo', boot, true);
    const atSnapshot = await stack.cinder.sha256(boot);
    await stack.cinder.write(boot, MiB, randomBytes(2 * MiB));
    expect(await stack.cinder.sha256(boot)).not.toBe(atSnapshot);

    const refused = await rollback(boot, snapshot);
    expect(refused.status).toBe(409);
    expect(refused.body.conflictingRequest.message).toContain(serverId);
    expect(refused.body.conflictingRequest.message).toMatch(/ACTIVE/);
    expect(refused.body.conflictingRequest.message).toMatch(/stop it first/);

    await nova.bringTo('demo', serverId, 'SHUTOFF');
    // The rollback is held at its `rollback` step, so that it surely still runs when the owner tries
    // to start the instance.
    let letGo = () => {};
    holdRollbacks = new Promise<void>((resolve) => {
      letGo = resolve;
    });
    let jobId: string;
    try {
      const accepted = await rollback(boot, snapshot);
      expect(accepted.status, JSON.stringify(accepted.body)).toBe(201);
      jobId = accepted.body.rollback.job_id;
      // Locked from the answer on, and while the rollback runs (volume `maintenance`).
      const start = await nova.action('demo', serverId, { 'os-start': null });
      expect(start.status).toBe(409);
      expect(start.body.conflictingRequest.message).toMatch(/locked/);
      const id = jobId;
      const running = await waitFor('the rollback to run', async () => {
        const job = await stack.db.prisma.job.findUniqueOrThrow({ where: { id } });
        return job.status === 'running' && job.step === 'rollback' ? job : undefined;
      });
      expect(running.status).toBe('running');
      expect((await stack.cinder.volume('demo', boot)).status).toBe('maintenance');
      const during = await nova.server('demo', serverId);
      expect(during).toMatchObject({ status: 'SHUTOFF', locked: true });
      const again = await nova.action('demo', serverId, { 'os-start': null });
      expect(again.status).toBe(409);
    } finally {
      holdRollbacks = null;
      letGo();
    }
    await rollbackJobDone(jobId);
    expect((await stack.cinder.volume('demo', boot)).status).toBe('in-use');
    const after = await nova.server('demo', serverId);
    expect(after).toMatchObject({ status: 'SHUTOFF', locked: false, locked_reason: null });
    expect(await stack.cinder.sha256(boot)).toBe(atSnapshot);

    const started = await nova.action('demo', serverId, { 'os-start': null });
    expect(started.status, started.text).toBe(202);
    await nova.waitStatus('demo', serverId, 'ACTIVE');
    expect(await stack.cinder.sha256(boot)).toBe(atSnapshot);
    expect((await stack.cinder.volume('demo', boot)).status).toBe('in-use');
  });

  it('an in-use data volume of a SHUTOFF instance rolls back too; a PAUSED one is refused', async () => {
    const boot = await stack.cinder.createVolume('demo', 1);
    const data = await stack.cinder.createVolume('demo', 1);
    await stack.cinder.write(data, 0, randomBytes(MiB));
    const serverId = await nova.createServer('demo', { bootVolumeId: boot, volumes: [data] });
    const snapshot = await stack.cinder.createSnapshot('demo', data, true);
    const atSnapshot = await stack.cinder.sha256(data);
    await stack.cinder.write(data, 0, randomBytes(MiB));
    await nova.bringTo('demo', serverId, 'PAUSED');
    const paused = await rollback(data, snapshot);
    expect(paused.status).toBe(409);
    expect(paused.body.conflictingRequest.message).toMatch(/PAUSED/);
    await nova.action('demo', serverId, { unpause: null });
    await nova.waitStatus('demo', serverId, 'ACTIVE');
    await nova.bringTo('demo', serverId, 'SHUTOFF');
    const accepted = await rollback(data, snapshot);
    expect(accepted.status).toBe(201);
    await rollbackJobDone(accepted.body.rollback.job_id);
    expect(await stack.cinder.sha256(data)).toBe(atSnapshot);
    expect((await stack.cinder.volume('demo', data)).status).toBe('in-use');
    expect((await nova.server('demo', serverId)).locked).toBe(false);
  });
});
