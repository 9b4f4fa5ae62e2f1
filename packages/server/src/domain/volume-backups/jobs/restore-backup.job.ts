import { defineJob, type JobHandler } from '../../../jobs/engine.js';
import { JobFailedError } from '../../../jobs/errors.js';
import type { Volume } from '../../../openstack/cinder.js';
import { waitUntil } from '../../wait.js';
import type { VolumeBackupJobDeps } from './deps.js';

type RestoreState = {
  volumeId: string;
  /** The service created the volume for this restore (POST /volume with backup_id, or restore without volume_id). */
  createdVolume: boolean;
};

const GiB = 1024 ** 3;

/**
 * Writes a backup's data into a volume: waits for a new volume to be created (reading the first
 * packs into the page cache meanwhile), marks it `restoring-backup` (as Cinder does), writes every
 * chunk back (digests checked), then `available`.
 * Steps: start → write → finish.
 */
export function restoreBackupJob(deps: VolumeBackupJobDeps): JobHandler {
  return defineJob<RestoreState>({
    kind: 'volume_backup_restore',

    async run(ctx) {
      const state = ctx.state as RestoreState;
      const backup = await deps.prisma.volumeBackup.findUnique({
        where: { id: ctx.job.volumeBackupId ?? '' },
      });
      if (!backup) throw new JobFailedError('the backup was deleted before the restore ran');

      // The volume as the wait found it; a resumed job (no wait) asks Cinder again.
      let volume: Volume | null | undefined;
      if (ctx.step === 'start') {
        volume = await waitUntil(
          `volume ${state.volumeId} to become available`,
          () =>
            deps.cloud.asServiceOnCinder(async (auth) => {
              const found = await deps.cloud.cinder.getVolume(auth, state.volumeId);
              if (!found) throw new JobFailedError(`volume ${state.volumeId} was deleted before the restore`);
              if (found.status === 'error')
                throw new JobFailedError(`Cinder could not create volume ${state.volumeId}`);
              if (found.status === 'restoring-backup') return found; // marked by the request, or by this job before a restart
              if (found.status !== 'available' && found.status !== 'creating') {
                throw new JobFailedError(
                  `volume ${state.volumeId} is ${found.status}; a restore needs it available`,
                );
              }
              return found.status === 'available' ? found : undefined;
            }),
          {
            signal: ctx.signal,
            intervalMs: deps.pollMs,
            timeoutMs: deps.waitTimeoutMs,
            meanwhile: (signal) => deps.repositories.warmRestore(backup, signal),
          },
        );
        // The request marked a volume it saw available already (VolumeBackupService.holdForRestore).
        if (volume.status !== 'restoring-backup') {
          await deps.cloud.asServiceOnCinder((auth) =>
            deps.cloud.cinder.resetVolumeStatus(auth, state.volumeId, 'restoring-backup'),
          );
        }
        await ctx.advance('write');
      }

      if (ctx.step === 'write') {
        volume ??= await deps.cloud.asServiceOnCinder((auth) =>
          deps.cloud.cinder.getVolume(auth, state.volumeId),
        );
        if (!volume) throw new JobFailedError(`volume ${state.volumeId} was deleted during the restore`);
        const repository = await deps.repositories.byId(backup.repositoryId);
        const target = await deps.storage.openForRestore({
          volumeId: volume.id,
          sizeBytes: volume.size * GiB,
        });
        try {
          await deps.dataPlane.restore({
            repository,
            backupId: backup.id,
            target,
            signal: ctx.signal,
            onProgress: (done, total) => void ctx.progress(done, total),
          });
          await target.finish();
        } catch (error) {
          await target.abort();
          throw error;
        }
        await ctx.advance('finish');
      }

      if (ctx.step === 'finish') {
        await deps.cloud.asServiceOnCinder((auth) =>
          deps.cloud.cinder.resetVolumeStatus(auth, state.volumeId, 'available'),
        );
        await releaseBackup(deps, backup.id, ctx.job.id);
      }
    },

    async fail(ctx, reason) {
      const state = ctx.state as RestoreState;
      ctx.log.error({ reason }, 'restore failed');
      await deps.cloud.asServiceOnCinder(async (auth) => {
        const volume = await deps.cloud.cinder.getVolume(auth, state.volumeId);
        // Whatever the volume holds now is not the backup: never leave it looking usable.
        if (volume && volume.status !== 'error')
          await deps.cloud.cinder.resetVolumeStatus(auth, state.volumeId, 'error_restoring');
      });
      if (ctx.job.volumeBackupId) await releaseBackup(deps, ctx.job.volumeBackupId, ctx.job.id);
    },
  });
}

/** The backup goes back to `available` once no other restore of it is under way. */
async function releaseBackup(deps: VolumeBackupJobDeps, backupId: string, jobId: string) {
  const others = await deps.prisma.job.count({
    where: {
      volumeBackupId: backupId,
      kind: 'volume_backup_restore',
      status: { in: ['queued', 'running'] },
      id: { not: jobId },
    },
  });
  if (others === 0) {
    await deps.prisma.volumeBackup.updateMany({
      where: { id: backupId, status: 'restoring' },
      data: { status: 'available' },
    });
  }
}
