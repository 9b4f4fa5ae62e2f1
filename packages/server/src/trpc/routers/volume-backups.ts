import { z } from 'zod';
import { VOLUME_BACKUP_SORT_KEYS } from '../../domain/volume-backups/service.js';
import { procedure, router } from '../init.js';
import { byId, metadata, name255, pageFields, sortDirection, uuid } from '../schemas.js';
import type { VolumeBackupStatus } from '../view-types.js';
import { page, volumeBackupView } from '../views.js';

const backupStatus = z.enum(['creating', 'available', 'deleting', 'restoring', 'error', 'error_deleting']);

/** The operations of /v1/volume/backup, over the same VolumeBackupService. */
export const volumeBackupsRouter = router({
  list: procedure
    .input(
      z
        .strictObject({
          ...pageFields,
          sort: z
            .strictObject({ key: z.enum(VOLUME_BACKUP_SORT_KEYS), dir: sortDirection })
            .default({ key: 'created_at', dir: 'desc' }),
          status: backupStatus.optional(),
          volumeId: uuid.optional(),
          name: z.string().optional(),
          /** Admin only: every project's backups. */
          allTenants: z.boolean().optional(),
        })
        .default({ limit: 100, sort: { key: 'created_at', dir: 'desc' } }),
    )
    .query(async ({ ctx, input }) => {
      const { backups, more } = await ctx.core.volumeBackups.list(ctx.caller, {
        page: { limit: input.limit, marker: input.marker, sort: input.sort },
        status: input.status,
        volumeId: input.volumeId,
        name: input.name,
        allTenants: input.allTenants,
      });
      return page(backups.map(volumeBackupView), more);
    }),

  get: procedure
    .input(byId)
    .query(async ({ ctx, input }) =>
      volumeBackupView(await ctx.core.volumeBackups.get(ctx.caller, input.id)),
    ),

  create: procedure
    .input(
      z.strictObject({
        volumeId: uuid,
        name: name255.nullish(),
        description: name255.nullish(),
        /** Default: true when an earlier backup of the volume exists in the same repository. */
        incremental: z.boolean().optional(),
        /** Back up this Cinder snapshot of the volume instead of its current data. */
        snapshotId: uuid.nullish(),
        metadata: metadata.optional(),
        container: name255.nullish(),
        availabilityZone: name255.nullish(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const backup = await ctx.core.volumeBackups.create(ctx.caller, {
        volume_id: input.volumeId,
        name: input.name,
        description: input.description,
        incremental: input.incremental,
        snapshot_id: input.snapshotId,
        metadata: input.metadata,
        container: input.container,
        availability_zone: input.availabilityZone,
      });
      return volumeBackupView(backup);
    }),

  update: procedure
    .input(
      z.strictObject({
        id: uuid,
        name: name255.nullish(),
        description: name255.nullish(),
        metadata: metadata.optional(),
      }),
    )
    .mutation(async ({ ctx, input: { id, ...args } }) =>
      volumeBackupView(await ctx.core.volumeBackups.update(ctx.caller, id, args)),
    ),

  /** Restores into an existing available volume that is large enough, or (no volumeId) a new one. */
  restore: procedure
    .input(z.strictObject({ id: uuid, volumeId: uuid.nullish(), name: name255.nullish() }))
    .mutation(async ({ ctx, input }) => {
      const restore = await ctx.core.volumeBackups.restore(ctx.caller, input.id, {
        volume_id: input.volumeId,
        name: input.name,
      });
      return { backupId: restore.backup_id, volumeId: restore.volume_id, volumeName: restore.volume_name };
    }),

  /** Re-reads every chunk of the backup; a damaged one becomes `error` naming the chunks. */
  verify: procedure
    .input(byId)
    .mutation(async ({ ctx, input }) =>
      volumeBackupView(await ctx.core.volumeBackups.verify(ctx.caller, input.id)),
    ),

  /** Admin only. */
  resetStatus: procedure
    .input(z.strictObject({ id: uuid, status: z.enum(['available', 'error']) }))
    .mutation(async ({ ctx, input }) =>
      volumeBackupView(await ctx.core.volumeBackups.resetStatus(ctx.caller, input.id, input.status)),
    ),

  /** The backup shows `deleting` until it is gone. `force` (admin): also while creating, cancelling its job. */
  delete: procedure
    .input(z.strictObject({ id: uuid, force: z.boolean().optional() }))
    .mutation(async ({ ctx, input }): Promise<{ id: string; status: VolumeBackupStatus }> => {
      const backup = await ctx.core.volumeBackups.delete(ctx.caller, input.id, { force: input.force });
      return { id: backup.id, status: backup.status };
    }),
});
