import { JobEngine, type JobHandler } from '../../../jobs/engine.js';
import { gcKeys } from '../locks.js';
import { releaseBackupPoints } from './backup-points.js';
import type { VolumeBackupJobDeps } from './deps.js';

/**
 * Deletes a backup: its manifest from the repository, then its record. Its chunks stay until garbage
 * collection finds that no manifest references them; one collection per repository is queued.
 */
export function deleteBackupJob(deps: VolumeBackupJobDeps): JobHandler {
  return {
    kind: 'volume_backup_delete',

    async run(ctx) {
      const backupId = ctx.job.volumeBackupId ?? (ctx.state.backupId as string | undefined);
      if (!backupId) return; // record already gone: finished before a crash
      if (ctx.step === 'start') await ctx.advance('manifest', { backupId });
      const backup = await deps.prisma.volumeBackup.findUnique({ where: { id: backupId } });
      if (!backup) return;
      const repository = await deps.repositories.byId(backup.repositoryId);
      await deps.dataPlane.deleteBackup({ repository, backupId });
      await releaseBackupPoints(deps, ctx.log, backup.volumeId, [backupId]);
      await deps.prisma.$transaction(async (tx) => {
        await tx.volumeBackup.deleteMany({ where: { id: backupId } });
        const pending = await tx.job.count({
          where: {
            kind: 'repository_gc',
            status: 'queued',
            exclusiveKeys: { has: `repository:${repository.id}` },
          },
        });
        if (pending === 0) {
          await JobEngine.enqueue(tx, {
            kind: 'repository_gc',
            projectId: ctx.job.projectId,
            ...gcKeys({ repositoryId: repository.id }),
            state: { repositoryId: repository.id },
          });
        }
      });
    },

    async fail(ctx, reason) {
      const backupId = ctx.job.volumeBackupId ?? (ctx.state.backupId as string | undefined);
      if (backupId) {
        await deps.prisma.volumeBackup.updateMany({
          where: { id: backupId, status: 'deleting' },
          data: { status: 'error_deleting', failReason: reason },
        });
      }
    },
  };
}

/** Removes chunks no manifest references any more (exclusive on the repository: no backup writes meanwhile). */
export function collectGarbageJob(deps: VolumeBackupJobDeps): JobHandler {
  return {
    kind: 'repository_gc',
    async run(ctx) {
      const repository = await deps.repositories.byId(ctx.state.repositoryId as string);
      const result = await deps.dataPlane.collectGarbage({ repository, signal: ctx.signal });
      ctx.log.info(result, 'garbage collected');
    },
    async fail() {},
  };
}
