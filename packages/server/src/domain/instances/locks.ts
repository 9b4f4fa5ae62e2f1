// Which instance jobs may run together (see ../volume-backups/locks.ts for the volume keys).
//
// instance:<id>          one capture of an instance at a time (snapshot, backup), and never during the
//                        rollback of one of its volumes (the rollback holds it too)
// volume:<id>            shared by an instance's jobs for each of its volumes: a rollback of the volume
//                        (exclusive) waits, or is refused while they are queued or running
// instance-snapshot:<id> / instance-backup:<id>   the record itself: its deletion is exclusive
// repository:<id>        shared by whatever writes chunks (an image-backed root disk's data)

import type { JobKeys as Keys } from '../../jobs/engine.js';

const volumeKeys = (volumeIds: string[]) => volumeIds.map((id) => `volume:${id}`);

export const instanceSnapshotCreateKeys = (k: {
  snapshotId: string;
  instanceId: string;
  volumeIds: string[];
}): Keys => ({
  exclusiveKeys: [`instance-snapshot:${k.snapshotId}`, `instance:${k.instanceId}`],
  sharedKeys: volumeKeys(k.volumeIds),
});

/** Deleting the Cinder snapshots of an instance snapshot waits for a rollback to one of them. */
export const instanceSnapshotDeleteKeys = (k: { snapshotId: string; volumeIds: string[] }): Keys => ({
  exclusiveKeys: [`instance-snapshot:${k.snapshotId}`],
  sharedKeys: volumeKeys(k.volumeIds),
});

/**
 * The parent job of an instance backup. Its volume backups run as jobs of their own (with the
 * volume-backup keys); the image-backed root disk's data is written by the parent itself.
 */
export const instanceBackupCreateKeys = (k: {
  backupId: string;
  instanceId: string;
  volumeIds: string[];
  imageBackupId: string | null;
  repositoryId: string;
}): Keys => ({
  exclusiveKeys: [
    `instance-backup:${k.backupId}`,
    `instance:${k.instanceId}`,
    ...(k.imageBackupId ? [`backup:${k.imageBackupId}`, `volume-backups:${k.instanceId}`] : []),
  ],
  sharedKeys: [...volumeKeys(k.volumeIds), `repository:${k.repositoryId}`],
});

export const instanceBackupDeleteKeys = (k: { backupId: string }): Keys => ({
  exclusiveKeys: [`instance-backup:${k.backupId}`],
  sharedKeys: [],
});
