import { z } from 'zod';
import { procedure, router } from '../init.js';
import { metadata, name255, sizeGb, uuid } from '../schemas.js';
import { restorePointView, volumeView } from '../views.js';

/** `POST /v1/volume` with a backup and the `rollback` action, plus a volume's restore points. */
export const volumesRouter = router({
  /** A new volume of the caller's, filled from the backup (`restoring-backup`, then `available`). */
  createFromBackup: procedure
    .input(
      z.strictObject({
        backupId: uuid,
        name: name255.nullish(),
        description: name255.nullish(),
        /** GiB, at least the backup's (default). */
        sizeGb: sizeGb.optional(),
        volumeType: name255.nullish(),
        availabilityZone: name255.nullish(),
        metadata: metadata.optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const volume = await ctx.core.volumeBackups.restoreToNewVolume(ctx.caller, {
        backup_id: input.backupId,
        name: input.name,
        description: input.description,
        size: input.sizeGb,
        volume_type: input.volumeType,
        availability_zone: input.availabilityZone,
        metadata: input.metadata,
      });
      return volumeView(volume);
    }),

  /** Rolls the volume back to any of its snapshots (available, or in-use with its instances stopped). */
  rollback: procedure
    .input(z.strictObject({ volumeId: uuid, snapshotId: uuid }))
    .mutation(async ({ ctx, input }) => {
      const accepted = await ctx.core.volumeRollbacks.rollback(ctx.caller, input.volumeId, input.snapshotId);
      return { volumeId: accepted.volume_id, snapshotId: accepted.snapshot_id, jobId: accepted.job_id };
    }),

  /** The backups and snapshots the volume can be brought back to, newest first. */
  restorePoints: procedure
    .input(z.strictObject({ volumeId: uuid }))
    .query(async ({ ctx, input }) =>
      (await ctx.core.restorePoints.list(ctx.caller, input.volumeId)).map(restorePointView),
    ),
});
