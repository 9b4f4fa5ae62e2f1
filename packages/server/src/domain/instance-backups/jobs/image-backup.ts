import { createWriteStream } from 'node:fs';
import { mkdir, rm, stat, truncate } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createFileStorageDriver } from '../../../dataplane/index.js';
import type { JobContext } from '../../../jobs/engine.js';
import { JobFailedError } from '../../../jobs/errors.js';
import type { InstanceJobDeps } from '../../instances/deps.js';
import { deleteImage, findImagesByName } from '../../instances/images.js';
import { captureNames } from '../../instances/listing.js';
import { backupRecordOf } from '../../recovery.js';
import { gibFor } from '../service.js';

const GiB = 1024 ** 3;

/**
 * The temporary Glance image of an image-backed root disk (Nova createImage as the service user),
 * found by its unique name or created. Find-before-create: a retried step never makes a second one.
 */
export async function findOrCreateRootImage(
  deps: InstanceJobDeps,
  instanceId: string,
  imageBackupId: string,
): Promise<string> {
  const name = captureNames.backupImage(imageBackupId);
  const [existing] = await findImagesByName(deps, name);
  if (existing) return existing.id;
  try {
    return await deps.cloud.asService(({ nova }) =>
      deps.cloud.nova.createImage(nova, instanceId, name, { backup_service_backup_id: imageBackupId }),
    );
  } catch (error) {
    // The request may have reached Nova before the connection failed: look again.
    const [made] = await findImagesByName(deps, name);
    if (made) return made.id;
    throw error;
  }
}

/**
 * Streams the image's data into the repository as the backup `imageBackupId` (a volume of the image's
 * size rounded up to whole GiB, so it restores into a volume like any backup). The data goes through
 * a staging file (the data plane reads its sources at offsets), never whole into memory.
 */
export async function backupRootImage(
  deps: InstanceJobDeps,
  ctx: JobContext,
  args: {
    imageBackupId: string;
    imageId: string;
    incremental: boolean | null | undefined;
    /** When the image was taken. */
    capturedAt: string | undefined;
  },
) {
  const backup = await deps.prisma.volumeBackup.findUnique({ where: { id: args.imageBackupId } });
  if (backup?.status !== 'creating') return; // force-deleted or reset meanwhile
  const dir = stagingDirOf(deps, backup.id);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  try {
    const file = path.join(dir, `snapshot-${args.imageId}`);
    const download = await deps.cloud.asService(({ glance }) =>
      deps.cloud.glance.download(glance, args.imageId),
    );
    await pipeline(download.body, createWriteStream(file), { signal: ctx.signal });
    const { size } = await stat(file);
    if (download.size !== undefined && size !== download.size)
      throw new JobFailedError(`image ${args.imageId}: got ${size} of ${download.size} bytes`);
    const sizeGb = gibFor(size);
    await truncate(file, sizeGb * GiB);

    const parent =
      args.incremental === false
        ? null
        : await deps.prisma.volumeBackup.findFirst({
            where: {
              volumeId: backup.volumeId,
              source: 'image',
              repositoryId: backup.repositoryId,
              id: { not: backup.id },
              status: { in: ['available', 'restoring'] },
              createdAt: { lte: backup.createdAt },
            },
            orderBy: { createdAt: 'desc' },
          });
    const repository = await deps.repositories.byId(backup.repositoryId);
    const source = await createFileStorageDriver({ dir }).openSnapshot({
      volumeId: backup.volumeId,
      snapshotId: args.imageId,
    });
    let result: Awaited<ReturnType<typeof deps.dataPlane.backup>>;
    try {
      result = await deps.dataPlane.backup({
        repository,
        backupId: backup.id,
        volumeId: backup.volumeId,
        record: backupRecordOf(
          { ...backup, sizeGb, source: 'image' },
          { dataSnapshotId: args.imageId, dataTimestamp: args.capturedAt ?? null },
        ),
        source,
        parent: parent ? { backupId: parent.id, snapshotId: parent.dataSnapshotId } : undefined,
        signal: ctx.signal,
        onProgress: (done, total) => void ctx.progress(done, total),
      });
    } finally {
      await source.close();
    }
    await deps.prisma.volumeBackup.update({
      where: { id: backup.id },
      data: {
        sizeGb,
        parentId: parent?.id ?? null,
        isIncremental: parent !== null,
        objectCount: result.chunkCount,
        storedBytes: BigInt(result.storedBytes),
        logicalBytes: BigInt(result.logicalBytes),
        dataSnapshotId: args.imageId,
        dataTimestamp: new Date(args.capturedAt ?? Date.now()),
      },
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function removeRootImage(deps: InstanceJobDeps, imageBackupId: string, imageId?: string | null) {
  const ids = new Set<string>(imageId ? [imageId] : []);
  for (const image of await findImagesByName(deps, captureNames.backupImage(imageBackupId)))
    ids.add(image.id);
  for (const id of ids) await deleteImage(deps, id);
}

export const stagingDirOf = (deps: InstanceJobDeps, imageBackupId: string) =>
  path.join(deps.stagingDir, `image-backup-${imageBackupId}`);
