import { Prisma, type VolumeBackup } from '../../../generated/prisma/client.js';
import { defineJob, type JobContext, type JobHandler } from '../../../jobs/engine.js';
import { JobFailedError } from '../../../jobs/errors.js';
import { backupRecordOf } from '../../recovery.js';
import type { TransitionStart } from '../../wait.js';
import { housekeepingKeys } from '../locks.js';
import { keepBackupPoint, releaseBackupPoints, releaseOlderBackupPoints } from './backup-points.js';
import { temporarySnapshotName, type VolumeBackupJobDeps } from './deps.js';
import {
  deleteServiceSnapshot,
  findOrCreateServiceSnapshot,
  requestSnapshotDeletion,
  waitForSnapshotAvailable,
  waitForSnapshotDeleted,
} from './snapshots.js';

type CreateState = {
  /** What the caller asked for: true, false, or null (incremental when a previous backup exists). */
  incremental?: boolean | null;
  snapshotId?: string;
  /** Whether `snapshotId` is ours to delete afterwards. */
  temporarySnapshot?: boolean;
  dataTimestamp?: string;
  /** Bytes the read step took from the storage (rbd: the diff stream), for tests and operators. */
  readBytes?: number;
};

/**
 * Backs up a volume: a point-in-time Cinder snapshot (the caller's, or a temporary one of the
 * service's, forced for in-use volumes), its data read by the storage driver into the repository —
 * only changed extents when a previous backup's snapshot is known to the driver — then the temporary
 * snapshot removed. Steps: start → snapshot → read → cleanup → drop-snapshot (a job of an earlier
 * version may still resume at finish, the work that now ends cleanup).
 *
 * As Cinder's own backup manager does, the backup is available as soon as its data is in the
 * repository and the temporary snapshot's deletion has been asked for; the job then waits for Cinder
 * to remove the snapshot (drop-snapshot) holding no resource keys, so nothing waits on that.
 */
export function createBackupJob(deps: VolumeBackupJobDeps): JobHandler {
  return defineJob<CreateState>({
    kind: 'volume_backup_create',

    async run(ctx) {
      const backupId = ctx.job.volumeBackupId;
      const backup = backupId ? await deps.prisma.volumeBackup.findUnique({ where: { id: backupId } }) : null;
      if (ctx.step === 'finish' || ctx.step === 'drop-snapshot') return tidyUp(deps, ctx, backup);
      if (backup?.status !== 'creating') return; // deleted (force) or reset meanwhile: nothing to do
      let state = ctx.state;
      let snapshotBegun: TransitionStart | undefined;

      if (ctx.step === 'start') {
        if (backup.snapshotId) {
          await ctx.advance('snapshot', { snapshotId: backup.snapshotId, temporarySnapshot: false });
        } else {
          const { snapshot, begun } = await findOrCreateServiceSnapshot(
            deps,
            backup.volumeId,
            temporarySnapshotName(backup.id),
            `temporary snapshot for backup ${backup.id}`,
          );
          snapshotBegun = begun;
          await ctx.advance('snapshot', { snapshotId: snapshot.id, temporarySnapshot: true });
        }
        state = ctx.state;
      }

      if (ctx.step === 'snapshot') {
        const snapshot = await waitForSnapshotAvailable(
          deps,
          required(state.snapshotId),
          ctx.signal,
          snapshotBegun,
        );
        await ctx.advance('read', { dataTimestamp: snapshot.created_at ?? new Date().toISOString() });
        state = ctx.state;
      }

      if (ctx.step === 'read') {
        const snapshotId = required(state.snapshotId);
        const parent =
          state.incremental === false
            ? null
            : await deps.prisma.volumeBackup.findFirst({
                where: {
                  volumeId: backup.volumeId,
                  repositoryId: backup.repositoryId,
                  id: { not: backup.id },
                  status: { in: ['available', 'restoring'] },
                  createdAt: { lte: backup.createdAt },
                },
                orderBy: { createdAt: 'desc' },
              });
        const repository = await deps.repositories.byId(backup.repositoryId);
        const source = await deps.storage.openSnapshot({ volumeId: backup.volumeId, snapshotId });
        let result: Awaited<ReturnType<typeof deps.dataPlane.backup>>;
        try {
          let lastPercent = -1;
          let lastWrite = 0;
          result = await deps.dataPlane.backup({
            repository,
            backupId: backup.id,
            volumeId: backup.volumeId,
            record: backupRecordOf(backup, {
              dataSnapshotId: snapshotId,
              dataTimestamp: state.dataTimestamp ?? null,
            }),
            source,
            parent: parent ? { backupId: parent.id, snapshotId: parent.dataSnapshotId } : undefined,
            signal: ctx.signal,
            onProgress: (done, total) => {
              void ctx.progress(done, total);
              const percent = total > 0 ? Math.floor((done / total) * 100) : 0;
              // Each write is a commit (a WAL flush): twice a second is enough for a progress bar,
              // and leaves the flushes to the chunk index that the backup waits for.
              const now = Date.now();
              if (percent !== lastPercent && percent < 100 && now - lastWrite >= 500) {
                lastPercent = percent;
                lastWrite = now;
                void deps.prisma.volumeBackup.updateMany({
                  where: { id: backup.id },
                  data: { progress: percent },
                });
              }
            },
          });
        } finally {
          await source.close();
        }
        const dataTimestamp = new Date(state.dataTimestamp ?? Date.now());
        await ctx.advance(
          'cleanup',
          { readBytes: result.readBytes },
          {
            progress: { done: result.sizeBytes, total: result.sizeBytes },
            alongside: (leaseHeld) => Prisma.sql`
              UPDATE "VolumeBackup" SET "parentId" = ${parent?.id ?? null}::uuid,
                "isIncremental" = ${parent !== null}, "objectCount" = ${result.chunkCount},
                "storedBytes" = ${BigInt(result.storedBytes)}, "logicalBytes" = ${BigInt(result.logicalBytes)},
                "dataSnapshotId" = ${snapshotId}, "dataTimestamp" = ${dataTimestamp}, "updatedAt" = ${new Date()}
              WHERE id = ${backup.id}::uuid AND ${leaseHeld}`,
          },
        );
      }

      if (ctx.step === 'cleanup') {
        const temporary = state.temporarySnapshot ? state.snapshotId : undefined;
        if (temporary) {
          // Its point in time stays in the storage as the next incremental's base (rbd).
          await keepBackupPoint(deps, ctx.log, {
            volumeId: backup.volumeId,
            snapshotId: temporary,
            backupId: backup.id,
          });
          await requestSnapshotDeletion(deps, temporary);
        }
        // On to finish's work at once (a job that resumes there has it recorded as its step), then
        // drop-snapshot's wait: the deletion was asked for just now.
        await finish(deps, ctx, backup);
        if (temporary) await waitForSnapshotDeleted(deps, temporary, ctx.signal);
      }
    },

    async fail(ctx, reason) {
      const state = ctx.state;
      if (state.temporarySnapshot && state.snapshotId) await deleteServiceSnapshot(deps, state.snapshotId);
      else if (!state.snapshotId && ctx.job.volumeBackupId) {
        // Died between creating the snapshot and recording it: find it by its unique name.
        const backup = await deps.prisma.volumeBackup.findUnique({ where: { id: ctx.job.volumeBackupId } });
        if (backup) {
          const leftovers = await deps.cloud.asServiceOnCinder((auth) =>
            deps.cloud.cinder.listSnapshots(auth, {
              name: temporarySnapshotName(backup.id),
              allTenants: true,
            }),
          );
          for (const snapshot of leftovers) await deleteServiceSnapshot(deps, snapshot.id);
        }
      }
      if (ctx.job.volumeBackupId) {
        const failed = await deps.prisma.volumeBackup.findUnique({ where: { id: ctx.job.volumeBackupId } });
        // Only a backup that never became available loses its point (drop-snapshot may fail after).
        if (failed?.status === 'creating')
          await releaseBackupPoints(deps, ctx.log, failed.volumeId, [failed.id]);
        await deps.prisma.volumeBackup.updateMany({
          where: { id: ctx.job.volumeBackupId, status: 'creating' },
          data: { status: 'error', failReason: reason },
        });
      }
    },
  });
}

/** finish: the backup becomes available; drop-snapshot: Cinder removes the temporary snapshot. */
async function tidyUp(deps: VolumeBackupJobDeps, ctx: JobContext<CreateState>, backup: VolumeBackup | null) {
  if (ctx.step === 'finish') await finish(deps, ctx, backup);
  if (ctx.step === 'drop-snapshot' && ctx.state.snapshotId) {
    await deleteServiceSnapshot(deps, ctx.state.snapshotId, ctx.signal);
  }
}

/**
 * The backup becomes available, in the same statement as the job's move to drop-snapshot (which
 * gives up the volume's keys); without a temporary snapshot the job ends here.
 */
async function finish(deps: VolumeBackupJobDeps, ctx: JobContext<CreateState>, backup: VolumeBackup | null) {
  let becomeAvailable: ((leaseHeld: Prisma.Sql) => Prisma.Sql) | undefined;
  if (backup?.status === 'creating' || backup?.status === 'available') {
    // The next incremental builds on this backup: the older ones' points in time can go.
    await releaseOlderBackupPoints(deps, ctx.log, backup);
    becomeAvailable = (leaseHeld) => Prisma.sql`
      UPDATE "VolumeBackup" SET status = 'available', progress = 100, "failReason" = NULL, "updatedAt" = ${new Date()}
      WHERE id = ${backup.id}::uuid AND status = 'creating' AND ${leaseHeld}`;
  }
  if (ctx.state.temporarySnapshot) {
    await ctx.advance('drop-snapshot', {}, { keys: housekeepingKeys, alongside: becomeAvailable });
  } else if (becomeAvailable) {
    await deps.prisma.$executeRaw(becomeAvailable(Prisma.sql`TRUE`));
  }
}

function required<T>(value: T | undefined): T {
  if (value === undefined) throw new JobFailedError('the job lost track of its snapshot (state incomplete)');
  return value;
}
