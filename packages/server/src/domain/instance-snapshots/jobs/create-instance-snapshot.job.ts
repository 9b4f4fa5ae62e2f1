import { defineJob, type JobHandler } from '../../../jobs/engine.js';
import { JobFailedError } from '../../../jobs/errors.js';
import type { InstanceJobDeps } from '../../instances/deps.js';
import { deleteImage, findImagesByName, waitForImageActive } from '../../instances/images.js';
import { captureNames } from '../../instances/listing.js';
import { deleteServiceSnapshot, waitForSnapshotAvailable } from '../../volume-backups/jobs/snapshots.js';
import type { InstanceSnapshotCreateState, VolumeSnapshotEntry } from '../service.js';

/**
 * Completes an instance snapshot whose Cinder snapshots and image the create request asked for (with
 * the caller's token): finds them (by their unique names, if the request died before recording
 * them), waits until they are available / active, then marks the instance snapshot available. On
 * failure it deletes whatever was made and marks the instance snapshot error.
 * Steps: start → wait → finish.
 */
export function createInstanceSnapshotJob(deps: InstanceJobDeps): JobHandler {
  return defineJob<InstanceSnapshotCreateState>({
    kind: 'instance_snapshot_create',

    async run(ctx) {
      const id = ctx.job.instanceSnapshotId ?? '';
      const record = await deps.prisma.instanceSnapshot.findUnique({ where: { id } });
      if (record?.status !== 'creating') return; // reset or deleted meanwhile
      const entries = record.volumeSnapshots as unknown as VolumeSnapshotEntry[];

      if (ctx.step === 'start') {
        if (ctx.state.abort) throw new JobFailedError(ctx.state.abort);
        const snapshotIds = { ...ctx.state.snapshotIds };
        for (const entry of entries) {
          if (snapshotIds[entry.volume_id]) continue;
          const [found] = await findSnapshots(deps, id, entry.volume_id);
          if (!found) {
            throw new JobFailedError(
              `the request creating instance snapshot ${id} did not finish: volume ${entry.volume_id} has no snapshot`,
            );
          }
          snapshotIds[entry.volume_id] = found;
        }
        let imageId = ctx.state.imageId ?? null;
        if (ctx.state.expectImage && !imageId) {
          const [image] = await findImagesByName(deps, captureNames.snapshotImage(id));
          if (!image) throw new JobFailedError(`the request creating instance snapshot ${id} made no image`);
          imageId = image.id;
        }
        await deps.prisma.instanceSnapshot.update({
          where: { id },
          data: {
            volumeSnapshots: entries.map((e) => ({ ...e, snapshot_id: snapshotIds[e.volume_id] ?? null })),
            imageId,
          },
        });
        await ctx.advance('wait', { snapshotIds, imageId });
      }

      if (ctx.step === 'wait') {
        for (const snapshotId of Object.values(ctx.state.snapshotIds ?? {}))
          await waitForSnapshotAvailable(deps, snapshotId, ctx.signal);
        if (ctx.state.imageId) await waitForImageActive(deps, ctx.state.imageId, ctx.signal);
        await ctx.advance('finish');
      }

      if (ctx.step === 'finish') {
        await deps.prisma.instanceSnapshot.updateMany({
          where: { id, status: 'creating' },
          data: { status: 'available', failReason: null },
        });
      }
    },

    async fail(ctx, reason) {
      const id = ctx.job.instanceSnapshotId ?? '';
      const record = await deps.prisma.instanceSnapshot.findUnique({ where: { id } });
      const entries = (record?.volumeSnapshots ?? []) as unknown as VolumeSnapshotEntry[];
      // What the state knows, and whatever carries the unique names (made but never recorded).
      const snapshotIds = new Set(Object.values(ctx.state.snapshotIds ?? {}));
      for (const entry of entries) {
        if (entry.snapshot_id) snapshotIds.add(entry.snapshot_id);
        for (const found of await findSnapshots(deps, id, entry.volume_id)) snapshotIds.add(found);
      }
      for (const snapshotId of snapshotIds) await deleteServiceSnapshot(deps, snapshotId);
      const imageIds = new Set<string>();
      if (ctx.state.imageId) imageIds.add(ctx.state.imageId);
      if (record?.imageId) imageIds.add(record.imageId);
      if (ctx.state.expectImage)
        for (const image of await findImagesByName(deps, captureNames.snapshotImage(id)))
          imageIds.add(image.id);
      for (const imageId of imageIds) await deleteImage(deps, imageId);
      await deps.prisma.instanceSnapshot.updateMany({
        where: { id, status: 'creating' },
        data: { status: 'error', failReason: reason },
      });
    },
  });
}

/** The caller's Cinder snapshots of one volume made for this instance snapshot (by unique name). */
async function findSnapshots(deps: InstanceJobDeps, instanceSnapshotId: string, volumeId: string) {
  const found = await deps.cloud.asServiceOnCinder((auth) =>
    deps.cloud.cinder.listSnapshots(auth, {
      name: captureNames.snapshotOfVolume(instanceSnapshotId, volumeId),
      volumeId,
      allTenants: true,
    }),
  );
  return found.map((s) => s.id);
}
