import type { JobHandler } from '../../../jobs/engine.js';
import type { VolumeBackupJobDeps } from './deps.js';

/**
 * Re-reads every chunk of a backup and checks its digest. A damaged backup goes to `error`, its
 * fail_reason naming the damaged chunks: it must not be trusted for a restore.
 */
export function verifyBackupJob(deps: VolumeBackupJobDeps): JobHandler {
  return {
    kind: 'volume_backup_verify',
    async run(ctx) {
      const backup = await deps.prisma.volumeBackup.findUnique({
        where: { id: ctx.job.volumeBackupId ?? '' },
      });
      if (!backup) return;
      const repository = await deps.repositories.byId(backup.repositoryId);
      const result = await deps.dataPlane.verify({
        repository,
        backupId: backup.id,
        signal: ctx.signal,
        onProgress: (done, total) => void ctx.progress(done, total),
      });
      const verifiedAt = new Date();
      if (result.ok) {
        await deps.prisma.volumeBackup.update({
          where: { id: backup.id },
          data: { verifyResult: 'ok', verifyMessage: `${result.checkedChunks} chunks verified`, verifiedAt },
        });
        return;
      }
      const first = result.damaged.slice(0, 3).map((d) => `${d.chunkId} (${d.reason})`);
      const more = result.damaged.length > 3 ? ` and ${result.damaged.length - 3} more` : '';
      const message = `verification found ${result.damaged.length} damaged chunk(s) of ${result.checkedChunks}: ${first.join('; ')}${more}`;
      await deps.prisma.volumeBackup.updateMany({
        where: { id: backup.id, status: { in: ['available', 'restoring'] } },
        data: {
          status: 'error',
          failReason: message,
          verifyResult: 'damaged',
          verifyMessage: message,
          verifiedAt,
        },
      });
    },
    async fail(ctx, reason) {
      if (ctx.job.volumeBackupId) {
        await deps.prisma.volumeBackup.updateMany({
          where: { id: ctx.job.volumeBackupId },
          data: { verifyMessage: `verification could not run: ${reason}` },
        });
      }
    },
  };
}
