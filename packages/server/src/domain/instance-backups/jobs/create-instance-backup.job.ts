import { rm } from 'node:fs/promises';
import { defineJob, type JobHandler } from '../../../jobs/engine.js';
import { JobFailedError, WaitingError } from '../../../jobs/errors.js';
import { releaseHeldJob } from '../../held-jobs.js';
import type { InstanceJobDeps } from '../../instances/deps.js';
import { waitForImageActive } from '../../instances/images.js';
import { temporarySnapshotName } from '../../volume-backups/jobs/deps.js';
import { deleteServiceSnapshot, findOrCreateServiceSnapshot } from '../../volume-backups/jobs/snapshots.js';
import { HELD_FOR_PARENT, type InstanceBackupCreateState, type VolumeBackupEntry } from '../service.js';
import { backupRootImage, findOrCreateRootImage, removeRootImage, stagingDirOf } from './image-backup.js';

/**
 * The parent job of an instance backup.
 * - capture: the point-in-time Cinder snapshots of every volume (the service's, temporary, named
 *   after each volume backup) and, for an image-backed root disk, a Glance image through Nova
 *   createImage — all requested at once;
 * - children: releases each volume's volume_backup_create job (enqueued held with the instance
 *   backup, starting at its `snapshot` step) with the snapshot made here: it reads it, incremental
 *   as usual, and deletes it;
 * - image-wait, image-read, image-cleanup: the root disk's data into the repository, image deleted;
 * - wait: until every volume backup has finished (without holding a worker meanwhile);
 * - finish: available; any volume backup in error makes the instance backup error, naming it.
 */
export function createInstanceBackupJob(deps: InstanceJobDeps): JobHandler {
  const childPollMs = deps.childPollMs ?? 5_000;

  return defineJob<InstanceBackupCreateState & { capturedAt?: string }>({
    kind: 'instance_backup_create',

    async run(ctx) {
      const id = ctx.job.instanceBackupId ?? '';
      const record = await deps.prisma.instanceBackup.findUnique({ where: { id } });
      if (record?.status !== 'creating') return; // reset or deleted meanwhile
      const entries = record.volumeBackups as unknown as VolumeBackupEntry[];

      if (ctx.step === 'start') {
        const [snapshots, imageId] = await Promise.all([
          Promise.all(
            entries.map(async (entry) => {
              const { snapshot } = await findOrCreateServiceSnapshot(
                deps,
                entry.volume_id,
                temporarySnapshotName(entry.backup_id),
                `temporary snapshot for backup ${entry.backup_id} of instance backup ${id}`,
              );
              return [entry.backup_id, snapshot.id] as const;
            }),
          ),
          record.imageBackupId ? findOrCreateRootImage(deps, record.instanceId, record.imageBackupId) : null,
        ]);
        await ctx.advance('children', {
          snapshots: Object.fromEntries(snapshots),
          imageId,
          capturedAt: new Date().toISOString(),
        });
      }

      if (ctx.step === 'children') {
        // Each volume backup's job (enqueued held with the instance backup) reads its snapshot now.
        const snapshots = ctx.state.snapshots ?? {};
        for (const entry of entries) {
          const job = await deps.prisma.job.findFirst({
            where: { volumeBackupId: entry.backup_id, kind: 'volume_backup_create' },
          });
          if (job?.status !== 'queued') continue;
          await releaseHeldJob(deps.prisma, job.id, {
            snapshotId: required(snapshots[entry.backup_id]),
            temporarySnapshot: true,
          });
        }
        await ctx.advance(record.imageBackupId ? 'image-wait' : 'wait');
      }

      if (ctx.step === 'image-wait') {
        const image = await waitForImageActive(deps, required(ctx.state.imageId), ctx.signal);
        await ctx.advance('image-read', { imageSizeBytes: image.size ?? undefined });
      }

      if (ctx.step === 'image-read') {
        await backupRootImage(deps, ctx, {
          imageBackupId: required(record.imageBackupId),
          imageId: required(ctx.state.imageId),
          incremental: ctx.state.incremental,
          capturedAt: ctx.state.capturedAt,
        });
        await ctx.advance('image-cleanup');
      }

      if (ctx.step === 'image-cleanup') {
        const imageBackupId = required(record.imageBackupId);
        await removeRootImage(deps, imageBackupId, ctx.state.imageId);
        await deps.prisma.volumeBackup.updateMany({
          where: { id: imageBackupId, status: 'creating' },
          data: { status: 'available', progress: 100, failReason: null },
        });
        await ctx.advance('wait');
      }

      if (ctx.step === 'wait') {
        const children = await deps.prisma.volumeBackup.findMany({ where: { instanceBackupId: id } });
        const pending = children.filter((c) => c.status === 'creating');
        if (pending.length > 0)
          throw new WaitingError(`waiting for ${pending.length} volume backup(s)`, childPollMs);
        const expected = [
          ...entries.map((e) => e.backup_id),
          ...(record.imageBackupId ? [record.imageBackupId] : []),
        ];
        const failed = expected.flatMap((backupId) => {
          const child = children.find((c) => c.id === backupId);
          if (!child) return [`backup ${backupId} was deleted`];
          if (child.status === 'available' || child.status === 'restoring') return [];
          const of = child.source === 'image' ? 'the root disk' : `volume ${child.volumeId}`;
          return [
            `backup ${child.id} of ${of} is ${child.status}${child.failReason ? `: ${child.failReason}` : ''}`,
          ];
        });
        if (failed.length > 0) throw new JobFailedError(failed.join('; '));
        await ctx.advance('finish');
      }

      if (ctx.step === 'finish') {
        await deps.prisma.instanceBackup.updateMany({
          where: { id, status: 'creating' },
          data: { status: 'available', failReason: null },
        });
      }
    },

    async fail(ctx, reason) {
      const id = ctx.job.instanceBackupId ?? '';
      const record = await deps.prisma.instanceBackup.findUnique({ where: { id } });
      if (!record) return;
      const entries = record.volumeBackups as unknown as VolumeBackupEntry[];
      const why = `instance backup ${id} failed: ${reason}`;
      // Volume backups whose job was handed its snapshot clean up after themselves; the held ones
      // are ours to undo.
      for (const entry of entries) {
        const { count: cancelled } = await deps.prisma.job.updateMany({
          where: {
            volumeBackupId: entry.backup_id,
            kind: 'volume_backup_create',
            status: 'queued',
            runAfter: HELD_FOR_PARENT,
          },
          data: { status: 'cancelled', finishedAt: new Date(), error: why },
        });
        const handedOver = await deps.prisma.job.count({
          where: {
            volumeBackupId: entry.backup_id,
            kind: 'volume_backup_create',
            status: { not: 'cancelled' },
          },
        });
        if (cancelled === 0 && handedOver > 0) continue;
        const snapshotIds = new Set<string>();
        const known = ctx.state.snapshots?.[entry.backup_id];
        if (known) snapshotIds.add(known);
        const named = await deps.cloud.asServiceOnCinder((auth) =>
          deps.cloud.cinder.listSnapshots(auth, {
            name: temporarySnapshotName(entry.backup_id),
            volumeId: entry.volume_id,
            allTenants: true,
          }),
        );
        for (const snapshot of named) snapshotIds.add(snapshot.id);
        for (const snapshotId of snapshotIds) await deleteServiceSnapshot(deps, snapshotId);
        await deps.prisma.volumeBackup.updateMany({
          where: { id: entry.backup_id, status: 'creating' },
          data: { status: 'error', failReason: why },
        });
      }
      if (record.imageBackupId) {
        await removeRootImage(deps, record.imageBackupId, ctx.state.imageId);
        await rm(stagingDirOf(deps, record.imageBackupId), { recursive: true, force: true });
        await deps.prisma.volumeBackup.updateMany({
          where: { id: record.imageBackupId, status: 'creating' },
          data: { status: 'error', failReason: why },
        });
      }
      await deps.prisma.instanceBackup.updateMany({
        where: { id, status: 'creating' },
        data: { status: 'error', failReason: reason },
      });
    },
  });
}

function required<T>(value: T | null | undefined): T {
  if (value === undefined || value === null)
    throw new JobFailedError('the job lost track of what it made (state incomplete)');
  return value;
}
