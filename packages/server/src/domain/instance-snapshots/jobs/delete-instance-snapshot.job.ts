import type { JobHandler } from '../../../jobs/engine.js';
import type { InstanceJobDeps } from '../../instances/deps.js';
import { deleteImage } from '../../instances/images.js';
import { deleteServiceSnapshot } from '../../volume-backups/jobs/snapshots.js';
import type { VolumeSnapshotEntry } from '../service.js';

/**
 * Deletes an instance snapshot: its Cinder snapshots (waiting until Cinder has removed each), its
 * Glance image, then the record. Every part tolerates being gone already, so a resumed job repeats
 * it safely. Failure: `error_deleting` with the reason.
 */
export function deleteInstanceSnapshotJob(deps: InstanceJobDeps): JobHandler {
  return {
    kind: 'instance_snapshot_delete',

    async run(ctx) {
      const id = ctx.job.instanceSnapshotId ?? (ctx.state.instanceSnapshotId as string | undefined);
      if (!id) return; // the record is gone: finished before a crash
      if (ctx.step === 'start') await ctx.advance('delete', { instanceSnapshotId: id });
      const record = await deps.prisma.instanceSnapshot.findUnique({ where: { id } });
      if (!record) return;
      for (const entry of record.volumeSnapshots as unknown as VolumeSnapshotEntry[]) {
        if (entry.snapshot_id) await deleteServiceSnapshot(deps, entry.snapshot_id, ctx.signal);
      }
      if (record.imageId) await deleteImage(deps, record.imageId);
      await deps.prisma.instanceSnapshot.deleteMany({ where: { id } });
    },

    async fail(ctx, reason) {
      const id = ctx.job.instanceSnapshotId ?? (ctx.state.instanceSnapshotId as string | undefined);
      if (!id) return;
      await deps.prisma.instanceSnapshot.updateMany({
        where: { id, status: 'deleting' },
        data: { status: 'error_deleting', failReason: reason },
      });
    },
  };
}
