import type { Logger } from '../../../observability/logger.js';
import type { VolumeBackupJobDeps } from './deps.js';

// The storage driver's kept points in time (rbd: an RBD snapshot per backup, the base of the next
// incremental; StorageDriver.keepBackupPoint). Best effort: without one, the next backup of the
// volume reads it in full, which is slower but just as right.

/** Before the temporary snapshot a backup read is deleted: keep its point in time. */
export async function keepBackupPoint(
  deps: VolumeBackupJobDeps,
  log: Logger,
  ref: { volumeId: string; snapshotId: string; backupId: string },
): Promise<void> {
  if (!deps.storage.keepBackupPoint) return;
  try {
    await deps.storage.keepBackupPoint(ref);
  } catch (error) {
    log.warn(
      { err: error, ...ref },
      'could not keep the backup point; the next backup of the volume reads it in full',
    );
  }
}

/**
 * Once `backup` is available: the points of the volume's older backups in the same repository are
 * not needed any more (the next incremental builds on this one).
 */
export async function releaseOlderBackupPoints(
  deps: VolumeBackupJobDeps,
  log: Logger,
  backup: { id: string; volumeId: string; repositoryId: string; createdAt: Date },
): Promise<void> {
  if (!deps.storage.releaseBackupPoints) return;
  const older = await deps.prisma.volumeBackup.findMany({
    where: {
      volumeId: backup.volumeId,
      repositoryId: backup.repositoryId,
      id: { not: backup.id },
      createdAt: { lte: backup.createdAt },
    },
    select: { id: true },
  });
  await releaseBackupPoints(
    deps,
    log,
    backup.volumeId,
    older.map((b) => b.id),
  );
}

/** The points of these backups (failed or deleted ones, older ones) are not needed any more. */
export async function releaseBackupPoints(
  deps: VolumeBackupJobDeps,
  log: Logger,
  volumeId: string,
  backupIds: string[],
): Promise<void> {
  if (!deps.storage.releaseBackupPoints || backupIds.length === 0) return;
  try {
    await deps.storage.releaseBackupPoints({ volumeId, backupIds });
  } catch (error) {
    log.warn({ err: error, volumeId }, 'could not release backup points (they are removed with the volume)');
  }
}
